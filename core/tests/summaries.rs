//! Memory beyond the window: turns that fall out of a small context window
//! are summarised in the background by the summary model, the summary is
//! saved and carried at the top of the next prompt in their place, it stays
//! within its token budget, `/reset` forgets it, it never delays a reply, a
//! failure leaves the conversation as it was without summaries, and
//! `summarize = false` makes no summary at all. On tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::summary::{HEADING, text_tokens};
use natter_core::test_utils::{RecordingOutbox, ScriptedBackend, Step, TEST_PLATFORM, TestBot};
use natter_core::{
    ChatRequest, ConversationKey, Engine, EngineError, EngineSettings, HistoryStore, MemoryStore,
    ModelBackend, ModelDefaults, ModelError, Role,
};
use tokio::time::{Instant, timeout};

/// A 600-token window with 100 kept for the reply, and messages of about 56
/// tokens answered by an echo of about 58: three turns fit beside the
/// system prompt and the new message, so the fifth message drops the first.
const WINDOW: usize = 600;

/// The test's messages: long enough to fill the window in a few turns.
fn text(n: usize) -> String {
    format!("message number {n} {}", "padding ".repeat(24))
        .trim_end()
        .to_owned()
}

struct Summarised {
    bot: TestBot,
    summarizer: Arc<ScriptedBackend>,
    /// A model with room for the whole conversation (`/model big`).
    big: Arc<ScriptedBackend>,
    store: Arc<MemoryStore>,
}

impl Summarised {
    /// A bot whose summaries are written by their own scripted model.
    fn new(settings: EngineSettings) -> Self {
        let summarizer = Arc::new(ScriptedBackend::new().with_model_name("summarizer-model"));
        let store = Arc::new(MemoryStore::new());
        let big = Arc::new(ScriptedBackend::new().with_context_window(100 * WINDOW));
        let backend = Arc::new(ScriptedBackend::new().with_context_window(WINDOW));
        let bot = TestBot::with_parts(backend, Arc::new(RecordingOutbox::default()), |b| {
            b.store(store.clone())
                .model("summarizer", summarizer.clone())
                .model("big", big.clone())
                .model_defaults(ModelDefaults {
                    max_tokens: 100,
                    ..ModelDefaults::default()
                })
                .settings(settings)
        });
        Self {
            bot,
            summarizer,
            big,
            store,
        }
    }

    fn with_summary_model() -> Self {
        Self::new(EngineSettings {
            summary_model: Some("summarizer".into()),
            summary_max_tokens: 40,
            ..EngineSettings::default()
        })
    }

    fn key() -> ConversationKey {
        ConversationKey::new(TEST_PLATFORM, "private/alice")
    }

    /// Says messages `range`, one after the other.
    async fn say_all(&self, range: std::ops::Range<usize>) {
        for n in range {
            self.bot.say(&text(n)).await;
        }
    }

    /// Waits (a minute on the paused clock at most) for `n` summaries saved.
    async fn summaries_saved(&self, n: usize) {
        timeout(Duration::from_secs(60), self.store.wait_for_summaries(n))
            .await
            .expect("the summary is saved");
    }
}

fn system(request: &ChatRequest) -> &str {
    assert_eq!(request.messages[0].role, Role::System);
    &request.messages[0].content
}

