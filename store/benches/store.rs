//! Store benchmarks, printed as figures (no harness):
//!
//! 1. turns appended per second and context windows loaded per second, for the
//!    memory store, SQLite and (when `NATTER_TEST_POSTGRES_URL` is set) Postgres;
//! 2. engine throughput with the SQLite store (as `open` returns it, cache
//!    included) and an instant scripted model: messages handled per second;
//! 3. memory: 100,000 distinct conversations through the engine with the cached
//!    SQLite store; resident memory (VmRSS) at checkpoints stays flat.
//!
//! Run: `cargo bench -p natter-store --bench store` (add
//! `NATTER_TEST_POSTGRES_URL=postgres://…` for the Postgres rows; `-- quick`
//! for smaller counts; `-- store`, `-- engine` or `-- memory` for one part).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use natter_core::outbox::{DeliveryError, Outbox, PlatformLimits, Rendered};
use natter_core::store::{HistoryStore, MemoryStore, Stores};
use natter_core::test_utils::{RecordingOutbox, ScriptedBackend, TestBot};
use natter_core::{
    Addressed, Author, ChannelRef, ChatMessage, ConversationKey, EngineSettings, MessageId,
    Platform, Turn,
};
use natter_store::{StoreSettings, connect, open};
use sqlx::Executor;

/// Concurrent tasks hitting a store, like the engine's parallel conversations.
const TASKS: usize = 16;
/// Turns per window load (a typical window).
const WINDOW: usize = 20;

struct Counts {
    appends: usize,
    loads: usize,
    conversations: usize,
    engine_messages: usize,
    distinct_conversations: usize,
}

fn turn(n: usize) -> Turn {
    Turn::new(
        ChatMessage::user(format!("message number {n}, about as long as a chat line")),
        ChatMessage::assistant(format!(
            "reply number {n}: a few sentences of answer, as a model would give in a chat."
        )),
    )
}

fn key(n: usize) -> ConversationKey {
    ConversationKey::new(Platform::new("test"), format!("bench/{n}"))
}

