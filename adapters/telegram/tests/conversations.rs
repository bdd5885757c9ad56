//! End to end: the real adapter and engine (scripted model) against the fake
//! Bot API — private chats, groups, commands, topics, bots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, WITHIN};
use natter_core::Role;
use natter_test_support::telegram::updates::{self, *};
use natter_test_support::telegram::{BOT_USERNAME, Failure};
use serde_json::{Value, json};

const ALICE: i64 = 1001;
const BOB: i64 = 1002;
const GROUP: i64 = -100_500;

fn alice() -> Value {
    user(ALICE, "Alice")
}

fn private_text(h: &Harness, text: &str) -> Value {
    updates::text(
        h.fake.next_message_id(),
        private_chat(ALICE, "Alice"),
        alice(),
        text,
    )
}

fn group_text(h: &Harness, from: Value, text: &str, forum: bool) -> Value {
    updates::text(
        h.fake.next_message_id(),
        group_chat(GROUP, "Friends", forum),
        from,
        text,
    )
}

fn mention(h: &Harness, text: &str) -> Value {
    let text = format!("@{BOT_USERNAME} {text}");
    with_entity(
        group_text(h, alice(), &text, false),
        "mention",
        &format!("@{BOT_USERNAME}"),
    )
}

#[tokio::test]
async fn a_private_conversation_keeps_its_history() {
    let h = Harness::start().await;
    h.backend.reply("Nice to meet you, Alice.");
    let first = h.inject(private_text(&h, "Hi, I'm Alice"));
    let reply = h.reply_to(first).await;
    assert_eq!(reply.chat(), Some(ALICE));

    h.backend.reply("You are Alice.");
    let second = h.inject(private_text(&h, "Who am I?"));
    h.reply_to(second).await;
    let request = h.backend.last_request();
    let said: Vec<(Role, &str)> = request
        .messages
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert!(said.contains(&(Role::User, "Hi, I'm Alice")), "{said:?}");
    assert!(
        said.contains(&(Role::Assistant, "Nice to meet you, Alice.")),
        "{said:?}"
    );
    assert_eq!(said.last(), Some(&(Role::User, "Who am I?")));
    // The user sees the final text, as HTML, in the reply message.
    let shown = h.fake.messages(ALICE);
    assert_eq!(shown.last().unwrap().text, "You are Alice.");
    assert_eq!(shown.last().unwrap().parse_mode.as_deref(), Some("HTML"));
    h.stop().await.unwrap();
}

#[tokio::test]
async fn group_messages_are_answered_only_when_addressed() {
    let h = Harness::start().await;
    // Chatter first: same conversation, so it is handled before what follows.
    let chatter = h.inject(group_text(&h, alice(), "lunch anyone?", false));
    h.backend.reply("Answer to the mention.");
    let mentioned = h.inject(mention(&h, "what is 2+2?"));
    h.reply_to(mentioned).await;
    assert_eq!(
        h.backend.requests().len(),
        1,
        "the chatter reached the model"
    );
    let request = h.backend.last_request();
    let asked = request.messages.last().unwrap();
    assert_eq!(asked.content, "what is 2+2?", "mention not stripped");
    assert_eq!(
        asked.name.as_deref(),
        Some("Alice"),
        "speaker not named in a group"
    );

    // A reply to the bot's message is answered too.
    let bot_message = h.fake.messages(GROUP).last().unwrap().id;
    h.backend.reply("Answer to the reply.");
    let reply = with(
        group_text(&h, user(BOB, "Bob"), "and 3+3?", false),
        "reply_to_message",
        json!({
            "message_id": bot_message, "date": 1_700_000_000,
            "chat": group_chat(GROUP, "Friends", false), "from": me(),
            "text": "Answer to the mention."
        }),
    );
    let replied = h.inject(reply);
    h.reply_to(replied).await;
    assert_eq!(h.backend.requests().len(), 2);
    assert!(
        h.fake
            .calls()
            .iter()
            .all(|c| !common::is_reply_to(c, chatter)),
        "the chatter was answered"
    );
    h.stop().await.unwrap();
}

#[tokio::test]
async fn help_with_the_bot_name_works_in_groups() {
    let h = Harness::start().await;
    let registered = h.fake.calls_to("setMyCommands");
    let names: Vec<&str> = registered[0].params["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"help") && names.contains(&"reset"),
        "{names:?}"
    );

    let command = format!("/help@{BOT_USERNAME}");
    let help = with_entity(
        group_text(&h, alice(), &command, false),
        "bot_command",
        &command,
    );
    let id = h.inject(help);
    let reply = h.reply_to(id).await;
    assert!(
        reply.text().unwrap().contains("/reset"),
        "{:?}",
        reply.text()
    );
    // A command for another bot is not ours.
    let other = with_entity(
        group_text(&h, alice(), "/help@other_bot", false),
        "bot_command",
        "/help@other_bot",
    );
    let other_id = h.inject(other);
    h.backend.reply("mention answer");
    let mentioned = h.inject(mention(&h, "hello"));
    h.reply_to(mentioned).await;
    assert!(
        h.fake
            .calls()
            .iter()
            .all(|c| !common::is_reply_to(c, other_id)),
        "answered another bot's command"
    );
    h.stop().await.unwrap();
}

