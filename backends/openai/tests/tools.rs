//! Tool calling on the OpenAI backend against a loopback fake that speaks the
//! real API: calls assembled from streamed pieces in the shapes servers send
//! them, calls in whole replies, the request the API expects (tools,
//! tool_choice, calls and results in history), and servers that refuse tools.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::logs_of;
use futures::StreamExt;
use natter_core::test_utils::conformance::{self, reminder_tool};
use natter_core::{
    ChatMessage, ChatRequest, Completion, FinishReason, ModelBackend, ModelError, StreamEvent,
    ToolCall, ToolChoice,
};
use natter_openai::{OpenAiBackend, OpenAiSettings};
use natter_test_support::openai::{Behaviour, FakeOpenAi, ToolCallStyle};
use serde_json::json;

const REMIND: &str = r#"{"when":"in 10 minutes","text":"drink tea"}"#;
const WEATHER: &str = r#"{"city":"Oslo","unit":"celsius"}"#;
const OLLAMA_REFUSAL: &str = "gemma2:2b does not support tools";

fn backend(fake: &FakeOpenAi) -> OpenAiBackend {
    OpenAiBackend::new(OpenAiSettings {
        base_url: fake.base_url(),
        model: "gemma2:2b".into(),
        max_retries: 0,
        ..OpenAiSettings::default()
    })
    .expect("valid settings")
}

