//! Stage 5, record: what a delivered chat turn leaves behind. Only a reply
//! that completed and reached the user enters history — stopped, failed and
//! blocked ones never do — and then its usage goes into the ledger and every
//! plugin sees the reply ([`crate::Plugin::after_reply`]).

use tracing::{error, info, warn};

use super::exchange::Exchange;
use crate::backend::estimate_tokens;
use crate::chat::{ChatMessage, Usage};
use crate::delivery::{StreamEnd, Streamed};
use crate::plugin::Hook;
use crate::store::{Turn, UsageRecord};

/// Records how the reply to `asked` ended; `estimated_prompt` is the prompt's
/// size by our own count, used when the backend reports no usage.
pub(crate) async fn outcome(
    exchange: &Exchange<'_>,
    asked: ChatMessage,
    streamed: Streamed,
    estimated_prompt: usize,
) {
    let completion = match streamed.end {
        StreamEnd::Completed(completion) => completion,
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
    let usage = completion.usage.unwrap_or_else(|| Usage {
        prompt_tokens: estimated_prompt as u32,
        completion_tokens: estimate_tokens(&streamed.text) as u32,
    });
    let turn = Turn {
        user: asked,
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
    }
    usage_row(exchange, usage).await;
    after_reply(exchange, &turn.assistant.content).await;
}

/// Adds the turn's row to the usage ledger.
async fn usage_row(exchange: &Exchange<'_>, usage: Usage) {
    let services = &exchange.engine.services;
    let message = &exchange.message;
    let record = UsageRecord {
        key: message.key.clone(),
        user_id: message.author.id.clone(),
        backend: services.capabilities.backend.clone(),
        model: services.capabilities.model.clone(),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        at_unix_ms: services.clock.now_unix_ms(),
    };
    if let Err(error) = services.stores.usage.record_usage(&record).await {
        warn!(%error, "could not record usage");
    }
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
