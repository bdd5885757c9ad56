//! The model's context window: asked of the server where it can say (the
//! fake acting as Ollama, vLLM or llama.cpp's server), the setting winning,
//! known OpenAI models kept, and the assumption — with a warning — when
//! nothing says, after a short wait at most.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{logs_of, settings};
use natter_core::ModelBackend;
use natter_core::test_utils::conformance;
use natter_openai::{ASSUMED_CONTEXT, ContextSource, OpenAiBackend, OpenAiSettings, Server};
use natter_test_support::openai::{FakeOpenAi, Server as Acting};
use secrecy::SecretString;

/// The window and its source after connecting with `settings`.
async fn window(settings: OpenAiSettings) -> (usize, ContextSource) {
    let backend = OpenAiBackend::connect(settings).await.unwrap();
    (
        backend.capabilities().context_window,
        backend.context_source(),
    )
}

fn ollama(context_length: u64, num_ctx: Option<u64>) -> Acting {
    Acting::Ollama {
        model: "llama3.2".into(),
        context_length,
        num_ctx,
    }
}

#[tokio::test]
async fn ollama_says_the_num_ctx_it_runs_the_model_with() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(ollama(131_072, Some(2048)));
    let backend = OpenAiBackend::connect(settings(&fake, "llama3.2"))
        .await
        .unwrap();
    assert_eq!(backend.capabilities().context_window, 2048);
    assert_eq!(
        backend.context_source(),
        ContextSource::Discovered(Server::Ollama)
    );
    let asked: Vec<_> = fake
        .discovery_requests()
        .into_iter()
        .filter(|r| r.endpoint == "POST /api/show")
        .collect();
    assert_eq!(asked.len(), 1, "asked once");
    assert_eq!(asked[0].body.as_ref().unwrap()["model"], "llama3.2");

    fake.reply("still answers");
    let reply = backend.complete(conformance::request("hi", 8)).await;
    assert_eq!(reply.unwrap().text, "still answers");
}

#[tokio::test]
async fn without_num_ctx_ollama_is_held_to_its_default_window() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(ollama(131_072, None));
    assert_eq!(
        window(settings(&fake, "llama3.2")).await,
        (4096, ContextSource::Discovered(Server::Ollama)),
        "Ollama runs it with 4096 unless told otherwise, not the model's 131072"
    );
    fake.act_as(ollama(2048, None));
    assert_eq!(
        window(settings(&fake, "llama3.2")).await,
        (2048, ContextSource::Discovered(Server::Ollama)),
        "a model with less has less"
    );
    assert_eq!(
        window(settings(&fake, "qwen2.5:0.5b")).await,
        (ASSUMED_CONTEXT, ContextSource::Assumed),
        "Ollama does not have that model"
    );
}

#[tokio::test]
async fn vllm_says_the_models_max_model_len() {
    let fake = FakeOpenAi::start().await;
    let model = "meta-llama/Llama-3.1-8B-Instruct";
    fake.act_as(Acting::Vllm {
        model: model.into(),
        max_model_len: 16_384,
    });
    let with_key = OpenAiSettings {
        api_key: Some(SecretString::from("vllm-api-key")),
        ..settings(&fake, model)
    };
    assert_eq!(
        window(with_key).await,
        (16_384, ContextSource::Discovered(Server::Vllm))
    );
    let asked = fake.discovery_requests();
    let models = asked
        .iter()
        .find(|r| r.endpoint == "GET /v1/models")
        .unwrap();
    assert_eq!(
        models.authorization.as_deref(),
        Some("Bearer vllm-api-key"),
        "vLLM started with --api-key wants it here too"
    );
    assert_eq!(
        window(settings(&fake, "another-model")).await,
        (ASSUMED_CONTEXT, ContextSource::Assumed),
        "only the model's own entry counts"
    );
}

#[tokio::test]
async fn llama_cpp_server_says_its_n_ctx_not_the_trained_length() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(Acting::LlamaCpp {
        n_ctx: 4096,
        n_ctx_train: 131_072,
    });
    assert_eq!(
        window(settings(&fake, "model.gguf")).await,
        (4096, ContextSource::Discovered(Server::LlamaCpp))
    );
}

#[tokio::test]
async fn a_server_that_says_nothing_gets_the_assumption_and_a_warning() {
    let fake = FakeOpenAi::start().await;
    let (found, logs) = logs_of(window(settings(&fake, "mistral-large"))).await;
    assert_eq!(found, (ASSUMED_CONTEXT, ContextSource::Assumed));
    assert_eq!(fake.discovery_requests().len(), 3, "asked all three ways");
    let warning = logs
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("a warning: {logs}"));
    assert!(
        warning.contains("assuming 8192 tokens") && warning.contains("model.openai.context"),
        "{warning}"
    );
}

#[tokio::test]
async fn the_setting_wins_and_known_models_keep_their_window_without_asking() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(ollama(131_072, Some(2048)));
    // Whether it sees is configured too: nothing is left to ask.
    let configured = OpenAiSettings {
        context: Some(1000),
        vision: Some(false),
        ..settings(&fake, "llama3.2")
    };
    assert_eq!(window(configured).await, (1000, ContextSource::Configured));
    let (known, source) = window(settings(&fake, "gpt-4o-mini")).await;
    assert_eq!(source, ContextSource::KnownModel);
    assert!(known >= 128_000, "{known}");
    assert!(
        fake.discovery_requests().is_empty(),
        "{:?}",
        fake.discovery_requests()
    );

    // An unknown model whose window is set but not whether it sees: the
    // server is asked that, and the setting still wins for the window.
    let unsure = OpenAiSettings {
        context: Some(1000),
        ..settings(&fake, "llama3.2")
    };
    assert_eq!(window(unsure).await, (1000, ContextSource::Configured));
    assert!(!fake.discovery_requests().is_empty());

    let old_name: OpenAiSettings = serde_json::from_str(r#"{"context_window": 3000}"#).unwrap();
    assert_eq!(old_name.context, Some(3000), "context_window still reads");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_delays_start_up_by_seconds_only() {
    let fake = FakeOpenAi::start().await;
    fake.stall_discovery();
    let started = tokio::time::Instant::now();
    let found = window(settings(&fake, "llama3.2")).await;
    let waited = started.elapsed();
    assert_eq!(found, (ASSUMED_CONTEXT, ContextSource::Assumed));
    assert_eq!(
        fake.discovery_requests().len(),
        3,
        "all three asked at once"
    );
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[tokio::test]
async fn new_does_not_ask() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(ollama(131_072, Some(2048)));
    let backend = OpenAiBackend::new(settings(&fake, "llama3.2")).unwrap();
    assert_eq!(backend.context_source(), ContextSource::Assumed);
    assert!(fake.discovery_requests().is_empty());
}
