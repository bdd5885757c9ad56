//! The remind plugin through a real engine on tokio's paused clock: reminders
//! fire exactly when due, where they were set, mentioning their author; they
//! are listed and cancelled per user; bad input gets clear answers; times are
//! read in the user's own zone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::{OutboxEvent, TestBot};
use natter_core::{Addressed, Author, ChannelRef, MessageId, Platform, TokioClock};
use natter_plugin_remind::when::WhenError;
use natter_plugin_remind::{RemindPlugin, RemindSettings};
use tokio::time::Instant;

/// A Wednesday morning in winter (Berlin is UTC+1).
const START: &str = "2026-01-14T10:30:00Z";

fn ms(at: &str) -> i64 {
    at.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn bot_with(settings: RemindSettings) -> TestBot {
    let plugin = RemindPlugin::new(settings).unwrap();
    TestBot::with(|b| {
        b.clock(Arc::new(TokioClock::starting_at(ms(START))))
            .plugin(Arc::new(plugin), serde_json::Value::Null)
    })
}

fn bot() -> TestBot {
    bot_with(RemindSettings::default())
}

fn bob() -> Author {
    Author::user("bob", "Bob")
}

fn alice() -> Author {
    Author::user("alice", "Alice")
}

/// What `author` gets back for `text` in group `group`.
async fn in_group(bot: &TestBot, group: &str, author: Author, text: &str) -> Vec<String> {
    bot.send(bot.group(group, author, Addressed::Command, text))
        .await
}

/// Every message sent, with where, in reply to what, whom it notifies and when.
struct Sent {
    to: ChannelRef,
    text: String,
    reply_to: Option<MessageId>,
    notify: Vec<String>,
    at: Instant,
}

fn sent(bot: &TestBot) -> Vec<Sent> {
    bot.outbox
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send {
                to,
                text,
                reply_to,
                notify,
                at,
                ..
            } => Some(Sent {
                to,
                text,
                reply_to,
                notify,
                at,
            }),
            _ => None,
        })
        .collect()
}

/// The reminders delivered so far (messages starting with the alarm clock
/// and mentioning someone).
fn delivered(bot: &TestBot) -> Vec<String> {
    sent(bot)
        .into_iter()
        .map(|s| s.text)
        .filter(|text| text.starts_with("⏰ @"))
        .collect()
}

/// Lets every task that is ready run: a round trip through the engine.
async fn settle(bot: &TestBot) {
    in_group(bot, "elsewhere", bob(), "/help").await;
}

/// Advances the paused clock by `by` and waits for `n` more writes.
async fn advance_until_writes(bot: &TestBot, by: Duration, n: usize) {
    let before = bot.outbox.writes().len();
    tokio::time::advance(by).await;
    tokio::time::timeout(
        Duration::from_secs(5),
        bot.outbox.wait_for_writes(before + n),
    )
    .await
    .expect("the reminder was delivered");
}

#[tokio::test(start_paused = true)]
async fn a_reminder_fires_at_its_time_where_it_was_set_mentioning_its_author() {
    let bot = bot();
    let start = Instant::now();
    let set = bot.group("kitchen", alice(), Addressed::Command, "/remind 10m tea");
    let set_id = set.id.clone();
    assert_eq!(
        bot.send(set).await,
        [
            "⏰ Reminder #1 set for Wed 2026-01-14 10:40 UTC (in 10m): tea\n\
          Cancel it with /remind cancel 1."
        ]
    );

    tokio::time::advance(Duration::from_secs(599)).await;
    settle(&bot).await;
    assert!(delivered(&bot).is_empty(), "fired before 10 minutes");

    advance_until_writes(&bot, Duration::from_secs(1), 1).await;
    let reminder = sent(&bot).pop().unwrap();
    assert_eq!(
        reminder.text, "⏰ @Alice, reminder: tea",
        "on time: no late note"
    );
    assert_eq!(
        reminder.to,
        ChannelRef::group(Platform::new("test"), "kitchen")
    );
    assert_eq!(reminder.reply_to, Some(set_id), "replies to the /remind");
    assert_eq!(reminder.notify, ["alice"], "the mention notifies Alice");
    let fired = reminder.at - start;
    assert!(fired == Duration::from_secs(600), "fired at {fired:?}");

    // Delivered once: nothing is left to fire.
    tokio::time::advance(Duration::from_secs(3600)).await;
    settle(&bot).await;
    assert_eq!(delivered(&bot).len(), 1);
    assert_eq!(
        bot.say("/reminders").await,
        ["You have no reminders waiting. Set one with /remind 10m tea."]
    );
}

