//! The backend conformance suite: the behaviour every [`ModelBackend`] must
//! show, whatever model sits behind it. `natter-openai` runs it against a fake
//! OpenAI-compatible server, `natter-llama` against the real default model.
//!
//! Each case takes the backend and panics with a clear message on failure.

use std::time::Duration;

use futures::StreamExt;

use crate::backend::ModelBackend;
use crate::chat::{ChatMessage, ChatRequest, FinishReason, GenerationParams, StreamEvent};
use crate::tool::{ToolCall, ToolChoice, ToolDefinition, ToolSpec};

/// A short, deterministic request: greedy, seeded, `max_tokens` long at most.
pub fn request(prompt: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a helpful assistant."),
        ChatMessage::user(prompt),
    ])
    .with_params(GenerationParams {
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        top_p: None,
        stop: Vec::new(),
        seed: Some(42),
    })
}

/// Deltas arrive, then exactly one `Done`, then the stream ends.
pub async fn streams_deltas_then_done(backend: &dyn ModelBackend) {
    let mut stream = backend
        .stream(request("Write a two-line poem about the sea.", 48))
        .await
        .expect("stream starts");
    let mut deltas = 0;
    let mut text = String::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.expect("no stream error") {
            StreamEvent::Delta(d) => {
                assert!(done.is_none(), "delta after Done");
                deltas += 1;
                text.push_str(&d);
            }
            StreamEvent::Done(c) => {
                assert!(done.is_none(), "two Done events");
                done = Some(c);
            }
        }
    }
    assert!(done.is_some(), "stream ended without Done");
    assert!(deltas >= 1, "no deltas");
    assert!(!text.trim().is_empty(), "empty reply");
}

/// `max_tokens` bounds the reply and is reported as `Length`.
pub async fn respects_max_tokens(backend: &dyn ModelBackend) {
    let response = backend
        .complete(request("Tell me a long story about a dragon.", 5))
        .await
        .expect("completes");
    assert_eq!(response.completion.finish_reason, FinishReason::Length);
    // The server's own count is authoritative; without one, use ours.
    match response.completion.usage {
        Some(usage) => assert!(usage.completion_tokens <= 5, "{usage:?}"),
        None => {
            let counted = backend.count_tokens(&[ChatMessage::assistant(response.text.clone())]);
            let framing = backend.count_tokens(&[ChatMessage::assistant("")]);
            assert!(
                counted.saturating_sub(framing) <= 6,
                "reply of {counted} tokens (framing {framing}) exceeds max_tokens 5: {:?}",
                response.text
            );
        }
    }
}

/// The same greedy, seeded request gives the same text twice (a backend that
/// dropped temperature and seed would get two samples from a sampling model).
pub async fn deterministic_when_greedy(backend: &dyn ModelBackend) {
    let req = request("Name three colours.", 24);
    let a = backend.complete(req.clone()).await.expect("first");
    let b = backend.complete(req).await.expect("second");
    assert_eq!(a.text, b.text, "greedy generation is not deterministic");
}

/// A stop string ends the reply before it, and is not part of it.
pub async fn honours_stop_strings(backend: &dyn ModelBackend) {
    let base = request(
        "Count from one to twenty in words, separated by spaces.",
        40,
    );
    let full = backend.complete(base.clone()).await.expect("full").text;
    let words: Vec<&str> = full.split_whitespace().collect();
    assert!(
        words.len() >= 4,
        "reply too short to test stop strings: {full:?}"
    );
    let stop = words[words.len() / 2].to_owned();
    let cut_at = full.find(&stop).expect("stop word is in the text");
    let mut stopped = base;
    stopped.params.stop = vec![stop.clone()];
    let response = backend.complete(stopped).await.expect("stopped");
    assert!(
        !response.text.contains(&stop),
        "stop string {stop:?} in reply {:?}",
        response.text
    );
    assert_eq!(response.text.trim_end(), full[..cut_at].trim_end());
    assert_eq!(response.completion.finish_reason, FinishReason::Stop);
}

