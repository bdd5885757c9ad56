//! The `[telegram]` settings section ([`TelegramSettings`]) and its
//! `[telegram.rate]` sub-section ([`RateSettings`]).

use std::collections::HashSet;
use std::time::Duration;

use natter_core::secret::{deserialize_non_empty, non_empty, serialize_redacted};
use natter_core::{LengthUnit, PlatformLimits, Rate};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::TelegramError;

/// Telegram's own Bot API server.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Longest message Telegram accepts, in UTF-16 code units.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Longest `admin_cache_secs`: a day (a demoted admin stays one that long at most).
pub const MAX_ADMIN_CACHE_SECS: u64 = 86_400;

/// Who shares a conversation (history, queue) in a group chat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One conversation per group (per forum topic).
    #[default]
    Chat,
    /// One conversation per member of a group (per forum topic).
    Member,
}

/// The `[telegram]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSettings {
    /// The bot token from @BotFather; the adapter starts when it is set (the
    /// natter binary fills it from `TELEGRAM_BOT_TOKEN` when unset). Empty
    /// counts as unset.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub token: Option<SecretString>,
    /// The Bot API server: Telegram's, or a self-hosted `telegram-bot-api`.
    pub api_url: String,
    /// Conversations in groups: `"chat"` (shared) or `"member"` (one per person).
    pub scope: Scope,
    /// User ids that are admins in every group: they may use the admin-only
    /// commands (`/persona NAME`, `/model NAME`, …) and `/stop` anyone's reply.
    /// A group's own creator and administrators are admins there too (see
    /// `admin_cache_secs`), and so are its anonymous admins.
    pub admins: Vec<i64>,
    /// How long a group's creator and administrators, as Telegram's
    /// `getChatAdministrators` lists them, are kept before they are asked
    /// again. They are asked only for messages the bot may answer, never for
    /// group chatter. 0: never asked; only `admins` (and anonymous admins) are
    /// admins in groups. At most a day.
    pub admin_cache_secs: u64,
    /// When this or `allowed_users` is non-empty, only these chats are answered
    /// (or chats with an allowed user).
    pub allowed_chats: Vec<i64>,
    /// When this or `allowed_chats` is non-empty, only these users are answered
    /// (or anyone in an allowed chat).
    pub allowed_users: Vec<i64>,
    /// Users never answered, anywhere, whatever the allow lists say: their
    /// messages and button presses are dropped before they reach a plugin or the model.
    pub blocked_users: Vec<i64>,
    /// Chats (groups, channels, private chats) never answered.
    pub blocked_chats: Vec<i64>,
    /// Stream replies by editing the message as the model writes.
    pub streaming: bool,
    /// Shown at the end of a reply still being written.
    pub streaming_suffix: String,
    /// Public HTTPS URL Telegram posts updates to; long polling when unset.
    pub webhook_url: Option<String>,
    /// Address the webhook server listens on (behind your TLS proxy).
    pub webhook_listen: String,
    /// Shared secret Telegram sends with each webhook update; set the same one
    /// on every instance behind a load balancer. Generated when unset.
    #[serde(serialize_with = "serialize_redacted")]
    pub webhook_secret: Option<SecretString>,
    /// Forget updates that arrived while the bot was down.
    pub drop_pending_updates: bool,
    /// Telegram's flood limits (`[telegram.rate]`).
    pub rate: RateSettings,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        Self {
            token: None,
            api_url: DEFAULT_API_URL.into(),
            scope: Scope::Chat,
            admins: Vec::new(),
            admin_cache_secs: 600,
            allowed_chats: Vec::new(),
            allowed_users: Vec::new(),
            blocked_users: Vec::new(),
            blocked_chats: Vec::new(),
            streaming: true,
            streaming_suffix: " …".into(),
            webhook_url: None,
            webhook_listen: "0.0.0.0:8443".into(),
            webhook_secret: None,
            drop_pending_updates: false,
            rate: RateSettings::default(),
        }
    }
}

