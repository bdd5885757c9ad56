//! Tool calls on the real default model (SmolLM2-135M-Instruct Q4_1).
//!
//! The grammar guarantees that every call names an offered tool and that its
//! arguments match the tool's schema; these tests hold the backend to that.
//! Whether a 135M model *should* call a tool is its judgement, which is
//! weak: the Auto cases print what it decided and assert only what the
//! backend guarantees (docs/local-model.md reports the decisions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{in_conversation, load, model_path, settings};
use futures::StreamExt;
use natter_core::test_utils::conformance::{self, ReminderArgs};
use natter_core::{
    ChatMessage, ChatRequest, ChatResponse, FinishReason, ModelBackend, StreamEvent, ToolCall,
    ToolChoice, ToolDefinition, ToolSpec,
};
use serde::Deserialize;

/// The city whose weather is asked for.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WeatherArgs {
    /// A city name, e.g. "Paris".
    city: String,
}

fn weather_tool() -> ToolDefinition {
    ToolSpec::new::<WeatherArgs>("weather", "Get the current weather in a city.").definition
}

/// An alarm: an enum, an integer and an optional field.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AlarmArgs {
    /// The time, e.g. "07:30".
    time: String,
    /// How often it rings.
    repeat: Repeat,
    /// Minutes to snooze.
    snooze_minutes: u32,
    /// A label shown when it rings.
    label: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Repeat {
    Once,
    Daily,
    Weekdays,
}

fn alarm_tool() -> ToolDefinition {
    ToolSpec::new::<AlarmArgs>("alarm_set", "Set an alarm clock.").definition
}

fn tools() -> Vec<ToolDefinition> {
    vec![conformance::reminder_tool(), weather_tool(), alarm_tool()]
}

/// Text of the tool stages that must never reach a reply.
const STAGE_TEXT: &[&str] = &["You can use these tools", "Request:", "Tool:", "Arguments:"];

/// The reply is either words (no calls) or exactly one call of an offered
/// tool with arguments valid for its schema — never both, never stage text.
fn assert_well_formed(prompt: &str, response: &ChatResponse) {
    let completion = &response.completion;
    for stage in STAGE_TEXT {
        assert!(
            !response.text.contains(stage),
            "{prompt:?}: stage text {stage:?} leaked into {:?}",
            response.text
        );
    }
    match completion.tool_calls.as_slice() {
        [] => {
            assert_ne!(completion.finish_reason, FinishReason::ToolCalls);
            assert!(!response.text.trim().is_empty(), "{prompt:?}: {response:?}");
        }
        [call] => {
            assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
            assert!(response.text.is_empty(), "{prompt:?}: {response:?}");
            assert_valid_arguments(call);
        }
        calls => panic!("{prompt:?}: {} calls: {calls:?}", calls.len()),
    }
}

fn assert_valid_arguments(call: &ToolCall) {
    let valid = match call.name.as_str() {
        "remind_set" => serde_json::from_str::<ReminderArgs>(&call.arguments).map(drop),
        "weather" => serde_json::from_str::<WeatherArgs>(&call.arguments).map(drop),
        "alarm_set" => serde_json::from_str::<AlarmArgs>(&call.arguments).map(drop),
        other => panic!("a call of {other}, which was not offered"),
    };
    if let Err(error) = valid {
        panic!(
            "{}: arguments {:?} are invalid: {error}",
            call.name, call.arguments
        );
    }
    assert!(!call.id.is_empty());
}

