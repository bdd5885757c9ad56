//! Secrets in settings: tokens and API keys held as [`SecretString`], read so
//! that an empty or blank value means "not set", and written redacted.
//!
//! Every settings section with a secret uses the same three helpers, so a
//! secret looks and behaves the same wherever it lives:
//!
//! ```
//! use secrecy::SecretString;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, Serialize)]
//! struct Section {
//!     #[serde(
//!         default,
//!         serialize_with = "natter_core::secret::serialize_redacted",
//!         deserialize_with = "natter_core::secret::deserialize_non_empty"
//!     )]
//!     token: Option<SecretString>,
//! }
//!
//! let set: Section = serde_json::from_str(r#"{"token": "abc"}"#).unwrap();
//! assert_eq!(serde_json::to_string(&set).unwrap(), r#"{"token":"[redacted]"}"#);
//! let blank: Section = serde_json::from_str(r#"{"token": "  "}"#).unwrap();
//! assert!(blank.token.is_none());
//! ```

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serializer};

/// What a set secret is written as.
pub const REDACTED: &str = "[redacted]";

/// Writes a set secret as `"[redacted]"` and an unset one as nothing (`None`,
/// which TOML leaves out). Use with `#[serde(serialize_with = "…")]`.
pub fn serialize_redacted<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match non_empty(secret) {
        Some(_) => serializer.serialize_some(REDACTED),
        None => serializer.serialize_none(),
    }
}

/// Reads an optional secret; an empty or whitespace-only string is `None`.
/// Use with `#[serde(deserialize_with = "…")]`.
pub fn deserialize_non_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from))
}

/// The secret, unless it is unset or blank (settings built in code may hold
/// an empty one).
pub fn non_empty(secret: &Option<SecretString>) -> Option<&SecretString> {
    secret
        .as_ref()
        .filter(|s| !s.expose_secret().trim().is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::Serialize;

    #[derive(Deserialize, Serialize)]
    struct Section {
        #[serde(
            default,
            serialize_with = "serialize_redacted",
            deserialize_with = "deserialize_non_empty"
        )]
        token: Option<SecretString>,
    }

    #[test]
    fn blank_is_unset_and_set_is_redacted() {
        let set: Section = serde_json::from_str(r#"{"token": "s3cret"}"#).unwrap();
        assert_eq!(set.token.as_ref().unwrap().expose_secret(), "s3cret");
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"{"token":"[redacted]"}"#
        );
        for blank in [r#"{"token": ""}"#, r#"{"token": " \t"}"#, "{}"] {
            let section: Section = serde_json::from_str(blank).unwrap();
            assert!(section.token.is_none(), "{blank}");
            assert_eq!(
                serde_json::to_string(&section).unwrap(),
                r#"{"token":null}"#
            );
        }
        let built = Section {
            token: Some(SecretString::from("  ")),
        };
        assert!(non_empty(&built.token).is_none());
        assert_eq!(serde_json::to_string(&built).unwrap(), r#"{"token":null}"#);
    }
}
