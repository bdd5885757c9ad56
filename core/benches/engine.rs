//! The engine's own overhead: an instant scripted model and a no-op outbox,
//! 10,000 conversations each sending messages one after another. Reports
//! messages per second and submit → handled latency at saturation (where it
//! is mostly queueing: 10,000 clients waiting their turn) and for a single
//! conversation (the latency the engine itself adds),
//! next to a reference — the bare cost of handing a message to a task and
//! hearing back (spawn + oneshot) — measured in the same run.
//!
//! `cargo bench -p natter-core --bench engine`
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use natter_core::test_utils::ScriptedBackend;
use natter_core::{
    Addressed, Author, ChannelRef, ConversationKey, DeliveryError, Engine, Incoming, MessageId,
    Outbox, Platform, PlatformLimits, Rendered,
};

/// The platform the benchmark's messages come from.
const BENCH_PLATFORM: Platform = Platform::new("bench");

const CONVERSATIONS: usize = 10_000;
const MESSAGES_EACH: usize = 10;

/// Takes replies and drops them.
struct NullOutbox;

#[async_trait]
impl Outbox for NullOutbox {
    fn limits(&self) -> PlatformLimits {
        PlatformLimits::unlimited()
    }
    async fn typing(&self, _to: &ChannelRef) -> Result<(), DeliveryError> {
        Ok(())
    }
    async fn send(
        &self,
        _to: &ChannelRef,
        _text: &Rendered,
        _reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        Ok(MessageId(String::new()))
    }
    async fn edit(&self, _: &ChannelRef, _: &MessageId, _: &Rendered) -> Result<(), DeliveryError> {
        Ok(())
    }
}

fn message(conversation: usize, n: usize) -> Incoming {
    let id = conversation.to_string();
    Incoming {
        key: ConversationKey::new(BENCH_PLATFORM, id.clone()),
        channel: ChannelRef::private(BENCH_PLATFORM, id.clone()),
        id: MessageId(n.to_string()),
        author: Author::user(id, "bench"),
        text: format!("message {n} from the benchmark"),
        addressed: Addressed::Private,
        replied_to_text: None,
        attachments: Vec::new(),
    }
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn figures(mut latencies: Vec<Duration>, elapsed: Duration) -> Figures {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

async fn engine_run(conversations: usize, messages_each: usize) -> Figures {
    let backend = Arc::new(ScriptedBackend::new().without_recording());
    let engine = Engine::builder(backend)
        .settings(natter_core::EngineSettings {
            max_parallel: 64,
            ..Default::default()
        })
        .build()
        .expect("engine");
    let inbox = engine.attach(BENCH_PLATFORM, Arc::new(NullOutbox));
    let started = Instant::now();
    let clients: Vec<_> = (0..conversations)
        .map(|c| {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(messages_each);
                for n in 0..messages_each {
                    let sent = Instant::now();
                    inbox.submit(message(c, n)).handled().await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(conversations * messages_each);
    for client in clients {
        latencies.extend(client.await.expect("client"));
    }
    figures(latencies, started.elapsed())
}

async fn reference_run() -> Figures {
    let started = Instant::now();
    let clients: Vec<_> = (0..CONVERSATIONS)
        .map(|c| {
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(MESSAGES_EACH);
                for n in 0..MESSAGES_EACH {
                    let sent = Instant::now();
                    let (done, handled) = tokio::sync::oneshot::channel::<()>();
                    let msg = message(c, n);
                    tokio::spawn(async move {
                        std::hint::black_box(msg);
                        drop(done);
                    });
                    let _ = handled.await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("client"));
    }
    figures(latencies, started.elapsed())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let total = CONVERSATIONS * MESSAGES_EACH;
    println!(
        "engine overhead: {CONVERSATIONS} conversations × {MESSAGES_EACH} messages = {total}, instant model, no-op outbox"
    );
    // Warm up allocators and the runtime once.
    runtime.block_on(engine_run(CONVERSATIONS, MESSAGES_EACH));
    let reference = runtime.block_on(reference_run());
    let engine = runtime.block_on(engine_run(CONVERSATIONS, MESSAGES_EACH));
    let unloaded = runtime.block_on(engine_run(1, 20_000));
    println!(
        "reference (spawn + oneshot): {:>10.0} msg/s   p50 {:>8.1?}   p99 {:>8.1?}",
        reference.per_second, reference.p50, reference.p99
    );
    println!(
        "natter engine:               {:>10.0} msg/s   p50 {:>8.1?}   p99 {:>8.1?}",
        engine.per_second, engine.p50, engine.p99
    );
    println!(
        "natter, one conversation:    {:>10.0} msg/s   p50 {:>8.1?}   p99 {:>8.1?}   (latency the engine adds when idle)",
        unloaded.per_second, unloaded.p50, unloaded.p99
    );
    println!(
        "engine / reference throughput: {:.2}   target ≥ 100,000 msg/s: {}",
        engine.per_second / reference.per_second,
        if engine.per_second >= 100_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}
