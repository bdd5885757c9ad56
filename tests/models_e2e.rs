//! End to end: the `natter` binary with two OpenAI-compatible servers — the
//! default fails, the fallback answers and the reply says so; `/model`
//! switches the conversation to the other one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

mod common;

use natter_test_support::openai::{Behaviour, FakeOpenAi};

fn config(main: &FakeOpenAi, backup: &FakeOpenAi) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        r#"
[store]
url = "memory"

[model]
backend = "openai"
fallback = ["backup"]

[model.openai]
base_url = "{}"
model = "main-model"
api_key = "sk-main"
max_retries = 1
max_retry_wait_secs = 1

[models.backup]
backend = "openai"

[models.backup.openai]
base_url = "{}"
model = "backup-model"
api_key = "sk-backup"
"#,
        main.base_url(),
        backup.base_url()
    )
    .unwrap();
    file
}

#[tokio::test]
async fn the_fallback_answers_when_the_default_fails_with_500s() {
    let main = FakeOpenAi::start().await;
    let backup = FakeOpenAi::start().await;
    for _ in 0..2 {
        main.push(Behaviour::Status {
            status: 500,
            message: "upstream exploded".into(),
            retry_after: None,
        });
    }
    let config = config(&main, &backup);
    let run = common::run(config.path(), &[], "hello\n", "warn").await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "echo: hello\n\n(answered by backup: default is not available right now)\n"
    );
    assert_eq!(main.requests().len(), 2, "tried, and retried once");
    assert_eq!(backup.requests().len(), 1);
    assert!(run.stderr.contains("falling back"), "{}", run.stderr);
}

#[tokio::test]
async fn model_switches_the_conversation_to_another_server() {
    let main = FakeOpenAi::start().await;
    let backup = FakeOpenAi::start().await;
    let config = config(&main, &backup);
    let run = common::run(
        config.path(),
        &["chat"],
        "/model\n/model backup\nhi there\n",
        "warn",
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("Model: default (main-model via openai).\nAvailable: default, backup."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("This conversation now answers with backup.")
    );
    assert!(run.stdout.ends_with("echo: hi there\n"), "{}", run.stdout);
    assert!(main.requests().is_empty());
    assert_eq!(backup.requests().len(), 1);
}

#[tokio::test]
async fn a_local_model_only_loads_when_it_is_first_used() {
    let main = FakeOpenAi::start().await;
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        r#"
[store]
url = "memory"

[model]
backend = "openai"

[model.openai]
base_url = "{}"
model = "main-model"
api_key = "sk-main"

[models.local]
backend = "llama"

[models.local.llama]
path = "/nonexistent/never-loaded.gguf"
"#,
        main.base_url()
    )
    .unwrap();
    // Starts and answers although the local model's file does not exist…
    let run = common::run(
        file.path(),
        &["chat"],
        "hello\n/model local\nnow local\n",
        "warn",
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.starts_with("echo: hello\n"), "{}", run.stdout);
    // …until a conversation uses it.
    assert!(
        run.stdout
            .ends_with("Sorry, the local model failed. Please try again.\n"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("never-loaded.gguf"), "{}", run.stderr);
}
