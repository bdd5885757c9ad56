//! End to end: the `natter` binary, driven through a pipe like a user's shell
//! script, against a loopback fake OpenAI-compatible server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

mod common;

use common::Run;
use natter_test_support::openai::{Behaviour, FakeOpenAi, Server};
use tokio::io::AsyncWriteExt;

const KEY: &str = "sk-e2e-never-print-me";

fn config(fake: &FakeOpenAi) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        r#"
[store]
url = "memory"

[model]
backend = "openai"
max_tokens = 64

[model.openai]
base_url = "{}"
model = "gpt-4o-mini"
api_key = "{KEY}"
max_retries = 0

[personas.assistant]
system = "You are a helpful assistant."

[personas.pirate]
system = "You are a pirate."
"#,
        fake.base_url()
    )
    .unwrap();
    file
}

async fn natter(config: &tempfile::NamedTempFile, args: &[&str], input: &str, log: &str) -> Run {
    common::run(config.path(), args, input, log).await
}

#[tokio::test]
async fn piped_conversation_keeps_history() {
    let fake = FakeOpenAi::start().await;
    let config = config(&fake);
    let run = natter(&config, &[], "hello\nsecond\n", "warn").await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout, "echo: hello\necho: second\n");
    let roles: Vec<String> = fake.messages(1).into_iter().map(|(r, _)| r).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(fake.messages(1)[2].1, "echo: hello");
}

#[tokio::test]
async fn commands_change_persona_reset_history_and_list_help() {
    let fake = FakeOpenAi::start().await;
    let config = config(&fake);
    let input = "/help\nhi\n/persona pirate\nahoy\n/reset\nafter reset\n/bogus\n";
    let run = natter(&config, &["chat"], input, "warn").await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains("/persona [name|reset]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Persona is now pirate."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("History cleared."), "{}", run.stdout);
    assert!(run.stdout.contains("Unknown command /bogus — try /help."));
    assert_eq!(fake.requests().len(), 3, "commands never reach the model");
    assert_eq!(fake.messages(0)[0].1, "You are a helpful assistant.");
    let pirate = fake.messages(1);
    assert_eq!(pirate[0].1, "You are a pirate.");
    assert_eq!(pirate.len(), 4, "history kept across the persona switch");
    assert_eq!(fake.messages(2).len(), 2, "history empty after /reset");
}

#[tokio::test]
async fn failures_print_one_clear_line_and_the_chat_goes_on() {
    let fake = FakeOpenAi::start().await;
    let config = config(&fake);
    fake.push(Behaviour::Status {
        status: 500,
        message: "upstream exploded".into(),
        retry_after: None,
    });
    fake.push(Behaviour::CutAfter(1));
    let run = natter(&config, &[], "one\ntwo three four\nfive\n", "warn").await;
    assert!(run.success, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Sorry, the language model had an error. Please try again."
    );
    assert_eq!(lines[1], "echo: ");
    assert_eq!(lines[2], "");
    assert_eq!(
        lines[3],
        "⚠️ Sorry, the language model's reply broke off. Please try again."
    );
    assert_eq!(lines[4], "echo: five");
    assert_eq!(lines.len(), 5, "{lines:?}");
    // Neither failed reply entered history.
    let last: Vec<String> = fake.messages(2).into_iter().map(|(r, _)| r).collect();
    assert_eq!(last, ["system", "user"]);
    assert!(
        run.stderr.contains("upstream exploded"),
        "cause is logged: {}",
        run.stderr
    );
}

#[tokio::test]
async fn the_api_key_never_reaches_logs_or_check() {
    let fake = FakeOpenAi::start().await;
    let config = config(&fake);
    fake.push(Behaviour::Status {
        status: 401,
        message: "bad key".into(),
        retry_after: None,
    });
    let run = natter(&config, &[], "hello\nagain\n", "trace").await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stderr.len() > 1000, "trace logging is on");
    assert!(!run.stderr.contains(KEY), "key leaked into logs");
    assert!(!run.stdout.contains(KEY));
    assert_eq!(
        fake.requests()[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );

    let check = natter(&config, &["check"], "", "trace").await;
    assert!(check.success, "{}", check.stderr);
    assert!(
        check.stdout.contains("api_key = \"[redacted]\""),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains(KEY) && !check.stderr.contains(KEY));
}

