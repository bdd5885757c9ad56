//! Turning the server-sent event stream of a streaming completion into
//! natter's reply stream: a delta per content chunk, then `Done` with usage,
//! finish reason and the tool calls, put together from their pieces
//! (`tool_calls`). A malformed chunk, an error event, or a stream that ends
//! before the reply is complete is an error, never a silently short reply.

use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use natter_core::{ChatStream, Completion, FinishReason, ModelError, StreamEvent, Usage};

use crate::tool_calls::CallAssembler;
use crate::wire::{Chunk, finish_reason};

type Events =
    BoxStream<'static, Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>;

struct State {
    events: Events,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    calls: CallAssembler,
    ended: bool,
    timeout: Duration,
}

/// The reply stream of a successful streaming response.
pub(crate) fn reply_stream(response: reqwest::Response, timeout: Duration) -> ChatStream {
    let events: Events = response.bytes_stream().eventsource().boxed();
    parse(events, timeout).boxed()
}

fn parse(events: Events, timeout: Duration) -> impl Stream<Item = Result<StreamEvent, ModelError>> {
    let state = State {
        events,
        finish: None,
        usage: None,
        calls: CallAssembler::default(),
        ended: false,
        timeout,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let item = next_item(&mut state).await;
        if !matches!(item, Ok(StreamEvent::Delta(_))) {
            state.ended = true;
        }
        Some((item, state))
    })
}

async fn next_item(state: &mut State) -> Result<StreamEvent, ModelError> {
    loop {
        let event = match state.events.next().await {
            Some(Ok(event)) => event,
            Some(Err(error)) => return Err(stream_error(error, state.timeout)),
            None => {
                // Some servers close after the finish reason without `[DONE]`;
                // without a finish reason the reply was cut off.
                return match state.finish.take() {
                    Some(finish_reason) => Ok(done(state, Some(finish_reason))),
                    None => Err(ModelError::Protocol(
                        "the server closed the stream before the reply was complete".into(),
                    )),
                };
            }
        };
        let data = event.data.trim();
        if data == "[DONE]" {
            let finish = state.finish.take();
            return Ok(done(state, finish));
        }
        if data.is_empty() {
            continue;
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| ModelError::Protocol(format!("the server sent a malformed chunk: {e}")))?;
        if let Some(error) = chunk.error {
            return Err(ModelError::Server {
                status: 200,
                message: error.message,
            });
        }
        if let Some(usage) = chunk.usage {
            state.usage = Some(usage.into());
        }
        let mut text = String::new();
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(reason) = choice.finish_reason {
                state.finish = Some(finish_reason(&reason));
            }
            for piece in choice.delta.tool_calls.iter().flatten() {
                state.calls.add(piece);
            }
            text = choice.delta.content.unwrap_or_default();
        }
        if !text.is_empty() {
            return Ok(StreamEvent::Delta(text));
        }
    }
}

/// The `Done` event: the reply's calls, and its finish reason in their light.
fn done(state: &mut State, reported: Option<FinishReason>) -> StreamEvent {
    let (finish_reason, tool_calls) = std::mem::take(&mut state.calls).finish(reported);
    StreamEvent::Done(Completion {
        usage: state.usage,
        finish_reason,
        tool_calls,
    })
}

fn stream_error(error: EventStreamError<reqwest::Error>, timeout: Duration) -> ModelError {
    match error {
        EventStreamError::Transport(e) if e.is_timeout() => ModelError::Timeout(timeout),
        EventStreamError::Transport(e) => ModelError::Protocol(format!(
            "the connection broke mid-reply: {}",
            e.without_url()
        )),
        other => ModelError::Protocol(format!("the event stream is invalid: {other}")),
    }
}