/// Dropping a stream after its first delta stops the generation: the backend
/// serves the next request promptly.
pub async fn cancels_on_drop(backend: &dyn ModelBackend) {
    let mut stream = backend
        .stream(request("Write a very long essay about rivers.", 400))
        .await
        .expect("stream starts");
    let first = stream.next().await.expect("an event").expect("no error");
    assert!(matches!(first, StreamEvent::Delta(_)), "{first:?}");
    drop(stream);
    let next = tokio::time::timeout(
        Duration::from_secs(30),
        backend.complete(request("Say hi.", 4)),
    )
    .await
    .expect("the backend is free again soon after a cancelled stream");
    next.expect("next request completes");
}

/// Token counts grow with the text.
pub async fn counts_tokens(backend: &dyn ModelBackend) {
    let short = backend.count_tokens(&[ChatMessage::user("hello")]);
    let long = backend.count_tokens(&[ChatMessage::user("hello ".repeat(50))]);
    assert!(short >= 1);
    assert!(long > short + 40, "short {short}, long {long}");
}

/// The arguments of the reminder tool the tool cases offer.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderArgs {
    /// When to remind, e.g. "in 10 minutes" or "tomorrow at 9".
    pub when: String,
    /// What to remind of.
    pub text: String,
}

/// The reminder tool the tool cases offer.
pub fn reminder_tool() -> ToolDefinition {
    ToolSpec::new::<ReminderArgs>(
        "remind_set",
        "Set a reminder for the user: when, and what about.",
    )
    .definition
}

/// A request that must call the reminder tool.
pub fn tool_request() -> ChatRequest {
    request("Remind me in 10 minutes to drink tea.", 64)
        .with_tools(vec![reminder_tool()], ToolChoice::Required)
}

/// With one tool and the call required, the reply is exactly one call of
/// that tool whose arguments match its schema.
pub async fn calls_a_required_tool(backend: &dyn ModelBackend) {
    let response = backend.complete(tool_request()).await.expect("completes");
    assert_eq!(
        response.completion.finish_reason,
        FinishReason::ToolCalls,
        "{response:?}"
    );
    let calls = &response.completion.tool_calls;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].name, "remind_set");
    assert!(!calls[0].id.is_empty(), "a call has an id");
    let args: ReminderArgs = serde_json::from_str(&calls[0].arguments).unwrap_or_else(|e| {
        panic!(
            "arguments {:?} do not match the schema: {e}",
            calls[0].arguments
        )
    });
    assert!(
        !args.when.trim().is_empty() || !args.text.trim().is_empty(),
        "{args:?}"
    );
}

/// After a call and its result, with tools withdrawn, the model answers in
/// words: tool calls and results in the history are rendered for it.
pub async fn answers_after_a_tool_result(backend: &dyn ModelBackend) {
    let mut request = tool_request();
    request.tool_choice = ToolChoice::None;
    request.tools.clear();
    let call = ToolCall::new(
        "call-1",
        "remind_set",
        r#"{"when":"in 10 minutes","text":"drink tea"}"#,
    );
    request
        .messages
        .push(ChatMessage::tool_calls("", vec![call]));
    request.messages.push(ChatMessage::tool_result(
        "call-1",
        "reminder set for 10:42: drink tea",
    ));
    let response = backend.complete(request).await.expect("completes");
    assert!(response.completion.tool_calls.is_empty(), "{response:?}");
    assert!(!response.text.trim().is_empty(), "an answer in words");
}

/// Every case above, in order.
pub async fn run_all(backend: &dyn ModelBackend) {
    streams_deltas_then_done(backend).await;
    respects_max_tokens(backend).await;
    deterministic_when_greedy(backend).await;
    honours_stop_strings(backend).await;
    cancels_on_drop(backend).await;
    counts_tokens(backend).await;
    calls_a_required_tool(backend).await;
    answers_after_a_tool_result(backend).await;
}
