//! The `[plugins.support]` settings section, and checking it.

use std::path::PathBuf;

use bm25::Language;
use natter_core::ChannelRef;
use serde::{Deserialize, Serialize};

/// What the model is told above the excerpts.
pub const INSTRUCTIONS: &str = "You are answering a customer's question for our support team. \
Use only the numbered excerpts from our help articles below. After each fact, cite the excerpt \
it comes from by its number, like [1] or [2]. Never invent policies, prices, dates or contact \
details.";

/// What the model says when the excerpts do not answer the question, with a
/// hand-off channel: seeing it in a reply hands the conversation to the team.
pub const HANDOFF_PHRASE: &str =
    "I'm not sure about that, so I'm passing your question to a colleague.";

/// The reply when nothing in the knowledge base matches.
pub const NOT_FOUND: &str = "Sorry, I couldn't find anything about that in our help articles. \
Send /human (you can add a note, e.g. `/human my parcel never arrived`) and a person from our \
team will get back to you.";

/// The `[plugins.support]` settings section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportSettings {
    /// The folder of help articles: Markdown, text and FAQ files (required).
    pub docs: PathBuf,
    /// Where the plugin answers: channel references such as
    /// `"telegram:-1001234"` or `"discord:123456789"` (a thread:
    /// `"discord:123/456"`). Empty: everywhere.
    pub channels: Vec<String>,
    /// How many excerpts go into the prompt.
    pub top_k: usize,
    /// A chunk must score above this to count as an answer (BM25; see
    /// `/kb search` for the scores your articles get).
    pub min_score: f32,
    /// The longest chunk, in characters.
    pub max_chunk_chars: usize,
    /// The language of the articles, for stemming and stop words: english,
    /// german, french, spanish, italian, dutch, portuguese, … (see docs).
    pub language: String,
    /// Where `/human` posts hand-off requests: a channel reference such as
    /// `"telegram:-1001234"`. None: hand-off is not configured.
    pub handoff_channel: Option<String>,
    /// How many recent turns of the conversation a hand-off request shows.
    pub handoff_turns: usize,
    /// What the model is told above the excerpts.
    pub instructions: String,
    /// When the excerpts do not answer the question, the model is told to
    /// reply with `handoff_phrase`, and a reply containing it hands the
    /// conversation to `handoff_channel` at once (as `/human` would). Off, or
    /// without a hand-off channel: the model suggests `/human` instead.
    pub auto_handoff: bool,
    /// The sentence the model replies with when it cannot help.
    pub handoff_phrase: String,
    /// The reply when nothing in the knowledge base matches.
    pub not_found: String,
}

impl Default for SupportSettings {
    fn default() -> Self {
        Self {
            docs: PathBuf::new(),
            channels: Vec::new(),
            top_k: 3,
            min_score: 1.0,
            max_chunk_chars: 1200,
            language: "english".to_owned(),
            handoff_channel: None,
            handoff_turns: 6,
            instructions: INSTRUCTIONS.to_owned(),
            auto_handoff: true,
            handoff_phrase: HANDOFF_PHRASE.to_owned(),
            not_found: NOT_FOUND.to_owned(),
        }
    }
}

/// A problem with the `[plugins.support]` settings or the docs folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SupportError {
    /// A setting is missing or out of range.
    #[error("[plugins.support] {key}: {reason}")]
    Setting {
        /// The key within the section, e.g. `handoff_channel`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The docs folder cannot be read.
    #[error("[plugins.support] docs: {0}")]
    Docs(#[from] crate::kb::LoadError),
}

impl SupportError {
    /// The full settings key, e.g. `plugins.support.handoff_channel`.
    pub fn key(&self) -> String {
        match self {
            Self::Setting { key, .. } => format!("plugins.support.{key}"),
            Self::Docs(_) => "plugins.support.docs".to_owned(),
        }
    }

    /// What is wrong, without the key.
    pub fn reason(&self) -> String {
        match self {
            Self::Setting { reason, .. } => reason.clone(),
            Self::Docs(error) => error.to_string(),
        }
    }
}

/// Checked settings: references parsed, ranges checked.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub(crate) channels: Vec<ChannelRef>,
    pub(crate) handoff: Option<ChannelRef>,
    pub(crate) language: Language,
}

fn setting(key: &'static str, reason: impl Into<String>) -> SupportError {
    SupportError::Setting {
        key,
        reason: reason.into(),
    }
}

/// The languages the tokenizer stems, by setting name.
const LANGUAGES: [(&str, Language); 17] = [
    ("arabic", Language::Arabic),
    ("danish", Language::Danish),
    ("dutch", Language::Dutch),
    ("english", Language::English),
    ("french", Language::French),
    ("german", Language::German),
    ("greek", Language::Greek),
    ("hungarian", Language::Hungarian),
    ("italian", Language::Italian),
    ("norwegian", Language::Norwegian),
    ("portuguese", Language::Portuguese),
    ("romanian", Language::Romanian),
    ("russian", Language::Russian),
    ("spanish", Language::Spanish),
    ("swedish", Language::Swedish),
    ("tamil", Language::Tamil),
    ("turkish", Language::Turkish),
];