#[test]
fn a_developers_own_tokens_and_overrides_never_reach_the_binary() {
    let fake_config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(
        fake_config.path(),
        "[store]\nurl = \"memory\"\n[model]\nbackend = \"openai\"\n",
    )
    .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_natter"));
    command
        .env("TELEGRAM_BOT_TOKEN", "123:real-telegram")
        .env("DISCORD_TOKEN", "real-discord")
        .env("OPENAI_API_KEY", "sk-real")
        .env("NATTER__ENGINE__MAX_PARALLEL", "0")
        .env("NATTER_CONFIG", "/nonexistent/natter.toml");
    let output = common::isolate(&mut command)
        .arg("check")
        .arg("--config")
        .arg(fake_config.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("platforms: console"), "{stdout}");
    assert!(
        stdout.contains("max_parallel = 32"),
        "sized for an API: {stdout}"
    );
    assert!(!stdout.contains("api_key"), "no key was set: {stdout}");
}

#[tokio::test]
async fn check_names_the_bad_setting_and_fails() {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    writeln!(
        file,
        "[store]\nurl = \"memory\"\n[model]\ntemperature = 9.5"
    )
    .unwrap();
    let run = natter(&file, &["check"], "", "warn").await;
    assert!(!run.success);
    assert!(run.stderr.contains("model.temperature"), "{}", run.stderr);
}

#[tokio::test]
async fn shipped_plugins_are_enabled_from_settings() {
    let fake = FakeOpenAi::start().await;
    let mut file = config(&fake);
    writeln!(
        file,
        "\n[plugins.generate]\nenabled = true\n\n[plugins.notes]\nenabled = false"
    )
    .unwrap();
    fake.reply("The sea is wide,\nthe sea is deep.");
    let run = natter(
        &file,
        &[],
        "/help\n/write poem the sea --words 20\n/remember x\n",
        "warn",
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains("/write"), "{}", run.stdout);
    assert!(
        run.stdout.contains("The sea is wide,\nthe sea is deep."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Unknown command /remember"),
        "disabled plugin: {}",
        run.stdout
    );
    let prompt = fake.requests()[0].body["messages"].to_string();
    assert!(
        prompt.contains("poem") && prompt.contains("the sea") && prompt.contains("20"),
        "{prompt}"
    );

    let mut typo = config(&fake);
    writeln!(typo, "\n[plugins.genrate]\nenabled = true").unwrap();
    let run = natter(&typo, &["check"], "", "warn").await;
    assert!(!run.success);
    assert!(run.stderr.contains("plugins.genrate"), "{}", run.stderr);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_the_reply_in_flight_finish() {
    let fake = FakeOpenAi::start().await;
    let config = config(&fake);
    fake.set_chunk_delay(std::time::Duration::from_millis(100));
    fake.reply("one two three four five six seven eight nine ten");
    let mut child = common::spawn(config.path(), &[], "warn");
    // Keep stdin open: only the signal ends this session.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"count to ten\n").await.unwrap();
    fake.wait_for_requests(1).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout, "one two three four five six seven eight nine ten\n");
    drop(stdin);
}

#[tokio::test]
async fn support_answers_from_the_knowledge_base_and_offers_a_human_otherwise() {
    let fake = FakeOpenAi::start().await;
    let mut file = config(&fake);
    let docs = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plugins/support/tests/fixtures/kb"
    );
    writeln!(
        file,
        "\n[plugins.support]\nenabled = true\ndocs = \"{docs}\""
    )
    .unwrap();
    fake.reply("Express delivery arrives the next working day [1].");
    let run = natter(
        &file,
        &[],
        "How long does express delivery take?\nWhat is the capital of Peru?\n",
        "warn",
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("Express delivery arrives the next working day [1]."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("/human"), "declined: {}", run.stdout);
    assert_eq!(
        fake.requests().len(),
        1,
        "the unknown question never reached the model"
    );
    let system = &fake.messages(0)[0].1;
    assert!(
        system.contains("[1]") && system.contains("shipping.md") && system.contains("Express"),
        "{system}"
    );
}

#[tokio::test]
async fn a_reminder_set_in_the_console_arrives_while_natter_runs() {
    use tokio::io::AsyncBufReadExt;

    let fake = FakeOpenAi::start().await;
    let mut file = config(&fake);
    writeln!(file, "\n[plugins.remind]\nenabled = true").unwrap();
    let mut child = common::spawn(file.path(), &[], "warn");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let set_at = std::time::Instant::now();
    stdin
        .write_all(b"/remind 2s stretch your legs\n")
        .await
        .unwrap();
    let confirmation = lines.next_line().await.unwrap().unwrap();
    assert!(
        confirmation.starts_with("⏰ Reminder #1 set for"),
        "{confirmation}"
    );
    let delivered = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("natter still runs");
            if line.contains("reminder:") {
                return line;
            }
        }
    })
    .await
    .expect("the reminder arrives");
    assert!(
        delivered.ends_with("reminder: stretch your legs"),
        "{delivered}"
    );
    assert!(set_at.elapsed() >= std::time::Duration::from_secs(2));
    drop(stdin);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn moderation_refuses_input_and_redacts_the_reply() {
    let fake = FakeOpenAi::start().await;
    let mut file = config(&fake);
    writeln!(
        file,
        r#"
[plugins.moderation]
enabled = true
input = {{ words = ["darn"], action = "refuse" }}
output = {{ words = ["launch code"], action = "redact" }}
"#
    )
    .unwrap();
    fake.reply("The launch code is 1234.");
    let run = natter(&file, &[], "oh darn it\nwhat is the code?\n", "warn").await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Sorry, I can't help with that.\nThe [removed] is 1234.\n"
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "the refused message never reached the model"
    );
}

