//! Stage 4, deliver — the model at work: model, tool calls, results, model,
//! until it answers in words. Its text and status lines go to the courier as
//! they come, over a channel, while the courier delivers them; both run side
//! by side in the turn's task.
//!
//! Guards: after `[tools] max_steps` model calls the tools are withdrawn and
//! the model must answer; a call repeated with the same arguments beyond
//! `repeat_limit` is not run (see `calls`); `/stop` ends it all at once. Every
//! model call's tokens go into the usage ledger as the call ends.

use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::calls::{Calls, Stopped};
use super::exchange::Exchange;
use super::toolbox::Toolbox;
use crate::backend::estimate_tokens;
use crate::chat::{ChatMessage, ChatRequest, Completion, StreamEvent, Usage};
use crate::delivery::ReplyEvent;
use crate::tool::ToolChoice;

/// The tool calls and results of a reply, for history.
pub(crate) type Steps = Vec<ChatMessage>;

/// Runs the model (and the tools it calls) for `request`, sending the reply's
/// events to `events`. Returns the tool steps taken, in order.
pub(crate) async fn run(
    exchange: &Exchange<'_>,
    mut request: ChatRequest,
    toolbox: &Toolbox<'_>,
    events: mpsc::Sender<ReplyEvent>,
) -> Steps {
    let max_steps = exchange.engine.tools.max_steps.max(1);
    let mut calls = Calls::new(exchange, toolbox, &events);
    let mut steps = Steps::new();
    let mut usage = Usage::default();
    if !toolbox.is_empty() {
        request.tools = toolbox.definitions();
    }
    let mut step = 0;
    loop {
        step += 1;
        let last = step >= max_steps;
        if last && !request.tools.is_empty() {
            debug!(step, "last step: tools withdrawn");
            request.tool_choice = ToolChoice::None;
            request.tools.clear();
        }
        let Some(completion) = model_call(exchange, &request, &events, &mut usage).await else {
            return steps;
        };
        if completion.tool_calls.is_empty() || last {
            if !completion.tool_calls.is_empty() {
                warn!("the model called tools after they were withdrawn; the calls are ignored");
            }
            let done = Completion {
                usage: Some(usage),
                tool_calls: Vec::new(),
                ..completion
            };
            let _ = events.send(ReplyEvent::Done(done)).await;
            return steps;
        }
        info!(
            step,
            calls = completion.tool_calls.len(),
            "the model called tools"
        );
        let asked = ChatMessage::tool_calls("", completion.tool_calls.clone());
        let results = match calls.step(&completion.tool_calls).await {
            Ok(results) => results,
            Err(Stopped) => return steps,
        };
        request.messages.push(asked.clone());
        request.messages.extend(results.iter().cloned());
        steps.push(asked);
        steps.extend(results);
    }
}

/// One model call: streams its text to `events` and records its usage.
/// `None` when it failed (the failure was sent) or the reply was stopped.
async fn model_call(
    exchange: &Exchange<'_>,
    request: &ChatRequest,
    events: &mpsc::Sender<ReplyEvent>,
    total: &mut Usage,
) -> Option<Completion> {
    let services = &exchange.engine.services;
    let started = tokio::select! {
        () = exchange.cancel.cancelled() => return None,
        () = events.closed() => return None,
        stream = services.backend.stream(request.clone()) => stream,
    };
    let mut stream = match started {
        Ok(stream) => stream,
        Err(error) => {
            let _ = events.send(ReplyEvent::Failed(error)).await;
            return None;
        }
    };
    let mut text = String::new();
    loop {
        let event = tokio::select! {
            () = exchange.cancel.cancelled() => return None,
            () = events.closed() => return None,
            event = stream.next() => event,
        };
        match event {
            Some(Ok(StreamEvent::Delta(delta))) => {
                text.push_str(&delta);
                if events.send(ReplyEvent::Text(delta)).await.is_err() {
                    return None;
                }
            }
            Some(Ok(StreamEvent::Done(completion))) => {
                let usage = completion.usage.unwrap_or_else(|| Usage {
                    prompt_tokens: saturate(services.backend.count_tokens(&request.messages)),
                    completion_tokens: saturate(estimate_tokens(&text)),
                });
                total.prompt_tokens = total.prompt_tokens.saturating_add(usage.prompt_tokens);
                total.completion_tokens = total
                    .completion_tokens
                    .saturating_add(usage.completion_tokens);
                services.record_usage(&exchange.message, usage).await;
                return Some(completion);
            }
            Some(Err(error)) => {
                let _ = events.send(ReplyEvent::Failed(error)).await;
                return None;
            }
            None => {
                let error = crate::backend::ModelError::Protocol(
                    "the stream ended before the reply was complete".into(),
                );
                let _ = events.send(ReplyEvent::Failed(error)).await;
                return None;
            }
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
