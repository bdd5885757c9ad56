//! The `[plugins.moderation]` settings section.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What users see when their message is refused, and in place of a blocked reply.
pub const REFUSAL: &str = "Sorry, I can't help with that.";

/// What replaces a redacted word or pattern match.
pub const REDACTION: &str = "[removed]";

/// What users see when the provider's moderation check failed and
/// `on_check_error = "refuse"`.
pub const UNAVAILABLE: &str = "I can't check messages right now; please try again in a moment.";

/// The `[plugins.moderation]` settings section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationSettings {
    /// Rules for what users send (every addressed message, commands included).
    /// Their action defaults to `refuse`.
    pub input: Rules,
    /// Rules for everything the bot shows, streamed edits included. Their
    /// action defaults to `redact`.
    pub output: Rules,
    /// The polite reply to a refused message; also shown in place of a
    /// blocked reply.
    pub refusal: String,
    /// What replaces each match when the action is `redact`.
    pub redaction: String,
    /// Also ask the model provider's moderation service about each message
    /// (OpenAI's `POST /moderations`); flagged messages are refused. A backend
    /// without one (a local model) is warned about once, then ignored.
    pub openai_moderation: bool,
    /// What to do with a message when the moderation service cannot be reached.
    pub on_check_error: OnCheckError,
    /// The reply when `on_check_error = "refuse"` turned a message away.
    pub unavailable: String,
    /// The longest text (in characters) an output *pattern* may match.
    /// Streamed replies hold this many characters back until the rest arrives,
    /// so a match never shows in part; a longer match may. Words need no
    /// setting: their own length is held back.
    pub lookahead_chars: usize,
    /// Per-channel overrides, keyed by channel reference: `"telegram:-1001234"`,
    /// `"telegram:-1001234/7"` (a forum topic), `"discord:123456789"`. A thread's
    /// entry wins over its channel's.
    pub channels: BTreeMap<String, ChannelSettings>,
}

impl Default for ModerationSettings {
    fn default() -> Self {
        Self {
            input: Rules::default(),
            output: Rules::default(),
            refusal: REFUSAL.to_owned(),
            redaction: REDACTION.to_owned(),
            openai_moderation: false,
            on_check_error: OnCheckError::default(),
            unavailable: UNAVAILABLE.to_owned(),
            lookahead_chars: 64,
            channels: BTreeMap::new(),
        }
    }
}

/// Words and patterns to look for, and what to do when one matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Words or phrases, matched whole (on word boundaries) and ignoring case.
    /// A space in a phrase also matches a line break or a few spaces.
    pub words: Vec<String>,
    /// Regular expressions (Rust `regex` syntax), case-sensitive unless they
    /// start with `(?i)`.
    pub patterns: Vec<String>,
    /// What to do on a match; unset: `refuse` for input, `redact` for output
    /// (in a channel override: the global section's action).
    pub action: Option<Action>,
}

/// What to do with a text that matches a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Input: reply with `refusal` and send nothing to the model. Output: stop
    /// the reply and show `refusal` in its place.
    Refuse,
    /// Replace every match with `redaction` and go on.
    Redact,
}

/// What to do when the moderation service cannot be asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCheckError {
    /// Let the message through (fail open), with a warning in the log.
    #[default]
    Allow,
    /// Refuse it with `unavailable` (fail closed).
    Refuse,
}

/// One `[plugins.moderation.channels."platform:channel"]` override.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelSettings {
    /// No moderation at all here: no rules, no moderation service.
    pub disabled: bool,
    /// Add this channel's words and patterns to the global ones (`true`, the
    /// default: stricter here) or use them instead (`false`).
    pub inherit: bool,
    /// Input rules for this channel.
    pub input: Rules,
    /// Output rules for this channel.
    pub output: Rules,
    /// Overrides `openai_moderation` here.
    pub openai_moderation: Option<bool>,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            disabled: false,
            inherit: true,
            input: Rules::default(),
            output: Rules::default(),
            openai_moderation: None,
        }
    }
}