#[tokio::test]
async fn forum_topics_are_separate_conversations_answered_in_place() {
    let h = Harness::start().await;
    let in_topic = |h: &Harness, topic: i64, text: &str| {
        let full = format!("@{BOT_USERNAME} {text}");
        let update = group_text(h, alice(), &full, true);
        let update = with_entity(update, "mention", &format!("@{BOT_USERNAME}"));
        updates::in_topic(update, topic)
    };
    h.backend.reply("Topic ten, noted.");
    let a = h.inject(in_topic(&h, 10, "remember: ten"));
    let reply_a = h.reply_to(a).await;
    assert_eq!(reply_a.params["message_thread_id"], json!(10));

    h.backend.reply("Topic twenty here.");
    let b = h.inject(in_topic(&h, 20, "what did I say?"));
    let reply_b = h.reply_to(b).await;
    assert_eq!(reply_b.params["message_thread_id"], json!(20));
    let request = h.backend.last_request();
    assert!(
        request.messages.iter().all(|m| !m.content.contains("ten")),
        "topic 20 saw topic 10's history: {:?}",
        request.messages
    );
    // Typing shows in the topic too.
    assert!(
        h.fake
            .calls_to("sendChatAction")
            .iter()
            .any(|c| c.params["message_thread_id"] == json!(20))
    );
    h.stop().await.unwrap();
}

#[tokio::test]
async fn messages_from_bots_are_ignored() {
    let h = Harness::start().await;
    let from_bot = updates::text(
        h.fake.next_message_id(),
        private_chat(ALICE, "Alice"),
        bot_user(777, "loop_bot"),
        "I am a bot",
    );
    let ignored = h.inject(from_bot);
    h.backend.reply("Hello human.");
    let human = h.inject(private_text(&h, "I am human"));
    h.reply_to(human).await;
    assert_eq!(h.backend.requests().len(), 1);
    assert!(
        h.fake
            .calls()
            .iter()
            .all(|c| !common::is_reply_to(c, ignored))
    );
    h.stop().await.unwrap();
}

#[tokio::test]
async fn blocked_users_and_chats_are_ignored_silently() {
    let h = Harness::with(|s| {
        s.blocked_users = vec![BOB];
        s.blocked_chats = vec![GROUP];
    })
    .await;
    let from_bob = updates::text(
        h.fake.next_message_id(),
        private_chat(BOB, "Bob"),
        user(BOB, "Bob"),
        "/help",
    );
    let ignored_private = h.inject(from_bob);
    let ignored_group = h.inject(mention(&h, "anyone there?"));
    h.backend.reply("Hello Alice.");
    // Updates are translated in order: by Alice's reply, the others were
    // either handed to the engine or dropped.
    let answered = h.inject(private_text(&h, "hello"));
    h.reply_to(answered).await;
    assert_eq!(
        h.engine.stats().last_hour().received,
        1,
        "only Alice's message reached the engine"
    );
    assert_eq!(
        h.backend.requests().len(),
        1,
        "only Alice reached the model"
    );
    assert!(h.fake.calls().iter().all(|c| {
        !common::is_reply_to(c, ignored_private)
            && !common::is_reply_to(c, ignored_group)
            && c.chat() != Some(BOB)
            && c.chat() != Some(GROUP)
    }));
    h.stop().await.unwrap();
}

