//! Which rules hold where: the global rules and each channel's override,
//! compiled once, and the lookup from a message's channel to its policy.

use std::collections::HashMap;

use natter_core::{ChannelRef, Platform};

use crate::error::ModerationError;
use crate::rules::RuleSet;
use crate::settings::{Action, ChannelSettings, ModerationSettings, Rules};

/// The rules in force in one place.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) input: RuleSet,
    pub(crate) output: RuleSet,
    /// Ask the provider's moderation service about input.
    pub(crate) provider_check: bool,
    /// Where in the settings it comes from: empty, or `channels."KEY".`.
    at: String,
}

/// A channel, or a thread in one, as `channels` keys name them.
type Place = (Platform, String, Option<String>);

/// Every policy, by place.
#[derive(Debug)]
pub(crate) struct Policies {
    global: Policy,
    /// `None`: moderation is disabled there.
    channels: HashMap<Place, Option<Policy>>,
}

impl Policies {
    /// Compiles the rules of `settings`.
    pub(crate) fn new(settings: &ModerationSettings) -> Result<Self, ModerationError> {
        let global = Policy {
            input: rule_set("input", &settings.input, None, Action::Refuse)?,
            output: rule_set("output", &settings.output, None, Action::Redact)?,
            provider_check: settings.openai_moderation,
            at: String::new(),
        };
        let mut channels = HashMap::new();
        let mut keys: HashMap<Place, &str> = HashMap::new();
        for (key, channel) in &settings.channels {
            let reference: ChannelRef = key.parse().map_err(|e| ModerationError::Channel {
                key: key.clone(),
                reason: format!("{e}"),
            })?;
            let place = (reference.platform, reference.channel, reference.thread);
            if let Some(first) = keys.insert(place.clone(), key) {
                return Err(ModerationError::DuplicateChannel {
                    first: first.to_owned(),
                    second: key.clone(),
                });
            }
            let policy = if channel.disabled {
                None
            } else {
                Some(channel_policy(key, channel, settings)?)
            };
            channels.insert(place, policy);
        }
        Ok(Self { global, channels })
    }

    /// The policy for `channel`: its thread's override, else its channel's,
    /// else the global one. `None` when moderation is disabled there.
    pub(crate) fn for_channel(&self, channel: &ChannelRef) -> Option<&Policy> {
        if self.channels.is_empty() {
            return Some(&self.global);
        }
        let mut place = (channel.platform, channel.channel.clone(), None);
        if let Some(thread) = &channel.thread {
            place.2 = Some(thread.clone());
            if let Some(policy) = self.channels.get(&place) {
                return policy.as_ref();
            }
            place.2 = None;
        }
        match self.channels.get(&place) {
            Some(policy) => policy.as_ref(),
            None => Some(&self.global),
        }
    }

    /// Every policy's output rules.
    fn outputs(&self) -> impl Iterator<Item = &RuleSet> {
        std::iter::once(&self.global)
            .chain(self.channels.values().flatten())
            .map(|policy| &policy.output)
    }

    /// True when some place has output rules.
    pub(crate) fn screens_output(&self) -> bool {
        self.outputs().any(|rules| !rules.is_empty())
    }

    /// How many characters of a streamed reply to hold back: the longest
    /// output word, and `lookahead_chars` where there are output patterns.
    pub(crate) fn lookahead(&self, lookahead_chars: usize) -> usize {
        self.outputs()
            .map(|rules| {
                let patterns = if rules.has_patterns() {
                    lookahead_chars
                } else {
                    0
                };
                rules.longest_word().max(patterns)
            })
            .max()
            .unwrap_or(0)
    }

    /// Checks that no redacting output rules match `redaction`: redacted text
    /// still held back while a reply streams is screened again.
    pub(crate) fn check_redaction(&self, redaction: &str) -> Result<(), ModerationError> {
        let all = std::iter::once(&self.global).chain(self.channels.values().flatten());
        for policy in all {
            let rules = &policy.output;
            if rules.action() == Action::Redact && !rules.matches(redaction).is_empty() {
                return Err(ModerationError::RedactionMatches {
                    redaction: redaction.to_owned(),
                    at: format!("{}output", policy.at),
                });
            }
        }
        Ok(())
    }
}

/// The policy of one `channels` entry.
fn channel_policy(
    key: &str,
    channel: &ChannelSettings,
    settings: &ModerationSettings,
) -> Result<Policy, ModerationError> {
    let inherited = |global: &Rules| channel.inherit.then(|| global.clone());
    let at = format!("channels.\"{key}\".");
    Ok(Policy {
        input: rule_set(
            &format!("{at}input"),
            &channel.input,
            inherited(&settings.input).as_ref(),
            settings.input.action.unwrap_or(Action::Refuse),
        )?,
        output: rule_set(
            &format!("{at}output"),
            &channel.output,
            inherited(&settings.output).as_ref(),
            settings.output.action.unwrap_or(Action::Redact),
        )?,
        provider_check: channel
            .openai_moderation
            .unwrap_or(settings.openai_moderation),
        at,
    })
}

/// Compiles `rules`, after `inherited` ones if any; the action is `rules`'
/// own, else `default`.
fn rule_set(
    at: &str,
    rules: &Rules,
    inherited: Option<&Rules>,
    default: Action,
) -> Result<RuleSet, ModerationError> {
    let action = rules.action.unwrap_or(default);
    match inherited {
        None => RuleSet::new(at, &rules.words, &rules.patterns, action),
        Some(global) => {
            let words = [global.words.as_slice(), rules.words.as_slice()].concat();
            let patterns = [global.patterns.as_slice(), rules.patterns.as_slice()].concat();
            RuleSet::new(at, &words, &patterns, action)
        }
    }
}
