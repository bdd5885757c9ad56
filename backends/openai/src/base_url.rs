//! The `base_url` setting: checked, the URLs the backend derives from it, the
//! credentials a user may have written into it, and how it is shown.
//!
//! A URL can carry credentials (`http://user:secret@host/v1`). Left in,
//! reqwest turns them into a Basic `Authorization` header sent ahead of the
//! API key's Bearer one, and servers read the URL's instead of the key. Here
//! a request carries one credential, and the log says which:
//!
//! - `api_key` set (in the settings or `OPENAI_API_KEY`): it is used, and a
//!   warning says the URL's credentials are ignored;
//! - no `api_key`: the URL's password is the API key — OpenAI-compatible
//!   servers read a Bearer token, so that is what a password there can only
//!   have meant; a user name without a password is refused, as it is no key.
//!
//! Either way every URL the backend requests is stripped of them, and
//! wherever the URL is shown — `Debug`, `natter check`, logs, errors — they
//! read `[redacted]` ([`redact`]).

use natter_core::secret::{REDACTED, non_empty};
use percent_encoding::percent_decode_str;
use secrecy::SecretString;
use tracing::{info, warn};

use crate::backend::OpenAiError;

/// A checked `base_url`, without credentials.
#[derive(Debug)]
pub(crate) struct BaseUrl {
    /// The API root without credentials or a trailing `/`.
    base: String,
    /// What the URL carried before `@`.
    credentials: Option<UrlCredentials>,
}

/// The credentials written into a URL.
struct UrlCredentials {
    user: bool,
    password: Option<SecretString>,
}

impl std::fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl BaseUrl {
    /// Checks `raw` (an http(s) URL with a host) and takes its credentials out.
    pub(crate) fn parse(raw: &str) -> Result<Self, OpenAiError> {
        let trimmed = raw.trim().trim_end_matches('/');
        let invalid = || OpenAiError::BaseUrl(redact(trimmed));
        let mut url = reqwest::Url::parse(trimmed).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid());
        }
        let credentials =
            (!url.username().is_empty() || url.password().is_some()).then(|| UrlCredentials {
                user: !url.username().is_empty(),
                password: url.password().map(|password| {
                    SecretString::from(percent_decode_str(password).decode_utf8_lossy().as_ref())
                }),
            });
        url.set_username("").map_err(|()| invalid())?;
        url.set_password(None).map_err(|()| invalid())?;
        Ok(Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
            credentials,
        })
    }

    /// `path` under the API root: `{base}/{path}`.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// The server's root, where servers' own endpoints live (Ollama's
    /// `/api/…`, llama.cpp's `/props`): the API root without its `/v1`.
    pub(crate) fn root(&self) -> &str {
        self.base.strip_suffix("/v1").unwrap_or(&self.base)
    }

    /// The API key requests carry: `api_key` if set, else the URL's password
    /// (module docs). Logs which, when the URL has credentials.
    pub(crate) fn key(
        &self,
        api_key: &Option<SecretString>,
    ) -> Result<Option<SecretString>, OpenAiError> {
        let api_key = non_empty(api_key).cloned();
        let Some(credentials) = &self.credentials else {
            return Ok(api_key);
        };
        if api_key.is_some() {
            warn!(
                base_url = %self.base,
                "model.openai.base_url carries credentials; they are ignored, \
                 model.openai.api_key is used"
            );
            return Ok(api_key);
        }
        match non_empty(&credentials.password) {
            Some(password) => {
                info!(
                    base_url = %self.base,
                    "model.openai.base_url carries credentials and no api_key is set; \
                     the URL's password is used as the API key"
                );
                Ok(Some(password.clone()))
            }
            None if credentials.user => Err(OpenAiError::UrlUserWithoutKey),
            None => Ok(None),
        }
    }
}

/// A configured endpoint's API root and the key its requests carry, once
/// `model` is checked to name a model.
pub(crate) fn endpoint_of(
    base_url: &str,
    api_key: &Option<SecretString>,
    model: &str,
) -> Result<(BaseUrl, Option<SecretString>), OpenAiError> {
    let base = BaseUrl::parse(base_url)?;
    let key = base.key(api_key)?;
    if model.trim().is_empty() {
        return Err(OpenAiError::NoModel);
    }
    Ok((base, key))
}

/// `url` with any credentials in it replaced by `[redacted]`:
/// `http://[redacted]@host/v1`. Works on text that does not parse as a URL
/// too, so an invalid setting can be shown safely.
pub(crate) fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[start..];
    // Up to the query or fragment: a password may hold an unencoded `/`.
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}{REDACTED}@{}", &url[..start], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn credentials_are_redacted_wherever_they_are() {
        for (url, shown) in [
            (
                "http://u:p@host:11434/v1",
                "http://[redacted]@host:11434/v1",
            ),
            ("https://sk-abc@host/v1", "https://[redacted]@host/v1"),
            (
                "http://u:p/w@rd@host/v1?x=1",
                "http://[redacted]@host/v1?x=1",
            ),
            ("u:p@localhost:11434", "[redacted]@localhost:11434"),
            ("http://host/v1", "http://host/v1"),
            ("localhost:11434", "localhost:11434"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn the_root_is_the_api_root_without_v1() {
        let root = |url: &str| BaseUrl::parse(url).unwrap().root().to_owned();
        assert_eq!(root("http://h:11434/v1/"), "http://h:11434");
        assert_eq!(root("https://h/ollama/v1"), "https://h/ollama");
        assert_eq!(root("https://h/api"), "https://h/api");
    }

    #[test]
    fn the_key_comes_from_the_setting_or_else_the_url_password() {
        let url = BaseUrl::parse("http://me:p%40ss@h/v1").unwrap();
        assert_eq!(url.endpoint("models"), "http://h/v1/models");
        let from_url = url.key(&None).unwrap().unwrap();
        assert_eq!(from_url.expose_secret(), "p@ss");
        let set = Some(SecretString::from("sk-set"));
        assert_eq!(url.key(&set).unwrap().unwrap().expose_secret(), "sk-set");
        let user_only = BaseUrl::parse("http://sk-abc@h/v1").unwrap();
        assert!(matches!(
            user_only.key(&None),
            Err(OpenAiError::UrlUserWithoutKey)
        ));
        assert!(user_only.key(&set).unwrap().is_some());
        assert!(
            BaseUrl::parse("http://h/v1")
                .unwrap()
                .key(&None)
                .unwrap()
                .is_none()
        );
    }
}
