//! The `[store]` settings section: which database, how many connections, how
//! many conversations the engine keeps in memory — and the database URL held as
//! a secret, shown only with its password redacted.

use std::fmt;

use natter_core::StoreError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Shown in place of a password.
const REDACTED: &str = "[redacted]";

/// The `[store]` settings section.
///
/// ```toml
/// [store]
/// url = "sqlite://natter.db"      # or "postgres://natter:secret@db/natter", or "memory"
/// max_connections = 8
/// busy_timeout_ms = 5000          # SQLite: how long a write waits for another writer
/// # cache_conversations = 1000    # default: 1000 with SQLite, off with Postgres
/// lock_connections = 16           # Postgres: turns running at once, each holding its conversation's lock
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` (created if missing), `postgres://…` / `postgresql://…`,
    /// or `memory` (nothing survives a restart).
    pub url: StoreUrl,
    /// Connections in the pool (SQLite: readers; writes take turns on one more).
    pub max_connections: u32,
    /// SQLite: how long a write waits for the database lock before failing.
    pub busy_timeout_ms: u64,
    /// Recently active conversations whose recent turns stay in memory (an LRU).
    /// Unset: 1,000 with SQLite, none with Postgres (other processes may write
    /// the same conversations). `0` turns the cache off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_conversations: Option<usize>,
    /// Postgres: conversations whose turns this process may run at once,
    /// each holding a connection of its own for its lock (see docs/store.md).
    pub lock_connections: u32,
}

/// Conversations cached when `cache_conversations` is unset and the database
/// belongs to this process alone.
pub const DEFAULT_CACHE_CONVERSATIONS: usize = 1_000;

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: StoreUrl::new("sqlite://natter.db"),
            max_connections: 8,
            busy_timeout_ms: 5_000,
            cache_conversations: None,
            lock_connections: 16,
        }
    }
}

impl StoreSettings {
    /// Settings for `url` with everything else at its default.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: StoreUrl::new(url),
            ..Self::default()
        }
    }

    /// Which kind of store the URL names.
    pub fn kind(&self) -> Result<StoreKind, StoreError> {
        self.url.kind()
    }

    /// The store in words, password redacted, for `natter check` and logs:
    /// "SQLite file natter.db", "Postgres postgres://natter:[redacted]@db/natter".
    pub fn describe(&self) -> String {
        match self.kind() {
            Ok(StoreKind::Memory) => "in memory (history is lost on exit)".to_owned(),
            Ok(StoreKind::Sqlite) => format!("SQLite {}", self.url.redacted()),
            Ok(StoreKind::Postgres) => format!("Postgres {}", self.url.redacted()),
            Err(_) => format!("unrecognised store URL {}", self.url.redacted()),
        }
    }

    /// Conversations the engine-side cache holds for this kind of store (0: none).
    pub fn cache_for(&self, kind: StoreKind) -> usize {
        match (self.cache_conversations, kind) {
            (_, StoreKind::Memory) => 0,
            (Some(n), _) => n,
            (None, StoreKind::Sqlite) => DEFAULT_CACHE_CONVERSATIONS,
            (None, StoreKind::Postgres) => 0,
        }
    }
}

/// The three kinds of store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// In the process; forgotten on exit.
    Memory,
    /// A SQLite file: the embedded default, for one natter process.
    Sqlite,
    /// A Postgres database, which several natter processes can share.
    Postgres,
}

/// A store URL. It may carry a password, so it is a secret: `Debug`, `Display`
/// and serialisation show it with the password replaced by `[redacted]`.
#[derive(Clone)]
pub struct StoreUrl(SecretString);

impl StoreUrl {
    /// Wraps `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret().trim()
    }

    /// Which kind of store this URL names.
    pub fn kind(&self) -> Result<StoreKind, StoreError> {
        let url = self.expose();
        if url == "memory" {
            Ok(StoreKind::Memory)
        } else if url.starts_with("sqlite:") {
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            Err(StoreError::Unavailable(format!(
                "store URL {} is not \"memory\", sqlite://PATH or postgres://…",
                self.redacted()
            )))
        }
    }

    /// The URL with any password replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        redact(self.expose())
    }
}

/// Replaces the password in `user:password@host` and in `password=` query
/// parameters. Works on text, so it also redacts URLs that do not parse.
fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                    format!("{name}={REDACTED}")
                }
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({:?})", self.redacted())
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for StoreUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let settings = StoreSettings::with_url(
            "postgres://natter:s3cret@db.example:5432/natter?sslmode=require&password=other",
        );
        let shown = [
            settings.describe(),
            format!("{:?}", settings),
            format!("{}", settings.url),
            serde_json::to_string(&settings).unwrap(),
        ];
        for text in shown {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(!text.contains("other"), "{text}");
            assert!(
                text.contains("natter:[redacted]@db.example:5432/natter"),
                "{text}"
            );
        }
        assert!(settings.url.expose().contains("s3cret"));
    }

    #[test]
    fn urls_without_passwords_are_shown_whole() {
        for url in [
            "sqlite://natter.db",
            "sqlite:///var/lib/natter/natter.db",
            "postgres://natter@db/natter",
            "postgresql://db/natter?sslmode=disable",
        ] {
            assert_eq!(StoreUrl::new(url).redacted(), url);
        }
    }

    #[test]
    fn the_kind_follows_the_scheme() {
        let kind = |url: &str| StoreSettings::with_url(url).kind();
        assert_eq!(kind("memory").unwrap(), StoreKind::Memory);
        assert_eq!(kind("sqlite://a.db").unwrap(), StoreKind::Sqlite);
        assert_eq!(kind("sqlite::memory:").unwrap(), StoreKind::Sqlite);
        assert_eq!(kind("postgres://h/d").unwrap(), StoreKind::Postgres);
        assert_eq!(kind("postgresql://h/d").unwrap(), StoreKind::Postgres);
        let error = kind("mysql://root:hunter2@h/d").unwrap_err().to_string();
        assert!(error.contains("mysql://root:[redacted]@h/d"), "{error}");
        assert!(!error.contains("hunter2"));
    }

    #[test]
    fn defaults_are_sqlite_with_a_cache_and_postgres_without() {
        let settings: StoreSettings = toml_like_default();
        assert_eq!(settings.kind().unwrap(), StoreKind::Sqlite);
        assert_eq!(settings.url.expose(), "sqlite://natter.db");
        assert_eq!(
            settings.cache_for(StoreKind::Sqlite),
            DEFAULT_CACHE_CONVERSATIONS
        );
        assert_eq!(settings.cache_for(StoreKind::Postgres), 0);
        let explicit = StoreSettings {
            cache_conversations: Some(50),
            ..StoreSettings::default()
        };
        assert_eq!(explicit.cache_for(StoreKind::Postgres), 50);
        assert_eq!(explicit.cache_for(StoreKind::Memory), 0);
    }

    fn toml_like_default() -> StoreSettings {
        serde_json::from_str("{}").unwrap()
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<StoreSettings>(r#"{"uri": "memory"}"#).is_err());
    }
}
