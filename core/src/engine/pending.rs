//! Beside the pipeline — messages accepted but not yet answered when natter
//! shuts down. They are kept in the store (plugin state of the namespace
//! `natter.pending`) and, at the next start, handled as if they had just
//! arrived — or, when they have waited longer than `[engine]
//! resume_within_secs`, answered with one sentence saying they were not.
//! (A process that is killed outright keeps nothing: only a shutdown saves.)

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::intake;
use super::shared::{Queued, Shared};
use crate::delivery::Courier;
use crate::message::{Incoming, Platform};

/// The store namespace of kept messages.
const NAMESPACE: &str = "natter.pending";

/// A kept message.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    message: Incoming,
    accepted_unix_ms: i64,
}

/// Saves the messages still waiting, so the next start answers them.
pub(crate) async fn keep(shared: &Shared, waiting: Vec<Queued>) {
    if waiting.is_empty() {
        return;
    }
    let services = &shared.services;
    let now = services.clock.now_unix_ms();
    let count = waiting.len();
    for (n, queued) in waiting.into_iter().enumerate() {
        let key = format!("{}/{now:016}-{n:06}", queued.message.key.platform());
        let kept = Kept {
            message: queued.message,
            accepted_unix_ms: now,
        };
        let saved = match serde_json::to_value(&kept) {
            Ok(value) => {
                services
                    .stores
                    .state
                    .plugin_put(NAMESPACE, &key, &value)
                    .await
            }
            Err(error) => {
                warn!(%error, "could not keep a waiting message");
                continue;
            }
        };
        if let Err(error) = saved {
            warn!(%error, "could not keep a waiting message; it is lost");
        }
    }
    info!(count, "kept the messages still waiting for the next start");
}

/// Hands `platform`'s kept messages to the engine again (in the order they
/// arrived), or says they are too old to answer.
pub(crate) async fn resume(shared: Arc<Shared>, courier: Arc<Courier>, platform: Platform) {
    let services = &shared.services;
    let prefix = format!("{platform}/");
    let kept = match services.stores.state.plugin_list(NAMESPACE, &prefix).await {
        Ok(kept) => kept,
        Err(error) => {
            warn!(%error, "could not read the messages kept at the last shutdown");
            return;
        }
    };
    let oldest_ms = services.clock.now_unix_ms().saturating_sub(
        i64::try_from(shared.settings.resume_within_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    for (key, value) in kept {
        if let Err(error) = services.stores.state.plugin_delete(NAMESPACE, &key).await {
            warn!(%error, "could not take a kept message; leaving it");
            continue;
        }
        let kept: Kept = match serde_json::from_value(value) {
            Ok(kept) => kept,
            Err(error) => {
                warn!(%error, key, "a kept message is unreadable; dropped");
                continue;
            }
        };
        if kept.accepted_unix_ms >= oldest_ms {
            info!(key = %kept.message.key, "answering a message kept at the last shutdown");
            let (done, _receipt) = tokio::sync::oneshot::channel();
            intake::submit(&shared, &courier, kept.message, done);
        } else {
            let message = kept.message;
            let text = format!(
                "Sorry — I was restarted before I could answer your message \u{201c}{}\u{201d}. \
                 Please send it again if it still matters.",
                excerpt(&message.text)
            );
            if let Err(error) = courier
                .send_text(&message.channel, &text, Some(&message.id))
                .await
            {
                warn!(%error, "could not tell a user their message was not answered");
            }
        }
    }
}

/// The start of `text`, on one line.
fn excerpt(text: &str) -> String {
    const CHARS: usize = 80;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = line.chars().take(CHARS).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}
