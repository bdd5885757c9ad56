//! Reminders survive a restart on SQLite: one that fell due while natter was
//! down is delivered at the next start, once, with a note that it is late.
//!
//! sqlx runs SQLite on its own threads, which tokio's paused clock cannot see
//! (it would advance timers while waiting on the database), so this runs in
//! real time, with each engine's clock set so the reminder is already due when
//! it starts: nothing sleeps; waits are bounded by timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::TestBot;
use natter_core::{JobStore, TokioClock};
use natter_plugin_remind::{RemindPlugin, RemindSettings};
use natter_store::StoreSettings;

fn ms(at: &str) -> i64 {
    at.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// An engine on the SQLite file `url` whose clock reads `now`.
async fn start(url: &str, now: &str) -> (TestBot, Arc<dyn JobStore>) {
    let store = natter_store::open(&StoreSettings::with_url(url))
        .await
        .unwrap();
    let plugin = RemindPlugin::new(RemindSettings {
        default_timezone: "Europe/Berlin".into(),
        ..RemindSettings::default()
    })
    .unwrap();
    let clock = TokioClock::starting_at(ms(now));
    let bot = TestBot::with(|b| {
        b.store(store.clone())
            .clock(Arc::new(clock))
            .plugin(Arc::new(plugin), serde_json::Value::Null)
    });
    (bot, store.jobs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_due_while_natter_was_down_is_delivered_once_and_late() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("natter.db").display());

    // Engine 1 at 18:50 Berlin time: a reminder for 19:00, then natter stops.
    let (first, _) = start(&url, "2026-01-14T17:50:00Z").await;
    let set = first.say("/remind 19:00 dinner").await;
    assert!(
        set[0].starts_with("⏰ Reminder #1 set for Wed 2026-01-14 19:00 CET (in "),
        "{set:?}"
    );
    first.engine.shutdown(Duration::from_secs(5)).await;
    assert!(
        first
            .outbox
            .messages()
            .iter()
            .all(|m| !m.contains("reminder: dinner"))
    );
    drop(first);

    // Engine 2 starts at 21:00, two hours after it was due: delivered, late.
    let (second, store) = start(&url, "2026-01-14T20:00:00Z").await;
    tokio::time::timeout(Duration::from_secs(30), second.outbox.wait_for_writes(1))
        .await
        .expect("the overdue reminder was delivered at start");
    assert_eq!(
        second.outbox.messages(),
        ["⏰ @Alice, reminder: dinner\n(late: this was due at 19:00 while I was offline)"]
    );
    // Shutdown waits for the job in hand, which leaves the store once done.
    second.engine.shutdown(Duration::from_secs(5)).await;
    assert!(
        store
            .list_jobs("remind", "test:alice")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.next_job_due().await.unwrap(),
        None,
        "done: gone from the store"
    );
    drop((second, store));

    // Engine 3 on the same file delivers nothing: the reminder is gone.
    let (third, store) = start(&url, "2026-01-14T22:00:00Z").await;
    assert_eq!(store.next_job_due().await.unwrap(), None);
    assert_eq!(
        third.say("/reminders").await,
        ["You have no reminders waiting. Set one with /remind 10m tea."]
    );
    third.engine.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        third.outbox.messages(),
        ["You have no reminders waiting. Set one with /remind 10m tea."],
        "never delivered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_due_on_another_day_names_the_day_it_was_due() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("natter.db").display());

    let (first, _) = start(&url, "2026-01-14T17:50:00Z").await;
    first.say("/remind 10m dinner").await;
    first.engine.shutdown(Duration::from_secs(5)).await;
    drop(first);

    // Back the next morning.
    let (second, _) = start(&url, "2026-01-15T07:00:00Z").await;
    tokio::time::timeout(Duration::from_secs(30), second.outbox.wait_for_writes(1))
        .await
        .expect("delivered");
    assert_eq!(
        second.outbox.messages(),
        ["⏰ @Alice, reminder: dinner\n\
          (late: this was due at Wed 2026-01-14 19:00 while I was offline)"]
    );
    second.engine.shutdown(Duration::from_secs(5)).await;
}