fn weather_tool() -> natter_core::ToolDefinition {
    natter_core::ToolSpec::with_schema(
        "weather",
        "The weather in a city.",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
    .definition
}

/// A request offering the reminder and weather tools under `choice`.
fn with_tools(choice: ToolChoice) -> ChatRequest {
    conformance::request("Remind me in 10 minutes to drink tea.", 64)
        .with_tools(vec![reminder_tool(), weather_tool()], choice)
}

fn styled(calls: &[(&str, &str)], style: ToolCallStyle) -> Behaviour {
    let calls = calls
        .iter()
        .map(|(name, arguments)| ((*name).to_owned(), (*arguments).to_owned()))
        .collect();
    Behaviour::ToolCallsStyled(calls, style)
}

/// The text deltas of a streamed reply, and its `Done`.
async fn stream(backend: &OpenAiBackend, request: ChatRequest) -> (String, Completion) {
    let mut events = backend.stream(request).await.expect("stream starts");
    let mut text = String::new();
    let mut done = None;
    while let Some(event) = events.next().await {
        match event.expect("no stream error") {
            StreamEvent::Delta(delta) => {
                assert!(done.is_none(), "delta after Done");
                text.push_str(&delta);
            }
            StreamEvent::Done(completion) => done = Some(completion),
        }
    }
    (text, done.expect("Done"))
}

#[tokio::test]
async fn a_call_streamed_in_pieces_arrives_whole_in_done() {
    let fake = FakeOpenAi::start().await;
    fake.call_tools(&[("remind_set", REMIND)]);
    let (text, done) = stream(&backend(&fake), with_tools(ToolChoice::Auto)).await;
    assert_eq!(text, "");
    assert_eq!(done.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        done.tool_calls,
        [ToolCall::new("call_fake_1", "remind_set", REMIND)]
    );
    assert!(done.usage.is_some(), "usage still read after the calls");
}

#[tokio::test]
async fn two_interleaved_calls_arrive_in_index_order_after_the_text() {
    let fake = FakeOpenAi::start().await;
    fake.push(styled(
        &[("remind_set", REMIND), ("weather", WEATHER)],
        ToolCallStyle {
            text: "Let me set that up and check the weather.".into(),
            ..ToolCallStyle::default()
        },
    ));
    let (text, done) = stream(&backend(&fake), with_tools(ToolChoice::Auto)).await;
    assert_eq!(text, "Let me set that up and check the weather.");
    assert_eq!(
        done.tool_calls,
        [
            ToolCall::new("call_fake_1", "remind_set", REMIND),
            ToolCall::new("call_fake_2", "weather", WEATHER),
        ]
    );
    assert_eq!(done.finish_reason, FinishReason::ToolCalls);
}

#[tokio::test]
async fn whole_calls_in_one_chunk_are_read_as_ollama_sends_them() {
    let fake = FakeOpenAi::start().await;
    fake.push(styled(
        &[("remind_set", REMIND), ("weather", WEATHER)],
        ToolCallStyle {
            whole: true,
            ..ToolCallStyle::default()
        },
    ));
    let (_, done) = stream(&backend(&fake), with_tools(ToolChoice::Auto)).await;
    let calls: Vec<(&str, &str)> = done
        .tool_calls
        .iter()
        .map(|call| (call.name.as_str(), call.arguments.as_str()))
        .collect();
    assert_eq!(calls, [("remind_set", REMIND), ("weather", WEATHER)]);
}

#[tokio::test]
async fn calls_without_ids_get_unique_ones() {
    let fake = FakeOpenAi::start().await;
    let no_ids = ToolCallStyle {
        ids: false,
        ..ToolCallStyle::default()
    };
    fake.push(styled(
        &[("weather", WEATHER), ("weather", r#"{"city":"Rome"}"#)],
        no_ids.clone(),
    ));
    let (_, done) = stream(&backend(&fake), with_tools(ToolChoice::Auto)).await;
    let ids: Vec<&str> = done.tool_calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{:?}", done.tool_calls);
    assert!(ids.iter().all(|id| id.starts_with("call_") && id.len() > 5));
    assert_ne!(ids[0], ids[1]);
    assert_eq!(done.tool_calls[1].arguments, r#"{"city":"Rome"}"#);

    fake.push(styled(&[("weather", WEATHER)], no_ids));
    let response = backend(&fake)
        .complete(with_tools(ToolChoice::Auto))
        .await
        .unwrap();
    assert!(response.completion.tool_calls[0].id.starts_with("call_"));
}

#[tokio::test]
async fn a_reply_with_calls_is_a_tool_call_reply_even_when_the_server_says_stop() {
    let fake = FakeOpenAi::start().await;
    let says_stop = ToolCallStyle {
        finish_reason: "stop".into(),
        ..ToolCallStyle::default()
    };
    fake.push(styled(&[("weather", WEATHER)], says_stop.clone()));
    let (_, done) = stream(&backend(&fake), with_tools(ToolChoice::Auto)).await;
    assert_eq!(done.finish_reason, FinishReason::ToolCalls);
    assert_eq!(done.tool_calls.len(), 1);

    fake.push(styled(&[("weather", WEATHER)], says_stop));
    let whole = backend(&fake)
        .complete(with_tools(ToolChoice::Auto))
        .await
        .unwrap();
    assert_eq!(whole.completion.finish_reason, FinishReason::ToolCalls);
}

#[tokio::test]
async fn complete_reads_the_calls_of_a_whole_reply() {
    let fake = FakeOpenAi::start().await;
    fake.push(styled(
        &[("remind_set", REMIND), ("weather", WEATHER)],
        ToolCallStyle {
            text: "On it.".into(),
            ..ToolCallStyle::default()
        },
    ));
    let response = backend(&fake)
        .complete(with_tools(ToolChoice::Auto))
        .await
        .unwrap();
    assert_eq!(fake.requests()[0].body["stream"], false);
    assert_eq!(response.text, "On it.");
    assert_eq!(response.completion.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.completion.tool_calls,
        [
            ToolCall::new("call_fake_1", "remind_set", REMIND),
            ToolCall::new("call_fake_2", "weather", WEATHER),
        ]
    );
}

#[tokio::test]
async fn tools_and_tool_choice_are_sent_as_the_api_expects() {
    let fake = FakeOpenAi::start().await;
    let backend = backend(&fake);
    for choice in [
        ToolChoice::Auto,
        ToolChoice::None,
        ToolChoice::Required,
        ToolChoice::Named("weather".into()),
    ] {
        backend.complete(with_tools(choice)).await.unwrap();
    }
    backend
        .complete(conformance::request("hi", 8))
        .await
        .unwrap();

    let sent = fake.requests();
    let tools = &sent[0].body["tools"];
    assert_eq!(tools[0]["type"], "function");
    assert_eq!(tools[0]["function"]["name"], "remind_set");
    assert_eq!(
        tools[0]["function"]["description"],
        "Set a reminder for the user: when, and what about."
    );
    assert_eq!(
        tools[0]["function"]["parameters"],
        reminder_tool().parameters
    );
    assert_eq!(sent[0].tool_names(), ["remind_set", "weather"]);
    assert_eq!(sent[0].tool_choice(), None, "auto is the default, not sent");
    assert_eq!(sent[1].tool_choice(), Some(&json!("none")));
    assert_eq!(sent[2].tool_choice(), Some(&json!("required")));
    assert_eq!(
        sent[3].tool_choice(),
        Some(&json!({"type": "function", "function": {"name": "weather"}}))
    );
    let plain = sent[4].body.as_object().unwrap();
    assert!(
        !plain.contains_key("tools") && !plain.contains_key("tool_choice"),
        "no tool keys without tools: {plain:?}"
    );
}

#[tokio::test]
async fn calls_and_results_in_history_are_sent_as_the_api_expects() {
    let fake = FakeOpenAi::start().await;
    let mut request = with_tools(ToolChoice::Auto);
    request.messages.push(ChatMessage::tool_calls(
        "",
        vec![
            ToolCall::new("call_1", "remind_set", REMIND),
            ToolCall::new("call_2", "weather", WEATHER),
        ],
    ));
    request
        .messages
        .push(ChatMessage::tool_result("call_1", "reminder set for 10:42"));
    request
        .messages
        .push(ChatMessage::tool_result("call_2", "sunny, 21 °C"));
    request.messages.push(ChatMessage::tool_calls(
        "One more thing.",
        vec![ToolCall::new("call_3", "weather", WEATHER)],
    ));
    request
        .messages
        .push(ChatMessage::tool_result("call_3", "still sunny"));
    let response = backend(&fake).complete(request).await.unwrap();
    assert_eq!(response.text, "echo: still sunny", "the fake accepted it");

    let messages = &fake.requests()[0].body["messages"];
    assert_eq!(
        messages[2],
        json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "remind_set", "arguments": REMIND}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "weather", "arguments": WEATHER}},
            ],
        })
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "reminder set for 10:42"})
    );
    assert_eq!(messages[4]["tool_call_id"], "call_2");
    assert_eq!(messages[5]["content"], "One more thing.");
    assert_eq!(messages[5]["tool_calls"][0]["id"], "call_3");
}

