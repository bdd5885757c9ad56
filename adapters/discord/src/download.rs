//! Fetching the file behind a Discord attachment by its URL, within a size
//! limit — and only from Discord: its CDN (`cdn.discordapp.com`,
//! `media.discordapp.net`, over HTTPS) or the origin of the configured REST
//! proxy (`[discord] proxy_url`, which is how tests reach a fake). An
//! attachment's URL comes from a message anyone can craft, so any other host
//! is refused, and so is a redirect leading to one.
//!
//! The declared size is checked first, then the `Content-Length`, then the
//! bytes as they arrive. Errors never carry the URL (its query is a signature).

use std::time::Duration;

use natter_core::{Attachment, DownloadError, Received};
use reqwest::Url;

/// Hosts of Discord's CDN.
const CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Where attachments may be fetched from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Allowed {
    /// The REST proxy's scheme, host and port, if one is configured.
    proxy: Option<(String, String, Option<u16>)>,
}

impl Allowed {
    /// Discord's CDN, and the origin of `proxy_url` if there is one.
    pub(crate) fn new(proxy_url: Option<&str>) -> Self {
        let proxy = proxy_url
            .and_then(|url| Url::parse(url).ok())
            .and_then(|url| {
                let host = url.host_str()?.to_owned();
                Some((url.scheme().to_owned(), host, url.port_or_known_default()))
            });
        Self { proxy }
    }

    /// True when `url` is on Discord's CDN or at the proxy's origin.
    pub(crate) fn permits(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let cdn = url.scheme() == "https" && CDN_HOSTS.contains(&host);
        let proxy = self.proxy.as_ref().is_some_and(|(scheme, at, port)| {
            url.scheme() == scheme && host == at && url.port_or_known_default() == *port
        });
        cdn || proxy
    }
}

/// Downloads attachments through a client of its own (serenity keeps its
/// client to itself), which never follows a redirect off Discord.
#[derive(Clone, Debug)]
pub(crate) struct Downloader {
    allowed: Allowed,
    /// The client, or why none could be made (no TLS backend).
    client: Result<reqwest::Client, String>,
}

impl Downloader {
    /// A downloader fetching from Discord's CDN and `proxy_url`'s origin.
    pub(crate) fn new(proxy_url: Option<&str>) -> Self {
        let allowed = Allowed::new(proxy_url);
        let redirects = allowed.clone();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if redirects.permits(attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DOWNLOAD_TIMEOUT)
            .build()
            .map_err(|e| format!("no HTTP client for downloads: {e}"));
        Self { allowed, client }
    }

    /// The bytes of `file` (its `reference` is the attachment's URL), at
    /// most `limit` of them.
    pub(crate) async fn download(
        &self,
        file: &Attachment,
        limit: u64,
    ) -> Result<Vec<u8>, DownloadError> {
        let url = Url::parse(&file.reference).map_err(|_| {
            DownloadError::Refused("the attachment's reference is not a URL".into())
        })?;
        if !self.allowed.permits(&url) {
            return Err(DownloadError::Refused(format!(
                "attachments are fetched from Discord's CDN only, not from {}",
                url.host_str().unwrap_or("a URL without a host")
            )));
        }
        Received::check(limit, file.size)?;
        let client = self
            .client
            .as_ref()
            .map_err(|e| DownloadError::Failed(e.clone()))?;
        let mut response = client
            .get(url)
            .send()
            .await
            .map_err(|e| DownloadError::Failed(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let why = format!(
                "Discord answered HTTP {} for the attachment",
                status.as_u16()
            );
            return Err(match status.as_u16() {
                408 | 429 | 500..=599 => DownloadError::Failed(why),
                // 404: deleted, or the signed link expired; 3xx: a redirect off Discord.
                _ => DownloadError::Refused(why),
            });
        }
        let mut received = Received::new(limit, response.content_length())?;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| DownloadError::Failed(e.without_url().to_string()))?
        {
            received.push(&chunk)?;
        }
        Ok(received.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_discords_cdn_and_the_proxy_origin_are_fetched_from() {
        let allowed = Allowed::new(Some("http://127.0.0.1:8080/"));
        for ok in [
            "https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&hm=2",
            "https://media.discordapp.net/attachments/1/2/a.png",
            "http://127.0.0.1:8080/attachments/1/a.png",
        ] {
            assert!(allowed.permits(&url(ok)), "{ok}");
        }
        for refused in [
            "http://cdn.discordapp.com/attachments/1/2/a.png",
            "https://cdn.discordapp.com.evil.example/a.png",
            "https://cdn.discordapp.com@evil.example/a.png",
            "https://evil.example/cdn.discordapp.com/a.png",
            "http://127.0.0.1:8081/attachments/1/a.png",
            "https://127.0.0.1:8080/attachments/1/a.png",
            "http://localhost:8080/attachments/1/a.png",
            "file:///etc/passwd",
        ] {
            assert!(!allowed.permits(&url(refused)), "{refused}");
        }
        let no_proxy = Allowed::new(None);
        assert!(!no_proxy.permits(&url("http://127.0.0.1:8080/a.png")));
        assert!(no_proxy.permits(&url("https://CDN.discordapp.com/a.png")));
    }
}
