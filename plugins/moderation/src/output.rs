//! The output filter: what the bot shows, screened against the output rules
//! of the channel it is shown in — streamed edits included, since the courier
//! holds back [`OutputFilter::lookahead`] characters of a streaming reply.

use std::sync::Arc;

use natter_core::{ChannelRef, OutputFilter, Screened};
use tracing::info;

use crate::policy::Policies;
use crate::rules::redact;
use crate::settings::Action;

/// Screens outgoing text with the output rules.
#[derive(Debug)]
pub(crate) struct OutputRules {
    pub(crate) policies: Arc<Policies>,
    pub(crate) lookahead: usize,
    /// Shown in place of a blocked reply.
    pub(crate) notice: String,
    /// Replaces each match when redacting.
    pub(crate) redaction: String,
}

impl OutputFilter for OutputRules {
    fn lookahead(&self) -> usize {
        self.lookahead
    }

    fn screen(&self, channel: &ChannelRef, text: &str) -> Screened {
        let Some(policy) = self.policies.for_channel(channel) else {
            return Screened::Clean;
        };
        let matches = policy.output.matches(text);
        if matches.is_empty() {
            return Screened::Clean;
        }
        match policy.output.action() {
            Action::Refuse => {
                info!(%channel, "reply blocked: it matches the output rules");
                Screened::Blocked {
                    notice: self.notice.clone(),
                }
            }
            Action::Redact => {
                info!(%channel, matches = matches.len(), "reply redacted by the output rules");
                Screened::Redacted(redact(text, &matches, &self.redaction))
            }
        }
    }
}
