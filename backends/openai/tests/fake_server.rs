//! The OpenAI backend against a loopback fake that speaks the real API:
//! the conformance suite, request shape, retries, timeouts and broken streams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use natter_core::test_utils::conformance;
use natter_core::{ChatMessage, ModelBackend, ModelError, Moderator, StreamEvent};
use natter_openai::{OpenAiBackend, OpenAiSettings};
use natter_test_support::openai::{Behaviour, FakeOpenAi, HangUp};
use secrecy::SecretString;

fn settings(fake: &FakeOpenAi) -> OpenAiSettings {
    OpenAiSettings {
        base_url: fake.base_url(),
        model: "gpt-4o-mini".into(),
        api_key: Some(SecretString::from("sk-test-secret")),
        max_retries: 3,
        ..OpenAiSettings::default()
    }
}

fn backend(settings: OpenAiSettings) -> OpenAiBackend {
    OpenAiBackend::new(settings).expect("valid settings")
}

#[tokio::test]
async fn passes_the_backend_conformance_suite() {
    let fake = FakeOpenAi::start().await;
    // Replies vary unless the backend sends the request's temperature 0 or
    // seed, so the determinism case can fail here too.
    fake.sample_unless_greedy();
    conformance::run_all(&backend(settings(&fake))).await;
}

#[tokio::test]
async fn only_greedy_or_seeded_requests_repeat_on_a_sampling_server() {
    let fake = FakeOpenAi::start().await;
    fake.sample_unless_greedy();
    let backend = backend(settings(&fake));
    let with = |temperature: f32, seed: Option<u64>| {
        let mut request = conformance::request("Name three colours.", 24);
        request.params.temperature = Some(temperature);
        request.params.seed = seed;
        request
    };
    let backend = &backend;
    let text = async |request| backend.complete(request).await.unwrap().text;
    assert_ne!(
        text(with(0.9, None)).await,
        text(with(0.9, None)).await,
        "a sampling server varies; the conformance case would catch a backend dropping both"
    );
    assert_eq!(
        text(with(0.9, Some(7))).await,
        text(with(0.9, Some(7))).await
    );
    assert_eq!(text(with(0.0, None)).await, text(with(0.0, None)).await);
}

#[tokio::test]
async fn streams_deltas_and_sends_the_request_openai_expects() {
    let fake = FakeOpenAi::start().await;
    fake.reply("Ahoy there, matey!");
    let backend = backend(settings(&fake));
    let mut request = conformance::request("hi", 64);
    request
        .messages
        .push(ChatMessage::user("and you?").with_name("Ana María"));
    let mut stream = backend.stream(request).await.unwrap();
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::Delta(d) => deltas.push(d),
            StreamEvent::Done(c) => done = Some(c),
        }
    }
    assert_eq!(deltas.concat(), "Ahoy there, matey!");
    assert!(deltas.len() >= 3, "streamed in pieces: {deltas:?}");
    let usage = done.unwrap().usage.expect("usage from stream_options");
    assert_eq!(usage.completion_tokens, 3);

    let recorded = &fake.requests()[0];
    assert_eq!(
        recorded.authorization.as_deref(),
        Some("Bearer sk-test-secret")
    );
    let body = &recorded.body;
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["seed"], 42);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][2]["name"], "Ana_María");
}

#[tokio::test]
async fn complete_uses_a_plain_request() {
    let fake = FakeOpenAi::start().await;
    fake.reply("Four.");
    let response = backend(settings(&fake))
        .complete(conformance::request("2+2?", 16))
        .await
        .unwrap();
    assert_eq!(response.text, "Four.");
    assert_eq!(fake.requests()[0].body["stream"], false);
}

