//! End to end in a real headless browser: `natter` with `[web] listen` and
//! no platform token serves the web chat; chromium logs in with the token,
//! sends a message, watches the fake model's reply stream in, then finds
//! the same turn in the dashboard. Screenshots of the chat and the dashboard
//! go to `$NATTER_SCREENSHOTS_DIR` (scripts/screenshots.sh: docs/), else to
//! the target's temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

mod common;

use natter_test_support::browser::Browser;
use natter_test_support::openai::FakeOpenAi;
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "e2e-web-token-9f3b";
const WAIT: Duration = Duration::from_secs(20);

fn config(fake: &FakeOpenAi, dir: &std::path::Path) -> PathBuf {
    let path = dir.join("natter.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    write!(
        file,
        r#"
[store]
url = "sqlite://{}/natter.db"

[model]
backend = "openai"
max_tokens = 256

[model.openai]
base_url = "{}"
model = "gpt-4o-mini"
api_key = "sk-e2e"
max_retries = 0

[persona]
default = "assistant"

[personas.assistant]
description = "Helpful and brief"
system = "You are a helpful assistant."

[personas.pirate]
description = "Talks like a pirate"
system = "You are a pirate."

[web]
listen = "127.0.0.1:0"
token = "{TOKEN}"
"#,
        dir.display(),
        fake.base_url()
    )
    .unwrap();
    path
}

fn screenshot_dir() -> PathBuf {
    std::env::var_os("NATTER_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"))
}

/// natter's standard output, kept open for as long as natter runs.
type Stdout = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Starts natter with `config`; returns it, the web chat's URL it prints,
/// and the rest of its output.
async fn serve(config: &std::path::Path) -> (tokio::process::Child, String, Stdout) {
    let mut natter = common::spawn(config, &[], "warn");
    let mut stdout = BufReader::new(natter.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(WAIT, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("natter web: ") {
                return url.to_owned();
            }
        }
        panic!("natter exited without serving the web chat");
    })
    .await
    .expect("natter prints the web chat's URL");
    (natter, url, stdout)
}

/// A JavaScript string literal of `text`.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

