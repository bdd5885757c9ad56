//! Burst benchmark: 2,000 messages over 200 private chats through the real
//! adapter and engine, against the fake Bot API (in this process), with a fake
//! model of 200 ms latency; streaming off, then on; each with Telegram's own
//! flood limits (1 write/s per chat, 30/s overall: natter should sit near the
//! 30/s ceiling, and the fake, enforcing the per-chat limit, should never have
//! to answer 429) and with the limits off (a self-hosted Bot API server).
//!
//! Prints messages/s, p50/p99 from injecting an update to the final reply
//! text arriving at the fake, and RSS from /proc/self/status (the process holds
//! the fake server too: "before the adapter started" is the runtime plus the
//! idle fake; the fake keeps no call log here, only a channel the bench drains).
//! Each mode runs in its own process, and appends its figures to a CSV file
//! (`--csv PATH`, default `$CARGO_TARGET_DIR/telegram-bench.csv`) for the charts.
//!
//! `cargo bench -p natter-telegram --bench telegram --profile dev`
//! (`-- --limits off` or `-- --limits telegram` runs one of the two).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use natter_core::backend::estimate_message_tokens;
use natter_core::{
    Capabilities, ChatMessage, ChatRequest, ChatStream, Completion, Engine, EngineSettings,
    FinishReason, ModelBackend, ModelError, StreamEvent,
};
use natter_telegram::{RateSettings, TelegramSettings};
use natter_test_support::telegram::{FakeTelegram, Limits, TOKEN, parse_html, updates};
use secrecy::SecretString;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const CHATS: i64 = 200;
const PER_CHAT: i64 = 10;
const LATENCY: Duration = Duration::from_millis(200);
const CHUNKS: u32 = 4;

/// A model that answers `Reply to <question>: …` in `CHUNKS` deltas spread over 200 ms.
struct SlowModel;

fn reply_for(question: &str) -> String {
    format!(
        "Reply to {question}: here is a paragraph of **model** output long enough to be \
         streamed in a few pieces, with `code` and a list:\n\n- one\n- two"
    )
}

#[async_trait]
impl ModelBackend for SlowModel {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("bench", "slow", 8192)
    }

    fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
        estimate_message_tokens(messages)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let question = request
            .messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let reply = reply_for(&question);
        let chars: Vec<char> = reply.chars().collect();
        let size = chars.len().div_ceil(CHUNKS as usize);
        let pieces: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
        let every = LATENCY / CHUNKS;
        let stream = futures::stream::iter(pieces)
            .then(move |piece| async move {
                tokio::time::sleep(every).await;
                Ok(StreamEvent::Delta(piece))
            })
            .chain(futures::stream::once(async {
                Ok(StreamEvent::Done(Completion::new(FinishReason::Stop, None)))
            }));
        Ok(stream.boxed())
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Telegram's flood limits, or none.
#[derive(Clone, Copy, PartialEq)]
enum Pacing {
    Telegram,
    Off,
}

impl Pacing {
    fn name(self) -> &'static str {
        match self {
            Pacing::Telegram => "telegram",
            Pacing::Off => "off",
        }
    }
}