#[tokio::test]
async fn unparsable_html_falls_back_to_plain_text() {
    let h = Harness::with(|s| s.streaming = false).await;
    h.fake.fail_next("sendMessage", Failure::CantParseEntities);
    h.backend.reply("**Tom & Jerry** <3");
    let id = h.inject(private_text(&h, "cartoon?"));
    let sent = h.reply_to(id).await;
    assert_eq!(sent.text(), Some("Tom & Jerry <3"));
    assert_eq!(sent.params.get("parse_mode"), None);
    let attempts = h.fake.calls_to("sendMessage");
    assert_eq!(attempts.len(), 2, "one refused HTML attempt, one plain");
    assert_eq!(attempts[0].status, 400);
    assert_eq!(attempts[0].text(), Some("<b>Tom &amp; Jerry</b> &lt;3"));
    h.stop().await.unwrap();
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_reply_still_arrives() {
    let h = Harness::with(|s| s.streaming = false).await;
    h.fake.fail_next("sendMessage", Failure::RetryAfter(1));
    h.backend.reply("Patience pays.");
    let id = h.inject(private_text(&h, "hello"));
    let sent = h.reply_to(id).await;
    let attempts = h.fake.calls_to("sendMessage");
    assert_eq!(attempts[0].status, 429);
    assert!(
        sent.at.duration_since(attempts[0].at) >= std::time::Duration::from_secs(1),
        "retried before retry_after"
    );
    assert_eq!(sent.text(), Some("Patience pays."));
    h.stop().await.unwrap();
}

#[tokio::test]
async fn start_shows_help_and_shutdown_returns() {
    let h = Harness::start().await;
    let start = with_entity(private_text(&h, "/start"), "bot_command", "/start");
    let id = h.inject(start);
    let reply = h.reply_to(id).await;
    assert!(reply.text().unwrap().contains("/help"));
    assert!(h.backend.requests().is_empty());
    tokio::time::timeout(WITHIN, h.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_reply_that_renders_to_nothing_is_sent_as_plain_text() {
    let h = Harness::start().await;
    h.backend.reply("```");
    let asked = h.inject(private_text(&h, "show me a code block"));
    h.reply_to(asked).await;
    let shown = h.fake.messages(ALICE);
    let last = shown.last().unwrap();
    assert_eq!(last.text, "```", "not the placeholder: {shown:?}");
    assert_eq!(last.parse_mode, None);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn the_model_cannot_link_to_a_user() {
    let h = Harness::start().await;
    h.backend
        .reply("Ask [Bob](tg://user?id=1002) or see [the docs](https://example.com).");
    let asked = h.inject(mention(&h, "who knows?"));
    h.reply_to(asked).await;
    let shown = h.fake.messages(GROUP);
    let last = &shown.last().unwrap().text;
    assert_eq!(
        last,
        "Ask Bob or see <a href=\"https://example.com\">the docs</a>."
    );
    h.stop().await.unwrap();
}

#[tokio::test]
async fn a_photo_with_a_caption_is_said_to_be_unseen_and_the_caption_answered() {
    let h = Harness::start().await;
    h.backend.reply("It means the file is missing.");
    let mut photo = private_text(&h, "");
    let message = photo["message"].as_object_mut().unwrap();
    message.remove("text");
    message.insert("caption".into(), json!("what does this error mean?"));
    message.insert(
        "photo".into(),
        json!([
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853}
        ]),
    );
    let id = h.inject(photo);
    let calls = h
        .fake
        .wait_for(WITHIN, |calls| {
            calls
                .iter()
                .filter(|c| c.method == "sendmessage" && c.ok() && c.chat() == Some(ALICE))
                .count()
                >= 2
        })
        .await;
    let said: Vec<&str> = calls
        .iter()
        .filter(|c| c.method == "sendmessage" && c.ok() && c.chat() == Some(ALICE))
        .filter_map(|c| c.text())
        .collect();
    assert_eq!(
        said,
        [
            "I can't see pictures with this model, so I'm answering with what I have.",
            "It means the file is missing."
        ]
    );
    assert!(h.reply_to(id).await.ok());
    let request = h.backend.last_request();
    assert_eq!(
        request.messages.last().map(|m| m.content.as_str()),
        Some("what does this error mean?")
    );

    // A voice note alone: one sentence, no model.
    let mut voice = private_text(&h, "");
    let message = voice["message"].as_object_mut().unwrap();
    message.remove("text");
    message.insert(
        "voice".into(),
        json!({"file_id": "v1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}),
    );
    let id = h.inject(voice);
    let reply = h.reply_to(id).await;
    assert_eq!(
        reply.text(),
        Some("I can't listen to voice or audio messages here — please tell me in words.")
    );
    assert_eq!(h.backend.requests().len(), 1);
}

#[tokio::test]
async fn an_album_is_one_message_with_every_picture_and_one_answer() {
    let h = Harness::with_backend(
        natter_core::test_utils::ScriptedBackend::new().with_vision(),
        |_| {},
        |b| b,
    )
    .await;
    // Three pictures sent at once, the caption on the second (as Telegram
    // may send it), then a text after them.
    let mut first_id = 0;
    for (n, caption) in [None, Some("which of these is sharpest?"), None]
        .into_iter()
        .enumerate()
    {
        let file = h.fake.add_file(natter_core::test_utils::TINY_PNG);
        let mut part = updates::photo(
            h.fake.next_message_id(),
            private_chat(ALICE, "Alice"),
            alice(),
            &file,
            caption,
        );
        part["message"]["media_group_id"] = json!("13579");
        let id = h.inject(part);
        if n == 0 {
            first_id = id;
        }
    }
    let after = h.inject(private_text(&h, "thanks"));
    assert_eq!(
        h.reply_to(first_id).await.text(),
        Some("echo: which of these is sharpest?")
    );
    assert_eq!(h.reply_to(after).await.text(), Some("echo: thanks"));
    let requests = h.backend.requests();
    assert_eq!(
        requests.len(),
        2,
        "one answer for the album, one for the text"
    );
    let album = requests[0].messages.last().unwrap();
    assert_eq!(album.images.len(), 3, "every picture of the album");
    assert_eq!(requests[1].messages.last().unwrap().content, "thanks");
}
