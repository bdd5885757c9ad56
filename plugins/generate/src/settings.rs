//! The `[plugins.generate]` settings section and its `[plugins.generate.kinds.NAME]`
//! tables, which override the built-in kinds or add new ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The system prompt of every kind that does not set its own.
pub const DEFAULT_SYSTEM: &str = "You are a skilled writer. Follow the instructions exactly. \
Reply with the finished piece only, formatted in Markdown: no preamble, no notes, no questions.";

/// The `[plugins.generate]` settings section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateSettings {
    /// The system prompt for kinds that do not set their own.
    pub system: String,
    /// The largest `--words` a user may ask for.
    pub max_words: u32,
    /// The most tokens one piece may take; the reply budget grows with `--words`
    /// up to this.
    pub max_tokens: u32,
    /// Whether generated pieces enter the conversation's chat history.
    pub history: HistoryPolicy,
    /// Kinds to add, or built-in kinds to change, by name (one lowercase word).
    pub kinds: BTreeMap<String, KindSettings>,
}

impl Default for GenerateSettings {
    fn default() -> Self {
        Self {
            system: DEFAULT_SYSTEM.to_owned(),
            max_words: 3000,
            max_tokens: 6000,
            history: HistoryPolicy::default(),
            kinds: BTreeMap::new(),
        }
    }
}

/// Whether generated pieces enter the conversation's chat history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryPolicy {
    /// Only when the conversation continues about the piece: the next ordinary
    /// message of the user who asked for it, or anyone's reply to it. Then the
    /// request and the piece enter history just before that message, so the
    /// model knows what "make it shorter" refers to. Another `/write` first
    /// replaces the piece, which then never enters history.
    #[default]
    FollowUp,
    /// Always, right after the piece is written.
    Always,
    /// Never: pieces stand alone.
    Never,
}

/// One `[plugins.generate.kinds.NAME]` table. For a built-in kind every key is
/// optional and changes only what it names; a new kind needs a `template`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KindSettings {
    /// One line for the `/write` listing.
    pub description: Option<String>,
    /// The prompt, a minijinja template. Variables: `topic`, `text`, `words`,
    /// `tone`, `lang`, `audience`, `kind`, and `instructions` (the options as
    /// ready-made sentences; put it on its own line).
    pub template: Option<String>,
    /// The system prompt for this kind (default: the section's `system`).
    pub system: Option<String>,
    /// Length when the user gives no `--words` (none: no length instruction).
    pub words: Option<u32>,
    /// What the kind works from.
    pub input: Option<Input>,
    /// A topic to show in the `/write` listing's example.
    pub example: Option<String>,
}

/// What a kind works from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The words after the kind: `/write poem the sea at night`.
    #[default]
    Topic,
    /// A text to work on: the message replied to (the words after the kind are
    /// then a focus, in `topic`), or else the words after the kind.
    Text,
}
