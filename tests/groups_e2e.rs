//! End to end: a group operator's day with the real `natter` binary against
//! the fake Bot API and a fake OpenAI server — one group set to answer every
//! message, another answering only mentions, and the settings file edited
//! while natter runs: a new persona text reaches the next prompt, a broken
//! file is refused, a restart-only change is named, `SIGHUP` rereads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use natter_test_support::openai::FakeOpenAi;
use natter_test_support::telegram::{BOT_USERNAME, FakeTelegram, TOKEN, updates};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// Long enough for a slow CI machine, short enough to fail a hung test.
const WITHIN: Duration = Duration::from_secs(60);
const OPEN: i64 = -100_111;
const QUIET: i64 = -100_222;

fn settings(telegram: &FakeTelegram, openai: &FakeOpenAi, persona: &str, extra: &str) -> String {
    format!(
        "[store]\nurl = \"memory\"\n\n\
         [model]\nbackend = \"openai\"\nmax_tokens = 64\n\n\
         [model.openai]\nbase_url = \"{openai}\"\nmodel = \"gpt-4o-mini\"\nmax_retries = 0\n\n\
         [persona]\ndefault = \"host\"\n\n\
         [personas.host]\nsystem = \"{persona}\"\n\n\
         [triggers.places.\"telegram:{OPEN}\"]\nanswer = \"all\"\n\n\
         [telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api}\"\nstreaming = false\n{extra}\n\
         [telegram.rate]\nchat = 0\ngroup = 0\nglobal = 0\n",
        openai = openai.base_url(),
        api = telegram.api_url(),
    )
}

/// natter's log, line by line, as it writes it.
struct Log(mpsc::UnboundedReceiver<String>);

impl Log {
    /// Waits for a line containing every one of `needles`; returns it.
    async fn wait_for(&mut self, needles: &[&str]) -> String {
        let found = tokio::time::timeout(WITHIN, async {
            while let Some(line) = self.0.recv().await {
                if needles.iter().all(|needle| line.contains(needle)) {
                    return line;
                }
            }
            panic!("natter exited before logging {needles:?}");
        })
        .await;
        found.unwrap_or_else(|_| panic!("natter never logged {needles:?}"))
    }
}

fn group_message(n: i64, chat: i64, text: &str) -> Value {
    updates::text(
        n,
        updates::group_chat(chat, "Group", false),
        updates::user(7, "Alice"),
        text,
    )
}

/// Waits until `chat` has had `n` answers; returns their texts.
async fn answers(telegram: &FakeTelegram, chat: i64, n: usize) -> Vec<String> {
    let calls = telegram
        .wait_for(WITHIN, |calls| {
            calls
                .iter()
                .filter(|c| c.method == "sendmessage" && c.ok() && c.chat() == Some(chat))
                .count()
                >= n
        })
        .await;
    calls
        .iter()
        .filter(|c| c.method == "sendmessage" && c.ok() && c.chat() == Some(chat))
        .filter_map(|c| c.text().map(str::to_owned))
        .collect()
}

/// The system prompt of the newest request to the model.
fn newest_system_prompt(openai: &FakeOpenAi) -> String {
    let newest = openai.requests().len() - 1;
    openai
        .messages(newest)
        .into_iter()
        .find(|(role, _)| role == "system")
        .map(|(_, content)| content)
        .unwrap_or_default()
}

fn rewrite(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
}

#[tokio::test]
async fn a_group_set_to_all_answers_chatter_and_an_edited_persona_reaches_the_next_prompt() {
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    rewrite(
        config.path(),
        &settings(&telegram, &openai, "You are Ada.", ""),
    );
    let mut child = common::spawn(config.path(), &[], "warn,natter=info");
    let (lines, log) = mpsc::unbounded_channel();
    let stderr = child.stderr.take().unwrap();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Log(log);
    telegram
        .wait_for(WITHIN, |calls| {
            calls.iter().any(|c| c.method == "getupdates")
        })
        .await;

    // The open group: chatter nobody addressed to the bot is answered.
    telegram.inject(group_message(1, OPEN, "hello everyone"));
    assert_eq!(answers(&telegram, OPEN, 1).await, ["echo: hello everyone"]);
    assert_eq!(newest_system_prompt(&openai), "You are Ada.");

    // The quiet group: chatter is not; a mention after it is, and the model
    // only ever saw the mention (a chat's messages are handled in order).
    telegram.inject(group_message(2, QUIET, "just chatting"));
    let mention = format!("@{BOT_USERNAME} what time is it?");
    telegram.inject(updates::with_entity(
        group_message(3, QUIET, &mention),
        "mention",
        &format!("@{BOT_USERNAME}"),
    ));
    assert_eq!(
        answers(&telegram, QUIET, 1).await,
        ["echo: what time is it?"]
    );
    assert_eq!(
        openai.requests().len(),
        2,
        "the chatter never reached the model"
    );

    // The persona's text is edited while natter runs.
    rewrite(
        config.path(),
        &settings(&telegram, &openai, "You are Grace.", ""),
    );
    log.wait_for(&["settings reloaded", "personas"]).await;
    telegram.inject(group_message(4, OPEN, "and now?"));
    answers(&telegram, OPEN, 2).await;
    assert_eq!(newest_system_prompt(&openai), "You are Grace.");

    // A broken file is refused, naming the key; the settings in force stay.
    let broken = settings(&telegram, &openai, "You are Hopper.", "")
        .replace("default = \"host\"", "default = \"ghost\"");
    rewrite(config.path(), &broken);
    let refused = log.wait_for(&["settings not reloaded"]).await;
    assert!(refused.contains("persona.default"), "{refused}");
    telegram.inject(group_message(5, OPEN, "still there?"));
    answers(&telegram, OPEN, 3).await;
    assert_eq!(newest_system_prompt(&openai), "You are Grace.");

    // A key that needs a restart is named as such.
    rewrite(
        config.path(),
        &settings(
            &telegram,
            &openai,
            "You are Grace.",
            "drop_pending_updates = true",
        ),
    );
    let restart = log.wait_for(&["only at the next start"]).await;
    assert!(
        restart.contains("telegram.drop_pending_updates"),
        "{restart}"
    );

    // SIGHUP rereads the file (unchanged now).
    let pid = child.id().unwrap().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    log.wait_for(&["nothing changed", "SIGHUP"]).await;

    // A troll is blocked without a restart.
    rewrite(
        config.path(),
        &settings(
            &telegram,
            &openai,
            "You are Grace.",
            "drop_pending_updates = true\nblocked_users = [7]",
        ),
    );
    log.wait_for(&["settings reloaded", "telegram.blocked_users"])
        .await;
    telegram.inject(group_message(6, OPEN, "ignored?"));
    let mut from_bob = group_message(7, OPEN, "me?");
    from_bob["message"]["from"] = updates::user(8, "Bob");
    telegram.inject(from_bob);
    let answered = answers(&telegram, OPEN, 4).await;
    assert_eq!(answered.last().map(String::as_str), Some("echo: me?"));
    assert!(
        !answered.iter().any(|a| a.contains("ignored")),
        "{answered:?}"
    );

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
