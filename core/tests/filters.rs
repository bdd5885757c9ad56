//! Input and output filters: what plugins may rewrite or refuse on the way in,
//! and what never reaches a platform on the way out — streamed edits included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{OutboxEvent, RecordingOutbox, ScriptedBackend, Step, TestBot};
use natter_core::{
    ChannelRef, Flow, OutputFilter, PlatformLimits, Plugin, PluginContext, PluginError, Screened,
};

/// Rewrites "darn" to "d**n" and refuses "spam" in input; redacts "secret"
/// and blocks "forbidden" in output.
struct Guard;

struct GuardOutput;

impl OutputFilter for GuardOutput {
    fn lookahead(&self) -> usize {
        "forbidden".len()
    }

    fn screen(&self, _channel: &ChannelRef, text: &str) -> Screened {
        if text.contains("forbidden") {
            Screened::Blocked {
                notice: "Sorry, I can't show that answer.".into(),
            }
        } else if text.contains("secret") {
            Screened::Redacted(text.replace("secret", "[redacted]"))
        } else {
            Screened::Clean
        }
    }
}

#[async_trait]
impl Plugin for Guard {
    fn name(&self) -> &str {
        "guard"
    }

    async fn filter_input(
        &self,
        cx: &mut PluginContext<'_>,
        text: &mut String,
    ) -> Result<Flow, PluginError> {
        if text.contains("spam") {
            cx.reply("Please don't.").await?;
            return Ok(Flow::Handled);
        }
        *text = text.replace("darn", "d**n");
        Ok(Flow::Continue)
    }

    fn output_filter(&self) -> Option<Arc<dyn OutputFilter>> {
        Some(Arc::new(GuardOutput))
    }
}

fn streaming_bot() -> TestBot {
    let limits = PlatformLimits {
        streaming: true,
        streaming_suffix: " …".into(),
        ..PlatformLimits::unlimited()
    };
    TestBot::with_parts(
        Arc::new(ScriptedBackend::new()),
        Arc::new(RecordingOutbox::new(limits)),
        |b| b.plugin(Arc::new(Guard), serde_json::Value::Null),
    )
}

/// Every text the platform was ever given: sends and edits.
fn everything_shown(outbox: &RecordingOutbox) -> Vec<String> {
    outbox
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send { text, .. } | OutboxEvent::Edit { text, .. } => Some(text),
            OutboxEvent::Typing { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn input_filters_rewrite_what_the_model_and_history_see() {
    let bot = TestBot::with_plugin(Guard);
    assert_eq!(bot.say("oh darn it").await, ["echo: oh d**n it"]);
    let turns = bot
        .engine
        .store()
        .history
        .load_turns(&bot.private("").key, 10)
        .await
        .unwrap();
    assert_eq!(turns[0].user.content, "oh d**n it");
}

#[tokio::test]
async fn input_filters_refuse_messages_and_commands_before_the_model() {
    let bot = TestBot::with_plugin(Guard);
    assert_eq!(bot.say("buy spam now").await, ["Please don't."]);
    assert_eq!(bot.say("/help spam").await, ["Please don't."]);
    assert!(bot.backend.requests().is_empty(), "the model saw nothing");
}

#[tokio::test(start_paused = true)]
async fn a_phrase_streamed_in_pieces_never_shows_even_in_an_edit() {
    let bot = streaming_bot();
    bot.backend.reply_chunks(
        &[
            "The launch code is a very well kept se",
            "cr",
            "et and I will not share it; ",
            "ask someone else about the launch.",
        ],
        Duration::from_secs(2),
    );
    let shown = bot.say("code?").await;
    assert_eq!(
        shown,
        [
            "The launch code is a very well kept [redacted] and I will not share it; ask someone else about the launch."
        ]
    );
    let all = everything_shown(&bot.outbox);
    assert!(all.len() >= 3, "it streamed: {all:?}");
    for text in &all {
        assert!(!text.contains("secret"), "leaked in {text:?}");
        assert!(!text.ends_with("se …"), "half a phrase shown: {text:?}");
    }
    let turns = bot
        .engine
        .store()
        .history
        .load_turns(&bot.private("").key, 10)
        .await
        .unwrap();
    assert!(turns[0].assistant.content.contains("[redacted]"));
}

#[tokio::test(start_paused = true)]
async fn a_blocked_reply_stops_shows_the_notice_and_is_not_kept() {
    let bot = streaming_bot();
    bot.backend.script(vec![
        Step::Delta("Step one: gather what you need for the thing. ".into()),
        Step::Delay(Duration::from_secs(2)),
        Step::Delta("Step two: the forb".into()),
        Step::Delay(Duration::from_secs(2)),
        Step::Delta("idden part.".into()),
        Step::Delay(Duration::from_secs(2)),
        Step::Delta(" Step three.".into()),
    ]);
    let shown = bot.say("how?").await;
    assert_eq!(shown, ["Sorry, I can't show that answer."]);
    for text in everything_shown(&bot.outbox) {
        assert!(!text.contains("forb"), "leaked in {text:?}");
    }
    assert_eq!(bot.backend.dropped_streams(), 1, "the model was stopped");
    let turns = bot
        .engine
        .store()
        .history
        .load_turns(&bot.private("").key, 10)
        .await
        .unwrap();
    assert!(turns.is_empty(), "a blocked reply is not history");
}

#[tokio::test]
async fn plugin_and_command_replies_are_screened_too() {
    let bot = TestBot::with_plugin(Guard);
    bot.backend.reply("the secret is out");
    assert_eq!(bot.say("tell me").await, ["the [redacted] is out"]);
}