/// Every message of `request` but the system prompt.
fn conversation(request: &ChatRequest) -> String {
    request.messages[1..]
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(start_paused = true)]
async fn turns_that_fall_out_are_summarised_and_the_next_prompt_carries_the_summary() {
    let s = Summarised::with_summary_model();
    s.summarizer
        .reply("Alice sent numbered messages padded with words.");
    s.summarizer.reply("Alice also sent a second and a third.");
    s.say_all(0..4).await;
    assert!(
        s.summarizer.requests().is_empty(),
        "nothing fell out of the window yet"
    );
    s.say_all(4..5).await;
    s.summaries_saved(1).await;

    // The summary request: the turn that fell out, and the oldest one still
    // in the window (summarised ahead, so the next prompts have room), but
    // not the newest ones.
    let asked = s.summarizer.requests();
    assert_eq!(asked.len(), 1);
    let prompt = conversation(&asked[0]);
    assert!(prompt.contains(&text(0)), "{prompt}");
    assert!(prompt.contains(&format!("echo: {}", text(0))), "{prompt}");
    assert!(prompt.contains(&text(1)), "{prompt}");
    assert!(!prompt.contains("message number 2 "), "{prompt}");
    assert!(!prompt.contains("message number 3 "), "{prompt}");
    assert_eq!(asked[0].params.max_tokens, Some(40));
    let summary = s.store.summary(&Summarised::key()).await.unwrap().unwrap();
    assert_eq!(
        summary.text,
        "Alice sent numbered messages padded with words."
    );
    assert_eq!(summary.turns_covered, 2);

    // Its tokens are in the ledger like every model call, paid by Alice.
    let usage = s.store.usage();
    let summarising: Vec<_> = usage
        .iter()
        .filter(|row| row.model == "summarizer-model")
        .collect();
    assert_eq!(summarising.len(), 1);
    assert_eq!(summarising[0].user_id, "alice");

    // The next prompt: the summary at the top, in the one system message,
    // and not the turns it summarises.
    s.bot.say(&text(5)).await;
    let next = s.bot.backend.last_request();
    assert_eq!(
        system(&next),
        format!(
            "You are a helpful assistant.\n\n{HEADING}\nAlice sent numbered messages padded with words."
        )
    );
    assert_eq!(
        next.messages
            .iter()
            .filter(|m| m.role == Role::System)
            .count(),
        1
    );
    let history = conversation(&next);
    assert!(!history.contains("message number 0 "), "{history}");
    assert!(!history.contains("message number 1 "), "{history}");
    assert!(history.contains(&text(5)), "{history}");
    let used = s.bot.backend.count_tokens(&next.messages);
    assert!(used <= WINDOW - 100, "the summary counts: {used} tokens");

    // As more turns fall out, the summary rolls on from the one before —
    // not after every reply: the turns summarised ahead made room.
    let mut said = 5;
    while s.summarizer.requests().len() < 2 {
        said += 1;
        assert!(said < 12, "no second summary");
        s.bot.say(&text(said)).await;
        tokio::task::yield_now().await;
    }
    assert!(said >= 6, "a reply went by without a summary: {said}");
    s.summaries_saved(2).await;
    let rolled = conversation(&s.summarizer.requests()[1]);
    assert!(rolled.contains("Alice sent numbered messages padded with words."));
    assert!(!rolled.contains("message number 0 "), "{rolled}");
    assert!(!rolled.contains("message number 1 "), "{rolled}");
    assert!(rolled.contains(&text(2)), "{rolled}");
    let summary = s.store.summary(&Summarised::key()).await.unwrap().unwrap();
    assert_eq!(summary.text, "Alice also sent a second and a third.");
    let covered = usize::try_from(summary.turns_covered).unwrap();
    assert!(covered > 2, "{covered}");

    // A model with room for every turn gets them all word for word, and
    // no summary: nothing needs one.
    s.bot.say("/model big").await;
    said += 1;
    s.bot.say(&text(said)).await;
    let roomy = s.big.last_request();
    assert!(!system(&roomy).contains(HEADING), "{}", system(&roomy));
    let history = conversation(&roomy);
    for n in 0..=said {
        assert!(history.contains(&text(n)), "turn {n} is missing: {history}");
    }
    assert!(covered > 2);
}

#[tokio::test(start_paused = true)]
async fn a_summary_longer_than_its_budget_is_cut_to_it() {
    let s = Summarised::with_summary_model();
    s.summarizer.reply("Alice rambles on. ".repeat(500));
    s.say_all(0..5).await;
    s.summaries_saved(1).await;
    let summary = s.store.summary(&Summarised::key()).await.unwrap().unwrap();
    let tokens = text_tokens(s.bot.backend.as_ref(), &summary.text);
    assert!(tokens <= 40, "{tokens} tokens kept");
    assert!(
        summary.text.starts_with("Alice rambles on."),
        "{}",
        summary.text
    );
    s.bot.say(&text(5)).await;
    let next = s.bot.backend.last_request();
    assert!(system(&next).ends_with(&summary.text));
}

#[tokio::test(start_paused = true)]
async fn reset_forgets_the_summary() {
    let s = Summarised::with_summary_model();
    s.summarizer.reply("Alice counted.");
    s.say_all(0..5).await;
    s.summaries_saved(1).await;
    assert_eq!(
        s.bot.say("/reset").await,
        ["History cleared. Let's start fresh."]
    );
    assert_eq!(s.store.summary(&Summarised::key()).await.unwrap(), None);
    s.bot.say("hello again").await;
    let next = s.bot.backend.last_request();
    assert_eq!(system(&next), "You are a helpful assistant.");
    assert_eq!(next.messages.len(), 2, "no history, no summary");
}