/// The `[telegram.rate]` section: how many sends and edits Telegram allows.
/// A count of 0 turns that limit off.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateSettings {
    /// Writes per chat in `chat_window_ms`.
    pub chat: u32,
    /// The per-chat window.
    pub chat_window_ms: u64,
    /// Further writes per group chat in `group_window_ms`.
    pub group: u32,
    /// The per-group window.
    pub group_window_ms: u64,
    /// Writes across all chats in `global_window_ms` (raised by paid broadcasts).
    pub global: u32,
    /// The global window.
    pub global_window_ms: u64,
    /// Shortest time between two edits of a reply being written, also when
    /// the limits above are off (a self-hosted Bot API server): a reply is
    /// edited a few times, not once per token. 0 for none.
    pub min_edit_interval_ms: u64,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            chat: 1,
            chat_window_ms: 1_000,
            group: 20,
            group_window_ms: 60_000,
            global: 30,
            global_window_ms: 1_000,
            min_edit_interval_ms: 500,
        }
    }
}

impl RateSettings {
    /// No flood limits (for benchmarks and self-hosted servers); edits of
    /// one reply stay `min_edit_interval_ms` apart.
    pub fn off() -> Self {
        Self {
            chat: 0,
            group: 0,
            global: 0,
            ..Self::default()
        }
    }

    fn rate(count: u32, window_ms: u64) -> Vec<Rate> {
        if count == 0 || window_ms == 0 {
            Vec::new()
        } else {
            vec![Rate::new(count, Duration::from_millis(window_ms))]
        }
    }
}

impl TelegramSettings {
    /// True when a (non-blank) token is set: the adapter should start.
    pub fn enabled(&self) -> bool {
        non_empty(&self.token).is_some()
    }

    /// The limits the delivery courier keeps to.
    pub fn limits(&self) -> PlatformLimits {
        let r = &self.rate;
        PlatformLimits {
            max_len: MAX_MESSAGE_LEN,
            unit: LengthUnit::Utf16,
            streaming: self.streaming,
            streaming_suffix: self.streaming_suffix.clone(),
            per_chat: RateSettings::rate(r.chat, r.chat_window_ms),
            per_group: RateSettings::rate(r.group, r.group_window_ms),
            global: RateSettings::rate(r.global, r.global_window_ms),
            typing_every: Some(Duration::from_secs(4)),
            min_edit_interval: Duration::from_millis(r.min_edit_interval_ms),
        }
    }

    /// Checks what can be checked without the network.
    pub fn validate(&self) -> Result<(), TelegramError> {
        parse_url("api_url", &self.api_url)?;
        if let Some(url) = &self.webhook_url {
            parse_url("webhook_url", url)?;
            self.webhook_listen
                .parse::<std::net::SocketAddr>()
                .map_err(|e| TelegramError::Config {
                    field: "webhook_listen",
                    reason: format!(
                        "`{}` is not an address like 0.0.0.0:8443 ({e})",
                        self.webhook_listen
                    ),
                })?;
        }
        if let Some(secret) = &self.webhook_secret {
            let secret = secret.expose_secret();
            let valid = (1..=256).contains(&secret.len())
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(TelegramError::Config {
                    field: "webhook_secret",
                    reason: "use 1-256 characters among A-Z, a-z, 0-9, _ and -".into(),
                });
            }
        }
        if self.admin_cache_secs > MAX_ADMIN_CACHE_SECS {
            return Err(TelegramError::Config {
                field: "admin_cache_secs",
                reason: format!(
                    "{} is more than a day ({MAX_ADMIN_CACHE_SECS}); use 0 to never ask Telegram",
                    self.admin_cache_secs
                ),
            });
        }
        if self.limits().streaming_suffix.encode_utf16().count() > 64 {
            return Err(TelegramError::Config {
                field: "streaming_suffix",
                reason: "keep it short (64 characters at most)".into(),
            });
        }
        Ok(())
    }

    /// How long a group's admins from Telegram are kept (zero: never asked).
    pub(crate) fn admin_cache(&self) -> Duration {
        Duration::from_secs(self.admin_cache_secs.min(MAX_ADMIN_CACHE_SECS))
    }

    pub(crate) fn access(&self) -> Access {
        Access {
            admins: self.admins.iter().copied().collect(),
            chats: self.allowed_chats.iter().copied().collect(),
            users: self.allowed_users.iter().copied().collect(),
            blocked_chats: self.blocked_chats.iter().copied().collect(),
            blocked_users: self.blocked_users.iter().copied().collect(),
        }
    }
}