#[tokio::test(start_paused = true)]
async fn reminders_are_listed_and_a_cancelled_one_never_fires() {
    let bot = bot();
    assert!(bot.say("/remind 10m tea").await[0].starts_with("⏰ Reminder #1 "));
    assert!(bot.say("/remind in an hour call Bob").await[0].starts_with("⏰ Reminder #2 "));
    assert!(bot.say("/remind tomorrow 9:00 standup").await[0].starts_with("⏰ Reminder #3 "));
    assert_eq!(
        bot.say("/reminders").await,
        ["Your reminders (UTC):\n\
          #1 · Wed 2026-01-14 10:40 UTC (in 10m) — tea\n\
          #2 · Wed 2026-01-14 11:30 UTC (in 1h) — call Bob\n\
          #3 · Thu 2026-01-15 09:00 UTC (in 22h 30m) — standup\n\
          Cancel one with /remind cancel <n>."]
    );

    assert_eq!(
        bot.say("/remind cancel 1").await,
        ["Cancelled reminder #1: tea"]
    );
    assert_eq!(
        bot.say("/remind cancel #1").await,
        ["You have no reminder #1 waiting; /reminders lists yours."]
    );
    assert_eq!(
        bot.say("/remind list").await,
        ["Your reminders (UTC):\n\
          #2 · Wed 2026-01-14 11:30 UTC (in 1h) — call Bob\n\
          #3 · Thu 2026-01-15 09:00 UTC (in 22h 30m) — standup\n\
          Cancel one with /remind cancel <n>."]
    );

    tokio::time::advance(Duration::from_secs(11 * 60)).await;
    settle(&bot).await;
    assert!(delivered(&bot).is_empty(), "the cancelled reminder fired");

    advance_until_writes(&bot, Duration::from_secs(49 * 60), 1).await;
    assert_eq!(delivered(&bot), ["⏰ @Alice, reminder: call Bob"]);

    assert_eq!(
        bot.say("/remind cancel all").await,
        ["Cancelled 1 reminder."]
    );
    tokio::time::advance(Duration::from_secs(24 * 3600)).await;
    settle(&bot).await;
    assert_eq!(delivered(&bot), ["⏰ @Alice, reminder: call Bob"]);
}