#[tokio::test(start_paused = true)]
async fn a_summary_being_written_never_delays_a_reply() {
    let s = Summarised::with_summary_model();
    let hour = Duration::from_secs(3600);
    s.summarizer.script(vec![
        Step::Delay(hour),
        Step::Delta("Alice counted slowly.".into()),
    ]);
    s.say_all(0..5).await;
    timeout(Duration::from_secs(60), s.summarizer.wait_for_requests(1))
        .await
        .expect("the summary is asked for");

    // The summary is held for an hour; the conversation goes on at once.
    let started = Instant::now();
    assert_eq!(s.bot.say(&text(5)).await, [format!("echo: {}", text(5))]);
    assert_eq!(s.bot.say(&text(6)).await, [format!("echo: {}", text(6))]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "replies waited {:?}",
        started.elapsed()
    );
    assert!(!system(&s.bot.backend.last_request()).contains(HEADING));
    assert_eq!(
        s.summarizer.requests().len(),
        1,
        "one summary per conversation at a time"
    );
    assert_eq!(s.store.summary(&Summarised::key()).await.unwrap(), None);

    timeout(2 * hour, s.store.wait_for_summaries(1))
        .await
        .expect("the held summary is saved when it is done");
    assert!(started.elapsed() >= hour - Duration::from_secs(60));
    s.bot.say(&text(7)).await;
    assert!(system(&s.bot.backend.last_request()).ends_with("Alice counted slowly."));
}

#[tokio::test(start_paused = true)]
async fn reset_and_shutdown_stop_a_summary_being_written() {
    let s = Summarised::with_summary_model();
    s.summarizer.script(vec![
        Step::Delay(Duration::from_secs(30)),
        Step::Delta("Stale.".into()),
    ]);
    s.say_all(0..5).await;
    timeout(Duration::from_secs(10), s.summarizer.wait_for_requests(1))
        .await
        .expect("the summary is asked for");
    s.bot.say("/reset").await;
    assert_eq!(s.summarizer.dropped_streams(), 1, "stopped by /reset");

    s.summarizer.script(vec![Step::Hang]);
    s.say_all(10..15).await;
    timeout(Duration::from_secs(10), s.summarizer.wait_for_requests(2))
        .await
        .expect("the summary is asked for");
    timeout(
        Duration::from_secs(60),
        s.bot.engine.shutdown(Duration::from_secs(5)),
    )
    .await
    .expect("shutdown does not wait for the summary");
    assert_eq!(s.summarizer.dropped_streams(), 2, "stopped by shutdown");
    assert_eq!(s.store.summary(&Summarised::key()).await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_summary_leaves_the_turns_dropped_and_is_tried_again() {
    let s = Summarised::with_summary_model();
    s.summarizer.fail(ModelError::Server {
        status: 500,
        message: "down".into(),
    });
    s.say_all(0..5).await;
    timeout(Duration::from_secs(60), s.summarizer.wait_for_requests(1))
        .await
        .expect("the summary is asked for");
    assert_eq!(s.bot.say(&text(5)).await, [format!("echo: {}", text(5))]);
    let next = s.bot.backend.last_request();
    assert_eq!(system(&next), "You are a helpful assistant.");
    assert!(!conversation(&next).contains("message number 0 "));

    // The next reply asks again, for every turn left out so far.
    s.summaries_saved(1).await;
    let again = conversation(&s.summarizer.last_request());
    assert!(again.contains(&text(0)), "{again}");
    assert!(s.store.summary(&Summarised::key()).await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn the_conversations_own_model_summarises_when_no_summary_model_is_set() {
    let s = Summarised::new(EngineSettings::default());
    s.say_all(0..5).await;
    s.summaries_saved(1).await;
    let requests = s.bot.backend.requests();
    assert_eq!(requests.len(), 6, "five replies and one summary");
    assert!(
        conversation(&requests[5]).contains(&text(0)),
        "{:?}",
        requests[5]
    );
    assert!(s.summarizer.requests().is_empty());
    let summary = s.store.summary(&Summarised::key()).await.unwrap().unwrap();
    assert!(text_tokens(s.bot.backend.as_ref(), &summary.text) <= 200);
}

#[tokio::test(start_paused = true)]
async fn with_summaries_off_turns_are_simply_dropped() {
    let s = Summarised::new(EngineSettings {
        summarize: false,
        summary_model: Some("summarizer".into()),
        ..EngineSettings::default()
    });
    s.say_all(0..8).await;
    s.bot.engine.shutdown(Duration::from_secs(5)).await;
    assert!(s.summarizer.requests().is_empty());
    assert_eq!(s.bot.backend.requests().len(), 8);
    assert_eq!(s.store.summary(&Summarised::key()).await.unwrap(), None);
    let last = s.bot.backend.last_request();
    assert_eq!(system(&last), "You are a helpful assistant.");
    assert!(!conversation(&last).contains("message number 0 "));
}

#[test]
fn an_unknown_summary_model_is_refused_at_start() {
    let built = Engine::builder(Arc::new(ScriptedBackend::new()))
        .settings(EngineSettings {
            summary_model: Some("ghost".into()),
            ..EngineSettings::default()
        })
        .build();
    let Err(error) = built else {
        panic!("built with an unknown summary model")
    };
    assert!(matches!(error, EngineError::UnknownModel { .. }));
    assert!(
        error.to_string().contains("engine.summary_model"),
        "{error}"
    );
}