#[tokio::test]
async fn a_server_refusing_tools_is_warned_of_once_answered_without_and_never_sent_tools_again() {
    let fake = FakeOpenAi::start().await;
    fake.reject_tools(OLLAMA_REFUSAL);
    fake.reply("Sure, in ten minutes.");
    fake.reply("It is sunny.");
    let backend = backend(&fake);
    let ((first, second), logs) = logs_of(async {
        let first = stream(&backend, with_tools(ToolChoice::Auto)).await;
        let second = backend.complete(with_tools(ToolChoice::Auto)).await;
        (first, second.unwrap())
    })
    .await;
    assert_eq!(first.0, "Sure, in ten minutes.");
    assert_eq!(first.1.finish_reason, FinishReason::Stop);
    assert_eq!(second.text, "It is sunny.");

    let sent = fake.requests();
    assert_eq!(
        sent.len(),
        3,
        "refused, retried at once, then straight without tools"
    );
    assert_eq!(sent[0].tool_names(), ["remind_set", "weather"]);
    for later in &sent[1..] {
        assert!(later.tool_names().is_empty() && later.tool_choice().is_none());
        assert_eq!(later.body["messages"], sent[0].body["messages"]);
    }
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("cannot call tools"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(
        warnings[0].contains("gemma2:2b") && warnings[0].contains(OLLAMA_REFUSAL),
        "names the model and the server's words: {}",
        warnings[0]
    );
}

#[tokio::test]
async fn a_required_call_on_a_server_refusing_tools_fails_clearly() {
    let fake = FakeOpenAi::start().await;
    fake.reject_tools(OLLAMA_REFUSAL);
    let backend = backend(&fake);
    let expected = ModelError::ToolsUnsupported {
        model: "gemma2:2b".into(),
        message: OLLAMA_REFUSAL.into(),
    };
    let first = backend.complete(with_tools(ToolChoice::Required)).await;
    assert_eq!(first.unwrap_err(), expected);
    assert_eq!(fake.requests().len(), 1, "not retried without the tool");

    let named = backend
        .stream(with_tools(ToolChoice::Named("weather".into())))
        .await;
    assert_eq!(named.err(), Some(expected.clone()));
    assert_eq!(fake.requests().len(), 1, "known now: not asked again");
    assert!(expected.user_message().contains("can't use tools"));
    assert!(!expected.is_transient());
}

#[tokio::test]
async fn other_refusals_of_a_request_with_tools_are_not_taken_for_missing_tool_support() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::Status {
        status: 400,
        message: "Invalid 'tools[0].function.name': string does not match pattern.".into(),
        retry_after: None,
    });
    let backend = backend(&fake);
    let error = backend
        .complete(with_tools(ToolChoice::Auto))
        .await
        .unwrap_err();
    assert!(matches!(error, ModelError::Rejected { status: 400, .. }));
    fake.call_tools(&[("weather", WEATHER)]);
    let response = backend
        .complete(with_tools(ToolChoice::Auto))
        .await
        .unwrap();
    assert_eq!(response.completion.tool_calls.len(), 1);
    assert_eq!(fake.requests()[1].tool_names(), ["remind_set", "weather"]);
}

#[tokio::test]
async fn unscripted_the_fake_makes_the_required_call_with_schema_valid_arguments() {
    let fake = FakeOpenAi::start().await;
    let backend = backend(&fake);
    conformance::calls_a_required_tool(&backend).await;
    conformance::answers_after_a_tool_result(&backend).await;
    let (_, done) = stream(&backend, with_tools(ToolChoice::Named("weather".into()))).await;
    assert_eq!(done.tool_calls.len(), 1);
    assert_eq!(done.tool_calls[0].name, "weather");
    assert_eq!(done.tool_calls[0].arguments, r#"{"city":"example"}"#);
}
