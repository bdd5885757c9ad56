//! Bots wired with the moderation plugin, built from TOML as a user writes it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use natter_core::test_utils::{OutboxEvent, RecordingOutbox, ScriptedBackend, TestBot};
use natter_core::{Addressed, Author, PlatformLimits, Turn};
use natter_plugin_moderation::{ModerationPlugin, ModerationSettings};

/// The default refusal.
pub const REFUSAL: &str = "Sorry, I can't help with that.";

/// Settings from the body of a `[plugins.moderation]` section.
pub fn settings(toml: &str) -> ModerationSettings {
    toml::from_str(toml).expect("valid settings")
}

/// The plugin from the body of a `[plugins.moderation]` section.
pub fn plugin(toml: &str) -> ModerationPlugin {
    ModerationPlugin::new(settings(toml)).expect("valid settings")
}

/// A bot on a platform that does not stream.
pub fn bot(toml: &str) -> TestBot {
    TestBot::with_plugin(plugin(toml))
}

/// A bot on a platform that streams replies by editing them.
pub fn streaming_bot(toml: &str) -> TestBot {
    let limits = PlatformLimits {
        streaming: true,
        streaming_suffix: " …".into(),
        ..PlatformLimits::unlimited()
    };
    let plugin = Arc::new(plugin(toml));
    TestBot::with_parts(
        Arc::new(ScriptedBackend::new()),
        Arc::new(RecordingOutbox::new(limits)),
        |b| b.plugin(plugin, serde_json::Value::Null),
    )
}

/// Every text the platform was ever given: sends and edits, in order.
pub fn everything_shown(outbox: &RecordingOutbox) -> Vec<String> {
    outbox
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send { text, .. } | OutboxEvent::Edit { text, .. } => Some(text),
            OutboxEvent::Typing { .. } => None,
        })
        .collect()
}

/// The private conversation's stored turns.
pub async fn history(bot: &TestBot) -> Vec<Turn> {
    bot.engine
        .store()
        .history
        .load_turns(&bot.private("").key, 10)
        .await
        .unwrap()
}

/// A message mentioning the bot in group `group`, from Bob.
pub async fn in_group(bot: &TestBot, group: &str, text: &str) -> Vec<String> {
    let message = bot.group(
        group,
        Author::user("bob", "Bob"),
        Addressed::Mentioned,
        text,
    );
    bot.send(message).await
}

/// The text of the last user message the model was sent.
pub fn last_user_text(bot: &TestBot) -> String {
    bot.backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone()
}
