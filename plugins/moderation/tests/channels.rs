//! Per-channel overrides: stricter rules, replaced rules, no rules, and a
//! thread's entry winning over its channel's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{REFUSAL, bot, in_group};
use natter_core::test_utils::TestBot;
use natter_core::{Addressed, Author, ChannelRef, ConversationKey, Platform};

const SETTINGS: &str = r#"
input = { words = ["darn"] }
output = { words = ["secret"] }

[channels."test:kids"]
input = { words = ["heck"] }
output = { words = ["boring"], action = "refuse" }

[channels."test:staff"]
disabled = true

[channels."test:free"]
inherit = false
input = { words = ["heck"] }

[channels."test:forum"]
disabled = true

[channels."test:forum/7"]
input = { words = ["heck"] }
"#;

/// A message mentioning the bot in topic `thread` of group `group`.
async fn in_thread(bot: &TestBot, group: &str, thread: &str, text: &str) -> Vec<String> {
    let message = bot.message(
        ConversationKey::new(Platform::new("test"), format!("group/{group}/{thread}")),
        ChannelRef::group(Platform::new("test"), group).in_thread(thread),
        Author::user("bob", "Bob"),
        Addressed::Mentioned,
        text,
    );
    bot.send(message).await
}

#[tokio::test]
async fn a_stricter_channel_adds_to_the_global_rules() {
    let bot = bot(SETTINGS);
    assert_eq!(in_group(&bot, "kids", "what the heck").await, [REFUSAL]);
    assert_eq!(in_group(&bot, "kids", "darn").await, [REFUSAL], "inherited");
    assert_eq!(
        in_group(&bot, "grown-ups", "what the heck").await,
        ["echo: what the heck"],
        "elsewhere the extra word is fine"
    );
    assert_eq!(bot.backend.requests().len(), 1);
}

#[tokio::test]
async fn a_stricter_channel_can_block_replies_that_pass_elsewhere() {
    let bot = bot(SETTINGS);
    bot.backend.reply("a boring secret");
    assert_eq!(in_group(&bot, "kids", "tell me").await, [REFUSAL]);
    bot.backend.reply("a boring secret");
    assert_eq!(
        in_group(&bot, "grown-ups", "tell me").await,
        ["a boring [removed]"]
    );
}

#[tokio::test]
async fn a_disabled_channel_is_not_moderated() {
    let bot = bot(SETTINGS);
    assert_eq!(
        in_group(&bot, "staff", "darn, the secret").await,
        ["echo: darn, the secret"]
    );
    assert_eq!(in_group(&bot, "other", "darn").await, [REFUSAL]);
}

#[tokio::test]
async fn a_channel_that_does_not_inherit_uses_only_its_own_rules() {
    let bot = bot(SETTINGS);
    assert_eq!(in_group(&bot, "free", "darn").await, ["echo: darn"]);
    assert_eq!(in_group(&bot, "free", "heck").await, [REFUSAL]);
    bot.backend.reply("no secret here");
    assert_eq!(
        in_group(&bot, "free", "tell me").await,
        ["no secret here"],
        "no output rules of its own"
    );
}

#[tokio::test]
async fn a_threads_entry_wins_over_its_channels() {
    let bot = bot(SETTINGS);
    assert_eq!(in_thread(&bot, "forum", "7", "heck").await, [REFUSAL]);
    assert_eq!(
        in_thread(&bot, "forum", "7", "darn").await,
        [REFUSAL],
        "the thread inherits the global rules"
    );
    assert_eq!(
        in_thread(&bot, "forum", "8", "darn heck").await,
        ["echo: darn heck"],
        "other topics follow the channel's entry: disabled"
    );
    assert_eq!(in_group(&bot, "forum", "darn").await, ["echo: darn"]);
}
