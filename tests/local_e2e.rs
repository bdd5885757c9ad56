//! End to end on the real default model: the `natter` binary with its default
//! backend (llama.cpp in-process) answers in the console, and the writing and
//! tutoring plugins work on it. Skipped, saying so, when the model is missing
//! (`scripts/fetch-model.sh`; the test script fetches it); failed under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The default model, or `None` when it is missing (then the test says it
/// skipped, or fails under `CI=true`).
fn model(test: &str) -> Option<PathBuf> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    natter_test_support::optional::model_file(test, &path)
}

async fn natter(model: &Path, extra: &str, input: &str) -> (String, String, bool) {
    let mut config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        config,
        "[store]\nurl = \"memory\"\n\n[model]\nbackend = \"llama\"\nmax_tokens = 48\ntemperature = 0.0\nseed = 1\n\n\
         [model.llama]\npath = \"{}\"\nthreads = 2\n{extra}",
        model.display()
    )
    .unwrap();
    let run = common::run(config.path(), &[], input, "warn").await;
    (run.stdout, run.stderr, run.success)
}

fn assert_no_errors(stdout: &str) {
    for line in stdout.lines() {
        assert!(
            !line.starts_with("Sorry") && !line.starts_with("⚠️"),
            "error in the output: {line}\n{stdout}"
        );
    }
}

#[tokio::test]
async fn the_default_backend_answers_offline() {
    let Some(model) = model("the_default_backend_answers_offline") else {
        return;
    };
    let (stdout, stderr, ok) = natter(
        &model,
        "",
        "Write a two-line poem about the sea.\nThank you!\n",
    )
    .await;
    assert!(ok, "{stderr}");
    assert_no_errors(&stdout);
    assert!(stdout.trim().len() > 10, "a real answer: {stdout:?}");
}

#[tokio::test]
async fn writing_and_tutoring_work_on_the_local_model() {
    let Some(model) = model("writing_and_tutoring_work_on_the_local_model") else {
        return;
    };
    let plugins = "\n[plugins.generate]\nenabled = true\n\n[plugins.tutor]\nenabled = true\n";
    let input = "/write poem about the sea\n/tutor arithmetic\n4\n/tutor stop\n";
    let (stdout, stderr, ok) = natter(&model, plugins, input).await;
    assert!(ok, "{stderr}");
    assert_no_errors(&stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() >= 4,
        "a poem, a question, a grade and a summary: {stdout}"
    );
}
