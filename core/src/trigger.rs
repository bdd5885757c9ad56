//! When natter answers in a group: the `[triggers]` settings, run-time
//! changes (`/trigger`), and the rule in force for a channel.
//!
//! A rule says which messages natter answers unasked (`answer`), what counts
//! as a keyword, how long it keeps quiet after answering unasked
//! (`cooldown_secs`), and whether other bots are answered (`answer_bots`).
//! Each of these falls back on its own: a thread's rule to its channel's,
//! then the server's, the platform's (`[triggers.places."discord"]`), and
//! the `[triggers]` default — as personas do. A run-time rule set by an admin
//! for a place counts before the settings' rule for the same place.
//!
//! Private chats, commands, mentions and replies to the bot are always
//! answered; the cooldown holds back only what the rule answers unasked.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::message::{Addressed, Incoming, Platform};
use crate::place::{Place, PlaceError};

/// Which messages natter answers in a group without being addressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String", into = "String")]
pub enum Answer {
    /// Only mentions, replies to the bot and commands (nothing unasked).
    #[default]
    Mention,
    /// Every message.
    All,
    /// Messages containing one of the rule's keywords.
    Keywords,
}

impl Answer {
    fn name(self) -> &'static str {
        match self {
            Answer::Mention => "mention",
            Answer::All => "all",
            Answer::Keywords => "keywords",
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Answer {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        crate::settings::one_of(
            &value,
            &[
                ("mention", Answer::Mention),
                ("all", Answer::All),
                ("keywords", Answer::Keywords),
            ],
            "a trigger",
        )
    }
}

impl From<Answer> for String {
    fn from(answer: Answer) -> Self {
        answer.name().to_owned()
    }
}

/// A rule for one place; what it leaves unset comes from the wider place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggerRule {
    /// Which messages are answered unasked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// Words or phrases that trigger an answer under `answer = "keywords"`
    /// (whole words, any case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    /// After answering unasked, stay quiet to unasked messages this long. 0: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_secs: Option<u64>,
    /// Answer other bots here (off: bot-to-bot loops burn money).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_bots: Option<bool>,
}

impl TriggerRule {
    /// True when the rule sets nothing.
    pub fn is_empty(&self) -> bool {
        self == &TriggerRule::default()
    }

    /// This rule, with what it leaves unset taken from `wider`.
    fn or(&self, wider: &TriggerRule) -> TriggerRule {
        TriggerRule {
            answer: self.answer.or(wider.answer),
            keywords: self.keywords.clone().or_else(|| wider.keywords.clone()),
            cooldown_secs: self.cooldown_secs.or(wider.cooldown_secs),
            answer_bots: self.answer_bots.or(wider.answer_bots),
        }
    }
}

/// The `[triggers]` section: the default rule (its keys), and rules per place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggerSettings {
    /// Which messages are answered unasked everywhere (`mention` unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// The keywords of `answer = "keywords"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    /// Quiet time after answering unasked, in seconds (0 unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_secs: Option<u64>,
    /// Answer other bots (`[engine] answer_bots` unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_bots: Option<bool>,
    /// Rules by place: `"telegram"`, `"discord:server:42"`, `"discord:123"`,
    /// `"telegram:-1001234/7"`.
    pub places: BTreeMap<String, TriggerRule>,
}

impl TriggerSettings {
    /// The default rule, as the section's own keys give it.
    pub fn default_rule(&self) -> TriggerRule {
        TriggerRule {
            answer: self.answer,
            keywords: self.keywords.clone(),
            cooldown_secs: self.cooldown_secs,
            answer_bots: self.answer_bots,
        }
    }
}

/// A `[triggers]` key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct TriggerError {
    /// The key, e.g. `triggers.places."discord:1".keywords`.
    pub setting: String,
    /// Why.
    pub reason: String,
}

/// The rule in force somewhere, every part decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Which messages are answered unasked.
    pub answer: Answer,
    /// The keywords, lowercased.
    pub keywords: Vec<String>,
    /// Quiet time after answering unasked.
    pub cooldown: Duration,
    /// Whether other bots are answered.
    pub answer_bots: bool,
}

/// Whether a message is answered, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not answered.
    Ignore,
    /// Addressed to the bot (a private chat, mention, reply or command).
    Asked,
    /// Not addressed, but the rule answers it: subject to the cooldown.
    Unasked,
}

/// The checked `[triggers]` settings, by the store's scope strings.
#[derive(Clone, Debug, Default)]
pub struct Triggers {
    default: TriggerRule,
    by_scope: HashMap<String, TriggerRule>,
    settings: TriggerSettings,
}