#[tokio::test]
async fn json_lines_pair_inputs_with_replies_and_escapes_stay_text() {
    let fake = FakeOpenAi::start().await;
    fake.reply("two\nlines \u{1b}]0;pwned\u{7}");
    let config = config(&fake);
    let run = natter(
        &config,
        &["chat", "--jsonl"],
        "first\n\n/nope\nlast\n",
        "warn",
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"input": "first", "replies": ["two\nlines ^[]0;pwned^G"]}),
            serde_json::json!({"input": "/nope", "replies": ["Unknown command /nope — try /help."]}),
            serde_json::json!({"input": "last", "replies": ["echo: last"]}),
        ]
    );
}

#[tokio::test]
async fn check_says_where_the_context_window_came_from_and_hides_url_credentials() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(Server::Ollama {
        model: "llama3.2".into(),
        context_length: 131_072,
        num_ctx: Some(2048),
    });
    let base_url = fake
        .base_url()
        .replacen("http://", "http://natter:url-secret-9Kd@", 1);
    let mut config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        config,
        "[store]\nurl = \"memory\"\n[model]\nbackend = \"openai\"\n\
         [model.openai]\nbase_url = \"{base_url}\"\nmodel = \"llama3.2\"\n"
    )
    .unwrap();
    let check = natter(&config, &["check"], "", "info").await;
    assert!(check.success, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("openai / llama3.2 (context 2048 tokens, discovered from Ollama)"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("base_url = \"http://[redacted]@127.0.0.1"),
        "{}",
        check.stdout
    );
    assert!(
        !check.stdout.contains("url-secret-9Kd") && !check.stderr.contains("url-secret-9Kd"),
        "{}\n{}",
        check.stdout,
        check.stderr
    );

    let run = natter(&config, &[], "hello\n", "warn").await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout, "echo: hello\n");
    assert_eq!(
        fake.requests()[0].authorizations,
        ["Bearer url-secret-9Kd"],
        "the URL's password is the key"
    );
}

#[tokio::test]
async fn check_creates_migrates_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/natter.db");
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        "[store]\nurl = \"sqlite://{}\"\n\n[model]\nbackend = \"llama\"\n\n[model.llama]\npath = \"/nonexistent/model.gguf\"\n",
        db.display()
    )
    .unwrap();
    let run = natter(&file, &["check"], "", "warn").await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains("will be created at start"),
        "{}",
        run.stdout
    );
    assert!(!db.exists(), "the database file was created");
    assert!(
        !dir.path().join("data").exists(),
        "its directory was created"
    );
    assert!(
        run.stdout
            .contains("model:     llama / model (context 2048 tokens"),
        "the local model's file was not needed: {}",
        run.stdout
    );
}
