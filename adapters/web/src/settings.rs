//! The `[web]` settings section: where the web side listens, the token that
//! opens it, and whether `/metrics` needs the token.

use std::net::SocketAddr;

use natter_core::secret::{deserialize_non_empty, non_empty, serialize_redacted};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::WebError;

/// The `[web]` section. Off unless `listen` is set.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// The address to listen on, e.g. `127.0.0.1:8787` (port 0 picks a free
    /// one). Unset: no web side. A non-loopback address needs a `token`.
    pub listen: Option<String>,
    /// The token that logs a browser in (the natter binary fills it from
    /// `NATTER_WEB_TOKEN` when unset). Unset on loopback: one is generated
    /// and printed at start.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub token: Option<SecretString>,
    /// Serve `/metrics` without the token (for a Prometheus scraper on the
    /// same machine).
    pub metrics_public: bool,
}

impl WebSettings {
    /// True when `listen` is set: the web side should start.
    pub fn enabled(&self) -> bool {
        self.listen.as_deref().is_some_and(|l| !l.trim().is_empty())
    }

    /// The address to listen on, checked: an address (not a host name), and
    /// loopback unless a token is set.
    pub fn address(&self) -> Result<SocketAddr, WebError> {
        let listen = self.listen.as_deref().map(str::trim).unwrap_or_default();
        let address: SocketAddr = listen.parse().map_err(|_| {
            WebError::Settings(format!(
                "web.listen = \"{listen}\" is not an address such as 127.0.0.1:8787"
            ))
        })?;
        if !address.ip().is_loopback() && non_empty(&self.token).is_none() {
            return Err(WebError::Settings(format!(
                "web.listen = \"{listen}\" is reachable from other machines: set web.token \
                 (or NATTER_WEB_TOKEN) first, or listen on 127.0.0.1"
            )));
        }
        Ok(address)
    }

    /// Checks the section (only when it is enabled).
    pub fn validate(&self) -> Result<(), WebError> {
        if self.enabled() {
            self.address()?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn web(listen: &str, token: Option<&str>) -> WebSettings {
        WebSettings {
            listen: Some(listen.into()),
            token: token.map(SecretString::from),
            metrics_public: false,
        }
    }

    #[test]
    fn loopback_needs_no_token_but_other_addresses_do() {
        assert!(web("127.0.0.1:8787", None).validate().is_ok());
        assert!(web("[::1]:8787", None).validate().is_ok());
        let open = web("0.0.0.0:8787", None).validate();
        assert!(
            matches!(&open, Err(WebError::Settings(m)) if m.contains("web.token")),
            "{open:?}"
        );
        assert!(web("0.0.0.0:8787", Some("s3cret")).validate().is_ok());
        assert!(web("localhost:8787", None).validate().is_err());
        assert!(!WebSettings::default().enabled());
        assert!(WebSettings::default().validate().is_ok());
    }
}
