//! End to end: long replies, streaming under Telegram's flood limits, the
//! outbox's error handling, start-up failures and webhook mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, WITHIN, settings_for};
use natter_core::test_utils::{ScriptedBackend, Step};
use natter_core::{ChannelRef, Engine, MessageId, Outbox, Rendered, TextFormat};
use natter_telegram::{RateSettings, TelegramError, TelegramOutbox};
use natter_test_support::telegram::updates::{self, *};
use natter_test_support::telegram::{BOT_USERNAME, FakeTelegram, Limits, TOKEN, parse_html};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const ALICE: i64 = 2001;
const GROUP: i64 = -100_700;

/// A reply of about `len` characters: numbered sentences in paragraphs, with
/// characters that need escaping and some outside the BMP.
fn long_reply(len: usize, tag: &str) -> String {
    let mut text = String::new();
    let mut n = 0;
    while text.chars().count() < len {
        n += 1;
        text.push_str(&format!("{tag} sentence {n} says a < b & c > d 😀. "));
        if n % 6 == 0 {
            text.push_str("\n\n");
        }
    }
    text.trim_end().to_owned()
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

#[tokio::test]
async fn a_10000_character_reply_arrives_complete_in_ordered_parts() {
    let h = Harness::with(|s| {
        s.rate.chat_window_ms = 100;
    })
    .await;
    let reply = long_reply(10_000, "Long");
    h.backend.reply(reply.clone());
    let id = h.fake.next_message_id();
    h.inject(updates::text(
        id,
        private_chat(ALICE, "Alice"),
        user(ALICE, "Alice"),
        "tell me everything",
    ));
    let expected = words(&reply);
    let done = |shown: &str| words(shown) == expected;
    let visible = |messages: &[natter_test_support::telegram::BotMessage]| {
        messages
            .iter()
            .map(|m| parse_html(&m.text).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    h.fake
        .wait_for(WITHIN, |_| done(&visible(&h.fake.messages(ALICE))))
        .await;
    let messages = h.fake.messages(ALICE);
    assert!(messages.len() >= 3, "{} parts", messages.len());
    for (i, m) in messages.iter().enumerate() {
        let shown = parse_html(&m.text).unwrap();
        assert!(shown.encode_utf16().count() <= 4096, "part {i} too long");
        assert_eq!(m.reply_to.is_some(), i == 0, "only the first part replies");
    }
    assert_eq!(h.fake.too_many_requests(), 0);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn streaming_20_long_replies_into_one_group_draws_no_429() {
    // Telegram's limits with shorter windows (so the test takes seconds, not
    // minutes), enforced by the fake as the adapter is told them.
    let rate = RateSettings {
        chat: 1,
        chat_window_ms: 100,
        group: 20,
        group_window_ms: 2_000,
        ..RateSettings::default()
    };
    // Twenty long replies overflow the window: a background summary would
    // take one of the scripted replies.
    let h = Harness::with_engine(
        |s| s.rate = rate.clone(),
        |b| {
            b.settings(natter_core::EngineSettings {
                summarize: false,
                ..natter_core::EngineSettings::default()
            })
        },
    )
    .await;
    h.fake.enforce(Limits {
        per_chat: Some((1, Duration::from_millis(100))),
        per_group: Some((20, Duration::from_millis(2_000))),
        // Requests are counted when they arrive, the pacer counts when they leave.
        tolerance: Duration::from_millis(50),
    });
    let replies: Vec<String> = (0..20)
        .map(|i| format!("{} END-{i}.", long_reply(4_500, &format!("R{i}"))))
        .collect();
    for reply in &replies {
        // Streamed in 10 chunks, 10 ms apart.
        let chars: Vec<char> = reply.chars().collect();
        let steps = chars
            .chunks(chars.len().div_ceil(10))
            .flat_map(|c| {
                [
                    Step::Delay(Duration::from_millis(10)),
                    Step::Delta(c.iter().collect()),
                ]
            })
            .collect();
        h.backend.script(steps);
    }
    for i in 0..20 {
        let text = format!("@{BOT_USERNAME} question {i}");
        let update = updates::text(
            h.fake.next_message_id(),
            group_chat(GROUP, "Busy group", false),
            user(3000 + i, "Member"),
            &text,
        );
        h.fake
            .inject(with_entity(update, "mention", &format!("@{BOT_USERNAME}")));
    }
    let finished = |i: usize| {
        let marker = format!("END-{i}.");
        h.fake
            .messages(GROUP)
            .iter()
            .any(|m| parse_html(&m.text).unwrap().trim_end().ends_with(&marker))
    };
    h.fake
        .wait_for(Duration::from_secs(180), |_| (0..20).all(finished))
        .await;
    let writes = h.fake.calls().iter().filter(|c| c.is_write()).count();
    let edits = h.fake.calls_to("editMessageText").len();
    assert!(edits > 0, "nothing was streamed");
    assert_eq!(h.fake.too_many_requests(), 0, "{writes} writes drew 429s");
    // Every reply is there in full, in order of the questions.
    let all: String = h
        .fake
        .messages(GROUP)
        .iter()
        .map(|m| parse_html(&m.text).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let expected: Vec<&str> = replies.iter().flat_map(|r| words(r)).collect();
    assert_eq!(words(&all), expected);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn the_outbox_treats_not_modified_as_success_and_reports_retry_after() {
    let fake = FakeTelegram::start().await;
    let bot = teloxide::Bot::new(TOKEN).set_api_url(fake.api_url().parse().unwrap());
    let outbox = TelegramOutbox::new(bot, natter_telegram::TelegramSettings::default().limits());
    let chat = ChannelRef::private(natter_telegram::PLATFORM, ALICE.to_string());
    let html = Rendered::new("<b>same</b>", TextFormat::Html);
    let id = outbox.send(&chat, &html, None).await.unwrap();
    outbox.edit(&chat, &id, &html).await.unwrap();
    assert_eq!(fake.calls_to("editMessageText")[0].status, 400);

    fake.fail_next(
        "editMessageText",
        natter_test_support::telegram::Failure::RetryAfter(7),
    );
    let changed = Rendered::plain("changed");
    assert_eq!(
        outbox.edit(&chat, &id, &changed).await,
        Err(natter_core::DeliveryError::RetryAfter(Duration::from_secs(
            7
        )))
    );
    fake.fail_next(
        "editMessageText",
        natter_test_support::telegram::Failure::CantParseEntities,
    );
    outbox
        .edit(&chat, &id, &html_with_entities())
        .await
        .unwrap();
    assert_eq!(fake.messages(ALICE)[0].text, "a < b");
    assert!(matches!(
        outbox
            .edit(&chat, &MessageId("999999".into()), &changed)
            .await,
        Err(natter_core::DeliveryError::Rejected(_))
    ));
}

fn html_with_entities() -> Rendered {
    Rendered::new("<i>a &lt; b</i>", TextFormat::Html)
}

fn engine() -> Engine {
    Engine::builder(Arc::new(ScriptedBackend::new()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_bad_token_fails_fast_with_a_clear_error() {
    let fake = FakeTelegram::start().await;
    let mut settings = settings_for(&fake);
    settings.token = Some(SecretString::from("999:WRONG"));
    let result = tokio::time::timeout(
        WITHIN,
        natter_telegram::run(settings, engine(), CancellationToken::new()),
    )
    .await
    .unwrap();
    assert_eq!(result, Err(TelegramError::InvalidToken));
    assert!(!result.unwrap_err().to_string().contains("WRONG"));
}

#[tokio::test]
async fn an_unreachable_api_fails_fast_without_leaking_the_token() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = natter_telegram::TelegramSettings {
        token: Some(SecretString::from(TOKEN)),
        api_url: url.clone(),
        ..Default::default()
    };
    let error = tokio::time::timeout(
        WITHIN,
        natter_telegram::run(settings, engine(), CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(&error, TelegramError::Unreachable { api_url, .. } if *api_url == url),
        "{error}"
    );
    assert!(!error.to_string().contains("TEST-token"), "{error}");
}

#[tokio::test]
async fn webhook_mode_receives_updates_and_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = Harness::with(|s| {
        s.webhook_url = Some(format!("http://127.0.0.1:{port}/telegram"));
        s.webhook_listen = format!("127.0.0.1:{port}");
        s.webhook_secret = Some(SecretString::from("shared-secret_1"));
    })
    .await;
    let (url, secret) = h.fake.webhook().unwrap();
    assert!(url.ends_with("/telegram"));
    assert_eq!(secret.as_deref(), Some("shared-secret_1"));
    assert!(
        h.fake.calls_to("getUpdates").is_empty(),
        "polled in webhook mode"
    );
    let forged = h
        .fake
        .deliver_webhook_with(
            updates::text(
                h.fake.next_message_id(),
                private_chat(ALICE, "Alice"),
                user(ALICE, "Alice"),
                "forged",
            ),
            Some("wrong-secret".into()),
        )
        .await;
    assert_eq!(forged, 401, "a post without the secret was accepted");
    h.backend.reply("Hello by webhook.");
    let id = h.fake.next_message_id();
    let status = h
        .fake
        .deliver_webhook(updates::text(
            id,
            private_chat(ALICE, "Alice"),
            user(ALICE, "Alice"),
            "hi",
        ))
        .await;
    assert_eq!(status, 200);
    let reply = h.reply_to(id).await;
    assert_eq!(reply.text(), Some("Hello by webhook."));
    assert_eq!(
        h.backend.requests().len(),
        1,
        "the forged update was answered"
    );
    h.stop().await.unwrap();
}