impl Triggers {
    /// Checks `settings`: every place is one of `known`'s, keyword rules
    /// have keywords. `answer_bots` is `[engine] answer_bots`, the default
    /// for `answer_bots` wherever the triggers leave it unset.
    pub fn new(
        settings: TriggerSettings,
        known: &[Platform],
        answer_bots: bool,
    ) -> Result<Self, TriggerError> {
        let default = settings.default_rule().or(&TriggerRule {
            answer: Some(Answer::Mention),
            keywords: Some(Vec::new()),
            cooldown_secs: Some(0),
            answer_bots: Some(answer_bots),
        });
        check_rule("triggers", &default)?;
        let mut by_scope = HashMap::new();
        for (written, rule) in &settings.places {
            let setting = format!("triggers.places.\"{written}\"");
            let place =
                Place::parse_known(written, known).map_err(|error: PlaceError| TriggerError {
                    setting: setting.clone(),
                    reason: error.to_string(),
                })?;
            check_rule(&setting, rule)?;
            by_scope.insert(place.scope(), rule.clone());
        }
        Ok(Self {
            default,
            by_scope,
            settings,
        })
    }

    /// The settings these were made from.
    pub fn settings(&self) -> &TriggerSettings {
        &self.settings
    }

    /// The rule in force at `places` (narrowest first), with `set_at_run_time`
    /// (a scope's rule set by `/trigger`) counting before the settings' rule
    /// for the same place.
    pub fn resolve(
        &self,
        places: &[Place],
        set_at_run_time: impl Fn(&str) -> Option<TriggerRule>,
    ) -> Resolved {
        let mut rule = TriggerRule::default();
        for place in places {
            let scope = place.scope();
            if let Some(chosen) = set_at_run_time(&scope) {
                rule = rule.or(&chosen);
            }
            if let Some(configured) = self.by_scope.get(&scope) {
                rule = rule.or(configured);
            }
        }
        let rule = rule.or(&self.default);
        Resolved {
            answer: rule.answer.unwrap_or_default(),
            keywords: rule
                .keywords
                .unwrap_or_default()
                .iter()
                .map(|k| k.trim().to_lowercase())
                .filter(|k| !k.is_empty())
                .collect(),
            cooldown: Duration::from_secs(rule.cooldown_secs.unwrap_or(0)),
            answer_bots: rule.answer_bots.unwrap_or(false),
        }
    }
}

fn check_rule(setting: &str, rule: &TriggerRule) -> Result<(), TriggerError> {
    let error = |key: &str, reason: &str| TriggerError {
        setting: format!("{setting}.{key}"),
        reason: reason.to_owned(),
    };
    if let Some(keywords) = &rule.keywords
        && keywords.iter().any(|k| k.trim().is_empty())
    {
        return Err(error("keywords", "a keyword is empty"));
    }
    if rule.answer == Some(Answer::Keywords) && rule.keywords.as_ref().is_some_and(|k| k.is_empty())
    {
        return Err(error(
            "keywords",
            "answer = \"keywords\" needs at least one keyword",
        ));
    }
    Ok(())
}

impl Resolved {
    /// Whether `message` is answered under this rule (before the cooldown).
    pub fn verdict(&self, message: &Incoming) -> Verdict {
        if message.author.is_bot && !self.answer_bots {
            return Verdict::Ignore;
        }
        match message.addressed {
            Addressed::Private | Addressed::Mentioned | Addressed::ReplyToBot => Verdict::Asked,
            Addressed::Command => Verdict::Asked,
            Addressed::NotAddressed => match self.answer {
                Answer::Mention => Verdict::Ignore,
                Answer::All => Verdict::Unasked,
                Answer::Keywords if contains_keyword(&message.text, &self.keywords) => {
                    Verdict::Unasked
                }
                Answer::Keywords => Verdict::Ignore,
            },
        }
    }

    /// One line saying what the rule does, for `/trigger`.
    pub fn describe(&self) -> String {
        let mut text = match self.answer {
            Answer::Mention => "I answer mentions, replies to me and commands".to_owned(),
            Answer::All => "I answer every message".to_owned(),
            Answer::Keywords => format!(
                "I answer mentions, replies, commands and messages with: {}",
                self.keywords.join(", ")
            ),
        };
        if !self.cooldown.is_zero() && self.answer != Answer::Mention {
            text.push_str(&format!(
                ", then keep quiet to unasked messages for {} s",
                self.cooldown.as_secs()
            ));
        }
        if self.answer_bots {
            text.push_str("; other bots too");
        }
        text.push('.');
        text
    }
}