/// Who may use the bot and who administers it, as sets.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    pub(crate) admins: HashSet<i64>,
    pub(crate) chats: HashSet<i64>,
    pub(crate) users: HashSet<i64>,
    pub(crate) blocked_chats: HashSet<i64>,
    pub(crate) blocked_users: HashSet<i64>,
}

impl Access {
    /// True when a message from `user` in `chat` may be answered: neither is
    /// blocked, and the allow lists (if any) name one of them.
    pub(crate) fn allows(&self, chat: i64, user: i64) -> bool {
        if self.blocked_users.contains(&user) || self.blocked_chats.contains(&chat) {
            return false;
        }
        (self.chats.is_empty() && self.users.is_empty())
            || self.chats.contains(&chat)
            || self.users.contains(&user)
    }
}

pub(crate) fn parse_url(field: &'static str, value: &str) -> Result<url::Url, TelegramError> {
    let url = url::Url::parse(value).map_err(|e| TelegramError::Config {
        field,
        reason: format!("`{value}` is not a URL ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TelegramError::Config {
            field,
            reason: format!("`{value}` must start with http:// or https://"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn defaults_are_telegrams_limits() {
        let limits = TelegramSettings::default().limits();
        assert_eq!(limits.max_len, 4096);
        assert_eq!(limits.unit, LengthUnit::Utf16);
        assert_eq!(limits.per_chat, vec![Rate::new(1, Duration::from_secs(1))]);
        assert_eq!(
            limits.per_group,
            vec![Rate::new(20, Duration::from_secs(60))]
        );
        assert_eq!(limits.global, vec![Rate::new(30, Duration::from_secs(1))]);
        assert!(limits.streaming);
    }

    #[test]
    fn secrets_are_redacted_when_serialised() {
        let settings: TelegramSettings = serde_json::from_value(serde_json::json!({
            "token": "123:SECRET", "webhook_secret": "abc", "scope": "member"
        }))
        .unwrap();
        let shown = serde_json::to_string(&settings).unwrap();
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert_eq!(settings.scope, Scope::Member);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(
            serde_json::from_value::<TelegramSettings>(serde_json::json!({"tokn": "x"})).is_err()
        );
        let bad = TelegramSettings {
            api_url: "api.telegram.org".into(),
            ..TelegramSettings::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(TelegramError::Config {
                field: "api_url",
                ..
            })
        ));
        let bad = TelegramSettings {
            webhook_secret: Some(SecretString::from("has space")),
            ..TelegramSettings::default()
        };
        assert!(bad.validate().is_err());
        let bad = TelegramSettings {
            admin_cache_secs: MAX_ADMIN_CACHE_SECS + 1,
            ..TelegramSettings::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(TelegramError::Config {
                field: "admin_cache_secs",
                ..
            })
        ));
        for fine in [0, 600, MAX_ADMIN_CACHE_SECS] {
            let settings = TelegramSettings {
                admin_cache_secs: fine,
                ..TelegramSettings::default()
            };
            assert!(settings.validate().is_ok(), "{fine}");
        }
        assert!(TelegramSettings::default().validate().is_ok());
    }

    #[test]
    fn access_lists_grant_by_chat_or_user() {
        let open = TelegramSettings::default().access();
        assert!(open.allows(-1, 5));
        let closed = TelegramSettings {
            allowed_chats: vec![-100],
            allowed_users: vec![7],
            ..TelegramSettings::default()
        }
        .access();
        assert!(closed.allows(-100, 5));
        assert!(closed.allows(-1, 7));
        assert!(!closed.allows(-1, 5));
    }

    #[test]
    fn block_lists_win_over_allow_lists() {
        let settings = TelegramSettings {
            allowed_chats: vec![-100],
            allowed_users: vec![7],
            blocked_users: vec![7, 9],
            blocked_chats: vec![-200],
            ..TelegramSettings::default()
        };
        let access = settings.access();
        assert!(
            !access.allows(-100, 7),
            "a blocked user, even an allowed one"
        );
        assert!(!access.allows(-100, 9), "a blocked user in an allowed chat");
        assert!(access.allows(-100, 5));
        let open = TelegramSettings {
            blocked_chats: vec![-200],
            ..TelegramSettings::default()
        }
        .access();
        assert!(!open.allows(-200, 5), "a blocked chat");
        assert!(open.allows(-300, 5));
    }
}
