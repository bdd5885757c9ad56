//! One path for plugin failures: every hook's error reaches the one handler
//! as a `PluginFailure` naming plugin and hook, the default handler shows the
//! same thing whichever hook failed, and a custom handler replaces it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::TestBot;
use natter_core::{
    ChatRequest, Command, CommandSpec, Flow, Hook, Incoming, JobContext, Plugin, PluginContext,
    PluginError, PluginFailure, ScheduledJob,
};
use tokio::sync::mpsc;

/// Fails in whichever hook the message names: "fail filter", "fail message",
/// "fail model", "fail after", `/fail`, `/fail_later` (a job that fails),
/// `/fail_usage` (a usage error from the model hook on the next message).
struct Fragile;

fn error_for(text: &str) -> PluginError {
    if text.contains("usage") {
        PluginError::usage("Say it differently.")
    } else {
        PluginError::internal(format!("broke on {text:?}"))
    }
}

#[async_trait]
impl Plugin for Fragile {
    fn name(&self) -> &str {
        "fragile"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("fail", "Fail in the command"),
            CommandSpec::new("fail_later", "Schedule a job that fails"),
        ]
    }

    async fn filter_input(
        &self,
        _cx: &mut PluginContext<'_>,
        text: &mut String,
    ) -> Result<Flow, PluginError> {
        if text.starts_with("fail filter") {
            return Err(error_for(text));
        }
        Ok(Flow::Continue)
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        if cmd.name == "fail_later" {
            cx.schedule("alice", cx.now_unix_ms(), serde_json::json!(null))
                .await?;
            return cx.reply("Scheduled.").await;
        }
        cx.reply("Trying…").await?;
        Err(error_for(&cmd.args))
    }

    async fn on_message(
        &self,
        _cx: &mut PluginContext<'_>,
        msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        if msg.text.starts_with("fail message") {
            return Err(error_for(&msg.text));
        }
        Ok(Flow::Continue)
    }

    async fn before_model(
        &self,
        cx: &mut PluginContext<'_>,
        _request: &mut ChatRequest,
    ) -> Result<(), PluginError> {
        let text = &cx.message().text;
        if text.starts_with("fail model") {
            return Err(error_for(text));
        }
        Ok(())
    }

    async fn after_reply(
        &self,
        cx: &mut PluginContext<'_>,
        _reply: &str,
    ) -> Result<(), PluginError> {
        let text = &cx.message().text;
        if text.starts_with("fail after") {
            return Err(error_for(text));
        }
        Ok(())
    }

    async fn on_job(&self, _cx: &mut JobContext<'_>, job: ScheduledJob) -> Result<(), PluginError> {
        Err(PluginError::internal(format!("job {} broke", job.id)))
    }
}

/// What a handler saw of one failure.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    plugin: String,
    hook: Hook,
    error: String,
    user_told: bool,
    in_conversation: bool,
}

/// A bot whose failure handler reports every failure on a channel and shows
/// the user "handled <hook>".
fn bot_with_custom_handler() -> (TestBot, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let bot = TestBot::with(move |builder| {
        builder
            .plugin(Arc::new(Fragile), serde_json::Value::Null)
            .on_plugin_error(move |failure: &PluginFailure| {
                let seen = Seen {
                    plugin: failure.plugin.clone(),
                    hook: failure.hook,
                    error: failure.error.to_string(),
                    user_told: failure.user_told,
                    in_conversation: failure.conversation.is_some(),
                };
                tx.send(seen).unwrap();
                Some(format!("handled {}", failure.hook))
            })
    });
    (bot, rx)
}

#[tokio::test]
async fn every_hooks_failure_reaches_the_one_handler() {
    let (bot, mut seen) = bot_with_custom_handler();
    let cases = [
        (
            "fail filter",
            Hook::FilterInput,
            false,
            vec!["handled filter_input"],
        ),
        (
            "/fail now",
            Hook::Command,
            true,
            vec!["Trying…", "handled on_command"],
        ),
        (
            "fail message",
            Hook::Message,
            false,
            vec!["handled on_message"],
        ),
        (
            "fail model",
            Hook::BeforeModel,
            false,
            vec!["handled before_model"],
        ),
        (
            "fail after",
            Hook::AfterReply,
            false,
            vec!["echo: fail after", "handled after_reply"],
        ),
    ];
    for (text, hook, user_told, shown) in cases {
        assert_eq!(bot.say(text).await, shown, "{text}");
        let failure = seen.recv().await.unwrap();
        assert_eq!(failure.hook, hook, "{text}");
        assert_eq!(failure.plugin, "fragile");
        assert!(failure.error.contains("broke on"), "{failure:?}");
        assert_eq!(failure.user_told, user_told, "{text}");
        assert!(failure.in_conversation);
    }
    assert!(seen.try_recv().is_err(), "one failure each");
}

#[tokio::test(start_paused = true)]
async fn a_failing_job_reaches_the_handler_without_a_conversation() {
    let (bot, mut seen) = bot_with_custom_handler();
    assert_eq!(bot.say("/fail_later").await, ["Scheduled."]);
    tokio::time::advance(Duration::from_millis(1)).await;
    bot.engine.wake_scheduler();
    let failure = seen.recv().await.unwrap();
    assert_eq!(failure.hook, Hook::Job);
    assert_eq!(failure.error, "job 1 broke");
    assert!(!failure.in_conversation);
    assert_eq!(
        bot.outbox.messages(),
        ["Scheduled."],
        "nobody to tell about a job"
    );
}

#[tokio::test]
async fn the_default_handler_treats_every_hook_alike() {
    let bot = TestBot::with_plugin(Fragile);
    let apology = "Sorry, something went wrong in the fragile plugin.";
    // A usage error is shown as it is, whichever hook returns it — the model
    // hook included.
    for text in [
        "fail filter usage",
        "fail message usage",
        "fail model usage",
    ] {
        assert_eq!(bot.say(text).await, ["Say it differently."], "{text}");
    }
    assert_eq!(
        bot.say("/fail usage").await,
        ["Trying…", "Say it differently."]
    );
    // Anything unexpected gets one apology naming the plugin.
    for text in ["fail filter", "fail message", "fail model"] {
        assert_eq!(bot.say(text).await, [apology], "{text}");
    }
    assert_eq!(bot.say("/fail").await, ["Trying…", apology]);
    assert_eq!(bot.say("fail after").await, ["echo: fail after", apology]);
    assert!(
        bot.backend.requests().iter().all(|r| !r
            .messages
            .last()
            .unwrap()
            .content
            .starts_with("fail model")),
        "a failed model hook stops the turn"
    );
}
