//! # natter-plugin-moderation — what users may send and what the bot may say
//!
//! Two rule sets, each a list of words (whole words, any case) and regular
//! expressions with an action:
//!
//! - **input** rules see every addressed message, commands included, before
//!   anything else does. `refuse` answers with a polite `refusal` and sends
//!   nothing to the model; `redact` replaces each match with `redaction`, and
//!   the model and the history see only the redacted text.
//! - **output** rules see everything the bot shows. `redact` replaces matches;
//!   `refuse` stops the reply and shows `refusal` in its place. Streamed
//!   replies are screened before each edit, so a matching phrase never shows —
//!   not even its first half in an intermediate edit.
//!
//! Channels can have stricter rules, their own, or none (`channels`). With
//! `openai_moderation = true`, input that passed the rules is also sent to the
//! provider's moderation endpoint (OpenAI's `POST /moderations`) and refused
//! when flagged; `on_check_error` decides whether a failed check lets the
//! message through (the default) or refuses it.
//!
//! ```toml
//! [plugins.moderation]
//! enabled = true
//! input = { words = ["buy followers"], patterns = ['(?i)\bfree\s+crypto\b'], action = "refuse" }
//! output = { words = ["launch code"], patterns = ['\b\d{3}-\d{2}-\d{4}\b'], action = "redact" }
//!
//! [plugins.moderation.channels."telegram:-1001234"]
//! output = { words = ["spoiler"], action = "refuse" }
//! ```
//!
//! `docs/moderation.md` describes every setting.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[plugins.moderation]` section |
//! | [`error`] | what can be wrong with it |
//! | `rules` | words and patterns compiled to regexes; matching and redacting |
//! | `policy` | which rules hold in which channel |
//! | `output` | the output filter the courier screens replies with |
//! | `provider` | the provider's moderation service, failing open or closed |

pub mod error;
mod output;
mod policy;
mod provider;
mod rules;
pub mod settings;

use std::sync::Arc;

use async_trait::async_trait;
use natter_core::{Flow, Moderator, OutputFilter, Plugin, PluginContext, PluginError};
use tracing::{debug, info, instrument};

pub use error::ModerationError;
pub use settings::{Action, ChannelSettings, ModerationSettings, OnCheckError, Rules};

use output::OutputRules;
use policy::Policies;
use provider::{ProviderCheck, Verdict};
use rules::redact;

/// The moderation plugin.
#[derive(Debug)]
pub struct ModerationPlugin {
    policies: Arc<Policies>,
    output: Option<Arc<OutputRules>>,
    provider: ProviderCheck,
    refusal: String,
    redaction: String,
    unavailable: String,
}

impl ModerationPlugin {
    /// The plugin with `settings`: compiles every word list and pattern, and
    /// reads the `channels` keys. Fails on an invalid pattern (naming it), an
    /// empty word or pattern, an unreadable or repeated channel key, an empty
    /// reply text, or a redaction text the output rules would redact.
    pub fn new(settings: ModerationSettings) -> Result<Self, ModerationError> {
        if settings.refusal.trim().is_empty() {
            return Err(ModerationError::EmptyText("refusal"));
        }
        if settings.unavailable.trim().is_empty() {
            return Err(ModerationError::EmptyText("unavailable"));
        }
        let policies = Arc::new(Policies::new(&settings)?);
        policies.check_redaction(&settings.redaction)?;
        let output = policies.screens_output().then(|| {
            Arc::new(OutputRules {
                policies: Arc::clone(&policies),
                lookahead: policies.lookahead(settings.lookahead_chars),
                notice: settings.refusal.clone(),
                redaction: settings.redaction.clone(),
            })
        });
        Ok(Self {
            policies,
            output,
            provider: ProviderCheck::new(settings.on_check_error),
            refusal: settings.refusal,
            redaction: settings.redaction,
            unavailable: settings.unavailable,
        })
    }

    /// The same plugin, asking `moderator` (the provider's moderation
    /// service, e.g. the OpenAI backend) where `openai_moderation` is on.
    /// Without one, that setting lets every message through (with a warning).
    pub fn with_moderator(mut self, moderator: Arc<dyn Moderator>) -> Self {
        self.provider.set_moderator(moderator);
        self
    }

    /// How many characters of a streamed reply the output filter holds back
    /// (0 without output rules).
    pub fn lookahead(&self) -> usize {
        self.output.as_ref().map_or(0, |output| output.lookahead)
    }
}

#[async_trait]
impl Plugin for ModerationPlugin {
    /// Also the settings section, `[plugins.moderation]`.
    fn name(&self) -> &str {
        "moderation"
    }

    /// The input rules, then the provider's moderation service.
    #[instrument(name = "moderation", skip_all, fields(channel = %cx.message().channel))]
    async fn filter_input(
        &self,
        cx: &mut PluginContext<'_>,
        text: &mut String,
    ) -> Result<Flow, PluginError> {
        let Some(policy) = self.policies.for_channel(&cx.message().channel) else {
            return Ok(Flow::Continue);
        };
        let matches = policy.input.matches(text);
        if !matches.is_empty() {
            match policy.input.action() {
                Action::Refuse => {
                    info!("message refused: it matches the input rules");
                    cx.reply(&self.refusal).await?;
                    return Ok(Flow::Handled);
                }
                Action::Redact => {
                    debug!(
                        matches = matches.len(),
                        "message redacted by the input rules"
                    );
                    *text = redact(text, &matches, &self.redaction);
                }
            }
        }
        if policy.provider_check && !text.trim().is_empty() {
            let reply = match self.provider.check(text).await {
                Verdict::Pass => return Ok(Flow::Continue),
                Verdict::Flagged => &self.refusal,
                Verdict::Unavailable => &self.unavailable,
            };
            cx.reply(reply).await?;
            return Ok(Flow::Handled);
        }
        Ok(Flow::Continue)
    }

    fn output_filter(&self) -> Option<Arc<dyn OutputFilter>> {
        self.output
            .as_ref()
            .map(|output| Arc::clone(output) as Arc<dyn OutputFilter>)
    }
}
