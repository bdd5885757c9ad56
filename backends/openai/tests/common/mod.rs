//! Helpers the backend's test files share.
#![allow(dead_code, clippy::unwrap_used)]

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

thread_local! {
    /// Where this thread's log lines go while [`logs_of`] runs.
    static CAPTURE: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
}

/// Writes to this thread's capture, if any.
struct ThisThread;

impl Write for ThisThread {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|capture| {
            if let Some(buffer) = capture.borrow().as_ref() {
                buffer.lock().unwrap().extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines (info and up) written on this thread while `f` runs (a
/// `#[tokio::test]` runs its futures on its own thread).
///
/// One global subscriber, set once, writes each thread's lines to that
/// thread's capture: a subscriber set per thread (`set_default`) can miss
/// events when tests on other threads register the same call sites first.
pub async fn logs_of<T>(f: impl std::future::Future<Output = T>) -> (T, String) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| ThisThread)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
    });
    let buffer = Arc::new(Mutex::new(Vec::new()));
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(Arc::clone(&buffer)));
    let value = f.await;
    CAPTURE.with(|capture| *capture.borrow_mut() = None);
    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    (value, logs)
}

/// Settings for `model` on `fake`, without retries.
pub fn settings(
    fake: &natter_test_support::openai::FakeOpenAi,
    model: &str,
) -> natter_openai::OpenAiSettings {
    natter_openai::OpenAiSettings {
        base_url: fake.base_url(),
        model: model.into(),
        max_retries: 0,
        ..natter_openai::OpenAiSettings::default()
    }
}