#[tokio::test(start_paused = true)]
async fn reminders_belong_to_whoever_set_them() {
    let bot = bot();
    bot.say("/remind 1h secret plan").await;
    in_group(&bot, "team", alice(), "/remind 2h retro").await;

    // Bob sees none of Alice's reminders and cannot cancel them.
    assert_eq!(
        in_group(&bot, "team", bob(), "/reminders").await,
        ["You have no reminders waiting. Set one with /remind 10m tea."]
    );
    assert_eq!(
        in_group(&bot, "team", bob(), "/remind cancel 1").await,
        ["You have no reminder #1 waiting; /reminders lists yours."]
    );

    // Alice sees both everywhere, but not her private text in the group.
    assert_eq!(
        in_group(&bot, "team", alice(), "/reminders").await,
        ["Your reminders (UTC):\n\
          #1 · Wed 2026-01-14 11:30 UTC (in 1h) — (set in another chat)\n\
          #2 · Wed 2026-01-14 12:30 UTC (in 2h) — retro\n\
          Cancel one with /remind cancel <n>."]
    );
    assert_eq!(
        bot.say("/reminders").await,
        ["Your reminders (UTC):\n\
          #1 · Wed 2026-01-14 11:30 UTC (in 1h) — secret plan\n\
          #2 · Wed 2026-01-14 12:30 UTC (in 2h) — retro\n\
          Cancel one with /remind cancel <n>."]
    );

    // Each goes off where it was set.
    advance_until_writes(&bot, Duration::from_secs(3600), 1).await;
    advance_until_writes(&bot, Duration::from_secs(3600), 1).await;
    let places: Vec<(ChannelRef, String)> = sent(&bot)
        .into_iter()
        .filter(|s| s.text.starts_with("⏰ @"))
        .map(|s| (s.to, s.text))
        .collect();
    assert_eq!(
        places,
        [
            (
                ChannelRef::private(Platform::new("test"), "alice"),
                "⏰ @Alice, reminder: secret plan".to_owned()
            ),
            (
                ChannelRef::group(Platform::new("test"), "team"),
                "⏰ @Alice, reminder: retro".to_owned()
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn limits_and_bad_input_get_clear_answers() {
    let bot = bot_with(RemindSettings {
        max_pending: 2,
        max_days_ahead: 30,
        max_chars: 20,
        ..RemindSettings::default()
    });

    let help = bot.say("/remind").await;
    assert!(
        help[0].contains("/remind 10m tea") && help[0].contains("UTC"),
        "{help:?}"
    );
    assert_eq!(
        bot.say("/remind tea at five").await,
        [WhenError::Unreadable("tea at five".into()).to_string()]
    );
    assert!(
        bot.say("/remind tea at five").await[0]
            .contains("10m, 2h30m, 1d, in 10 minutes, 18:00, 6pm, tomorrow 9:00")
    );
    assert_eq!(
        bot.say("/remind 10m").await,
        ["What should I remind you of? Put it after the time: /remind 10m <what>."]
    );
    assert_eq!(
        bot.say("/remind 2026-01-01 9:00 pay rent").await,
        ["Thu 2026-01-01 09:00 UTC has already passed; give a time that is still to come."]
    );
    assert_eq!(
        bot.say("/remind today 9:00 pay rent").await,
        ["Wed 2026-01-14 09:00 UTC has already passed; give a time that is still to come."]
    );
    assert_eq!(
        bot.say("/remind 31d pay rent").await,
        ["That is too far ahead: reminders can be set at most 30 days ahead."]
    );
    assert_eq!(
        bot.say("/remind tomorrow buy milk").await,
        ["At what time tomorrow? For example: /remind tomorrow 9:00 <what>."]
    );
    assert_eq!(
        bot.say("/remind 2026-02-30 9:00 x").await,
        ["2026-02-30 is not a date; write dates as YYYY-MM-DD, e.g. 2026-12-24."]
    );
    assert_eq!(
        bot.say("/remind 25:00 x").await,
        ["25:00 is not a time of day; write times as 18:00, 6pm or 6:30pm."]
    );
    assert_eq!(
        bot.say("/remind 10m this text is much too long").await,
        ["That reminder is too long; keep it under 20 characters."]
    );
    assert_eq!(
        bot.say("/remind tz Mars/Olympus").await,
        [
            "I don't know the time zone “Mars/Olympus”. Use a name from the tz database such as \
          Europe/Berlin, America/New_York, Asia/Tokyo or UTC."
        ]
    );
    assert_eq!(
        bot.say("/remind cancel soon").await,
        ["Usage: /remind cancel <n> (the numbers are in /reminders), or /remind cancel all."]
    );

    // Nothing was scheduled by any of that.
    assert!(
        bot.engine
            .store()
            .jobs
            .list_jobs("remind", "test:alice")
            .await
            .unwrap()
            .is_empty()
    );

    bot.say("/remind 10m one").await;
    bot.say("/remind 20m two").await;
    assert_eq!(
        bot.say("/remind 30m three").await,
        [
            "You already have 2 reminders waiting, the most I keep for one person; \
          /reminders lists them and /remind cancel <n> makes room."
        ]
    );
    // The limit is per person.
    assert!(in_group(&bot, "g", bob(), "/remind 30m three").await[0].starts_with("⏰ Reminder #3"));
    let jobs = bot
        .engine
        .store()
        .jobs
        .list_jobs("remind", "test:alice")
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn times_are_read_in_each_users_own_zone() {
    let bot = bot();
    let start = Instant::now();
    assert_eq!(
        bot.say("/remind tz").await,
        [
            "Your time zone is UTC (it's 10:30 there now). Change it with /remind tz <zone>, \
          e.g. /remind tz Europe/Berlin."
        ]
    );
    assert_eq!(
        bot.say("/remind tz berlin").await,
        [
            "I don't know the time zone “berlin”. Did you mean Europe/Berlin? \
          Set it with /remind tz Europe/Berlin."
        ]
    );
    assert_eq!(
        bot.say("/remind tz Europe/Berlin").await,
        ["Your time zone is now Europe/Berlin (it's 11:30 there). \
          Reminders you set from now on use it."]
    );
    assert_eq!(
        bot.say("/remind tomorrow 9:00 standup").await,
        [
            "⏰ Reminder #1 set for Thu 2026-01-15 09:00 CET (in 21h 30m): standup\n\
          Cancel it with /remind cancel 1."
        ]
    );
    let jobs = bot
        .engine
        .store()
        .jobs
        .list_jobs("remind", "test:alice")
        .await
        .unwrap();
    assert_eq!(
        jobs[0].due_unix_ms,
        ms("2026-01-15T08:00:00Z"),
        "08:00 UTC in winter"
    );
    assert!(
        bot.say("/reminders").await[0]
            .starts_with("Your reminders (Europe/Berlin):\n#1 · Thu 2026-01-15 09:00 CET")
    );

    // Bob has not chosen a zone: his 9:00 is the default's, UTC.
    in_group(&bot, "g", bob(), "/remind tomorrow 9:00 standup").await;
    let bobs = bot
        .engine
        .store()
        .jobs
        .list_jobs("remind", "test:bob")
        .await
        .unwrap();
    assert_eq!(bobs[0].due_unix_ms, ms("2026-01-15T09:00:00Z"));

    advance_until_writes(&bot, Duration::from_secs(21 * 3600 + 30 * 60), 1).await;
    let first = sent(&bot).pop().unwrap();
    assert_eq!(first.text, "⏰ @Alice, reminder: standup");
    let fired = first.at - start;
    assert!(fired == Duration::from_secs(77_400), "fired at {fired:?}");

    assert_eq!(
        bot.say("/remind tz reset").await,
        ["Your time zone is back to the default, UTC."]
    );
    assert!(bot.say("/remind tz").await[0].starts_with("Your time zone is UTC"));
}

#[tokio::test(start_paused = true)]
async fn the_default_zone_comes_from_the_settings() {
    let bot = bot_with(RemindSettings {
        default_timezone: "America/New_York".into(),
        ..RemindSettings::default()
    });
    // 10:30 UTC is 05:30 in New York.
    assert_eq!(
        bot.say("/remind 6:00 coffee").await,
        [
            "⏰ Reminder #1 set for Wed 2026-01-14 06:00 EST (in 30m): coffee\n\
          Cancel it with /remind cancel 1."
        ]
    );
    assert!(
        RemindPlugin::new(RemindSettings {
            default_timezone: "Nowhere/Special".into(),
            ..RemindSettings::default()
        })
        .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn the_model_sets_a_reminder_from_plain_words() {
    let bot = bot_with(RemindSettings {
        default_timezone: "Europe/Berlin".into(),
        ..RemindSettings::default()
    });
    bot.backend
        .call("remind_set", r#"{"when":"in 2 seconds","text":"stretch"}"#);
    bot.backend
        .reply("Done — I'll remind you in 2 seconds to stretch.");
    let start = Instant::now();
    let asked = bot.group(
        "gym",
        alice(),
        Addressed::Mentioned,
        "remind me in 2 seconds to stretch",
    );
    assert_eq!(
        bot.send(asked).await,
        ["Done — I'll remind you in 2 seconds to stretch."]
    );
    let offered: Vec<String> = bot.backend.requests()[0]
        .tools
        .iter()
        .map(|tool| tool.name.clone())
        .collect();
    assert_eq!(
        offered,
        ["remind_set", "remind_list", "remind_cancel", "time_now"]
    );
    let result = bot
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert!(
        result.starts_with("⏰ Reminder #1 set for Wed 2026-01-14 11:30:02 CET (in 2s): stretch"),
        "{result}"
    );

    advance_until_writes(&bot, Duration::from_secs(2), 1).await;
    let reminder = sent(&bot).pop().unwrap();
    assert_eq!(reminder.text, "⏰ @Alice, reminder: stretch");
    assert_eq!(reminder.at - start, Duration::from_secs(2));
    assert_eq!(reminder.notify, ["alice"]);

    // A follow-up sees what was done, and the model can list and cancel.
    bot.backend.call("remind_list", "{}");
    bot.backend.reply("You have none.");
    assert_eq!(
        in_group(&bot, "gym", alice(), "any reminders left?")
            .await
            .len(),
        1
    );
    let listed = bot
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert!(
        listed.starts_with("You have no reminders waiting"),
        "{listed}"
    );
}

#[tokio::test]
async fn the_model_can_ask_the_time_and_cancel_by_number() {
    let bot = bot_with(RemindSettings {
        default_timezone: "Europe/Berlin".into(),
        ..RemindSettings::default()
    });
    assert_eq!(bot.say("/remind 1h tea").await.len(), 1);
    bot.backend
        .calls(&[("time_now", "{}"), ("remind_cancel", r#"{"number":1}"#)]);
    bot.backend.reply("Cancelled.");
    assert_eq!(
        bot.say("what time is it? and cancel my tea reminder").await,
        ["Cancelled."]
    );
    let results: Vec<String> = bot
        .backend
        .last_request()
        .messages
        .iter()
        .filter(|m| m.role == natter_core::Role::Tool)
        .map(|m| m.content.clone())
        .collect();
    assert_eq!(
        results,
        [
            "It is Wednesday 2026-01-14 11:30 in Europe/Berlin (UTC+01:00).",
            "Cancelled reminder #1: tea"
        ]
    );
}
