//! Soak: the real `natter` binary, configured by a settings file as a user
//! configures it, answers Telegram messages at a steady rate for minutes —
//! against the fake Bot API and the fake OpenAI-compatible server, both in
//! this (separate) process, so the memory measured is natter's alone.
//!
//! Every few seconds it samples natter's resident memory (`VmRSS` of its
//! `/proc/PID/status`) and writes the curve as CSV (`time_s,rss_kib,answered,
//! errors`). At the end it checks that after the warm-up RSS stayed within
//! ±10 % of its post-warm-up mean, that nothing failed (a Bot API call
//! answered with an error, a warning or error in natter's log, a reply that is
//! not the model's) and that every message was answered; it exits non-zero if
//! a check fails. It also prints natter's idle RSS (long-polling, before the
//! first message).
//!
//! `scripts/soak.sh [MINUTES] [CSV]`, or
//! `cargo bench -p natter --bench soak --profile dev -- --minutes 10 --csv soak.csv`
//! (further flags: `--rate` messages/s, `--chats`, `--warmup` and `--every` seconds).
//!
//! The defaults — 100 chats, a 4-minute warm-up — let the conversation cache
//! fill first: each cached chat keeps up to `[engine] max_history_turns` (100)
//! turns, which 100 chats at 50 messages/s reach after 200 s. Growth until
//! then is the cache filling, bounded by design; growth after it would be a leak.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use natter_test_support::openai::FakeOpenAi;
use natter_test_support::telegram::{FakeTelegram, TOKEN, updates};

/// What the run is asked to do.
struct Plan {
    minutes: f64,
    rate: u32,
    chats: i64,
    warmup: Duration,
    every: Duration,
    csv: PathBuf,
}

impl Plan {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let flag = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let number = |name: &str, default: f64| -> f64 {
            flag(name).map_or(default, |v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number, not {v}"))
            })
        };
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from("target"), PathBuf::from);
        Self {
            minutes: number("--minutes", 10.0),
            rate: number("--rate", 50.0) as u32,
            chats: number("--chats", 100.0) as i64,
            warmup: Duration::from_secs_f64(number("--warmup", 240.0)),
            every: Duration::from_secs_f64(number("--every", 5.0)),
            csv: flag("--csv").map_or_else(|| target.join("soak.csv"), PathBuf::from),
        }
    }
}

/// One sample of the curve.
struct Sample {
    at: Duration,
    rss_kib: u64,
    answered: u64,
    errors: u64,
}

/// What the watchers count.
#[derive(Default)]
struct Counters {
    answered: AtomicU64,
    errors: AtomicU64,
}

fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn settings(telegram: &FakeTelegram, openai: &FakeOpenAi, dir: &std::path::Path) -> String {
    format!(
        r#"[model]
backend = "openai"

[model.openai]
base_url = "{openai}"
model = "gpt-4o-mini"
api_key = "sk-soak"
max_retries = 0

[store]
url = "sqlite://{db}"

[limits]
user_messages_per_minute = 0

[telegram]
token = "{TOKEN}"
api_url = "{api}"

# 50 messages/s is above Telegram's own 30 writes/s: this is a self-hosted
# Bot API server's setting (edits of one reply stay 500 ms apart).
[telegram.rate]
chat = 0
group = 0
global = 0

[log]
level = "warn"
"#,
        openai = openai.base_url(),
        db = dir.join("natter.db").display(),
        api = telegram.api_url(),
    )
}

fn question(chat: i64, n: u64) -> String {
    format!("soak c{chat} n{n}")
}

/// The fake model answers `echo: <the message>`, one word per chunk.
fn answer(question: &str) -> String {
    format!("echo: {question}")
}