#[tokio::test]
async fn retries_after_429_honouring_retry_after() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::Status {
        status: 429,
        message: "slow down".into(),
        retry_after: Some(1),
    });
    fake.reply("ok now");
    let started = Instant::now();
    let response = backend(settings(&fake))
        .complete(conformance::request("hi", 8))
        .await
        .unwrap();
    assert_eq!(response.text, "ok now");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_bound_fails_at_once() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::Status {
        status: 429,
        message: "quota".into(),
        retry_after: Some(3600),
    });
    let error = backend(settings(&fake))
        .complete(conformance::request("hi", 8))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ModelError::RateLimited {
            retry_after: Some(Duration::from_secs(3600))
        }
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let fake = FakeOpenAi::start().await;
    let boom = Behaviour::Status {
        status: 500,
        message: "boom".into(),
        retry_after: None,
    };
    fake.push(boom.clone());
    fake.reply("recovered");
    let backend = backend(OpenAiSettings {
        max_retries: 1,
        ..settings(&fake)
    });
    let recovered = backend.complete(conformance::request("hi", 8)).await;
    assert_eq!(recovered.unwrap().text, "recovered");

    fake.push(boom.clone());
    fake.push(boom);
    let error = backend
        .stream(conformance::request("hi", 8))
        .await
        .err()
        .expect("fails");
    assert_eq!(
        error,
        ModelError::Server {
            status: 500,
            message: "boom".into()
        }
    );
    assert_eq!(fake.requests().len(), 4, "one retry each");
}

#[tokio::test]
async fn bad_credentials_are_not_retried() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::Status {
        status: 401,
        message: "Incorrect API key provided".into(),
        retry_after: None,
    });
    let error = backend(settings(&fake))
        .complete(conformance::request("hi", 8))
        .await
        .unwrap_err();
    assert!(matches!(error, ModelError::Unauthorized(ref m) if m.contains("Incorrect")));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::Stall(Duration::from_secs(5)));
    let backend = backend(OpenAiSettings {
        timeout_secs: 1,
        max_retries: 0,
        ..settings(&fake)
    });
    let error = backend
        .stream(conformance::request("hi", 8))
        .await
        .err()
        .expect("times out");
    assert_eq!(error, ModelError::Timeout(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let fake = FakeOpenAi::start().await;
    fake.set_chunk_delay(Duration::from_secs(3));
    let backend = backend(OpenAiSettings {
        timeout_secs: 1,
        max_retries: 0,
        ..settings(&fake)
    });
    let mut stream = backend.stream(conformance::request("hi", 8)).await.unwrap();
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    assert_eq!(last, Some(Err(ModelError::Timeout(Duration::from_secs(1)))));
}

#[tokio::test]
async fn a_malformed_chunk_is_an_error_not_a_short_reply() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::Malformed);
    let events: Vec<_> = backend(settings(&fake))
        .stream(conformance::request("one two three four", 32))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(matches!(events.first(), Some(Ok(StreamEvent::Delta(_)))));
    assert!(
        matches!(events.last(), Some(Err(ModelError::Protocol(m))) if m.contains("malformed")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_cut_stream_is_an_error_not_a_short_reply() {
    let fake = FakeOpenAi::start().await;
    fake.push(Behaviour::CutAfter(2));
    let events: Vec<_> = backend(settings(&fake))
        .stream(conformance::request("one two three four", 32))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Ok(StreamEvent::Delta(_))))
            .count(),
        2
    );
    assert!(
        matches!(events.last(), Some(Err(ModelError::Protocol(_)))),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let backend = backend(OpenAiSettings {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        max_retries: 0,
        ..OpenAiSettings::default()
    });
    let error = backend
        .stream(conformance::request("hi", 8))
        .await
        .err()
        .expect("unreachable");
    assert!(matches!(error, ModelError::Unavailable(_)), "{error:?}");
}

#[test]
fn settings_never_show_the_key() {
    let settings = OpenAiSettings {
        api_key: Some(SecretString::from("sk-very-secret")),
        ..OpenAiSettings::default()
    };
    assert!(!format!("{settings:?}").contains("sk-very-secret"));
    let backend = OpenAiBackend::new(settings.clone()).unwrap();
    assert!(!format!("{backend:?}").contains("sk-very-secret"));
    let json = serde_json::to_string(&settings).unwrap();
    assert!(!json.contains("sk-very-secret"));
    assert!(json.contains("[redacted]"));
}

