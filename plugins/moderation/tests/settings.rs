//! Settings: the documented example works, defaults are as documented, and
//! mistakes are errors that say where they are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::settings;
use natter_core::test_utils::TestBot;
use natter_core::{Addressed, Author, ChannelRef, ConversationKey, Platform};
use natter_plugin_moderation::{ModerationError, ModerationPlugin, ModerationSettings};

const DOCS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/moderation.md"
));

/// The `[plugins.moderation]` section of the `n`th TOML block in the docs,
/// split as natter splits it: its `enabled` switch, and the settings the
/// plugin gets (the rest).
fn documented(n: usize) -> (bool, ModerationSettings) {
    let block = DOCS
        .split("```toml\n")
        .nth(n + 1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block");
    let file: toml::Table = toml::from_str(block).expect("the block is valid TOML");
    let mut section = file["plugins"]["moderation"]
        .as_table()
        .expect("a table")
        .clone();
    let enabled = section
        .remove("enabled")
        .is_some_and(|v| v.as_bool().expect("enabled is true or false"));
    let settings = toml::Value::Table(section)
        .try_into()
        .expect("the block is valid settings");
    (enabled, settings)
}

fn error(toml: &str) -> ModerationError {
    ModerationPlugin::new(settings(toml)).expect_err("invalid settings")
}

#[tokio::test]
async fn the_documented_example_works_as_described() {
    let (enabled, settings) = documented(0);
    assert!(enabled, "the example switches the plugin on");
    let bot = TestBot::with_plugin(ModerationPlugin::new(settings).unwrap());
    let refusal = "Sorry, I can't help with that.";
    assert_eq!(bot.say("Crypto giveaway, join now").await, [refusal]);
    assert_eq!(bot.say("join t.me/+AbC123").await, [refusal]);

    bot.backend
        .reply("The internal codename is Falcon; SSN 078-05-1120.");
    assert_eq!(
        bot.say("tell me").await,
        ["The [removed] is Falcon; SSN [removed]."]
    );

    let in_channel = |platform: Platform, channel: &str, text: &str| {
        bot.message(
            ConversationKey::new(platform, channel),
            ChannelRef::group(platform, channel),
            Author::user("bob", "Bob"),
            Addressed::Mentioned,
            text,
        )
    };
    let telegram = |text| in_channel(Platform::new("telegram"), "-1001234567890", text);
    assert_eq!(bot.send(telegram("no spoiler please")).await, [refusal]);
    assert_eq!(bot.send(telegram("buy followers")).await, [refusal]);
    bot.backend.reply("Big spoiler: it was the butler.");
    assert_eq!(bot.send(telegram("and then?")).await, [refusal]);
    let discord = |text| in_channel(Platform::new("discord"), "123456789012345678", text);
    assert_eq!(
        bot.send(discord("buy followers")).await,
        ["echo: buy followers"],
        "moderation is off in the moderators' channel"
    );
}

#[test]
fn the_documented_defaults_are_the_defaults() {
    assert_eq!(documented(1), (false, ModerationSettings::default()));
}

#[test]
fn an_invalid_pattern_is_named_with_where_it_is() {
    let bad = error(
        r#"
        [channels."telegram:-100123".output]
        patterns = ['ok', '(unclosed']
        "#,
    );
    let text = bad.to_string();
    assert!(
        text.starts_with(
            "channels.\"telegram:-100123\".output.patterns: `(unclosed` is not a valid regular expression"
        ),
        "{text}"
    );
    let global = error(r#"input = { patterns = ['[z-a]'] }"#).to_string();
    assert!(global.starts_with("input.patterns: `[z-a]`"), "{global}");
}

#[test]
fn channel_keys_must_be_channel_references() {
    let text = error(r#"channels."-100123" = {}"#).to_string();
    assert!(text.starts_with("channels.\"-100123\": "), "{text}");
    assert!(text.contains("platform:channel"), "{text}");
    let text = error(r#"channels."Sl@ck:C1" = {}"#).to_string();
    assert!(text.contains("`Sl@ck` is not a platform name"), "{text}");
    assert!(matches!(
        error(r#"channels = { "telegram:1" = {}, "Telegram:1" = {} }"#),
        ModerationError::DuplicateChannel { .. }
    ));
}

#[test]
fn empty_words_texts_and_a_redaction_the_rules_match_are_refused() {
    assert_eq!(
        error(r#"output = { words = ["ok", ""] }"#).to_string(),
        "output.words: contains an empty entry, which would match everything"
    );
    assert!(matches!(
        error(r#"input = { patterns = [""] }"#),
        ModerationError::Empty { at } if at == "input.patterns"
    ));
    assert_eq!(
        error(r#"refusal = " ""#).to_string(),
        "refusal: must not be empty"
    );
    let text = error(r#"output = { words = ["removed"] }"#).to_string();
    assert!(
        text.starts_with("redaction: `[removed]` matches the rules in output"),
        "{text}"
    );
    // Refusing output never shows the redaction text, so that is fine.
    ModerationPlugin::new(settings(
        r#"output = { words = ["removed"], action = "refuse" }"#,
    ))
    .unwrap();
}

#[test]
fn unknown_keys_and_actions_are_errors() {
    for (toml, expected) in [
        ("word = [\"x\"]", "unknown field `word`"),
        ("input = { word = [\"x\"] }", "unknown field `word`"),
        (
            "channels.\"telegram:1\" = { disable = true }",
            "unknown field `disable`",
        ),
        ("output = { action = \"block\" }", "unknown variant `block`"),
        ("on_check_error = \"deny\"", "unknown variant `deny`"),
    ] {
        let error = toml::from_str::<ModerationSettings>(toml).unwrap_err();
        assert!(error.to_string().contains(expected), "{toml}: {error}");
    }
}

#[test]
fn streamed_replies_are_held_back_only_as_far_as_needed() {
    let plugin = |toml: &str| ModerationPlugin::new(settings(toml)).unwrap();
    assert_eq!(plugin("input = { words = [\"x\"] }").lookahead(), 0);
    assert!(
        natter_core::Plugin::output_filter(&plugin("")).is_none(),
        "no output rules: nothing held back"
    );
    assert_eq!(
        plugin(r#"output = { words = ["ab", "secret"] }"#).lookahead(),
        6
    );
    assert_eq!(
        plugin(r#"output = { words = ["launch code"] }"#).lookahead(),
        "launch".len() + 4 + "code".len(),
        "a phrase's gap may be a few whitespace characters"
    );
    assert_eq!(plugin(r#"output = { patterns = ['\d+'] }"#).lookahead(), 64);
    assert_eq!(
        plugin(
            r#"
            lookahead_chars = 8
            output = { words = ["a very long phrase indeed"] }
            channels."discord:1" = { output = { patterns = ['\d+'] } }
            "#
        )
        .lookahead(),
        "a very long phrase indeed".len() + 3 * 4,
        "the longest of the words and the pattern lookahead"
    );
}
