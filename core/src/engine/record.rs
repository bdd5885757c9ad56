//! Stage 5, record: what a delivered chat turn leaves behind. Only a reply
//! that completed and reached the user enters history — with the tool calls
//! and results on its way — while stopped, failed and blocked ones never do;
//! then the turns its prompt left out go to `summarize` (in the background)
//! and every plugin sees the reply ([`crate::Plugin::after_reply`]). (Each
//! model call's usage was recorded as it ended, by `agent`.)

use std::time::Duration;

use tracing::{error, info, warn};

use super::agent::Steps;
use super::exchange::Exchange;
use super::monitor::Event;
use super::summarize;
use crate::chat::ChatMessage;
use crate::delivery::{StreamEnd, Streamed};
use crate::plugin::Hook;
use crate::store::Turn;
use crate::summary::Forgotten;
use crate::telemetry;

/// Counts how a reply ended, `took` after its turn started (metrics and
/// the engine's activity).
pub(crate) fn observe(exchange: &Exchange<'_>, end: &StreamEnd, took: Duration) {
    let outcome = match end {
        StreamEnd::Completed(_) => "completed",
        StreamEnd::Cancelled => "stopped",
        StreamEnd::ModelFailed(_) => "failed",
        StreamEnd::Blocked => "blocked",
        StreamEnd::DeliveryFailed(_) => "undelivered",
    };
    telemetry::reply_finished(exchange.message.key.platform(), outcome, took);
    let monitor = &exchange.engine.monitor;
    monitor.count(Event::Replied);
    if matches!(
        end,
        StreamEnd::ModelFailed(_) | StreamEnd::DeliveryFailed(_)
    ) {
        monitor.count(Event::Failed);
    }
}

/// Records how the reply to `asked`, made with tool `steps`, ended; once it
/// is in history, the `forgotten` turns its prompt left out are summarised.
pub(crate) async fn outcome(
    exchange: &Exchange<'_>,
    asked: ChatMessage,
    steps: Steps,
    streamed: Streamed,
    forgotten: Option<Forgotten>,
) {
    match streamed.end {
        StreamEnd::Completed(_) => {}
        StreamEnd::Cancelled => return info!("reply stopped; not kept in history"),
        StreamEnd::Blocked => {
            return info!("reply blocked by an output filter; not kept in history");
        }
        StreamEnd::ModelFailed(error) => {
            return warn!(%error, "the model failed mid-reply; not kept in history");
        }
        StreamEnd::DeliveryFailed(error) => {
            return error!(%error, "the reply could not be delivered; not kept in history");
        }
    };
    if streamed.text.trim().is_empty() {
        warn!("the model returned an empty reply; not kept in history");
        return;
    }
    let turn = Turn {
        user: asked,
        steps,
        assistant: ChatMessage::assistant(streamed.text),
    };
    let services = &exchange.engine.services;
    if let Err(error) = services
        .stores
        .history
        .append_turn(&exchange.message.key, &turn)
        .await
    {
        error!(%error, "could not save the turn; it will be missing from history");
    } else if let Some(forgotten) = forgotten {
        summarize::start(exchange, forgotten);
    }
    after_reply(exchange, &turn.assistant.content).await;
}

/// Lets every plugin see a delivered reply; a failing plugin is reported and
/// the others still run.
async fn after_reply(exchange: &Exchange<'_>, reply: &str) {
    for registered in &exchange.engine.plugins {
        let mut cx = exchange.plugin(registered);
        let outcome = registered.plugin.after_reply(&mut cx, reply).await;
        let told = cx.user_told();
        if let Err(error) = outcome {
            exchange
                .fail(registered, Hook::AfterReply, error, told)
                .await;
        }
    }
}
