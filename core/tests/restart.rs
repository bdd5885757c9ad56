//! Messages accepted but not yet answered when natter shuts down are kept
//! and answered at the next start — or, when that start comes too late, the
//! user is told once that they were not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{RecordingOutbox, ScriptedBackend, Step, TEST_PLATFORM, TestBot};
use natter_core::{Clock, Engine, MemoryStore, StateStore, StoreError, Stores, TokioClock};

/// A bot on `store` whose model is stuck on the first message, with two more
/// waiting behind it; shut down with a short grace.
async fn shut_down_with_two_waiting(store: Arc<MemoryStore>) {
    let bot = TestBot::with(|b| b.store(store).clock(Arc::new(TokioClock::new())));
    bot.backend.script(vec![Step::Hang]);
    let stuck = bot.inbox.submit(bot.private("first"));
    bot.backend.wait_for_requests(1).await;
    let second = bot.inbox.submit(bot.private("second"));
    let third = bot.inbox.submit(bot.private("third"));
    bot.engine.shutdown(Duration::from_secs(1)).await;
    for receipt in [stuck, second, third] {
        receipt.handled().await;
    }
    assert_eq!(bot.outbox.messages(), ["(stopped)"]);
    assert_eq!(
        bot.backend.requests().len(),
        1,
        "the waiting ones were not answered"
    );
}

/// A new engine on `store` starting `later_ms` after the first.
fn start_again(store: Arc<MemoryStore>, later_ms: i64) -> (Engine, Arc<RecordingOutbox>) {
    let clock = TokioClock::new();
    let now = clock.now_unix_ms();
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .store(store)
        .clock(Arc::new(TokioClock::starting_at(now + later_ms)))
        .build()
        .unwrap();
    let outbox = Arc::new(RecordingOutbox::default());
    engine.attach(TEST_PLATFORM, outbox.clone());
    (engine, outbox)
}

#[tokio::test(start_paused = true)]
async fn waiting_messages_are_answered_after_a_restart() {
    let store = Arc::new(MemoryStore::new());
    shut_down_with_two_waiting(store.clone()).await;
    let (_engine, outbox) = start_again(store.clone(), 60_000);
    outbox.wait_for_writes(2).await;
    assert_eq!(outbox.messages(), ["echo: second", "echo: third"]);
    // Taken from the store: nothing is left for a third start.
    let left = store.plugin_list("natter.pending", "").await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(start_paused = true)]
async fn messages_kept_too_long_are_not_answered_but_the_user_is_told() {
    let store = Arc::new(MemoryStore::new());
    shut_down_with_two_waiting(store.clone()).await;
    let (_engine, outbox) = start_again(store, 2 * 3_600_000);
    outbox.wait_for_writes(2).await;
    assert_eq!(
        outbox.messages(),
        [
            "Sorry — I was restarted before I could answer your message \u{201c}second\u{201d}. Please send it again if it still matters.",
            "Sorry — I was restarted before I could answer your message \u{201c}third\u{201d}. Please send it again if it still matters."
        ]
    );
}

/// State whose writes take 10 ms each, like a database under load.
struct SlowWrites(Arc<MemoryStore>);

#[async_trait]
impl StateStore for SlowWrites {
    async fn plugin_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        self.0.plugin_get(namespace, key).await
    }

    async fn plugin_put(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.0.plugin_put(namespace, key, value).await
    }

    async fn plugin_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        self.0.plugin_delete(namespace, key).await
    }

    async fn plugin_list(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.0.plugin_list(namespace, prefix).await
    }
}

#[tokio::test(start_paused = true)]
async fn keeping_a_long_backlog_counts_against_the_grace_and_loses_nothing() {
    let memory = Arc::new(MemoryStore::new());
    let mut stores = Stores::from(memory.clone());
    stores.state = Arc::new(SlowWrites(memory.clone()));
    let bot = TestBot::with(|b| b.store(stores).clock(Arc::new(TokioClock::new())));
    bot.backend.script(vec![Step::Hang]);
    let stuck = bot.inbox.submit(bot.private("first"));
    bot.backend.wait_for_requests(1).await;
    let waiting: Vec<_> = (0..40)
        .map(|n| bot.inbox.submit(bot.private(&format!("message {n}"))))
        .collect();

    // 40 writes of 10 ms: 0.4 s of keeping, within a grace of 1 s.
    let started = tokio::time::Instant::now();
    bot.engine.shutdown(Duration::from_secs(1)).await;
    let took = started.elapsed();
    assert!(
        took <= Duration::from_millis(1_050),
        "shutdown took {took:?} with a grace of 1 s"
    );
    stuck.handled().await;
    for receipt in waiting {
        receipt.handled().await;
    }
    let kept = memory.plugin_list("natter.pending", "").await.unwrap();
    assert_eq!(kept.len(), 40, "every waiting message is kept");
}
