//! Confirmations on Telegram, end to end: the real adapter and engine (a
//! scripted model calling a `confirm` tool) against the fake Bot API. The
//! question comes with ✅ Allow / ❌ Refuse buttons; only the asker's press
//! counts, every press is answered, the settled question loses its buttons,
//! and `/yes` still works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{Harness, WITHIN};
use natter_core::test_utils::Janitor;
use natter_core::{EngineBuilder, ToolSettings};
use natter_test_support::telegram::updates::{self, *};
use natter_test_support::telegram::{BOT_USERNAME, BotMessage, Call, parse_html};
use secrecy::SecretString;
use serde_json::Value;

const ALICE: i64 = 1001;
const BOB: i64 = 1002;
const GROUP: i64 = -100_700;
const ARGS: &str = r#"{"what":"the logs"}"#;
const ASKED: &str = "🔧 I'd like to run wipe with {\"what\":\"the logs\"}. Allow it?\n\nAlice, tap Allow or Refuse (or reply /yes or /no).";

struct Bot {
    h: Harness,
    janitor: Arc<Janitor>,
}

impl Bot {
    async fn start() -> Self {
        Self::with(|_| {}, ToolSettings::default()).await
    }

    async fn with(
        configure: impl FnOnce(&mut natter_telegram::TelegramSettings),
        tools: ToolSettings,
    ) -> Self {
        let janitor = Arc::new(Janitor::default());
        let plugin = Arc::clone(&janitor);
        let build = move |b: EngineBuilder| b.plugin(plugin, Value::Null).tools(tools);
        let h = Harness::with_engine(configure, build).await;
        Self { h, janitor }
    }

    fn wiped(&self) -> usize {
        self.janitor.wiped()
    }

    /// Alice asks in the group (mentioning the bot); the model calls `wipe`
    /// then says `answer`. Returns her message's id and the question.
    async fn ask_in_group(&self, answer: &str) -> (i64, BotMessage) {
        self.h.backend.call("wipe", ARGS);
        self.h.backend.reply(answer);
        let text = format!("@{BOT_USERNAME} wipe the logs");
        let update = with_entity(
            updates::text(
                self.h.fake.next_message_id(),
                group_chat(GROUP, "Ops", false),
                user(ALICE, "Alice"),
                &text,
            ),
            "mention",
            &format!("@{BOT_USERNAME}"),
        );
        let id = self.h.inject(update);
        (id, self.question(GROUP).await)
    }

    /// Waits for the question with buttons in `chat`.
    async fn question(&self, chat: i64) -> BotMessage {
        let fake = &self.h.fake;
        fake.wait_for(WITHIN, |_| {
            fake.messages(chat).iter().any(|m| !m.buttons().is_empty())
        })
        .await;
        fake.messages(chat)
            .into_iter()
            .find(|m| !m.buttons().is_empty())
            .unwrap()
    }

    /// Presses the button `label` of `question` as `who`; returns the toast.
    async fn press(&self, who: Value, question: &BotMessage, label: &str) -> Option<String> {
        let data = button(question, label);
        let query = self.h.fake.press(who, question.chat, question.id, &data);
        toast(&self.h.fake.wait_for_answer(&query, WITHIN).await)
    }

    /// Waits until `chat` holds a bot message reading `text` (as shown).
    async fn shown(&self, chat: i64, text: &str) -> BotMessage {
        let fake = &self.h.fake;
        let reads = |m: &BotMessage| visible(m) == text;
        fake.wait_for(WITHIN, |_| fake.messages(chat).iter().any(reads))
            .await;
        fake.messages(chat).into_iter().find(reads).unwrap()
    }
}

/// The text of `message` as Telegram shows it.
fn visible(message: &BotMessage) -> String {
    parse_html(&message.text).unwrap()
}

/// The callback data of the button labelled `label`.
fn button(question: &BotMessage, label: &str) -> String {
    question
        .buttons()
        .into_iter()
        .find(|(text, _)| text == label)
        .unwrap_or_else(|| panic!("no {label} button in {question:?}"))
        .1
}

