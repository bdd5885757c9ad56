//! Scheduled jobs: a plugin schedules, the engine's scheduler runs `on_job`
//! when the job falls due — on time by tokio's paused clock, once, after a
//! restart, and later when its platform is not running yet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{
    OutboxEvent, RecordingOutbox, ScriptedBackend, TEST_PLATFORM, TestBot,
};
use natter_core::{
    Author, ChannelRef, Command, CommandSpec, Engine, JobContext, JobStore, MemoryStore, Platform,
    Plugin, PluginContext, PluginError, ScheduledJob, TokioClock,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// `/later <seconds> <text>` posts `text` back, mentioning the author, later;
/// `/later_in <channel> <seconds> <text>` posts it into another channel.
struct Later;

#[derive(Serialize, Deserialize)]
struct Note {
    channel: ChannelRef,
    author: Author,
    text: String,
}

#[async_trait]
impl Plugin for Later {
    fn name(&self) -> &str {
        "later"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("later", "Say something later"),
            CommandSpec::new("later_in", "Say something later, elsewhere"),
            CommandSpec::new("cancel", "Cancel a job"),
        ]
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        let message = cx.message();
        let mut words = cmd.words();
        if cmd.name == "cancel" {
            let id = words.next().unwrap().parse().unwrap();
            let cancelled = cx.cancel_scheduled(&message.author.id, id).await?;
            return cx.reply(&format!("cancelled: {cancelled}")).await;
        }
        let channel = if cmd.name == "later_in" {
            words.next().unwrap().parse().unwrap()
        } else {
            message.channel.clone()
        };
        let seconds: i64 = words.next().unwrap().parse().unwrap();
        let note = Note {
            channel,
            author: message.author.clone(),
            text: words.collect::<Vec<_>>().join(" "),
        };
        let due = cx.now_unix_ms() + seconds * 1000;
        let id = cx
            .schedule(
                &message.author.id,
                due,
                serde_json::to_value(&note).unwrap(),
            )
            .await?;
        cx.reply(&format!("job {id}")).await
    }

    async fn on_job(&self, cx: &mut JobContext<'_>, job: ScheduledJob) -> Result<(), PluginError> {
        let note: Note = serde_json::from_value(job.payload).unwrap();
        let late_ms = cx.now_unix_ms() - job.due_unix_ms;
        let mention = cx.mention(&note.channel, &note.author);
        let late = if late_ms > 1000 { " (late)" } else { "" };
        cx.post(&note.channel, &format!("{mention} {}{late}", note.text))
            .await
    }
}