/// Appends `counts.appends` turns over `counts.conversations` conversations
/// from `TASKS` tasks, then loads windows the same way; returns (appends/s, loads/s).
async fn store_rates(store: Arc<dyn HistoryStore>, counts: &Counts) -> (f64, f64) {
    let per_task = counts.appends / TASKS;
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            let conversations = counts.conversations;
            tokio::spawn(async move {
                for i in 0..per_task {
                    let n = t * per_task + i;
                    store
                        .append_turn(&key(n % conversations), &turn(n))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let appends = (per_task * TASKS) as f64 / started.elapsed().as_secs_f64();

    let per_task = counts.loads / TASKS;
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            let conversations = counts.conversations;
            tokio::spawn(async move {
                for i in 0..per_task {
                    let window = store
                        .load_turns(&key((t * per_task + i) % conversations), WINDOW)
                        .await
                        .unwrap();
                    assert_eq!(window.len(), WINDOW);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let loads = (per_task * TASKS) as f64 / started.elapsed().as_secs_f64();
    (appends, loads)
}

fn print_rates(name: &str, (appends, loads): (f64, f64)) {
    println!("{name:<34} {appends:>12.0} turns appended/s {loads:>12.0} windows loaded/s");
}

async fn store_benchmarks(counts: &Counts) {
    println!(
        "== store: {} appends over {} conversations, then {} loads of {WINDOW}-turn windows, {TASKS} tasks",
        counts.appends, counts.conversations, counts.loads
    );
    print_rates(
        "memory",
        store_rates(Arc::new(MemoryStore::new()), counts).await,
    );

    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(&dir, "rates.db");
    let sqlite = connect(&settings).await.unwrap();
    print_rates(
        "sqlite (no cache)",
        store_rates(Arc::new(sqlite.clone()), counts).await,
    );
    sqlite.close().await;
    let settings = sqlite_settings(&dir, "rates-cached.db");
    print_rates(
        "sqlite (as opened, with cache)",
        store_rates(open(&settings).await.unwrap().history, counts).await,
    );

    match std::env::var("NATTER_TEST_POSTGRES_URL") {
        Ok(base) => {
            let schema = format!("natter_bench_{}", std::process::id());
            let admin = sqlx::PgPool::connect(&base).await.unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .await
                .unwrap();
            let separator = if base.contains('?') { '&' } else { '?' };
            let settings =
                StoreSettings::with_url(format!("{base}{separator}options[search_path]={schema}"));
            let postgres = connect(&settings).await.unwrap();
            print_rates(
                "postgres",
                store_rates(Arc::new(postgres.clone()), counts).await,
            );
            postgres.close().await;
            admin
                .execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .await
                .unwrap();
            admin.close().await;
        }
        Err(_) => println!(
            "postgres                           skipped: NATTER_TEST_POSTGRES_URL is not set"
        ),
    }
}

fn sqlite_settings(dir: &tempfile::TempDir, file: &str) -> StoreSettings {
    StoreSettings::with_url(format!("sqlite://{}", dir.path().join(file).display()))
}

/// An outbox that only counts, so the memory figure is the engine's and the
/// store's, not a recording of every reply.
#[derive(Default)]
struct CountingOutbox {
    sent: AtomicU64,
}

#[async_trait]
impl Outbox for CountingOutbox {
    fn limits(&self) -> PlatformLimits {
        PlatformLimits::unlimited()
    }
    async fn typing(&self, _: &ChannelRef) -> Result<(), DeliveryError> {
        Ok(())
    }
    async fn send(
        &self,
        _: &ChannelRef,
        _: &Rendered,
        _: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(MessageId(n.to_string()))
    }
    async fn edit(&self, _: &ChannelRef, _: &MessageId, _: &Rendered) -> Result<(), DeliveryError> {
        Ok(())
    }
}

fn private_message(bot: &TestBot, n: usize, text: &str) -> natter_core::Incoming {
    let user = format!("user{n}");
    bot.message(
        ConversationKey::new(Platform::new("test"), format!("private/{user}")),
        ChannelRef::private(Platform::new("test"), user.clone()),
        Author::user(user.clone(), user),
        Addressed::Private,
        text,
    )
}

/// Submits `count` messages spread over `conversations`, in waves so the
/// engine always has work queued, and waits until all are handled.
async fn drive(bot: &TestBot, from: usize, count: usize, conversations: usize) {
    const IN_FLIGHT: usize = 256;
    let mut pending = std::collections::VecDeque::new();
    for n in from..from + count {
        pending.push_back(
            bot.inbox
                .submit(private_message(bot, n % conversations, "hello")),
        );
        if pending.len() >= IN_FLIGHT
            && let Some(receipt) = pending.pop_front()
        {
            receipt.handled().await;
        }
    }
    for receipt in pending {
        receipt.handled().await;
    }
}

fn engine_settings() -> EngineSettings {
    EngineSettings {
        max_parallel: 64,
        max_history_turns: WINDOW,
        ..EngineSettings::default()
    }
}

async fn engine_throughput(counts: &Counts) {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(&dir, "engine.db");
    let baseline = engine_rate(Stores::new(Arc::new(MemoryStore::new())), counts).await;
    let store = open(&settings).await.unwrap();
    let rate = engine_rate(store, counts).await;
    println!(
        "== engine, instant model, RecordingOutbox, {} messages over 1000 conversations",
        counts.engine_messages
    );
    println!(
        "{:<34} {baseline:>12.0} messages/s (the engine's own ceiling here)",
        "memory store"
    );
    println!(
        "{:<34} {rate:>12.0} messages/s (target >= 10,000)",
        format!(
            "SQLite as opened (cache {})",
            settings.cache_for(natter_store::StoreKind::Sqlite)
        )
    );
}

async fn engine_rate(store: Stores, counts: &Counts) -> f64 {
    let outbox = Arc::new(RecordingOutbox::default());
    let bot = TestBot::with_parts(
        Arc::new(ScriptedBackend::new().without_recording()),
        outbox.clone(),
        |builder| builder.store(store.clone()).settings(engine_settings()),
    );
    let conversations = 1_000;
    drive(&bot, 0, conversations, conversations).await; // warm up: one each
    let started = Instant::now();
    drive(&bot, conversations, counts.engine_messages, conversations).await;
    let elapsed = started.elapsed();
    let rate = counts.engine_messages as f64 / elapsed.as_secs_f64();
    assert_eq!(
        outbox.message_count(),
        counts.engine_messages + conversations
    );
    let stored = store
        .history
        .load_turns(&key_of_user(7), 1_000)
        .await
        .unwrap()
        .len();
    assert_eq!(stored, 1 + counts.engine_messages / conversations);
    rate
}

fn key_of_user(n: usize) -> ConversationKey {
    ConversationKey::new(Platform::new("test"), format!("private/user{n}"))
}

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn memory_bound(counts: &Counts) {
    const CAP: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        cache_conversations: Some(CAP),
        ..sqlite_settings(&dir, "memory.db")
    };
    let store = open(&settings).await.unwrap();
    let outbox = Arc::new(CountingOutbox::default());
    let bot = TestBot::with_parts(
        Arc::new(ScriptedBackend::new().without_recording()),
        Arc::new(RecordingOutbox::default()),
        |builder| builder.store(store.clone()).settings(engine_settings()),
    );
    // The bot's own inbox records; attach the counting outbox instead.
    let inbox = bot
        .engine
        .attach(natter_core::Platform::new("test"), outbox.clone());
    let total = counts.distinct_conversations;
    let step = total / 10;
    println!(
        "== memory: {total} distinct conversations through the engine, cached SQLite store (cap {CAP} conversations)"
    );
    let before = rss_kib();
    println!("{:>8} conversations: VmRSS {:>8} KiB", 0, before);
    let mut after_first_step = 0;
    let started = Instant::now();
    for round in 0..10 {
        let mut pending = std::collections::VecDeque::new();
        for n in round * step..(round + 1) * step {
            pending.push_back(inbox.submit(private_message(&bot, n, "hello there")));
            if pending.len() >= 256
                && let Some(receipt) = pending.pop_front()
            {
                receipt.handled().await;
            }
        }
        for receipt in pending {
            receipt.handled().await;
        }
        let rss = rss_kib();
        if round == 0 {
            after_first_step = rss;
        }
        println!(
            "{:>8} conversations: VmRSS {:>8} KiB",
            (round + 1) * step,
            rss
        );
    }
    let after = rss_kib();
    assert_eq!(outbox.sent.load(Ordering::Relaxed) as usize, total);
    println!(
        "before {before} KiB, after {after} KiB; growth from {step} to {total} conversations: {} KiB ({:.1} s)",
        after as i64 - after_first_step as i64,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let counts = if quick {
        Counts {
            appends: 16_000,
            loads: 16_000,
            conversations: 100,
            engine_messages: 20_000,
            distinct_conversations: 10_000,
        }
    } else {
        Counts {
            appends: 160_000,
            loads: 160_000,
            conversations: 1_000,
            engine_messages: 200_000,
            distinct_conversations: 100_000,
        }
    };
    let only = |part: &str| {
        let parts: Vec<String> = std::env::args()
            .filter(|a| ["store", "engine", "memory"].contains(&a.as_str()))
            .collect();
        parts.is_empty() || parts.iter().any(|p| p == part)
    };
    if only("store") {
        store_benchmarks(&counts).await;
    }
    if only("engine") {
        engine_throughput(&counts).await;
    }
    if only("memory") {
        memory_bound(&counts).await;
    }
}
