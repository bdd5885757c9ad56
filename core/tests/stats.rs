//! What `Engine::stats` reads — connections adapters report, replies in
//! flight, messages waiting, the minute's activity — and the persona a
//! dashboard chooses for one conversation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use natter_core::test_utils::{TEST_PLATFORM, TestBot};
use natter_core::{Connection, ModelError, Persona, PersonaSettings, Personas};

#[tokio::test(start_paused = true)]
async fn stats_follow_replies_in_flight_waiting_messages_and_failures() {
    let bot = TestBot::new();
    let stats = bot.engine.stats();
    assert_eq!(
        stats.platform(TEST_PLATFORM).map(|p| &p.connection),
        Some(&Connection::Connected),
        "attaching counts as connected"
    );
    assert_eq!((stats.in_flight, stats.queued), (0, 0));

    bot.backend
        .reply_chunks(&["slow ", "reply"], Duration::from_secs(5));
    let first = bot.inbox.submit(bot.private("one"));
    let second = bot.inbox.submit(bot.private("two"));
    bot.backend.wait_for_requests(1).await;
    let busy = bot.engine.stats();
    assert_eq!(busy.in_flight, 1, "one reply being made");
    assert_eq!(busy.queued, 1, "the second waits its turn");
    assert_eq!(busy.active_conversations, 1);
    first.handled().await;
    second.handled().await;

    bot.backend.fail(ModelError::Unavailable("down".into()));
    bot.say("three").await;
    let idle = bot.engine.stats();
    assert_eq!((idle.in_flight, idle.queued), (0, 0));
    let minute = idle.minutes.last().copied().unwrap_or_default();
    assert_eq!(minute.received, 3);
    assert_eq!(minute.replies, 3);
    assert_eq!(minute.errors, 1, "the failed reply");

    bot.inbox
        .set_connection(Connection::Disconnected("gateway closed".into()));
    assert_eq!(
        bot.engine
            .stats()
            .platform(TEST_PLATFORM)
            .map(|p| p.connection.clone()),
        Some(Connection::Disconnected("gateway closed".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_conversation_persona_wins_until_persona_is_used_in_the_chat() {
    let personas = Personas::new(
        PersonaSettings::default(),
        [
            ("assistant".to_owned(), Persona::new("You assist.")),
            ("pirate".to_owned(), Persona::new("You are a pirate.")),
            ("poet".to_owned(), Persona::new("You are a poet.")),
        ]
        .into_iter()
        .collect(),
    )
    .unwrap();
    let bot = TestBot::with(|builder| builder.personas(personas));
    let key = bot.private("x").key.to_string();
    bot.engine
        .store()
        .history
        .set_persona_override(&key, Some("pirate"))
        .await
        .unwrap();
    bot.say("hello").await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are a pirate.",
        "the conversation's own choice"
    );
    bot.say("/persona poet").await;
    bot.say("hello again").await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are a poet.",
        "/persona in the chat is the newest choice"
    );
}