impl SupportSettings {
    /// Checks every value; errors name the key.
    pub(crate) fn check(&self) -> Result<Checked, SupportError> {
        if self.docs.as_os_str().is_empty() {
            return Err(setting(
                "docs",
                "set it to the folder of your help articles, e.g. docs = \"support-docs\"",
            ));
        }
        if !(1..=20).contains(&self.top_k) {
            return Err(setting(
                "top_k",
                format!("must be 1 to 20, not {}", self.top_k),
            ));
        }
        if !self.min_score.is_finite() || self.min_score < 0.0 {
            return Err(setting(
                "min_score",
                format!("must be 0 or more, not {}", self.min_score),
            ));
        }
        if !(100..=20_000).contains(&self.max_chunk_chars) {
            return Err(setting(
                "max_chunk_chars",
                format!("must be 100 to 20000, not {}", self.max_chunk_chars),
            ));
        }
        if self.handoff_turns > 100 {
            return Err(setting(
                "handoff_turns",
                format!("must be 0 to 100, not {}", self.handoff_turns),
            ));
        }
        if self.auto_handoff && self.handoff_phrase.split_whitespace().count() < 3 {
            return Err(setting(
                "handoff_phrase",
                "must be a sentence (at least three words), or the model would say it by chance",
            ));
        }
        if self.not_found.trim().is_empty() {
            return Err(setting("not_found", "must not be empty"));
        }
        let wanted = self.language.trim().to_ascii_lowercase();
        let language = LANGUAGES
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, language)| language.clone())
            .ok_or_else(|| {
                let known: Vec<&str> = LANGUAGES.iter().map(|(name, _)| *name).collect();
                setting(
                    "language",
                    format!("`{}` is not one of {}", self.language, known.join(", ")),
                )
            })?;
        let channels = self
            .channels
            .iter()
            .map(|reference| {
                reference
                    .parse::<ChannelRef>()
                    .map_err(|e| setting("channels", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let handoff = match self.handoff_channel.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(reference) => Some(
                reference
                    .parse::<ChannelRef>()
                    .map_err(|e| setting("handoff_channel", e.to_string()))?,
            ),
        };
        Ok(Checked {
            channels,
            handoff,
            language,
        })
    }
}

impl Checked {
    /// True when the plugin answers in `channel`: no list, or a listed channel
    /// (a listed thread only covers itself; a listed channel covers its threads).
    pub(crate) fn covers(&self, channel: &ChannelRef) -> bool {
        self.channels.is_empty()
            || self.channels.iter().any(|listed| {
                listed.platform == channel.platform
                    && listed.channel == channel.channel
                    && (listed.thread.is_none() || listed.thread == channel.thread)
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use natter_core::Platform;

    use super::*;

    fn settings() -> SupportSettings {
        SupportSettings {
            docs: "kb".into(),
            ..SupportSettings::default()
        }
    }

    fn key_of(settings: SupportSettings) -> String {
        settings.check().expect_err("invalid").key()
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(key_of(SupportSettings::default()), "plugins.support.docs");
        let bad_handoff = SupportSettings {
            handoff_channel: Some("-1001234".into()),
            ..settings()
        };
        let error = bad_handoff.check().expect_err("invalid");
        assert_eq!(error.key(), "plugins.support.handoff_channel");
        assert!(
            error
                .to_string()
                .starts_with("[plugins.support] handoff_channel: "),
            "{error}"
        );
        assert!(error.to_string().contains("-1001234"), "{error}");
        assert_eq!(
            key_of(SupportSettings {
                channels: vec!["telegram:1".into(), "Sl@ck:C1".into()],
                ..settings()
            }),
            "plugins.support.channels"
        );
        assert_eq!(
            key_of(SupportSettings {
                top_k: 0,
                ..settings()
            }),
            "plugins.support.top_k"
        );
        assert_eq!(
            key_of(SupportSettings {
                min_score: f32::NAN,
                ..settings()
            }),
            "plugins.support.min_score"
        );
        assert_eq!(
            key_of(SupportSettings {
                max_chunk_chars: 10,
                ..settings()
            }),
            "plugins.support.max_chunk_chars"
        );
        assert_eq!(
            key_of(SupportSettings {
                language: "klingon".into(),
                ..settings()
            }),
            "plugins.support.language"
        );
    }

    #[test]
    fn channels_cover_their_threads_and_nothing_else() {
        let checked = SupportSettings {
            channels: vec!["telegram:-100123".into(), "discord:10/20".into()],
            handoff_channel: Some("  ".into()),
            language: "English".into(),
            ..settings()
        }
        .check()
        .unwrap();
        assert!(checked.handoff.is_none(), "blank means not configured");
        let telegram = ChannelRef::group(Platform::new("telegram"), "-100123");
        assert!(checked.covers(&telegram));
        assert!(checked.covers(&telegram.clone().in_thread("7")));
        assert!(!checked.covers(&ChannelRef::group(Platform::new("discord"), "-100123")));
        assert!(!checked.covers(&ChannelRef::group(Platform::new("telegram"), "-1001234")));
        let discord = ChannelRef::group(Platform::new("discord"), "10").in_server("1");
        assert!(checked.covers(&discord.clone().in_thread("20")));
        assert!(!checked.covers(&discord.clone().in_thread("21")));
        assert!(!checked.covers(&discord));

        let everywhere = settings().check().unwrap();
        assert!(everywhere.covers(&ChannelRef::private(Platform::new("test"), "alice")));
    }
}
