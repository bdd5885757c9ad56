//! The notes plugin, driven through a real engine with a scripted model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use natter_core::test_utils::TestBot;
use natter_core::{Addressed, Author, Role};
use natter_plugin_example::{NotesPlugin, NotesSettings};

fn bot() -> TestBot {
    TestBot::with_plugin(NotesPlugin::new(NotesSettings::default()))
}

#[tokio::test]
async fn a_note_reaches_the_models_system_prompt() {
    let bot = bot();
    assert_eq!(
        bot.say("/remember I'm vegetarian").await,
        ["Noted (1 of 20). I'll keep it in mind in this conversation."]
    );

    bot.say("what should I cook?").await;

    let system = &bot.backend.last_request().messages[0];
    assert_eq!(system.role, Role::System);
    assert!(
        system.content.contains("- I'm vegetarian (from Alice)"),
        "{}",
        system.content
    );
}

#[tokio::test]
async fn notes_are_listed_and_forgotten() {
    let bot = bot();
    bot.say("/remember one").await;
    bot.say("/remember two").await;
    assert_eq!(bot.say("/notes").await, ["1. one\n2. two"]);

    assert_eq!(bot.say("/forget 1").await, ["Forgot note 1."]);
    assert_eq!(bot.say("/notes").await, ["1. two"]);
    assert_eq!(
        bot.say("/forget 7").await,
        ["Usage: /forget <1–1|all> (see /notes)."]
    );
    assert_eq!(bot.say("/forget all").await, ["Forgot all 1 notes."]);

    bot.say("hello").await;
    assert!(
        !bot.backend.last_request().messages[0]
            .content
            .contains("Notes")
    );
}

#[tokio::test]
async fn limits_come_from_settings() {
    let settings = NotesSettings {
        max_notes: 1,
        max_chars: 10,
    };
    let bot = TestBot::with_plugin(NotesPlugin::new(settings));
    assert_eq!(
        bot.say("/remember far too long a note").await,
        ["That note is too long; keep it under 10 characters."]
    );
    bot.say("/remember short").await;
    assert_eq!(
        bot.say("/remember more").await,
        ["I already keep 1 notes here; /forget one first."]
    );
    assert_eq!(
        bot.say("/remember").await,
        ["Usage: /remember <something to keep in mind>"]
    );
}

#[tokio::test]
async fn each_conversation_has_its_own_notes() {
    let bot = bot();
    bot.say("/remember private thing").await;
    let in_group = bot.group(
        "team",
        Author::user("bob", "Bob"),
        Addressed::Command,
        "/notes",
    );
    assert_eq!(
        bot.send(in_group).await,
        ["No notes yet. Add one with /remember <text>."]
    );
}

#[tokio::test]
async fn help_lists_the_commands() {
    let help = bot().say("/help").await.join("");
    assert!(
        help.contains("/remember <text> — Keep a note in mind in this conversation"),
        "{help}"
    );
    assert!(
        help.contains("/forget <number|all> — Drop a note"),
        "{help}"
    );
}

#[test]
fn settings_read_from_toml_shaped_json() {
    let settings: NotesSettings =
        serde_json::from_value(serde_json::json!({"max_notes": 5})).unwrap();
    assert_eq!(settings.max_notes, 5);
    assert_eq!(settings.max_chars, 500);
    assert!(serde_json::from_value::<NotesSettings>(serde_json::json!({"max_note": 5})).is_err());
}

#[tokio::test]
async fn the_model_keeps_a_note_when_asked_in_words() {
    let bot = bot();
    bot.backend
        .call("notes_remember", r#"{"text":"I'm vegetarian"}"#);
    bot.backend
        .reply("Got it — I'll remember you're vegetarian.");
    assert_eq!(
        bot.say("keep in mind that I'm vegetarian").await,
        ["Got it — I'll remember you're vegetarian."]
    );
    assert_eq!(bot.say("/notes").await, ["1. I'm vegetarian"]);

    // The next turn's system prompt has it.
    bot.backend.reply("Try a mushroom risotto.");
    bot.say("what should I cook?").await;
    let system = &bot.backend.last_request().messages[0].content;
    assert!(
        system.ends_with("- I'm vegetarian (from Alice)"),
        "{system}"
    );
}
