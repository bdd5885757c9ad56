//! Time to first token through the web chat, measured in a real headless
//! browser (click Send → the reply's first word in the page: HTTP POST,
//! engine, model, Server-Sent Events, DOM), against the terminal chat's
//! (line in → first word printed) on the same engine and the same loopback
//! fake OpenAI server. Prints median and 90th percentile of each.
//!
//! `cargo bench -p natter --bench web --profile dev` (the release profile
//! would rebuild llama.cpp optimised first, for no difference here: every
//! dependency is optimised in the dev profile too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use natter_console::ConsoleSettings;
use natter_core::Engine;
use natter_openai::{OpenAiBackend, OpenAiSettings};
use natter_test_support::browser::Browser;
use natter_test_support::openai::FakeOpenAi;
use natter_web::{WebServer, WebSettings};
use secrecy::SecretString;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 30;
const TOKEN: &str = "bench-token";

fn engine(fake: &FakeOpenAi) -> Engine {
    let settings = OpenAiSettings {
        base_url: fake.base_url(),
        model: "gpt-4o-mini".into(),
        api_key: Some(SecretString::from("sk-bench")),
        max_retries: 0,
        ..OpenAiSettings::default()
    };
    let backend = OpenAiBackend::new(settings).expect("the backend builds");
    Engine::builder(Arc::new(backend))
        .build()
        .expect("the engine builds")
}

/// Writes what the console prints to a channel, with when it was printed.
struct Timed(std_mpsc::Sender<(Instant, String)>);

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self
            .0
            .send((Instant::now(), String::from_utf8_lossy(buf).into_owned()));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn console(fake: &FakeOpenAi) -> Vec<Duration> {
    let engine = engine(fake);
    let (mut typing, input) = tokio::io::duplex(4096);
    let (printed, output) = std_mpsc::channel();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(natter_console::run_with(
        ConsoleSettings::default(),
        engine.clone(),
        BufReader::new(input),
        Timed(printed),
        true,
        shutdown.clone(),
    ));
    let mut times = Vec::with_capacity(RUNS);
    for n in 0..RUNS {
        while output.try_recv().is_ok() {}
        let sent = Instant::now();
        typing
            .write_all(format!("console question {n}\n").as_bytes())
            .await
            .expect("type a line");
        let first = tokio::task::block_in_place(|| {
            loop {
                let (at, text) = output
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the console prints the reply");
                if text.contains("echo:") {
                    return at;
                }
            }
        });
        times.push(first - sent);
        // Wait for the whole reply (the prompt returns) before the next line.
        tokio::task::block_in_place(|| {
            loop {
                let (_, text) = output
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the reply ends");
                if text.contains("> ") {
                    break;
                }
            }
        });
    }
    shutdown.cancel();
    let _ = run.await;
    engine.shutdown(Duration::from_secs(1)).await;
    times
}

async fn web(fake: &FakeOpenAi) -> Option<Vec<Duration>> {
    let browser = Browser::launch("web chat time to first token").await?;
    let engine = engine(fake);
    let settings = WebSettings {
        listen: Some("127.0.0.1:0".into()),
        token: Some(SecretString::from(TOKEN)),
        metrics_public: false,
    };
    let server = WebServer::bind(&settings, engine.clone(), Vec::new())
        .await
        .expect("the web side binds");
    let url = server.url();
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server.run(shutdown.clone()));
    let page = browser.page(1200, 800).await;
    page.goto(&format!("{url}login")).await;
    page.navigate_by(&format!(
        "document.querySelector('input[name=token]').value = '{TOKEN}'; \
         document.querySelector('.login form').submit()"
    ))
    .await;
    // The event stream is open once the page has loaded and connected.
    page.wait_for(
        "document.readyState === 'complete'",
        Duration::from_secs(10),
    )
    .await;
    // Time each POST's round trip too, to tell transport from the rest.
    page.eval(
        "window.posts = []; const send = window.fetch; window.fetch = (...args) => { \
           const t = performance.now(); \
           return send(...args).then(r => { window.posts.push(performance.now() - t); return r; }); }; true",
    )
    .await;
    let mut times = Vec::with_capacity(RUNS);
    for n in 0..RUNS {
        let script = format!(
            "new Promise(done => {{ \
               const before = document.querySelectorAll('.msg.bot').length; \
               const seen = new MutationObserver(() => {{ \
                 const bots = document.querySelectorAll('.msg.bot'); \
                 if (bots.length > before && bots[bots.length - 1].textContent.includes('echo:')) {{ \
                   seen.disconnect(); done(performance.now() - start); }} }}); \
               seen.observe(document.getElementById('log'), {{ childList: true, subtree: true, characterData: true }}); \
               document.getElementById('message').value = 'web question {n}'; \
               const start = performance.now(); \
               document.getElementById('send').click(); }})"
        );
        let ms = page.eval(&script).await.as_f64().expect("milliseconds");
        times.push(Duration::from_secs_f64(ms / 1000.0));
        page.wait_for(
            "!document.querySelector('.msg.bot:last-child .body').textContent.includes('▍')",
            Duration::from_secs(10),
        )
        .await;
    }
    let posts: Vec<f64> =
        serde_json::from_value(page.eval("window.posts").await).unwrap_or_default();
    report(
        "web POST",
        posts
            .iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect(),
    );
    shutdown.cancel();
    let _ = serving.await;
    engine.shutdown(Duration::from_secs(1)).await;
    Some(times)
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<8} time to first token over {} replies: median {:.2} ms, p90 {:.2} ms, min {:.2} ms",
        times.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let fake = FakeOpenAi::start().await;
        report("console", console(&fake).await);
        match web(&fake).await {
            Some(times) => report("web", times),
            None => println!("web      not measured: no chromium (see the line above)"),
        }
    });
}
