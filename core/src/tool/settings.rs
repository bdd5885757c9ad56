//! The `[tools]` settings section: the guards of the tool loop and who may
//! run which tool where.
//!
//! ```toml
//! [tools]
//! max_steps = 8               # model calls per reply; then tools are withdrawn
//! timeout_secs = 30           # per tool call
//! repeat_limit = 2            # the same call with the same arguments, per reply
//! approval_timeout_secs = 120 # how long a confirmation waits for an answer
//! max_result_chars = 8000     # longer tool results are cut
//!
//! [tools.permissions]         # per tool: everyone | admins | confirm
//! remind_set = "confirm"
//!
//! [tools.channels."telegram:-1001234567890"]   # per channel (or thread)
//! remind_set = "admins"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::spec::Permission;
use crate::message::ChannelRef;

/// The `[tools]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolSettings {
    /// Offer tools to the model at all.
    pub enabled: bool,
    /// Model calls in one reply; after the last, tools are withdrawn and the
    /// model must answer in words.
    pub max_steps: u32,
    /// Longest a tool call may run.
    pub timeout_secs: u64,
    /// How often one reply may make the same call with the same arguments;
    /// further repeats are not run and the model is told so.
    pub repeat_limit: u32,
    /// How long a confirmation waits for the person to answer.
    pub approval_timeout_secs: u64,
    /// Longest tool result the model is given, in characters; longer ones
    /// are cut, with a note saying how much was left out.
    pub max_result_chars: usize,
    /// Permission per tool name, over the tool's own default.
    pub permissions: BTreeMap<String, Permission>,
    /// Permission per tool name in one channel (`platform:channel`) or
    /// thread (`platform:channel/thread`), over everything else.
    pub channels: BTreeMap<String, BTreeMap<String, Permission>>,
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_steps: 8,
            timeout_secs: 30,
            repeat_limit: 2,
            approval_timeout_secs: 120,
            max_result_chars: 8_000,
            permissions: BTreeMap::new(),
            channels: BTreeMap::new(),
        }
    }
}

/// A `[tools]` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting tools.{key}: {reason}")]
pub struct ToolSettingsError {
    /// The key under `[tools]`.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl ToolSettings {
    /// Checks ranges and channel keys; the error names the key.
    pub fn validate(&self) -> Result<(), ToolSettingsError> {
        let invalid = |key: &str, reason: &str| ToolSettingsError {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        if self.max_steps == 0 {
            return Err(invalid("max_steps", "must be at least 1"));
        }
        if self.timeout_secs == 0 {
            return Err(invalid("timeout_secs", "must be at least 1"));
        }
        if self.repeat_limit == 0 {
            return Err(invalid("repeat_limit", "must be at least 1"));
        }
        if self.approval_timeout_secs == 0 {
            return Err(invalid("approval_timeout_secs", "must be at least 1"));
        }
        if self.max_result_chars < 100 {
            return Err(invalid("max_result_chars", "must be at least 100"));
        }
        for key in self.channels.keys() {
            let channel: ChannelRef = key
                .parse()
                .map_err(|e| invalid(&format!("channels.\"{key}\""), &format!("{e}")))?;
            if channel.to_string() != *key {
                return Err(invalid(
                    &format!("channels.\"{key}\""),
                    &format!("write it as \"{channel}\""),
                ));
            }
        }
        Ok(())
    }

    /// The permission `tool` (whose own default is `default`) runs under in
    /// `channel`: the thread's setting, else the channel's, else the tool's
    /// in `[tools.permissions]`, else its default.
    pub fn permission_for(
        &self,
        tool: &str,
        default: Permission,
        channel: &ChannelRef,
    ) -> Permission {
        let thread_key = channel.to_string();
        let channel_key = format!("{}:{}", channel.platform, channel.channel);
        [thread_key, channel_key]
            .iter()
            .find_map(|key| self.channels.get(key)?.get(tool).copied())
            .or_else(|| self.permissions.get(tool).copied())
            .unwrap_or(default)
    }

    /// [`ToolSettings::timeout_secs`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// [`ToolSettings::approval_timeout_secs`] as a duration.
    pub fn approval_timeout(&self) -> Duration {
        Duration::from_secs(self.approval_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::message::Platform;

    #[test]
    fn the_most_specific_permission_wins() {
        let settings: ToolSettings = serde_json::from_value(serde_json::json!({
            "permissions": {"remind_set": "admins"},
            "channels": {
                "telegram:-100": {"remind_set": "confirm"},
                "telegram:-100/7": {"remind_set": "everyone"},
            }
        }))
        .unwrap();
        settings.validate().unwrap();
        let telegram = Platform::new("telegram");
        let group = ChannelRef::group(telegram, "-100");
        let other = ChannelRef::group(telegram, "-200");
        let at = |channel: &ChannelRef| {
            settings.permission_for("remind_set", Permission::Everyone, channel)
        };
        assert_eq!(at(&other), Permission::Admins);
        assert_eq!(at(&group), Permission::Confirm);
        assert_eq!(at(&group.clone().in_thread("7")), Permission::Everyone);
        assert_eq!(at(&group.clone().in_thread("8")), Permission::Confirm);
        assert_eq!(
            settings.permission_for("kb_search", Permission::Admins, &group),
            Permission::Admins
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = |json: serde_json::Value| {
            serde_json::from_value::<ToolSettings>(json)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad(serde_json::json!({"max_steps": 0})),
            "invalid setting tools.max_steps: must be at least 1"
        );
        let error = bad(serde_json::json!({"channels": {"-100": {}}}));
        assert!(
            error.starts_with("invalid setting tools.channels.\"-100\": "),
            "{error}"
        );
        let error = bad(serde_json::json!({"channels": {"Telegram:1": {}}}));
        assert!(error.contains("write it as \"telegram:1\""), "{error}");
        assert!(
            serde_json::from_value::<ToolSettings>(
                serde_json::json!({"permissions": {"x": "root"}})
            )
            .is_err()
        );
    }
}
