//! Credentials written into `base_url` (`http://user:key@host/v1`): one of
//! them reaches the server, as a Bearer key, the log says which, and they are
//! shown nowhere — settings, the backend, errors, logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::logs_of;
use natter_core::test_utils::conformance;
use natter_core::{ModelBackend, ModelError};
use natter_openai::{OpenAiBackend, OpenAiError, OpenAiSettings};
use natter_test_support::openai::FakeOpenAi;
use secrecy::SecretString;

const PASSWORD: &str = "url-secret-7Qx";

/// The fake's base URL with `userinfo@` written in.
fn with_credentials(fake: &FakeOpenAi, userinfo: &str) -> String {
    fake.base_url()
        .replacen("http://", &format!("http://{userinfo}@"), 1)
}

fn settings(base_url: String, api_key: Option<&str>) -> OpenAiSettings {
    OpenAiSettings {
        base_url,
        model: "gpt-4o-mini".into(),
        api_key: api_key.map(SecretString::from),
        max_retries: 0,
        ..OpenAiSettings::default()
    }
}

#[tokio::test]
async fn without_an_api_key_the_urls_password_is_the_bearer_key() {
    let fake = FakeOpenAi::start().await;
    // Percent-encoded in the URL as it must be; sent decoded.
    let url = with_credentials(&fake, &format!("natter:{PASSWORD}%40x"));
    let (reply, logs) = logs_of(async {
        let backend = OpenAiBackend::new(settings(url, None)).unwrap();
        backend.complete(conformance::request("hi", 8)).await
    })
    .await;
    reply.unwrap();
    let sent = &fake.requests()[0];
    assert_eq!(sent.authorizations, [format!("Bearer {PASSWORD}@x")]);
    assert!(
        logs.contains("the URL's password is used as the API key"),
        "{logs}"
    );
    assert!(!logs.contains(PASSWORD), "{logs}");
}

#[tokio::test]
async fn an_api_key_wins_over_the_urls_credentials_with_a_warning() {
    let fake = FakeOpenAi::start().await;
    let url = with_credentials(&fake, &format!("natter:{PASSWORD}"));
    let (reply, logs) = logs_of(async {
        let backend = OpenAiBackend::new(settings(url, Some("sk-from-settings"))).unwrap();
        backend.complete(conformance::request("hi", 8)).await
    })
    .await;
    reply.unwrap();
    assert_eq!(
        fake.requests()[0].authorizations,
        ["Bearer sk-from-settings"],
        "one credential, the API key; no Basic header from the URL"
    );
    let warning = logs
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("a warning: {logs}"));
    assert!(
        warning.contains("credentials; they are ignored"),
        "{warning}"
    );
    assert!(!logs.contains(PASSWORD), "{logs}");
}

#[test]
fn a_user_name_without_a_password_or_api_key_is_refused() {
    let error =
        OpenAiBackend::new(settings("http://sk-abc123@localhost:1/v1".into(), None)).unwrap_err();
    assert!(matches!(error, OpenAiError::UrlUserWithoutKey), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("model.openai.api_key"), "{message}");
    assert!(!message.contains("sk-abc123"), "{message}");
}

#[tokio::test]
async fn the_urls_credentials_are_shown_nowhere() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://natter:{PASSWORD}@127.0.0.1:{port}/v1");
    let settings = OpenAiSettings {
        max_retries: 1,
        ..settings(url, None)
    };

    let debug = format!("{settings:?}");
    assert!(debug.contains("[redacted]@127.0.0.1"), "{debug}");
    let json = serde_json::to_string(&settings).unwrap();
    assert!(json.contains("http://[redacted]@127.0.0.1"), "{json}");

    let backend = OpenAiBackend::new(settings.clone()).unwrap();
    let shown = format!("{backend:?}");
    assert!(shown.contains("127.0.0.1"), "{shown}");

    // A refused connection: retried (a warning), then an error.
    let (error, logs) = logs_of(backend.complete(conformance::request("hi", 8))).await;
    let error = error.unwrap_err();
    assert!(matches!(error, ModelError::Unavailable(_)), "{error:?}");
    assert!(logs.contains("retrying"), "{logs}");

    let invalid = OpenAiBackend::new(OpenAiSettings {
        base_url: format!("ftp://natter:{PASSWORD}@example.com/v1"),
        ..settings.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(
        invalid.contains("ftp://[redacted]@example.com"),
        "{invalid}"
    );

    for (what, text) in [
        ("Debug of the settings", debug),
        ("serialized settings", json),
        ("Debug of the backend", shown),
        ("the error", error.to_string()),
        ("the log", logs),
        ("the settings error", invalid),
    ] {
        assert!(
            !text.contains(PASSWORD),
            "{what} shows the password: {text}"
        );
        assert!(!text.contains("natter:"), "{what} shows the user: {text}");
    }
}