/// True when `text` contains one of `keywords` (lowercase) as whole words.
fn contains_keyword(text: &str, keywords: &[String]) -> bool {
    let text = text.to_lowercase();
    keywords.iter().any(|keyword| {
        text.match_indices(keyword.as_str()).any(|(at, found)| {
            let before = text[..at].chars().next_back();
            let after = text[at + found.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Author, ChannelRef, ConversationKey, MessageId};

    const DISCORD: Platform = Platform::new("discord");

    fn settings(toml_places: &[(&str, TriggerRule)]) -> TriggerSettings {
        TriggerSettings {
            places: toml_places
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            ..TriggerSettings::default()
        }
    }

    fn rule(answer: Answer) -> TriggerRule {
        TriggerRule {
            answer: Some(answer),
            ..TriggerRule::default()
        }
    }

    fn thread() -> Vec<Place> {
        let channel = ChannelRef::group(DISCORD, "10")
            .in_server("1")
            .in_thread("20");
        Place::containing(&channel)
    }

    fn message(text: &str, addressed: Addressed) -> Incoming {
        Incoming {
            key: ConversationKey::new(DISCORD, "10"),
            channel: ChannelRef::group(DISCORD, "10"),
            id: MessageId("1".into()),
            author: Author::user("u", "U"),
            text: text.into(),
            addressed,
            replied_to_text: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_thread_falls_back_to_channel_then_server_then_platform_then_default() {
        let none = |_: &str| None;
        let t = |places: &[(&str, TriggerRule)]| {
            Triggers::new(settings(places), &[DISCORD], false)
                .expect("valid")
                .resolve(&thread(), none)
                .answer
        };
        assert_eq!(t(&[]), Answer::Mention);
        assert_eq!(t(&[("discord", rule(Answer::All))]), Answer::All);
        assert_eq!(
            t(&[
                ("discord", rule(Answer::All)),
                ("discord:server:1", rule(Answer::Mention))
            ]),
            Answer::Mention
        );
        assert_eq!(
            t(&[
                ("discord:server:1", rule(Answer::Mention)),
                ("discord:10", rule(Answer::All))
            ]),
            Answer::All
        );
        assert_eq!(
            t(&[
                ("discord:10", rule(Answer::All)),
                ("discord:10/20", rule(Answer::Mention))
            ]),
            Answer::Mention
        );
    }

    #[test]
    fn each_part_falls_back_on_its_own_and_run_time_rules_come_first() {
        let cooldown = TriggerRule {
            cooldown_secs: Some(30),
            ..TriggerRule::default()
        };
        let triggers = Triggers::new(
            settings(&[
                ("discord:server:1", cooldown),
                ("discord:10", rule(Answer::All)),
            ]),
            &[DISCORD],
            false,
        )
        .expect("valid");
        let resolved = triggers.resolve(&thread(), |_| None);
        assert_eq!(resolved.answer, Answer::All);
        assert_eq!(resolved.cooldown, Duration::from_secs(30));
        let resolved = triggers.resolve(&thread(), |scope| {
            (scope == "discord/channel/10").then(|| rule(Answer::Mention))
        });
        assert_eq!(resolved.answer, Answer::Mention, "run-time rule first");
    }

    #[test]
    fn keywords_match_whole_words_in_any_case() {
        let keywords = vec!["natter".to_owned(), "help me".to_owned()];
        assert!(contains_keyword("Hey NATTER, hi", &keywords));
        assert!(contains_keyword("can you help me?", &keywords));
        assert!(!contains_keyword("natterbox", &keywords));
        assert!(!contains_keyword("chatter", &keywords));
        assert!(contains_keyword("ünatter natter", &keywords));
    }

    #[test]
    fn verdicts_follow_the_rule() {
        let resolve = |answer| Resolved {
            answer,
            keywords: vec!["bot".into()],
            cooldown: Duration::ZERO,
            answer_bots: false,
        };
        let chatter = message("hello bot", Addressed::NotAddressed);
        assert_eq!(resolve(Answer::Mention).verdict(&chatter), Verdict::Ignore);
        assert_eq!(resolve(Answer::All).verdict(&chatter), Verdict::Unasked);
        assert_eq!(
            resolve(Answer::Keywords).verdict(&chatter),
            Verdict::Unasked
        );
        let other = message("hello", Addressed::NotAddressed);
        assert_eq!(resolve(Answer::Keywords).verdict(&other), Verdict::Ignore);
        let mention = message("hello", Addressed::Mentioned);
        assert_eq!(resolve(Answer::Mention).verdict(&mention), Verdict::Asked);
        let mut bot = message("hello", Addressed::Mentioned);
        bot.author = bot.author.bot();
        assert_eq!(resolve(Answer::All).verdict(&bot), Verdict::Ignore);
        let mut bots = resolve(Answer::All);
        bots.answer_bots = true;
        assert_eq!(bots.verdict(&bot), Verdict::Asked);
    }

    #[test]
    fn bad_places_and_empty_keywords_are_named() {
        let error = Triggers::new(
            settings(&[("dicsord:1", rule(Answer::All))]),
            &[DISCORD],
            false,
        )
        .expect_err("typo");
        assert_eq!(error.setting, "triggers.places.\"dicsord:1\"");
        let keywords = TriggerRule {
            answer: Some(Answer::Keywords),
            keywords: Some(Vec::new()),
            ..TriggerRule::default()
        };
        let error = Triggers::new(settings(&[("discord:1", keywords)]), &[DISCORD], false)
            .expect_err("no keywords");
        assert_eq!(error.setting, "triggers.places.\"discord:1\".keywords");
    }
}