fn sends(outbox: &RecordingOutbox) -> Vec<(String, Vec<String>, Instant)> {
    outbox
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send {
                text, notify, at, ..
            } => Some((text, notify, at)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_job_runs_when_it_falls_due_and_not_before() {
    let bot = TestBot::with_plugin(Later);
    let start = Instant::now();
    assert_eq!(bot.say("/later 600 tea is ready").await, ["job 1"]);

    tokio::time::advance(Duration::from_secs(599)).await;
    // A round trip through the engine lets every ready task run first.
    bot.say("/help").await;
    assert!(
        !bot.outbox.messages().iter().any(|m| m.contains("tea")),
        "fired early"
    );

    let writes = bot.outbox.writes().len();
    tokio::time::advance(Duration::from_secs(1)).await;
    bot.outbox.wait_for_writes(writes + 1).await;
    let (text, notify, at) = sends(&bot.outbox).pop().unwrap();
    assert_eq!(text, "@Alice tea is ready");
    assert_eq!(notify, ["alice"], "the mention notifies its user");
    let fired = at - start;
    assert!(
        fired >= Duration::from_secs(600) && fired < Duration::from_millis(600_050),
        "fired at {fired:?}"
    );
    assert!(
        bot.engine
            .store()
            .jobs
            .list_jobs("later", "alice")
            .await
            .unwrap()
            .is_empty(),
        "a run job leaves the store"
    );
}

#[tokio::test(start_paused = true)]
async fn jobs_run_in_due_order_and_cancelled_ones_never() {
    let bot = TestBot::with_plugin(Later);
    assert_eq!(bot.say("/later 300 second").await, ["job 1"]);
    assert_eq!(bot.say("/later 60 first").await, ["job 2"]);
    assert_eq!(bot.say("/later 120 never").await, ["job 3"]);
    assert_eq!(bot.say("/cancel 3").await, ["cancelled: true"]);
    assert_eq!(bot.say("/cancel 3").await, ["cancelled: false"]);

    let writes = bot.outbox.writes().len();
    tokio::time::advance(Duration::from_secs(60)).await;
    bot.outbox.wait_for_writes(writes + 1).await;
    tokio::time::advance(Duration::from_secs(240)).await;
    bot.outbox.wait_for_writes(writes + 2).await;
    let texts: Vec<String> = sends(&bot.outbox)
        .into_iter()
        .skip(writes)
        .map(|(text, ..)| text)
        .collect();
    assert_eq!(texts, ["@Alice first", "@Alice second"]);
}

#[tokio::test(start_paused = true)]
async fn a_job_for_a_platform_that_is_not_running_waits_for_it() {
    let bot = TestBot::with_plugin(Later);
    assert_eq!(bot.say("/later_in discord:42 10 hello").await, ["job 1"]);
    let store = Arc::clone(&bot.engine.store().jobs);

    // Due at 10 s; Discord is not attached, so it is put back a minute later.
    tokio::time::advance(Duration::from_secs(11)).await;
    bot.say("/help").await;
    let pending = store.list_jobs("later", "alice").await.unwrap();
    assert_eq!(pending.len(), 1, "kept, not lost");

    let discord = Arc::new(RecordingOutbox::default());
    bot.engine.attach(Platform::new("discord"), discord.clone());
    tokio::time::advance(Duration::from_secs(60)).await;
    discord.wait_for_writes(1).await;
    // The job's due time is now the retry's; a plugin that reports lateness
    // keeps the original time in its payload.
    assert_eq!(discord.messages(), ["@Alice hello"]);
    assert!(bot.outbox.messages().iter().all(|m| !m.contains("hello")));
}

#[tokio::test]
async fn a_job_due_while_natter_was_down_runs_once_at_the_next_start() {
    let store = Arc::new(MemoryStore::new());
    let now = TokioClock::new();
    let first = TestBot::with(|b| {
        b.store(Arc::clone(&store))
            .plugin(Arc::new(Later), serde_json::Value::Null)
    });
    assert_eq!(first.say("/later 3600 stand up").await, ["job 1"]);
    first.engine.shutdown(Duration::from_secs(1)).await;

    // Two hours later, a new process on the same store.
    let later = natter_core::Clock::now_unix_ms(&now) + 2 * 3_600_000;
    let start = |store: &Arc<MemoryStore>| {
        let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
            .store(Arc::clone(store))
            .clock(Arc::new(TokioClock::starting_at(later)))
            .plugin(Arc::new(Later), serde_json::Value::Null)
            .build()
            .unwrap();
        let outbox = Arc::new(RecordingOutbox::default());
        engine.attach(TEST_PLATFORM, outbox.clone());
        (engine, outbox)
    };
    let (second, outbox) = start(&store);
    outbox.wait_for_writes(1).await;
    assert_eq!(outbox.messages(), ["@Alice stand up (late)"]);
    second.shutdown(Duration::from_secs(1)).await;

    // The job left the store when it was taken: a third start finds nothing.
    assert!(store.next_job_due().await.unwrap().is_none());
    let (third, outbox) = start(&store);
    third.shutdown(Duration::from_secs(1)).await;
    assert!(outbox.messages().is_empty(), "never delivered twice");
}