async fn burst(streaming: bool, pacing: Pacing, csv: &std::path::Path) {
    let fake = FakeTelegram::start().await;
    if pacing == Pacing::Telegram {
        // The fake holds natter to Telegram's per-chat limit (it has no
        // global one; natter's writes/s show that one is kept).
        fake.enforce(Limits {
            per_chat: Some((1, Duration::from_secs(1))),
            per_group: None,
            tolerance: Duration::from_millis(50),
        });
    }
    fake.forget_calls();
    let mut calls = fake.watch();
    let before_adapter = rss_kib("VmRSS:");

    let settings = TelegramSettings {
        token: Some(SecretString::from(TOKEN)),
        api_url: fake.api_url(),
        streaming,
        // Pacing off measures the adapter; with Telegram's flood limits,
        // 1 write/s per chat alone makes 10 turns take 10 s, and 30 writes/s
        // overall make 2,000 replies take a minute at least.
        rate: match pacing {
            Pacing::Telegram => RateSettings::default(),
            Pacing::Off => RateSettings::off(),
        },
        ..TelegramSettings::default()
    };
    let engine = Engine::builder(Arc::new(SlowModel))
        .settings(EngineSettings {
            max_parallel: CHATS as usize,
            ..EngineSettings::default()
        })
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let adapter = tokio::spawn(natter_telegram::run(
        settings,
        engine.clone(),
        shutdown.clone(),
    ));
    // Ready once it long-polls.
    while let Some(call) = calls.recv().await {
        if call.method == "getupdates" {
            break;
        }
    }
    // Let start-up allocations settle, then measure idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib("VmRSS:");

    // Inject the burst: message k of every chat, for k in 0..10.
    let mut injected: HashMap<i64, (Instant, String)> = HashMap::new();
    let start = Instant::now();
    for turn in 0..PER_CHAT {
        for chat in 0..CHATS {
            let chat_id = 10_000 + chat;
            let id = fake.next_message_id();
            let question = format!("q{chat_id}-{turn}");
            fake.inject(updates::text(
                id,
                updates::private_chat(chat_id, "User"),
                updates::user(chat_id, "User"),
                &question,
            ));
            let expected = parse_html(&natter_telegram::render::markdown_to_html(&reply_for(
                &question,
            )))
            .unwrap();
            injected.insert(id, (Instant::now(), expected));
        }
    }

    // Follow the fake's calls: a reply is done when its message shows the whole text.
    let mut bot_message_of: HashMap<i64, i64> = HashMap::new();
    let mut latencies = Vec::with_capacity(injected.len());
    let mut peak = 0;
    let mut writes = 0usize;
    let mut too_many = 0usize;
    while latencies.len() < injected.len() {
        let call = tokio::time::timeout(Duration::from_secs(60), calls.recv())
            .await
            .expect("the burst stalled")
            .expect("fake stopped");
        peak = peak.max(rss_kib("VmRSS:"));
        if call.status == 429 {
            too_many += 1;
        }
        if !call.ok() || !call.is_write() {
            continue;
        }
        writes += 1;
        let message_id = call.result["message_id"].as_i64().unwrap();
        let user_message = match call.method.as_str() {
            "sendmessage" => {
                let replied = call
                    .params
                    .pointer("/reply_parameters/message_id")
                    .and_then(Value::as_i64)
                    .unwrap();
                bot_message_of.insert(message_id, replied);
                replied
            }
            _ => bot_message_of[&message_id],
        };
        let shown = call.result["text"].as_str().unwrap_or_default();
        if let Some((at, expected)) = injected.get(&user_message)
            && shown == expected
        {
            latencies.push(call.at.duration_since(*at));
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let rate = injected.len() as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
    println!(
        "limits {:>8}, streaming {:>3}: {} messages over {} chats in {:.2} s = {rate:.1} msg/s; \
         inject→final p50 {p50:.0} ms, p99 {p99:.0} ms; {writes} sends+edits \
         ({:.1}/s), {too_many} answered 429",
        pacing.name(),
        if streaming { "on" } else { "off" },
        injected.len(),
        CHATS,
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "    RSS: before the adapter started {} (runtime + fake server), idle {}, peak {} \
         (process high-water mark {})",
        mib(before_adapter),
        mib(idle),
        mib(peak),
        mib(rss_kib("VmHWM:")),
    );
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(csv)
        .unwrap();
    writeln!(
        file,
        "{},{},{},{:.2},{rate:.1},{p50:.0},{p99:.0},{writes},{too_many},{idle},{peak}",
        pacing.name(),
        if streaming { "on" } else { "off" },
        injected.len(),
        elapsed.as_secs_f64(),
    )
    .unwrap();
    shutdown.cancel();
    adapter.await.unwrap().unwrap();
    engine.shutdown(Duration::from_secs(5)).await;
}

/// Each mode runs in a fresh process so one's memory does not colour the other's.
const MODE_ENV: &str = "NATTER_TELEGRAM_BENCH_MODE";
/// The CSV file's columns.
const CSV_HEADER: &str = "limits,streaming,messages,seconds,msg_per_s,p50_ms,p99_ms,writes,\
                          answered_429,rss_idle_kib,rss_peak_kib";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let csv = flag("--csv").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("telegram-bench.csv")
        },
        PathBuf::from,
    );
    match std::env::var(MODE_ENV).as_deref() {
        Ok(mode) => {
            let (pacing, streaming) = mode.split_once('/').unwrap();
            let pacing = if pacing == "telegram" {
                Pacing::Telegram
            } else {
                Pacing::Off
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(burst(streaming == "on", pacing, &csv));
        }
        Err(_) => {
            let limits = flag("--limits");
            println!(
                "natter-telegram burst: {CHATS} chats × {PER_CHAT} messages, model latency \
                 {LATENCY:?}, engine max_parallel {CHATS}"
            );
            if let Some(parent) = csv.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&csv, format!("{CSV_HEADER}\n")).unwrap();
            let exe = std::env::current_exe().unwrap();
            for pacing in ["off", "telegram"] {
                if limits.as_deref().is_some_and(|l| l != pacing) {
                    continue;
                }
                for streaming in ["off", "on"] {
                    let status = std::process::Command::new(&exe)
                        .args(std::env::args().skip(1))
                        .env(MODE_ENV, format!("{pacing}/{streaming}"))
                        .status()
                        .unwrap();
                    assert!(
                        status.success(),
                        "limits {pacing}, streaming {streaming}: the run failed"
                    );
                }
            }
            println!("figures: {}", csv.display());
        }
    }
}