#[test]
fn invalid_settings_are_named() {
    let bad_url = OpenAiBackend::new(OpenAiSettings {
        base_url: "localhost:11434".into(),
        ..OpenAiSettings::default()
    });
    assert!(
        bad_url
            .unwrap_err()
            .to_string()
            .contains("model.openai.base_url")
    );
    let known = OpenAiBackend::new(OpenAiSettings::default()).unwrap();
    assert!(known.capabilities().context_window >= 128_000);
}

#[tokio::test]
async fn moderation_asks_the_moderations_endpoint() {
    let fake = FakeOpenAi::start().await;
    fake.flag_words(&["idiot"]);
    let backend = backend(settings(&fake));
    let clean = backend.moderate("have a nice day").await.unwrap();
    assert!(!clean.flagged);
    assert!(clean.categories.is_empty());
    let flagged = backend.moderate("you IDIOT").await.unwrap();
    assert!(flagged.flagged);
    assert_eq!(flagged.categories, ["harassment"]);
    let sent = fake.moderation_requests();
    assert_eq!(sent[1]["input"], "you IDIOT");
    assert_eq!(sent[1]["model"], "omni-moderation-latest");
}

#[tokio::test]
async fn a_connection_dropped_before_the_answer_is_retried() {
    for how in [HangUp::Close, HangUp::Reset] {
        let fake = FakeOpenAi::start().await;
        // A new backend each time: a hang-up applies to a new connection.
        let backend = || {
            backend(OpenAiSettings {
                max_retries: 1,
                ..settings(&fake)
            })
        };
        fake.hang_up(how);
        fake.reply("here after all");
        let reply = backend().complete(conformance::request("hi", 8)).await;
        assert_eq!(fake.hung_up(), 1, "{how:?}: the fake hung up once");
        assert_eq!(reply.unwrap().text, "here after all", "{how:?}");

        fake.hang_up(how);
        fake.reply("streamed after all");
        let mut stream = backend()
            .stream(conformance::request("hi", 8))
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(Ok(StreamEvent::Delta(delta))) = stream.next().await {
            text.push_str(&delta);
        }
        assert_eq!(fake.hung_up(), 2, "{how:?}");
        assert_eq!(text, "streamed after all", "{how:?}");
    }
}

#[tokio::test]
async fn a_server_that_keeps_hanging_up_is_unavailable() {
    let fake = FakeOpenAi::start().await;
    fake.hang_up(HangUp::Close);
    fake.hang_up(HangUp::Reset);
    let error = backend(OpenAiSettings {
        max_retries: 1,
        ..settings(&fake)
    })
    .complete(conformance::request("hi", 8))
    .await
    .unwrap_err();
    assert_eq!(fake.hung_up(), 2);
    assert!(
        matches!(error, ModelError::Unavailable(ref m) if m.contains("closed the connection without answering")),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_server_fails_at_the_deadline_not_after_every_retry() {
    let fake = FakeOpenAi::start().await;
    let backend = backend(OpenAiSettings {
        timeout_secs: 60,
        max_retries: 3,
        deadline_secs: 90,
        ..settings(&fake)
    });
    let hour = Duration::from_secs(3600);
    for _ in 0..4 {
        fake.push(Behaviour::Stall(hour));
    }
    let started = tokio::time::Instant::now();
    let error = backend
        .stream(conformance::request("hi", 8))
        .await
        .err()
        .expect("times out");
    assert_eq!(error, ModelError::Timeout(Duration::from_secs(90)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(90) && waited < Duration::from_secs(91),
        "{waited:?}"
    );
    assert_eq!(
        fake.requests().len(),
        2,
        "the first attempt timed out after 60 s, the second was cut short"
    );

    for _ in 0..4 {
        fake.push(Behaviour::Stall(hour));
    }
    let started = tokio::time::Instant::now();
    let error = backend
        .complete(conformance::request("hi", 8))
        .await
        .unwrap_err();
    assert_eq!(error, ModelError::Timeout(Duration::from_secs(90)));
    assert!(started.elapsed() < Duration::from_secs(91));
}
