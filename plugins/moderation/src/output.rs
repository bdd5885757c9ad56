//! The output filter: what the bot shows, screened against the output rules
//! of the channel it is shown in — streamed edits included, since the courier
//! holds back [`OutputFilter::lookahead`] characters of a streaming reply.

use std::sync::Arc;

use std::ops::Range;

use natter_core::delivery::screen::Part;
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

/// The matches of `rules` in `part.text`, as byte ranges of it: found with the
/// character before it in front (so word boundaries see it), without those
/// that touch the open end of an incomplete part.
fn matches_in_context(rules: &crate::rules::RuleSet, part: &Part<'_>) -> Vec<Range<usize>> {
    let (context, offset) = match part.before {
        Some(c) => (format!("{c}{}", part.text), c.len_utf8()),
        None => (part.text.to_owned(), 0),
    };
    rules
        .matches(&context)
        .into_iter()
        .filter(|range| part.complete || range.end < context.len())
        .filter(|range| range.end > offset)
        .map(|range| range.start.max(offset) - offset..range.end - offset)
        .collect()
}

impl OutputFilter for OutputRules {
    fn lookahead(&self) -> usize {
        self.lookahead
    }

    fn screen(&self, channel: &ChannelRef, text: &str) -> Screened {
        self.screen_part(
            channel,
            &Part {
                text,
                before: None,
                complete: true,
            },
        )
    }

    /// Matches in the context of what was shown before, and leaves a match
    /// touching the end of a still-streaming part for later: "ass" may yet
    /// become "assistant".
    fn screen_part(&self, channel: &ChannelRef, part: &Part<'_>) -> Screened {
        let Some(policy) = self.policies.for_channel(channel) else {
            return Screened::Clean;
        };
        let text = part.text;
        let matches = matches_in_context(&policy.output, part);
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