async fn soak(plan: Plan) -> bool {
    let telegram = FakeTelegram::start().await;
    telegram.forget_calls();
    let mut calls = telegram.watch();
    let openai = FakeOpenAi::start().await;
    openai.forget_requests();
    // "echo: soak cN nM" is four words: about 200 ms per reply.
    openai.set_chunk_delay(Duration::from_millis(50));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("natter.toml");
    std::fs::write(&config, settings(&telegram, &openai, dir.path())).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_natter"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NATTER_") {
            command.env_remove(name);
        }
    }
    let mut natter = command
        .arg("--config")
        .arg(&config)
        .arg("run")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .env_remove("DISCORD_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    let spawned = Instant::now();
    let pid = natter.id();

    let counters = Arc::new(Counters::default());
    // natter's log: every line at warn or error level is a failure.
    let log_lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = natter.stderr.take().unwrap();
    let log = std::thread::spawn({
        let counters = Arc::clone(&counters);
        let log_lines = Arc::clone(&log_lines);
        move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("WARN") || line.contains("ERROR") {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                let mut lines = log_lines.lock().unwrap();
                if lines.len() < 20 {
                    lines.push(line);
                }
            }
        }
    });

    // Ready once it long-polls (the fake reports a poll when it answers
    // it, after up to 5 s without updates, but notes when it arrived); give
    // start-up a moment to settle.
    let first_poll = loop {
        let call = tokio::time::timeout(Duration::from_secs(60), calls.recv())
            .await
            .expect("natter never polled for updates")
            .expect("fake stopped");
        if call.method == "getupdates" {
            break call.at.saturating_duration_since(spawned);
        }
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_kib(pid).expect("natter is running");

    // Replies still awaited, by the text they will show.
    let awaited: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let watcher = tokio::spawn({
        let counters = Arc::clone(&counters);
        let awaited = Arc::clone(&awaited);
        let latencies = Arc::clone(&latencies);
        async move {
            while let Some(call) = calls.recv().await {
                if !call.ok() {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !call.is_write() {
                    continue;
                }
                let shown = call.result["text"].as_str().unwrap_or_default();
                if let Some(sent) = awaited.lock().unwrap().remove(shown) {
                    counters.answered.fetch_add(1, Ordering::Relaxed);
                    latencies.lock().unwrap().push(call.at.duration_since(sent));
                } else if !shown.starts_with("echo: ") {
                    // Not the model's words: an apology, an error message.
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    println!(
        "natter soak: {} min at {} messages/s over {} private chats, fake model ~200 ms per \
         reply, streaming on, Telegram pacing off (self-hosted Bot API), SQLite store",
        plan.minutes, plan.rate, plan.chats
    );
    println!(
        "natter pid {pid}, long-polling {:.2} s after start: idle RSS {}",
        first_poll.as_secs_f64(),
        mib(idle)
    );

    let start = Instant::now();
    let duration = Duration::from_secs_f64(plan.minutes * 60.0);
    let mut samples = vec![Sample {
        at: Duration::ZERO,
        rss_kib: idle,
        answered: 0,
        errors: counters.errors.load(Ordering::Relaxed),
    }];
    let mut tick = tokio::time::interval(Duration::from_secs(1) / plan.rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut next_sample = plan.every;
    let mut injected = 0u64;
    let mut alive = true;
    while start.elapsed() < duration {
        tick.tick().await;
        let chat = 10_000 + (injected as i64 % plan.chats);
        let text = question(chat, injected);
        awaited
            .lock()
            .unwrap()
            .insert(answer(&text), Instant::now());
        telegram.inject(updates::text(
            telegram.next_message_id(),
            updates::private_chat(chat, "User"),
            updates::user(chat, "User"),
            &text,
        ));
        injected += 1;
        if start.elapsed() >= next_sample {
            next_sample += plan.every;
            let Some(rss) = rss_kib(pid) else {
                alive = false;
                break;
            };
            let sample = Sample {
                at: start.elapsed(),
                rss_kib: rss,
                answered: counters.answered.load(Ordering::Relaxed),
                errors: counters.errors.load(Ordering::Relaxed),
            };
            if samples.len() % 12 == 0 {
                println!(
                    "  {:>5.0} s: RSS {}, {} of {injected} answered, {} errors",
                    sample.at.as_secs_f64(),
                    mib(sample.rss_kib),
                    sample.answered,
                    sample.errors
                );
            }
            samples.push(sample);
        }
    }
    // The last replies: wait for them (a 200 ms model; 30 s is plenty).
    let drain_until = Instant::now() + Duration::from_secs(30);
    while alive
        && counters.answered.load(Ordering::Relaxed) < injected
        && Instant::now() < drain_until
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last_rss = rss_kib(pid);
    alive &= last_rss.is_some();
    samples.push(Sample {
        at: start.elapsed(),
        rss_kib: last_rss.unwrap_or(0),
        answered: counters.answered.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
    });
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(0);

    // Stop natter as a service manager would, and see it exit cleanly.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let exit = tokio::task::spawn_blocking(move || natter.wait())
        .await
        .unwrap();
    let _ = log.join();
    watcher.abort();

    // The curve.
    if let Some(parent) = plan.csv.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let mut csv = std::fs::File::create(&plan.csv).unwrap();
    writeln!(csv, "time_s,rss_kib,answered,errors").unwrap();
    for s in &samples {
        writeln!(
            csv,
            "{:.1},{},{},{}",
            s.at.as_secs_f64(),
            s.rss_kib,
            s.answered,
            s.errors
        )
        .unwrap();
    }

    // The checks.
    let steady: Vec<u64> = samples
        .iter()
        .filter(|s| s.at >= plan.warmup && s.rss_kib > 0)
        .map(|s| s.rss_kib)
        .collect();
    let mean = steady.iter().sum::<u64>() as f64 / steady.len().max(1) as f64;
    let (low, high) = (
        steady.iter().copied().min().unwrap_or(0),
        steady.iter().copied().max().unwrap_or(0),
    );
    let spread = if mean > 0.0 {
        (high as f64 - mean).max(mean - low as f64) / mean * 100.0
    } else {
        f64::INFINITY
    };
    let answered = counters.answered.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{injected} messages in {:.0} s ({:.1}/s): {answered} answered, {errors} errors; \
         message→final reply p50 {:.0} ms, p99 {:.0} ms",
        duration.as_secs_f64(),
        injected as f64 / duration.as_secs_f64(),
        percentile(0.5),
        percentile(0.99),
    );
    println!(
        "RSS after the {:.0} s warm-up: mean {}, min {}, max {} (±{spread:.1} %); idle {}, \
         high-water mark {}; natter exited {exit:?}",
        plan.warmup.as_secs_f64(),
        mib(mean as u64),
        mib(low),
        mib(high),
        mib(idle),
        mib(hwm),
    );
    println!("curve: {}", plan.csv.display());

    let mut failed = Vec::new();
    if !alive {
        failed.push("natter died during the run".to_owned());
    }
    if steady.is_empty() {
        failed.push("no samples after the warm-up (run longer)".to_owned());
    } else if spread > 10.0 {
        failed.push(format!(
            "RSS strayed {spread:.1} % from its mean (at most 10 %)"
        ));
    }
    if errors > 0 {
        failed.push(format!("{errors} errors"));
        for line in log_lines.lock().unwrap().iter() {
            println!("  natter: {line}");
        }
    }
    if answered < injected {
        failed.push(format!("{} messages unanswered", injected - answered));
    }
    if failed.is_empty() {
        println!("soak: PASS");
        true
    } else {
        println!("soak: FAIL — {}", failed.join("; "));
        false
    }
}

fn main() -> ExitCode {
    let plan = Plan::from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if runtime.block_on(soak(plan)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
