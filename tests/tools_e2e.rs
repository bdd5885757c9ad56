//! End to end: the `natter` binary asked in plain words, the fake OpenAI
//! server scripted to call the reminders' tool — the reminder is set by the
//! model and arrives while natter runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::time::{Duration, Instant};

mod common;

use natter_test_support::openai::FakeOpenAi;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[tokio::test]
async fn remind_me_in_two_seconds_to_stretch() {
    let fake = FakeOpenAi::start().await;
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        r#"
[store]
url = "memory"

[model]
backend = "openai"

[model.openai]
base_url = "{}"
model = "gpt-4o-mini"
api_key = "sk-e2e"
max_retries = 0

[plugins.remind]
enabled = true
"#,
        fake.base_url()
    )
    .unwrap();
    fake.call_tools(&[("remind_set", r#"{"when":"in 2 seconds","text":"stretch"}"#)]);
    fake.reply("Done: I'll remind you in 2 seconds to stretch.");

    let mut child = common::spawn(file.path(), &["chat"], "warn");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let asked_at = Instant::now();
    stdin
        .write_all(b"remind me in 2 seconds to stretch\n")
        .await
        .unwrap();
    let answer = lines.next_line().await.unwrap().unwrap();
    assert_eq!(answer, "Done: I'll remind you in 2 seconds to stretch.");

    // The model was offered the tools, called remind_set, and read its result.
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let offered = requests[0].tool_names();
    assert!(offered.contains(&"remind_set".to_owned()), "{offered:?}");
    let result = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(result["role"], "tool");
    let text = result["content"].as_str().unwrap();
    assert!(text.starts_with("⏰ Reminder #1 set for"), "{text}");

    let delivered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("natter still runs");
            if line.contains("reminder:") {
                return line;
            }
        }
    })
    .await
    .expect("the reminder arrives");
    assert!(delivered.ends_with("reminder: stretch"), "{delivered}");
    assert!(asked_at.elapsed() >= Duration::from_secs(2));
    drop(stdin);
    assert!(child.wait().await.unwrap().success());
}
