//! The console session on in-memory input and output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_console::{ConsoleSettings, run_with};
use natter_core::Engine;
use natter_core::test_utils::ScriptedBackend;
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
    let engine = Engine::builder(backend).build().unwrap();
    let out = Captured::default();
    let settings = ConsoleSettings {
        user: Some("tester".into()),
        ..ConsoleSettings::default()
    };
    run_with(
        settings,
        engine,
        input.as_bytes(),
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