fn asking(prompt: &str, choice: ToolChoice) -> ChatRequest {
    conformance::request(prompt, 64).with_tools(tools(), choice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_decides_between_a_call_and_words_and_both_are_well_formed() {
    let Some(path) = model_path("auto_decides_between_a_call_and_words_and_both_are_well_formed")
    else {
        return;
    };
    let backend = load(&settings(path));
    for prompt in [
        "Remind me in 10 minutes to drink tea.",
        "What's the weather like in Paris?",
        "Hi! How are you today?",
        "Tell me a joke about cats.",
    ] {
        let response = backend
            .complete(asking(prompt, ToolChoice::Auto))
            .await
            .expect("completes");
        eprintln!(
            "auto {prompt:?} → {}",
            match response.completion.tool_calls.first() {
                Some(call) => format!("call {} {}", call.name, call.arguments),
                None => format!("words {:?}", response.text),
            }
        );
        assert_well_formed(prompt, &response);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_tool_is_called_without_text_on_the_stream() {
    let Some(path) = model_path("a_named_tool_is_called_without_text_on_the_stream") else {
        return;
    };
    let backend = load(&settings(path));
    // Named overrides what the request is about: the call is the one named.
    let request = asking(
        "Hi! How are you today?",
        ToolChoice::Named("weather".into()),
    );
    let mut stream = backend.stream(request).await.expect("starts");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("no error"));
    }
    let [StreamEvent::Done(completion)] = events.as_slice() else {
        panic!("one Done and no text: {events:?}");
    };
    assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
    assert_eq!(completion.tool_calls.len(), 1, "{completion:?}");
    assert_eq!(completion.tool_calls[0].name, "weather");
    assert_valid_arguments(&completion.tool_calls[0]);
    let usage = completion.usage.expect("usage");
    assert!(usage.completion_tokens >= 4, "{usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_keep_to_a_schema_with_an_enum_an_integer_and_an_optional_field() {
    let Some(path) =
        model_path("arguments_keep_to_a_schema_with_an_enum_an_integer_and_an_optional_field")
    else {
        return;
    };
    let backend = load(&settings(path));
    let mut optional_left_out = false;
    for prompt in [
        "Wake me at 07:30 on weekdays, snooze 5 minutes, label it gym.",
        "Set an alarm for 6 am every day.",
        "Alarm at noon once please.",
    ] {
        for choice in [ToolChoice::Named("alarm_set".into()), ToolChoice::Required] {
            let response = backend
                .complete(asking(prompt, choice.clone()))
                .await
                .expect("completes");
            assert_eq!(
                response.completion.finish_reason,
                FinishReason::ToolCalls,
                "{response:?}"
            );
            let [call] = response.completion.tool_calls.as_slice() else {
                panic!("{prompt:?} {choice:?}: {response:?}");
            };
            eprintln!("{choice:?} {prompt:?} → {} {}", call.name, call.arguments);
            assert_valid_arguments(call);
            if call.name == "alarm_set" {
                let args: serde_json::Value = serde_json::from_str(&call.arguments).unwrap();
                optional_left_out |= args.get("label").is_none();
            }
        }
    }
    // Not an assertion on the model: a record of whether the grammar's
    // optional branch was ever taken on these prompts.
    eprintln!("an optional field was left out at least once: {optional_left_out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_during_a_constrained_stage_stops_it() {
    let Some(path) = model_path("dropping_the_stream_during_a_constrained_stage_stops_it") else {
        return;
    };
    let backend = load(&settings(path));
    // At least 400 characters of arguments: a stage far longer than the wait.
    let essay = ToolDefinition {
        name: "essay".into(),
        description: "Write an essay.".into(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 400}},
            "required": ["text"]
        }),
    };
    let request = conformance::request("Write about rivers.", 400)
        .with_tools(vec![essay], ToolChoice::Named("essay".into()));
    let before = backend.stats();
    let stream = backend.stream(request).await.expect("starts");
    // The stage streams nothing; the worker's counter shows it sampling.
    tokio::time::timeout(Duration::from_secs(60), async {
        while backend.stats().tokens_generated < before.tokens_generated + 5 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the arguments stage samples");
    drop(stream);
    let at_drop = backend.stats();
    let next = backend
        .complete(conformance::request("Say hi.", 3))
        .await
        .expect("the next request completes");
    let after = backend.stats();
    let next_sampled = u64::from(next.completion.usage.expect("usage").completion_tokens)
        + u64::from(next.completion.finish_reason == FinishReason::Stop);
    let after_drop = after.tokens_generated - at_drop.tokens_generated - next_sampled;
    assert!(
        after_drop <= 1,
        "{after_drop} tokens were sampled after the stream was dropped"
    );
    assert_eq!(after.cancelled - before.cancelled, 1, "{after:?}");
    assert!(
        at_drop.tokens_generated - before.tokens_generated < 100,
        "the stage had not finished before the drop: {at_drop:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_and_its_result_keep_the_conversation_warm() {
    let Some(path) = model_path("a_call_and_its_result_keep_the_conversation_warm") else {
        return;
    };
    let backend = load(&settings(path));
    let history = vec![
        ChatMessage::system("You are a helpful assistant."),
        ChatMessage::user("Hello! I like tea."),
        ChatMessage::assistant("Hello! Tea is lovely. How can I help?"),
    ];
    let prefix = backend.tokenize(&history, false).unwrap().len() as u64;
    let mut messages = history.clone();
    messages.push(ChatMessage::user("Remind me in 10 minutes to drink tea."));
    let mut step = ChatRequest::new(messages).with_tools(tools(), ToolChoice::Required);
    step.params = conformance::request("", 64).params;

    let first = backend
        .complete(in_conversation(step.clone(), "warm"))
        .await
        .expect("the call");
    let call = first.completion.tool_calls[0].clone();
    assert_valid_arguments(&call);

    // The engine's next step: the call and its result, tools withdrawn.
    step.messages
        .push(ChatMessage::tool_calls("", vec![call.clone()]));
    step.messages
        .push(ChatMessage::tool_result(call.id.clone(), "done"));
    step.tool_choice = ToolChoice::None;
    step.tools.clear();
    let before = backend.stats();
    let answer = backend
        .complete(in_conversation(step.clone(), "warm"))
        .await
        .expect("the answer");
    let after = backend.stats();
    assert!(answer.completion.tool_calls.is_empty());
    let reused = after.prompt_tokens_reused - before.prompt_tokens_reused;
    assert!(
        reused >= prefix,
        "reused {reused} tokens; the {prefix}-token history before the request was warm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tools_off_auto_offers_none_and_a_named_call_is_still_made() {
    let Some(path) = model_path("with_tools_off_auto_offers_none_and_a_named_call_is_still_made")
    else {
        return;
    };
    let mut off = settings(path);
    off.tools = false;
    let backend = load(&off);
    assert!(!backend.capabilities().tools);

    let prompt = "What's the weather like in Paris?";
    let offered = backend
        .complete(asking(prompt, ToolChoice::Auto))
        .await
        .expect("completes");
    let plain = backend
        .complete(conformance::request(prompt, 64))
        .await
        .expect("completes");
    assert!(offered.completion.tool_calls.is_empty(), "{offered:?}");
    assert_eq!(
        offered.text, plain.text,
        "the same greedy words as with no tools"
    );

    let named = backend
        .complete(asking(prompt, ToolChoice::Named("weather".into())))
        .await
        .expect("completes");
    assert_eq!(named.completion.tool_calls.len(), 1, "{named:?}");
    assert_eq!(named.completion.tool_calls[0].name, "weather");
}
