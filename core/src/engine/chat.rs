//! Stage 4, deliver — a chat turn: build the prompt (persona and rolling
//! summary, the history that fits, the message with any quote), let plugins
//! adjust the request, then let the model work (`agent`, with the turn's
//! tools from `toolbox`) while the courier streams what it says, and hand
//! what came of it — with the turns the prompt left out — to stage 5, `record`.

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::exchange::Exchange;
use super::monitor::Event;
use super::toolbox::Toolbox;
use super::{agent, record};
use crate::media::intake::{for_history, look};
use crate::message::{Addressed, Incoming};
use crate::plugin::{Hook, PluginError};
use crate::services::user_message;

/// Answers `exchange`'s message with the model.
pub(crate) async fn turn(exchange: &Exchange<'_>) {
    let services = &exchange.engine.services;
    let message = &exchange.message;
    let sight = look(services, exchange.courier, message, &exchange.model).await;
    if let Some(note) = &sight.note {
        // Said only to someone who addressed the bot: in a channel answering
        // every message, a photo shared among people is not a question.
        if message.is_addressed() {
            exchange.send(note).await;
        }
    }
    if message.text.trim().is_empty() && sight.images.is_empty() {
        return;
    }
    match services.over_budget(message).await {
        Ok(None) => {}
        Ok(Some(refusal)) => {
            info!(user = %message.author.id, "over budget; the model is not asked");
            exchange.send(&refusal).await;
            return;
        }
        Err(error) => warn!(%error, "could not check the budget; answering anyway"),
    }
    let text = turn_text(message);
    let toolbox = Toolbox::for_turn(exchange);
    let reserved = toolbox.definition_tokens();
    let prompt = match services
        .prompt_for(message, &text, &sight.images, reserved, &exchange.model)
        .await
    {
        Ok(prepared) => prepared,
        Err(PluginError::Model(error)) => {
            warn!(%error, "message does not fit the model");
            exchange.send(&error.user_message()).await;
            return;
        }
        Err(error) => {
            error!(%error, "could not prepare the prompt");
            exchange.engine.monitor.count(Event::Failed);
            exchange
                .send("Sorry, I couldn't load this conversation. Please try again.")
                .await;
            return;
        }
    };
    let mut request = prompt.request;
    for registered in &exchange.engine.plugins {
        let mut cx = exchange.plugin(registered);
        let outcome = registered.plugin.before_model(&mut cx, &mut request).await;
        let told = cx.user_told();
        if let Err(error) = outcome {
            exchange
                .fail(registered, Hook::BeforeModel, error, told)
                .await;
            return;
        }
    }
    if prompt.window.dropped_turns > 0 {
        info!(
            dropped = prompt.window.dropped_turns,
            "oldest turns left out to fit the context window"
        );
    }

    let started = Instant::now();
    let (events, replies) = mpsc::channel(64);
    let replies = futures::stream::unfold(replies, |mut replies| async move {
        replies.recv().await.map(|event| (event, replies))
    })
    .boxed();
    let working = agent::run(exchange, request, &toolbox, events);
    let delivering = exchange.courier.stream_events(
        &message.channel,
        Some(&message.id),
        replies,
        exchange.cancel,
    );
    let (steps, streamed) = tokio::join!(working, delivering);
    record::observe(exchange, &streamed.end, started.elapsed());
    let kept = for_history(services, &sight.images).await;
    let asked = user_message(message, &text).with_images(kept);
    record::outcome(exchange, asked, steps, streamed, prompt.forgotten).await;
}

/// Longest quoted message carried into a turn, in characters.
const MAX_QUOTE_CHARS: usize = 2000;

/// What a chat turn says for `message`: its text, after the message it
/// replies to, quoted, when that is someone else's (a user asking the bot about
/// another message). The bot's own messages are in history already.
fn turn_text(message: &Incoming) -> String {
    let quoted = match (&message.replied_to_text, message.addressed) {
        (Some(quoted), addressed) if addressed != Addressed::ReplyToBot => quoted.trim(),
        _ => return message.text.clone(),
    };
    if quoted.is_empty() {
        return message.text.clone();
    }
    let mut quote: String = quoted.chars().take(MAX_QUOTE_CHARS).collect();
    if quote.len() < quoted.len() {
        quote.push('…');
    }
    let quote: Vec<String> = quote.lines().map(|line| format!("> {line}")).collect();
    format!("{}\n\n{}", quote.join("\n"), message.text)
}
