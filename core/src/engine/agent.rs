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
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::calls::{Calls, Stopped};
use super::exchange::Exchange;
use super::toolbox::Toolbox;
use crate::backend::{ModelError, estimate_tokens};
use crate::chat::{ChatMessage, ChatRequest, Completion, StreamEvent, Usage};
use crate::delivery::ReplyEvent;
use crate::models::NamedModel;
use crate::telemetry;
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
    let mut call = ModelCall {
        exchange,
        events: &events,
        model: exchange.model.clone(),
        usage: Usage::default(),
        shown: false,
    };
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
        let Some(completion) = call.answer(&request).await else {
            return steps;
        };
        if completion.tool_calls.is_empty() || last {
            if !completion.tool_calls.is_empty() {
                warn!("the model called tools after they were withdrawn; the calls are ignored");
            }
            let done = Completion {
                usage: Some(call.usage),
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

/// How one model call ended.
enum Called {
    /// It completed.
    Done(Completion),
    /// It failed before it said anything.
    FailedEarly(ModelError),
    /// It failed after saying something (the failure was sent), or the reply
    /// was stopped.
    Over,
}

/// The model calls of one reply: which model answers (the conversation's,
/// or a fallback once it failed), whether anything was shown yet, and the
/// tokens spent.
struct ModelCall<'e> {
    exchange: &'e Exchange<'e>,
    events: &'e mpsc::Sender<ReplyEvent>,
    model: NamedModel,
    usage: Usage,
    /// Some text of this reply reached the courier.
    shown: bool,
}

impl ModelCall<'_> {
    /// One step's answer: from the current model, or — when it fails before
    /// anything of the reply was shown — from the fallback models in turn.
    /// `None` when the reply is over (the failure was sent, or it was stopped).
    async fn answer(&mut self, request: &ChatRequest) -> Option<Completion> {
        let error = match self.once(request).await {
            Called::Done(completion) => return Some(completion),
            Called::Over => return None,
            Called::FailedEarly(error) => error,
        };
        if !self.shown && falls_back(&error) {
            let failed = self.model.name.clone();
            let models = &self.exchange.engine.services.models;
            let fallbacks: Vec<NamedModel> = models.fallbacks_after(&failed).cloned().collect();
            for fallback in fallbacks {
                warn!(model = %failed, fallback = %fallback.name, %error, "model failed; falling back");
                self.model = fallback;
                match self.once(request).await {
                    Called::Done(completion) => {
                        let note = format!(
                            "(answered by {}: {failed} is not available right now)",
                            self.model.name
                        );
                        let _ = self.events.send(ReplyEvent::Note(note)).await;
                        return Some(completion);
                    }
                    Called::Over => return None,
                    Called::FailedEarly(next) => {
                        warn!(model = %self.model.name, error = %next, "fallback model failed too");
                    }
                }
            }
        }
        let _ = self.events.send(ReplyEvent::Failed(error)).await;
        None
    }

    /// One call of the current model: streams its text and records its usage.
    async fn once(&mut self, request: &ChatRequest) -> Called {
        let exchange = self.exchange;
        let events = self.events;
        let backend = &self.model.backend;
        let model = self.model.capabilities.model.clone();
        let called = Instant::now();
        let started = tokio::select! {
            () = exchange.cancel.cancelled() => return Called::Over,
            () = events.closed() => return Called::Over,
            stream = backend.stream(request.clone()) => stream,
        };
        let mut stream = match started {
            Ok(stream) => stream,
            Err(error) => {
                telemetry::model_error(&model, error.kind());
                return Called::FailedEarly(error);
            }
        };
        let mut text = String::new();
        loop {
            let event = tokio::select! {
                () = exchange.cancel.cancelled() => return Called::Over,
                () = events.closed() => return Called::Over,
                event = stream.next() => event,
            };
            let error = match event {
                Some(Ok(StreamEvent::Delta(delta))) => {
                    if text.is_empty() && !delta.is_empty() {
                        telemetry::first_token(&model, called.elapsed());
                    }
                    text.push_str(&delta);
                    self.shown = true;
                    if events.send(ReplyEvent::Text(delta)).await.is_err() {
                        return Called::Over;
                    }
                    continue;
                }
                Some(Ok(StreamEvent::Done(completion))) => {
                    self.record(request, &text, completion.usage).await;
                    return Called::Done(completion);
                }
                Some(Err(error)) => error,
                None => {
                    ModelError::Protocol("the stream ended before the reply was complete".into())
                }
            };
            telemetry::model_error(&model, error.kind());
            if text.is_empty() {
                return Called::FailedEarly(error);
            }
            let _ = events.send(ReplyEvent::Failed(error)).await;
            return Called::Over;
        }
    }

    /// Adds the call's tokens to the reply's and to the usage ledger
    /// (estimated from the texts when the backend reports none).
    async fn record(&mut self, request: &ChatRequest, text: &str, usage: Option<Usage>) {
        let usage = usage.unwrap_or_else(|| Usage {
            prompt_tokens: saturate(self.model.backend.count_tokens(&request.messages)),
            completion_tokens: saturate(estimate_tokens(text)),
        });
        self.usage.prompt_tokens = self.usage.prompt_tokens.saturating_add(usage.prompt_tokens);
        self.usage.completion_tokens = self
            .usage
            .completion_tokens
            .saturating_add(usage.completion_tokens);
        let services = &self.exchange.engine.services;
        services
            .record_usage(&self.exchange.message, &self.model, usage)
            .await;
    }
}

/// True for failures another model may not share: the server is down, slow,
/// overloaded, refuses our key, or broke off before saying anything.
fn falls_back(error: &ModelError) -> bool {
    error.is_transient()
        || matches!(
            error,
            ModelError::Protocol(_) | ModelError::Unauthorized(_) | ModelError::Engine(_)
        )
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