fn toast(answer: &Call) -> Option<String> {
    answer
        .params
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test]
async fn the_asker_allows_by_button_and_only_the_asker() {
    let bot = Bot::start().await;
    let (asked, question) = bot.ask_in_group("The logs are gone.").await;
    assert_eq!(visible(&question), ASKED);
    assert!(question.text.contains("<code>wipe</code>"), "{question:?}");
    assert_eq!(question.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(question.reply_to, Some(asked));
    let buttons = question.buttons();
    let labels: Vec<&str> = buttons.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(labels, ["✅ Allow", "❌ Refuse"]);
    let (allow, refuse) = (&buttons[0].1, &buttons[1].1);
    assert!(
        allow.starts_with("natter:ap:") && allow.ends_with(":y"),
        "{allow}"
    );
    assert_eq!(refuse, &format!("{}n", &allow[..allow.len() - 1]));

    let by_bob = bot.press(user(BOB, "Bob"), &question, "✅ Allow").await;
    assert_eq!(by_bob.as_deref(), Some("Only Alice can answer this."));
    assert_eq!(bot.wiped(), 0, "Bob's press ran the tool");
    let still = &bot.h.fake.messages(GROUP)[..];
    assert!(
        still
            .iter()
            .any(|m| m.id == question.id && m.buttons().len() == 2),
        "Bob's press settled the question: {still:?}"
    );

    let by_alice = bot.press(user(ALICE, "Alice"), &question, "✅ Allow").await;
    assert_eq!(by_alice.as_deref(), Some("Allowed."));
    bot.shown(GROUP, "The logs are gone.").await;
    assert_eq!(bot.wiped(), 1);
    let settled = bot
        .h
        .fake
        .messages(GROUP)
        .into_iter()
        .find(|m| m.id == question.id)
        .unwrap();
    assert_eq!(
        visible(&settled),
        "✅ Alice allowed wipe with {\"what\":\"the logs\"}."
    );
    assert!(settled.buttons().is_empty(), "buttons left: {settled:?}");
    assert_eq!(
        bot.h
            .backend
            .last_request()
            .messages
            .last()
            .unwrap()
            .content,
        "wiped"
    );

    let again = bot.press(user(ALICE, "Alice"), &question, "✅ Allow").await;
    assert_eq!(
        again.as_deref(),
        Some("Nothing is waiting for your answer (it may have expired).")
    );
    assert_eq!(bot.wiped(), 1, "a second press ran it again");
    bot.h.stop().await.unwrap();
}

#[tokio::test]
async fn refuse_does_not_run_the_tool() {
    let bot = Bot::start().await;
    let (_, question) = bot.ask_in_group("Fine, I left them.").await;
    let toast = bot
        .press(user(ALICE, "Alice"), &question, "❌ Refuse")
        .await;
    assert_eq!(toast.as_deref(), Some("Refused."));
    bot.shown(GROUP, "Fine, I left them.").await;
    let settled = bot
        .shown(GROUP, "❌ Alice refused wipe with {\"what\":\"the logs\"}.")
        .await;
    assert!(settled.buttons().is_empty());
    assert_eq!(bot.wiped(), 0);
    let told = bot
        .h
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert!(told.starts_with("refused: Alice said no"), "{told}");
    bot.h.stop().await.unwrap();
}

#[tokio::test]
async fn a_press_after_expiry_finds_nothing_waiting() {
    let tools = ToolSettings {
        approval_timeout_secs: 1,
        ..ToolSettings::default()
    };
    let bot = Bot::with(|_| {}, tools).await;
    let (_, question) = bot.ask_in_group("Nobody answered.").await;
    let expired = bot
        .shown(
            GROUP,
            "⌛ No answer in time: wipe with {\"what\":\"the logs\"} was not run.",
        )
        .await;
    assert!(expired.buttons().is_empty(), "{expired:?}");
    // A client that still shows the buttons.
    let toast = bot.press(user(ALICE, "Alice"), &question, "✅ Allow").await;
    assert_eq!(
        toast.as_deref(),
        Some("Nothing is waiting for your answer (it may have expired).")
    );
    bot.shown(GROUP, "Nobody answered.").await;
    assert_eq!(bot.wiped(), 0);
    bot.h.stop().await.unwrap();
}

#[tokio::test]
async fn yes_still_answers_and_the_buttons_go() {
    let bot = Bot::start().await;
    bot.h.backend.call("wipe", ARGS);
    bot.h.backend.reply("Done by /yes.");
    bot.h.inject(updates::text(
        bot.h.fake.next_message_id(),
        private_chat(ALICE, "Alice"),
        user(ALICE, "Alice"),
        "wipe the logs",
    ));
    let question = bot.question(ALICE).await;
    let yes = with_entity(
        updates::text(
            bot.h.fake.next_message_id(),
            private_chat(ALICE, "Alice"),
            user(ALICE, "Alice"),
            "/yes",
        ),
        "bot_command",
        "/yes",
    );
    bot.h.inject(yes);
    bot.shown(ALICE, "Done by /yes.").await;
    assert_eq!(bot.wiped(), 1);
    let settled = bot
        .h
        .fake
        .messages(ALICE)
        .into_iter()
        .find(|m| m.id == question.id)
        .unwrap();
    assert!(settled.text.starts_with("✅ Alice allowed"), "{settled:?}");
    assert!(settled.buttons().is_empty());
    bot.h.stop().await.unwrap();
}

#[tokio::test]
async fn presses_from_outside_the_access_lists_and_foreign_buttons_reach_nothing() {
    let bot = Bot::with(|s| s.allowed_users = vec![ALICE], ToolSettings::default()).await;
    let (_, question) = bot.ask_in_group("Done.").await;
    // Bob may not use the bot here: his press is answered, silently.
    let by_bob = bot.press(user(BOB, "Bob"), &question, "✅ Allow").await;
    assert_eq!(by_bob, None, "Bob was told something");
    // Data natter never sent is answered, silently too.
    let query = bot
        .h
        .fake
        .press(user(ALICE, "Alice"), GROUP, question.id, "vote:42");
    let foreign = bot.h.fake.wait_for_answer(&query, WITHIN).await;
    assert!(foreign.ok());
    assert_eq!(toast(&foreign), None);
    assert_eq!(bot.wiped(), 0);

    let by_alice = bot.press(user(ALICE, "Alice"), &question, "✅ Allow").await;
    assert_eq!(by_alice.as_deref(), Some("Allowed."));
    bot.shown(GROUP, "Done.").await;
    assert_eq!(bot.wiped(), 1);
    bot.h.stop().await.unwrap();
}

#[tokio::test]
async fn webhook_mode_receives_presses() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bot = Bot::with(
        |s| {
            s.webhook_url = Some(format!("http://127.0.0.1:{port}/telegram"));
            s.webhook_listen = format!("127.0.0.1:{port}");
            s.webhook_secret = Some(SecretString::from("shared-secret_1"));
        },
        ToolSettings::default(),
    )
    .await;
    let fake = &bot.h.fake;
    bot.h.backend.call("wipe", ARGS);
    bot.h.backend.reply("Wiped by webhook.");
    let status = fake
        .deliver_webhook(updates::text(
            fake.next_message_id(),
            private_chat(ALICE, "Alice"),
            user(ALICE, "Alice"),
            "wipe the logs",
        ))
        .await;
    assert_eq!(status, 200);
    let question = bot.question(ALICE).await;
    let (query, press) = fake.callback_query(
        user(ALICE, "Alice"),
        ALICE,
        question.id,
        &button(&question, "✅ Allow"),
    );
    assert_eq!(fake.deliver_webhook(press).await, 200);
    let answer = fake.wait_for_answer(&query, WITHIN).await;
    assert_eq!(toast(&answer).as_deref(), Some("Allowed."));
    bot.shown(ALICE, "Wiped by webhook.").await;
    assert_eq!(bot.wiped(), 1);
    bot.h.stop().await.unwrap();
}
