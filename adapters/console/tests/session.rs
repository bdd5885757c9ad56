//! The console session on in-memory input and output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_console::{ConsoleSettings, run_with};
use natter_core::Engine;
use natter_core::test_utils::{DrawPlugin, FixedPictures, ScriptedBackend};
use tokio_util::sync::CancellationToken;

/// A writer tests can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

async fn chat(backend: Arc<ScriptedBackend>, input: &str, interactive: bool) -> String {
    chat_bytes(backend, input.as_bytes(), interactive, false).await
}

async fn chat_bytes(
    backend: Arc<ScriptedBackend>,
    input: &[u8],
    interactive: bool,
    jsonl: bool,
) -> String {
    let engine = Engine::builder(backend).build().unwrap();
    let out = Captured::default();
    let settings = ConsoleSettings {
        user: Some("tester".into()),
        jsonl,
        ..ConsoleSettings::default()
    };
    run_with(
        settings,
        engine,
        input,
        out.clone(),
        interactive,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    out.text()
}

#[tokio::test]
async fn piped_lines_get_one_reply_line_each_in_order() {
    let backend = Arc::new(ScriptedBackend::new());
    backend.reply_chunks(&["slow ", "first"], Duration::from_millis(20));
    let out = chat(backend.clone(), "hello\n\nsecond\n", false).await;
    assert_eq!(out, "slow first\necho: second\n");
    let second = backend.requests()[1].messages.clone();
    assert_eq!(second.len(), 4, "system, user, assistant, user: {second:?}");
}

#[tokio::test]
async fn commands_are_answered_and_not_sent_to_the_model() {
    let backend = Arc::new(ScriptedBackend::new());
    let out = chat(backend.clone(), "/help\n/nope\n", false).await;
    assert!(out.contains("/persona"), "{out}");
    assert!(out.contains("Unknown command /nope — try /help."), "{out}");
    assert!(backend.requests().is_empty());
}

#[tokio::test]
async fn a_terminal_streams_the_reply_once_with_a_prompt() {
    let backend = Arc::new(ScriptedBackend::new());
    backend.reply_chunks(&["Hel", "lo ", "there"], Duration::from_millis(5));
    let out = chat(backend, "hi\n", true).await;
    assert!(out.contains("> "), "{out}");
    assert_eq!(out.matches("Hello there").count(), 1, "{out:?}");
    assert!(!out.contains("HelHel"), "{out:?}");
}

#[tokio::test]
async fn model_output_cannot_drive_the_terminal() {
    let hostile = "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZXZpbA==\u{1b}\\ok";
    for interactive in [false, true] {
        let backend = Arc::new(ScriptedBackend::new());
        backend.reply(hostile);
        let out = chat(backend, "hi\n", interactive).await;
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(
            out.contains("^[[2J^[]0;pwned^G^[]52;c;ZXZpbA==^[\\ok"),
            "{out:?}"
        );
    }
}

#[tokio::test]
async fn input_that_is_not_utf8_is_answered_and_the_session_goes_on() {
    let backend = Arc::new(ScriptedBackend::new());
    let out = chat_bytes(backend, b"caf\xe9 au lait\nnext\n", false, false).await;
    assert_eq!(out, "echo: caf\u{FFFD} au lait\necho: next\n");
}

#[tokio::test]
async fn json_lines_pair_every_input_with_its_replies() {
    let backend = Arc::new(ScriptedBackend::new());
    backend.reply_chunks(&["two\n", "lines"], Duration::from_millis(20));
    let out = chat_bytes(backend, b"first\n\n/nope\nlast\n", true, true).await;
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"input": "first", "replies": ["two\nlines"]}),
            serde_json::json!({"input": "/nope", "replies": ["Unknown command /nope — try /help."]}),
            serde_json::json!({"input": "last", "replies": ["echo: last"]}),
        ]
    );
}

#[tokio::test]
async fn a_picture_is_saved_to_a_file_and_its_path_printed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .image_generator(Arc::new(FixedPictures::png(b"\x89PNG picture".to_vec())))
        .plugin(Arc::new(DrawPlugin), serde_json::Value::Null)
        .build()
        .unwrap();
    let out = Captured::default();
    let settings = ConsoleSettings {
        pictures_dir: Some(dir.path().join("pictures")),
        ..ConsoleSettings::default()
    };
    run_with(
        settings,
        engine,
        "/draw a red fox\n".as_bytes(),
        out.clone(),
        false,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let printed = out.text();
    assert!(
        printed.starts_with("_a red fox_\n(picture saved to "),
        "{printed}"
    );
    let path = printed
        .trim_end()
        .strip_suffix(')')
        .and_then(|p| p.rsplit_once("saved to "))
        .map(|(_, path)| std::path::PathBuf::from(path))
        .unwrap();
    assert!(path.starts_with(dir.path().join("pictures")), "{path:?}");
    assert_eq!(path.extension().unwrap(), "png");
    assert_eq!(std::fs::read(&path).unwrap(), b"\x89PNG picture");
}
