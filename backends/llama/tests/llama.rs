//! natter-llama on the real default model (SmolLM2-135M-Instruct Q4_1).
//!
//! The model comes from `scripts/fetch-model.sh`; without it the model tests
//! say so and skip (and fail under `CI=true`). Set `NATTER_LLAMA_MODEL` to run
//! them on another file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{in_conversation, load, model_path, settings};
use futures::StreamExt;
use natter_core::backend::collect_stream;
use natter_core::test_utils::conformance;
use natter_core::{ChatMessage, FinishReason, ModelBackend, ModelError, StreamEvent};
use natter_llama::{LlamaBackend, LlamaError, LlamaSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_backend_conformance_suite() {
    let Some(path) = model_path("passes_the_backend_conformance_suite") else {
        return;
    };
    let backend = load(&settings(path));
    let caps = backend.capabilities();
    assert_eq!(caps.backend, "llama");
    assert_eq!(caps.model, "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(caps.context_window, 2048);
    conformance::run_all(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_answer_matches_llama_cpps() {
    let Some(path) = model_path("greedy_answer_matches_llama_cpps") else {
        return;
    };
    // Pure greedy, as llama.cpp's own tools sample at temperature 0.
    let backend = load(&LlamaSettings {
        repeat_penalty: 1.0,
        ..settings(path)
    });
    let reply = backend
        .complete(conformance::request(
            "Write a two-line poem about the sea.",
            12,
        ))
        .await
        .expect("completes");
    assert!(
        reply.text.starts_with("In the depths of the ocean"),
        "{:?}",
        reply.text
    );
    assert_eq!(reply.completion.finish_reason, FinishReason::Length);
    assert_eq!(
        reply.completion.usage.map(|u| u.completion_tokens),
        Some(12)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_busy_and_queued_requests_still_run() {
    let Some(path) = model_path("a_full_queue_is_busy_and_queued_requests_still_run") else {
        return;
    };
    let backend = load(&LlamaSettings {
        queue: 1,
        ..settings(path)
    });
    let mut running = backend
        .stream(conformance::request(
            "Write a very long essay about rivers.",
            400,
        ))
        .await
        .expect("first request starts");
    // The first delta proves the worker has taken the request off the queue.
    let first = running.next().await.expect("an event").expect("no error");
    assert!(matches!(first, StreamEvent::Delta(_)));
    let queued = backend
        .stream(conformance::request("Say hi.", 4))
        .await
        .expect("one request may wait");
    let refused = backend.stream(conformance::request("Say hi.", 4)).await;
    assert!(
        matches!(refused, Err(ModelError::Busy)),
        "{:?}",
        refused.err()
    );
    drop(running);
    let reply = collect_stream(queued)
        .await
        .expect("the queued request runs");
    assert!(!reply.text.is_empty());
    assert!(
        backend
            .stream(conformance::request("Say hi.", 4))
            .await
            .is_ok(),
        "room again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_generation_within_one_token() {
    let Some(path) = model_path("dropping_the_stream_stops_generation_within_one_token") else {
        return;
    };
    let backend = load(&settings(path));
    let mut stream = backend
        .stream(conformance::request(
            "Write a very long essay about rivers.",
            400,
        ))
        .await
        .expect("starts");
    for _ in 0..3 {
        let event = stream.next().await.expect("an event").expect("no error");
        assert!(matches!(event, StreamEvent::Delta(_)), "{event:?}");
    }
    drop(stream);
    let at_drop = backend.stats();
    // The worker serves requests in order: once this one is done, the
    // cancelled generation has stopped.
    let next = backend
        .complete(conformance::request("Say hi.", 3))
        .await
        .expect("next request completes");
    let after = backend.stats();
    let next_sampled = u64::from(next.completion.usage.expect("usage").completion_tokens)
        + u64::from(next.completion.finish_reason == FinishReason::Stop);
    let after_drop = after.tokens_generated - at_drop.tokens_generated - next_sampled;
    assert!(
        after_drop <= 1,
        "{after_drop} tokens were generated after the stream was dropped"
    );
    // Cancelled, not finished on its own before the drop (which would prove nothing).
    assert_eq!(after.cancelled, 1, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_turn_evaluates_only_its_new_tokens() {
    let Some(path) = model_path("a_follow_up_turn_evaluates_only_its_new_tokens") else {
        return;
    };
    let backend = load(&LlamaSettings {
        slots: 2,
        ..settings(path)
    });
    let first_turn = conformance::request("Tell me about the moon in one sentence.", 16);
    let first_len = backend.tokenize(&first_turn.messages, true).unwrap().len() as u64;
    let before = backend.stats();
    let reply = backend
        .complete(in_conversation(first_turn.clone(), "a"))
        .await
        .expect("first turn");
    let cold = backend.stats();
    assert_eq!(
        cold.prompt_tokens_evaluated - before.prompt_tokens_evaluated,
        first_len
    );

    let mut follow_up = first_turn.clone();
    follow_up
        .messages
        .push(ChatMessage::assistant(reply.text.clone()));
    follow_up.messages.push(ChatMessage::user("And the sun?"));
    let follow_len = backend.tokenize(&follow_up.messages, true).unwrap().len() as u64;
    backend
        .complete(in_conversation(follow_up.clone(), "a"))
        .await
        .expect("second turn");
    let warm = backend.stats();
    let evaluated = warm.prompt_tokens_evaluated - cold.prompt_tokens_evaluated;
    let reused = warm.prompt_tokens_reused - cold.prompt_tokens_reused;
    assert!(
        reused >= first_len,
        "reused {reused} of a {first_len}-token first prompt"
    );
    assert_eq!(evaluated + reused, follow_len);
    assert!(
        evaluated <= follow_len - first_len,
        "evaluated {evaluated} of {follow_len} tokens; {first_len} were warm"
    );

    // Two other conversations push `a` out of the two slots (least recently used)…
    for other in ["b", "c"] {
        backend
            .complete(in_conversation(conformance::request("Say hi.", 2), other))
            .await
            .expect("other conversation");
    }
    // …so its next turn is evaluated from scratch.
    let before = backend.stats();
    backend
        .complete(in_conversation(follow_up, "a"))
        .await
        .expect("third turn");
    let after = backend.stats();
    assert_eq!(
        after.prompt_tokens_evaluated - before.prompt_tokens_evaluated,
        follow_len
    );
    assert_eq!(after.prompt_tokens_reused, before.prompt_tokens_reused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_counts_are_the_models_own() {
    let Some(path) = model_path("token_counts_are_the_models_own") else {
        return;
    };
    let backend = load(&settings(path));
    // What generation reports as its prompt is the counted history plus the
    // same assistant header every time: the count is exact, not an estimate.
    let mut framing = Vec::new();
    for question in [
        "How many legs does a spider have?",
        "Naïve question about café culture ❤: why do people in Vienna sit for hours \
         over one coffee, and is it rude to ask for the bill?",
    ] {
        let request = conformance::request(question, 1);
        let counted = backend.count_tokens(&request.messages);
        let reply = backend.complete(request).await.expect("completes");
        let prompt_tokens = reply.completion.usage.expect("usage").prompt_tokens as usize;
        framing.push(prompt_tokens - counted);
    }
    assert_eq!(framing[0], framing[1], "{framing:?}");
    assert!(framing[0] <= 5, "{framing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_longer_than_the_context_is_refused() {
    let Some(path) = model_path("a_prompt_longer_than_the_context_is_refused") else {
        return;
    };
    let backend = load(&LlamaSettings {
        context: 128,
        ..settings(path)
    });
    assert_eq!(backend.capabilities().context_window, 128);
    let long = conformance::request(&"word ".repeat(300), 8);
    let result = backend.stream(long).await;
    assert!(
        matches!(
            result,
            Err(ModelError::ContextOverflow { available: 127, .. })
        ),
        "{:?}",
        result.err()
    );
    // A reply that reaches the end of the window stops there.
    let reply = backend
        .complete(conformance::request(
            "Write a very long essay about rivers.",
            400,
        ))
        .await
        .expect("completes");
    assert_eq!(reply.completion.finish_reason, FinishReason::Length);
    let usage = reply.completion.usage.expect("usage");
    assert!(
        usage.prompt_tokens + usage.completion_tokens <= 128,
        "{usage:?}"
    );
}

#[test]
fn a_missing_model_file_says_how_to_get_one() {
    let error = LlamaBackend::load(&LlamaSettings::for_model("models/nope.gguf")).unwrap_err();
    assert!(
        matches!(error, LlamaError::MissingModel { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("models/nope.gguf"), "{message}");
    assert!(message.contains("scripts/fetch-model.sh"), "{message}");
}

#[test]
fn a_file_that_is_not_a_model_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "this is not a model").unwrap();
    let error = LlamaBackend::load(&LlamaSettings::for_model(&text)).unwrap_err();
    assert!(
        matches!(error, LlamaError::InvalidModel { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("notes.gguf"), "{error}");
    assert!(
        error.to_string().contains("scripts/fetch-model.sh"),
        "{error}"
    );

    // Right signature, broken body: llama.cpp itself refuses it.
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let error = LlamaBackend::load(&LlamaSettings::for_model(&truncated)).unwrap_err();
    assert!(
        matches!(error, LlamaError::InvalidModel { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("llama.cpp could not load it"),
        "{error}"
    );

    let error = LlamaBackend::load(&LlamaSettings {
        slots: 0,
        ..LlamaSettings::for_model(&truncated)
    })
    .unwrap_err();
    assert!(matches!(error, LlamaError::Settings(_)), "{error:?}");
}
