//! Scheduled jobs: a plugin schedules, the engine's scheduler runs `on_job`
//! when the job falls due — on time by tokio's paused clock, once, after a
//! restart, and later when its platform is not running yet. Jobs are leased
//! while they run: one held by a process that died runs once its lease runs
//! out, a long one keeps its lease, and shutdown waits for jobs in hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{
    OutboxEvent, RecordingOutbox, ScriptedBackend, TEST_PLATFORM, TestBot,
};
use natter_core::{
    Author, ChannelRef, Command, CommandSpec, Engine, EngineSettings, JobContext, JobStore,
    MemoryStore, Platform, Plugin, PluginContext, PluginError, ScheduledJob, TokioClock,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
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

    // The job left the store when it was done: a third start finds nothing.
    assert!(store.next_job_due().await.unwrap().is_none());
    let (third, outbox) = start(&store);
    third.shutdown(Duration::from_secs(1)).await;
    assert!(outbox.messages().is_empty(), "never delivered twice");
}

/// Engine settings with a short job lease.
fn leased_for(secs: u64) -> EngineSettings {
    EngineSettings {
        job_lease_secs: secs,
        ..EngineSettings::default()
    }
}

/// A job of `Later`'s, due at `due_ms`, saying `text` in the test channel.
fn note_job(due_ms: i64, text: &str) -> ScheduledJob {
    let note = Note {
        channel: ChannelRef::private(TEST_PLATFORM, "chan"),
        author: Author::user("alice", "Alice"),
        text: text.to_owned(),
    };
    ScheduledJob {
        id: 0,
        namespace: "later".into(),
        owner: "alice".into(),
        due_unix_ms: due_ms,
        payload: serde_json::to_value(&note).unwrap(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_held_by_a_process_that_died_runs_once_its_lease_runs_out() {
    let store = Arc::new(MemoryStore::new());
    let clock = TokioClock::new();
    let now = natter_core::Clock::now_unix_ms(&clock);
    let id = store.schedule_job(&note_job(now, "tea")).await.unwrap();
    // Another process took it, then died: its lease has five seconds to run.
    let taken = store
        .lease_due_jobs(now, now + 5_000, "dead-host:1:0#1", 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);

    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .store(Arc::clone(&store))
        .clock(Arc::new(clock))
        .settings(leased_for(5))
        .plugin(Arc::new(Later), serde_json::Value::Null)
        .build()
        .unwrap();
    let outbox = Arc::new(RecordingOutbox::default());
    engine.attach(TEST_PLATFORM, outbox.clone());
    tokio::time::advance(Duration::from_millis(4_900)).await;
    engine.wake_scheduler();
    tokio::task::yield_now().await;
    assert!(outbox.messages().is_empty(), "not while the lease holds");

    tokio::time::advance(Duration::from_millis(200)).await;
    outbox.wait_for_writes(1).await;
    // Five seconds after it was due.
    assert_eq!(outbox.messages(), ["@Alice tea (late)"]);
    engine.shutdown(Duration::from_secs(1)).await;
    assert!(
        store.list_jobs("later", "alice").await.unwrap().is_empty(),
        "done: job {id} left the store"
    );
    assert!(
        !store.finish_job(id, "dead-host:1:0#1").await.unwrap(),
        "the dead process can no longer finish it"
    );
}

/// Posts its note after a while: a delivery that takes long. Says when it starts.
struct Slow(Duration, Arc<Notify>);

impl Slow {
    fn new(delay: Duration) -> (Self, Arc<Notify>) {
        let started = Arc::new(Notify::new());
        (Self(delay, Arc::clone(&started)), started)
    }
}

#[async_trait]
impl Plugin for Slow {
    fn name(&self) -> &str {
        "later"
    }

    async fn on_job(&self, cx: &mut JobContext<'_>, job: ScheduledJob) -> Result<(), PluginError> {
        self.1.notify_one();
        tokio::time::sleep(self.0).await;
        let note: Note = serde_json::from_value(job.payload).unwrap();
        cx.post(&note.channel, &note.text).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_that_takes_longer_than_its_lease_keeps_it() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(TokioClock::new());
    let (slow, started) = Slow::new(Duration::from_secs(10));
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .settings(leased_for(3))
        .plugin(Arc::new(slow), serde_json::Value::Null)
        .build()
        .unwrap();
    let outbox = Arc::new(RecordingOutbox::default());
    engine.attach(TEST_PLATFORM, outbox.clone());
    let now = natter_core::Clock::now_unix_ms(clock.as_ref());
    store
        .schedule_job(&note_job(now, "slow tea"))
        .await
        .unwrap();
    engine.wake_scheduler();
    started.notified().await;

    // Well past the first lease, another process finds nothing to take.
    for _ in 0..8 {
        tokio::time::advance(Duration::from_secs(1)).await;
        tokio::task::yield_now().await;
        let now = natter_core::Clock::now_unix_ms(clock.as_ref());
        let stolen = store
            .lease_due_jobs(now, now + 3_000, "other:2:0#1", 10)
            .await
            .unwrap();
        assert!(stolen.is_empty(), "renewed while it runs: {stolen:?}");
    }
    tokio::time::advance(Duration::from_secs(3)).await;
    outbox.wait_for_writes(1).await;
    assert_eq!(outbox.messages(), ["slow tea"]);
    engine.shutdown(Duration::from_secs(1)).await;
    assert!(store.next_job_due().await.unwrap().is_none(), "done once");
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_a_job_in_hand_and_lets_go_of_one_past_the_grace() {
    let store = Arc::new(MemoryStore::new());
    let start = |delay: Duration| {
        let (slow, started) = Slow::new(delay);
        let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
            .store(Arc::clone(&store))
            .plugin(Arc::new(slow), serde_json::Value::Null)
            .build()
            .unwrap();
        let outbox = Arc::new(RecordingOutbox::default());
        engine.attach(TEST_PLATFORM, outbox.clone());
        (engine, outbox, started)
    };
    let clock = TokioClock::new();
    let now = natter_core::Clock::now_unix_ms(&clock);

    // Within the grace: shutdown returns once it is delivered.
    let (engine, outbox, started) = start(Duration::from_secs(2));
    store.schedule_job(&note_job(now, "in hand")).await.unwrap();
    engine.wake_scheduler();
    started.notified().await;
    engine.shutdown(Duration::from_secs(5)).await;
    assert_eq!(outbox.messages(), ["in hand"]);
    assert!(store.next_job_due().await.unwrap().is_none());

    // Past the grace: let go, due at once, for the next process.
    let (engine, outbox, started) = start(Duration::from_secs(60));
    let now = natter_core::Clock::now_unix_ms(&clock);
    let id = store
        .schedule_job(&note_job(now, "too slow"))
        .await
        .unwrap();
    engine.wake_scheduler();
    started.notified().await;
    engine.shutdown(Duration::from_secs(1)).await;
    assert!(outbox.messages().is_empty());
    let now = natter_core::Clock::now_unix_ms(&clock);
    let next = store
        .lease_due_jobs(now, now + 60_000, "next:3:0#1", 10)
        .await
        .unwrap();
    assert_eq!(next.len(), 1, "kept for the next process");
    assert_eq!((next[0].job.id, next[0].attempt), (id, 2));
}
