//! The `[discord]` settings section: token, conversation scope, admins, where
//! the bot may answer, and how it connects (shard range, REST proxy, gateway).

use std::fmt;
use std::str::FromStr;

use natter_core::secret::{deserialize_non_empty, non_empty, serialize_redacted};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `[discord]` settings section.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordSettings {
    /// The bot token; the adapter starts when it is set (the natter binary
    /// fills it from `DISCORD_TOKEN` when unset). Empty counts as unset.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub token: Option<SecretString>,
    /// One conversation per channel (default) or per member within a channel.
    pub scope: Scope,
    /// User ids that may change settings (such as the persona) in any server,
    /// in addition to members with the Manage Server permission.
    pub admins: Vec<Snowflake>,
    /// Servers the bot answers in; empty for all. DMs are not affected.
    pub allowed_guilds: Vec<Snowflake>,
    /// Channels (or thread parents) the bot answers in; empty for all. DMs are not affected.
    pub allowed_channels: Vec<Snowflake>,
    /// Users who may talk to the bot in DMs; empty for everyone. Those in
    /// `admins` always may.
    pub allowed_dm_users: Vec<Snowflake>,
    /// Users never answered, anywhere: their messages and button presses are
    /// dropped before they reach a plugin or the model.
    pub blocked_users: Vec<Snowflake>,
    /// Servers never answered in.
    pub blocked_guilds: Vec<Snowflake>,
    /// Channels (or thread parents, or threads) never answered in.
    pub blocked_channels: Vec<Snowflake>,
    /// The shards this process runs, e.g. `"0-3/16"` or `"2/16"`; unset for one shard.
    pub shards: Option<ShardSpec>,
    /// Send REST calls through an HTTP rate-limit proxy at this URL (which then
    /// does the rate limiting; serenity's own limiter is switched off).
    pub proxy_url: Option<String>,
    /// Connect to this gateway URL instead of the one Discord announces.
    pub gateway_url: Option<String>,
}

impl DiscordSettings {
    /// True when a (non-blank) token is set: the adapter should start.
    pub fn enabled(&self) -> bool {
        non_empty(&self.token).is_some()
    }
}

/// How messages in a server channel are grouped into conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everyone in a channel (or thread) shares one conversation.
    #[default]
    Channel,
    /// Each member has their own conversation in each channel (or thread).
    Member,
}

/// A Discord id (user, server, channel). Accepts a number or a string in settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snowflake(pub u64);

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(text) => text
                .trim()
                .parse()
                .map(Self)
                .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a Discord id"))),
        }
    }
}

/// Which shards this process runs: `first..=last` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShardSpec {
    /// The first shard id run here.
    pub first: u32,
    /// The last shard id run here (inclusive).
    pub last: u32,
    /// Shards across all processes.
    pub total: u32,
}

/// A `shards` value that is not `"FIRST-LAST/TOTAL"` or `"ID/TOTAL"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "shards = \"{0}\" is not valid: write \"FIRST-LAST/TOTAL\" (e.g. \"0-3/16\") or \"ID/TOTAL\", with FIRST <= LAST < TOTAL"
)]
pub struct InvalidShards(pub String);

impl FromStr for ShardSpec {
    type Err = InvalidShards;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidShards(text.to_owned());
        let (range, total) = text.trim().split_once('/').ok_or_else(bad)?;
        let total: u32 = total.trim().parse().map_err(|_| bad())?;
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (a.trim().parse(), b.trim().parse()),
            None => (range.trim().parse(), range.trim().parse()),
        };
        let (first, last): (u32, u32) = (first.map_err(|_| bad())?, last.map_err(|_| bad())?);
        if first > last || last >= total {
            return Err(bad());
        }
        Ok(Self { first, last, total })
    }
}

impl TryFrom<String> for ShardSpec {
    type Error = InvalidShards;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ShardSpec> for String {
    fn from(spec: ShardSpec) -> Self {
        spec.to_string()
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}/{}", self.first, self.total)
        } else {
            write!(f, "{}-{}/{}", self.first, self.last, self.total)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn shard_ranges_parse_and_print() {
        let spec: ShardSpec = "0-3/16".parse().unwrap();
        assert_eq!((spec.first, spec.last, spec.total), (0, 3, 16));
        assert_eq!(spec.to_string(), "0-3/16");
        let one: ShardSpec = "2/16".parse().unwrap();
        assert_eq!((one.first, one.last, one.total), (2, 2, 16));
        for bad in ["", "3", "4-2/16", "0-16/16", "a-b/c", "1/0"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn token_is_redacted_and_ids_accept_numbers_or_strings() {
        let settings: DiscordSettings = serde_json::from_value(serde_json::json!({
            "token": "very-secret",
            "admins": [123, "456"],
            "shards": "0-1/2",
            "scope": "member",
        }))
        .unwrap();
        assert_eq!(settings.admins, vec![Snowflake(123), Snowflake(456)]);
        assert_eq!(settings.scope, Scope::Member);
        let shown = serde_json::to_string(&settings).unwrap();
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(shown.contains("\"0-1/2\""), "{shown}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let result: Result<DiscordSettings, _> =
            serde_json::from_value(serde_json::json!({"tokn": "x"}));
        assert!(result.is_err());
    }
}