#[tokio::test]
async fn chat_in_a_real_browser_then_find_the_turn_in_the_dashboard() {
    let Some(browser) = Browser::launch("chat_in_a_real_browser").await else {
        return;
    };
    let fake = FakeOpenAi::start().await;
    // Slow enough that the reply is seen while it is being written.
    fake.set_chunk_delay(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let config = config(&fake, dir.path());
    let (mut natter, url, _stdout) = serve(&config).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let page = browser.page(1200, 760).await;
    page.goto(&format!("{url}chat")).await;
    let on_login: String = serde_json::from_value(page.eval("location.pathname").await).unwrap();
    assert_eq!(on_login, "/login", "the chat needs the token first");
    page.navigate_by(&format!(
        "document.querySelector('input[name=token]').value = {}; \
         document.querySelector('.login form').submit()",
        js(TOKEN)
    ))
    .await;
    assert_eq!(
        page.eval("location.pathname").await,
        "/chat",
        "{}",
        page.eval("document.body.innerText").await
    );

    // Record every text the reply shows, to see it grow.
    page.eval(
        "window.shown = []; new MutationObserver(() => { \
           const bot = document.querySelector('.msg.bot .body'); \
           if (bot && window.shown[window.shown.length - 1] !== bot.textContent) \
             window.shown.push(bot.textContent); \
         }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true }); \
         window.ready = new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r)); \
         window.ready.then(() => true)",
    )
    .await;
    let question = "hello from a real browser, please answer slowly";
    page.eval(&format!(
        "document.getElementById('message').value = {}; document.getElementById('send').click(); true",
        js(question)
    ))
    .await;
    let answer = format!("echo: {question}");
    assert!(
        page.wait_for(
            &format!(
                "[...document.querySelectorAll('.msg.bot .body')].some(b => b.textContent.trim() === {})",
                js(&answer)
            ),
            WAIT
        )
        .await,
        "the reply arrived: {}",
        page.eval("document.getElementById('log').innerText").await
    );
    let shown: Vec<String> = serde_json::from_value(page.eval("window.shown").await).unwrap();
    assert!(
        shown.len() >= 3 && shown.iter().any(|s| s.contains('▍')),
        "the reply streamed in, growing: {shown:?}"
    );

    // A reply with Markdown and code, for the screenshot and for escaping.
    fake.reply(
        "Here is **Rust**, and `<script>` stays text:\n\n```rust\nfn main() {\n    println!(\"hello\");\n}\n```\n\n- fast\n- safe",
    );
    page.eval(
        "document.getElementById('message').value = 'Show me a tiny program'; \
         document.getElementById('send').click(); true",
    )
    .await;
    assert!(
        page.wait_for(
            "[...document.querySelectorAll('.msg.bot pre code')].some(c => c.textContent.includes('println!'))",
            WAIT
        )
        .await
    );
    assert_eq!(
        page.eval("document.querySelectorAll('.msg.bot script').length")
            .await,
        0
    );
    assert!(
        page.wait_for(
            "!document.querySelector('.msg.bot:last-child .body').textContent.includes('▍')",
            WAIT
        )
        .await
    );
    // A picture picked in the page goes with its caption to a model that
    // sees (gpt-4o-mini), and shows in the log as sent.
    let picked = page
        .eval(
            "new Promise(done => { \
               const canvas = document.createElement('canvas'); canvas.width = 96; canvas.height = 64; \
               const g = canvas.getContext('2d'); g.fillStyle = '#2b6cb0'; g.fillRect(0, 0, 96, 64); \
               g.fillStyle = '#f6ad55'; g.beginPath(); g.arc(48, 32, 20, 0, 7); g.fill(); \
               canvas.toBlob(blob => { \
                 const picker = document.getElementById('picture'); \
                 const files = new DataTransfer(); \
                 files.items.add(new File([blob], 'sunset.png', { type: 'image/png' })); \
                 picker.files = files.files; \
                 picker.dispatchEvent(new Event('change')); \
                 document.getElementById('message').value = 'what is in this picture?'; \
                 document.getElementById('send').click(); \
                 done(document.getElementById('picked').hidden); \
               }, 'image/png'); })",
        )
        .await;
    assert_eq!(picked, true, "the picker is cleared once sent");
    assert!(
        page.wait_for(
            "[...document.querySelectorAll('.msg.bot .body')].some(b => b.textContent.trim() === 'echo: what is in this picture? [image]')",
            WAIT
        )
        .await,
        "the picture reached the model: {}",
        page.eval("document.getElementById('log').innerText").await
    );
    assert!(
        page.wait_for(
            "(document.querySelector('.msg.user img.sent') || {}).naturalWidth === 96",
            WAIT
        )
        .await,
        "the sent picture shows in the log"
    );
    let pictures = fake
        .requests()
        .last()
        .map(|request| request.image_urls())
        .unwrap_or_default();
    assert_eq!(pictures.len(), 1);
    assert!(pictures[0].starts_with("data:image/png;base64,"));

    let shots = screenshot_dir();
    page.screenshot(&shots.join("web-chat.png")).await;

    page.goto(&format!("{url}dashboard/conversations")).await;
    let link = page
        .eval("document.querySelector('table.conversations a').getAttribute('href')")
        .await;
    let link = link
        .as_str()
        .expect("the web conversation is listed")
        .to_owned();
    assert!(
        link.starts_with("/dashboard/conversation?key=web%3Achat"),
        "{link}"
    );
    page.goto(&format!("{}{}", url.trim_end_matches('/'), link))
        .await;
    let history: String =
        serde_json::from_value(page.eval("document.querySelector('main').innerText").await)
            .unwrap();
    assert!(history.contains(question), "{history}");
    assert!(history.contains(&answer), "the same turn: {history}");
    assert_eq!(
        page.eval("document.querySelectorAll('.msg.user img.sent').length")
            .await,
        1,
        "the picture sent from the chat shows in the conversation, from history's copy"
    );
    page.screenshot(&shots.join("web-conversation.png")).await;

    page.goto(&format!("{url}dashboard")).await;
    let overview: String =
        serde_json::from_value(page.eval("document.querySelector('main').innerText").await)
            .unwrap();
    assert!(overview.contains("connected"), "{overview}");
    assert!(overview.contains("gpt-4o-mini"), "{overview}");
    page.screenshot(&shots.join("web-dashboard.png")).await;

    page.goto(&format!("{url}dashboard/usage")).await;
    let usage: String =
        serde_json::from_value(page.eval("document.querySelector('main').innerText").await)
            .unwrap();
    assert!(usage.contains("voice · pictures"), "{usage}");
    assert!(usage.contains("gpt-4o-mini"), "{usage}");
    page.screenshot(&shots.join("web-usage.png")).await;

    let ready = page
        .eval("fetch('/readyz').then(r => r.json()).then(j => j.ready)")
        .await;
    assert_eq!(ready, true);
    for shot in ["web-chat.png", "web-conversation.png", "web-dashboard.png"] {
        let bytes = std::fs::read(shots.join(shot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
    natter.kill().await.unwrap();
}

/// Logs `page` in at `url` with the token.
async fn log_in(page: &natter_test_support::browser::Page<'_>, url: &str) {
    page.goto(&format!("{url}login")).await;
    page.navigate_by(&format!(
        "document.querySelector('input[name=token]').value = {}; \
         document.querySelector('.login form').submit()",
        js(TOKEN)
    ))
    .await;
}

/// Clicks the setup page's reload button; returns the notice it shows.
async fn press_reload(page: &natter_test_support::browser::Page<'_>) -> String {
    page.navigate_by("document.getElementById('reload').click()")
        .await;
    serde_json::from_value(
        page.eval("document.getElementById('reload-notice')?.innerText ?? ''")
            .await,
    )
    .unwrap()
}

#[tokio::test]
async fn the_dashboard_reloads_the_settings_file_and_refuses_a_broken_one() {
    let Some(browser) = Browser::launch("the_dashboard_reloads").await else {
        return;
    };
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&fake, dir.path());
    let (mut natter, url, _stdout) = serve(&config).await;
    let page = browser.page(1200, 900).await;
    log_in(&page, &url).await;
    page.goto(&format!("{url}dashboard/setup")).await;

    // A broken file: the button says why, and nothing changes.
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        original.replace("default = \"assistant\"", "default = \"ghost\""),
    )
    .unwrap();
    let refused = press_reload(&page).await;
    assert!(
        refused.starts_with("Not reloaded") && refused.contains("persona.default"),
        "{refused}"
    );
    let main: String =
        serde_json::from_value(page.eval("document.querySelector('main').innerText").await)
            .unwrap();
    assert!(main.contains("You are a pirate."), "{main}");

    // A good one: the page shows the new persona text at once.
    std::fs::write(
        &config,
        original.replace("You are a pirate.", "You are a parrot.")
            + "\n[triggers.places.\"telegram:-100987\"]\nanswer = \"all\"\n",
    )
    .unwrap();
    let reloaded = press_reload(&page).await;
    assert!(
        reloaded == "Settings reloaded: personas, triggers."
            || reloaded == "Settings reread: nothing to change now.",
        "the button, or the file watcher just before it, reloaded: {reloaded}"
    );
    let main: String =
        serde_json::from_value(page.eval("document.querySelector('main').innerText").await)
            .unwrap();
    assert!(main.contains("You are a parrot."), "{main}");
    assert!(!main.contains("You are a pirate."), "{main}");
    let rules: Vec<String> = serde_json::from_value(
        page.eval("[...document.querySelectorAll('table.triggers tr')].map(r => r.innerText)")
            .await,
    )
    .unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("everywhere") && r.contains("mention")),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("telegram:-100987") && r.contains("all")),
        "the reloaded rule is listed: {rules:?}"
    );
    page.screenshot(&screenshot_dir().join("web-setup.png"))
        .await;
    natter.kill().await.unwrap();
}
