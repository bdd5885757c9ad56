//! `/write` driven through a real engine with a scripted model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use natter_core::test_utils::{RecordingOutbox, ScriptedBackend, TestBot};
use natter_core::{
    Addressed, Author, ChatMessage, ConversationKey, ModelError, Platform, PlatformLimits, Role,
};
use natter_plugin_generate::{GeneratePlugin, GenerateSettings, HistoryPolicy, KindSettings};

fn plugin(settings: GenerateSettings) -> GeneratePlugin {
    GeneratePlugin::new(settings).unwrap()
}

fn bot() -> TestBot {
    TestBot::with_plugin(plugin(GenerateSettings::default()))
}

fn alice_key() -> ConversationKey {
    ConversationKey::new(Platform::new("test"), "private/alice")
}

/// The user message of the last request (the rendered prompt).
fn last_prompt(bot: &TestBot) -> String {
    let request = bot.backend.last_request();
    let user = request.messages.last().unwrap();
    assert_eq!(user.role, Role::User);
    user.content.clone()
}

#[tokio::test]
async fn write_alone_lists_kinds_with_an_example() {
    let listing = bot().say("/write").await.join("\n");
    for kind in ["poem", "story", "article", "summary", "email", "slogan"] {
        assert!(
            listing.contains(&format!("• {kind} — ")),
            "{kind} missing: {listing}"
        );
    }
    assert!(
        listing.contains("Example: /write poem the sea at night"),
        "{listing}"
    );
    assert!(listing.contains("--words N"), "{listing}");
}

#[tokio::test]
async fn the_prompt_carries_kind_topic_and_options() {
    let bot = bot();
    bot.backend.reply("# Tides\nThe sea at night…");
    let shown = bot
        .say("/write poem the sea at night --words 80 --tone calm --lang French --audience \"young children\"")
        .await;
    assert_eq!(shown, ["# Tides\nThe sea at night…"]);

    let request = bot.backend.last_request();
    assert_eq!(request.messages[0].role, Role::System);
    assert!(request.messages[0].content.contains("skilled writer"));
    assert_eq!(
        last_prompt(&bot),
        "Write a poem about the sea at night, with a title.\nLength: about 80 words.\n\
         Tone: calm.\nAudience: young children.\nLanguage: write it in French."
    );
    assert!(
        request.params.max_tokens.unwrap() >= 360,
        "room for 80 words"
    );
}

#[tokio::test]
async fn every_builtin_kind_names_its_topic() {
    let bot = bot();
    for (kind, expected) in [
        ("story", "Write a short story about a lost key"),
        ("article", "Write an article about a lost key"),
        ("email", "Write an email: a lost key."),
        ("slogan", "slogans for a lost key"),
    ] {
        bot.say(&format!("/write {kind} a lost key")).await;
        let prompt = last_prompt(&bot);
        assert!(prompt.contains(expected), "{kind}: {prompt}");
    }
    bot.say("/write story a lost key").await;
    assert!(last_prompt(&bot).contains("Length: about 600 words."));
}

#[tokio::test]
async fn a_kind_added_in_settings_works_without_code() {
    let settings: GenerateSettings = serde_json::from_value(serde_json::json!({
        "kinds": {
            "haiku": {
                "description": "A haiku (5-7-5)",
                "template": "Write a haiku about {{ topic }}.{% if tone %} Make it {{ tone }}.{% endif %}",
            },
            "poem": { "words": 40 },
        }
    }))
    .unwrap();
    let bot = TestBot::with_plugin(plugin(settings));
    assert!(bot.say("/write").await[0].contains("• haiku — A haiku (5-7-5)"));

    bot.backend.reply("old pond / a frog jumps / splash");
    assert_eq!(
        bot.say("/write haiku autumn rain --tone sad").await,
        ["old pond / a frog jumps / splash"]
    );
    assert_eq!(
        last_prompt(&bot),
        "Write a haiku about autumn rain. Make it sad."
    );

    bot.say("/write poem the moon").await;
    assert!(last_prompt(&bot).contains("Length: about 40 words."));
}

#[tokio::test]
async fn a_builtin_template_can_be_replaced() {
    let mut settings = GenerateSettings::default();
    settings.kinds.insert(
        "slogan".into(),
        KindSettings {
            template: Some("Three slogans for {{ topic }} in {{ lang or 'English' }}.".into()),
            ..KindSettings::default()
        },
    );
    let bot = TestBot::with_plugin(plugin(settings));
    bot.say("/write slogan a bakery --lang Welsh").await;
    assert_eq!(last_prompt(&bot), "Three slogans for a bakery in Welsh.");
}

#[test]
fn a_broken_template_is_refused_at_start() {
    let mut settings = GenerateSettings::default();
    settings.kinds.insert(
        "haiku".into(),
        KindSettings {
            template: Some("about {{ subject }}".into()),
            ..KindSettings::default()
        },
    );
    let error = GeneratePlugin::new(settings).unwrap_err().to_string();
    assert!(error.contains("haiku"), "{error}");
}

#[tokio::test]
async fn summary_works_on_the_replied_to_message() {
    let bot = bot();
    let mut message = bot.private("/write summary for a manager");
    message.replied_to_text = Some("The quarterly report shows revenue up 12%.".into());
    bot.send(message).await;
    let prompt = last_prompt(&bot);
    assert!(
        prompt.starts_with("Summarise the text below, focusing on for a manager."),
        "{prompt}"
    );
    assert!(
        prompt.contains("The quarterly report shows revenue up 12%."),
        "{prompt}"
    );

    bot.say("/write summary Cats sleep sixteen hours a day.")
        .await;
    let prompt = last_prompt(&bot);
    assert!(prompt.starts_with("Summarise the text below."), "{prompt}");
    assert!(
        prompt.contains("\"\"\"\nCats sleep sixteen hours a day.\n\"\"\""),
        "{prompt}"
    );

    let requests = bot.backend.requests().len();
    let hint = bot.say("/write summary").await;
    assert_eq!(
        hint,
        ["Reply to a message with /write summary, or put the text after it: /write summary <text>"]
    );
    assert_eq!(bot.backend.requests().len(), requests, "no model call");
}

#[tokio::test]
async fn mistakes_get_a_usage_answer_and_no_model_call() {
    let bot = bot();
    let unknown = bot.say("/write sonnet love").await;
    assert!(
        unknown[0].starts_with("I don't know how to write a sonnet. Kinds: article, email, poem"),
        "{unknown:?}"
    );
    let option = bot.say("/write poem love --style odd").await;
    assert!(
        option[0].starts_with("Unknown option --style."),
        "{option:?}"
    );
    let words = bot.say("/write poem love --words 99999").await;
    assert_eq!(words, ["--words takes a number from 1 to 3000."]);
    let topic = bot.say("/write poem --tone sad").await;
    assert!(
        topic[0].starts_with("What about? Example: /write poem"),
        "{topic:?}"
    );
    assert!(bot.backend.requests().is_empty());
}

#[tokio::test]
async fn long_pieces_are_split_never_truncated() {
    let limits = PlatformLimits {
        max_len: 200,
        ..PlatformLimits::unlimited()
    };
    let bot = TestBot::with_parts(
        Arc::new(ScriptedBackend::new()),
        Arc::new(RecordingOutbox::new(limits)),
        |b| {
            b.plugin(
                Arc::new(plugin(GenerateSettings::default())),
                serde_json::Value::Null,
            )
        },
    );
    let paragraphs: Vec<String> = (1..=12)
        .map(|n| format!("Paragraph {n} of the story, with enough words to take some room."))
        .collect();
    bot.backend.reply(paragraphs.join("\n\n"));
    let shown = bot.say("/write story a long road").await;
    assert!(shown.len() > 1, "split into several messages: {shown:?}");
    assert!(shown.iter().all(|m| m.chars().count() <= 200));
    let all = shown.join("\n");
    for paragraph in &paragraphs {
        assert!(all.contains(paragraph.as_str()), "lost: {paragraph}");
    }
}

#[tokio::test]
async fn a_piece_enters_history_when_the_user_follows_up() {
    let bot = bot();
    bot.backend.reply("Roses are red.");
    bot.say("/write poem roses").await;
    let store = bot.engine.store();
    assert!(
        store
            .history
            .load_turns(&alice_key(), 10)
            .await
            .unwrap()
            .is_empty(),
        "not yet"
    );

    bot.backend.reply("Roses.");
    bot.say("make it shorter").await;
    let messages = bot.backend.last_request().messages;
    let n = messages.len();
    assert_eq!(messages[n - 3], ChatMessage::user("/write poem roses"));
    assert_eq!(messages[n - 2], ChatMessage::assistant("Roses are red."));
    assert_eq!(messages[n - 1], ChatMessage::user("make it shorter"));
    assert_eq!(
        store
            .history
            .load_turns(&alice_key(), 10)
            .await
            .unwrap()
            .len(),
        2,
        "piece + follow-up"
    );
}

#[tokio::test]
async fn a_piece_nobody_follows_up_stays_out_of_history() {
    let bot = bot();
    bot.backend.reply("First piece.");
    bot.say("/write poem one").await;
    bot.backend.reply("Second piece.");
    bot.say("/write poem two").await;

    bot.say("thanks").await;
    let contents: Vec<String> = bot
        .backend
        .last_request()
        .messages
        .iter()
        .map(|m| m.content.clone())
        .collect();
    assert!(
        !contents.iter().any(|c| c == "First piece."),
        "replaced piece stays out"
    );
    assert!(
        contents.iter().any(|c| c == "Second piece."),
        "latest piece followed up"
    );
}

#[tokio::test]
async fn in_groups_others_bring_a_piece_in_only_by_replying_to_it() {
    let bot = bot();
    let alice = Author::user("alice", "Alice");
    let bob = Author::user("bob", "Bob");
    let key = ConversationKey::new(Platform::new("test"), "group/club");
    bot.backend.reply("## Club Song\nWe meet on Tuesdays.");
    bot.send(bot.group("club", alice, Addressed::Command, "/write poem our club"))
        .await;

    bot.send(bot.group(
        "club",
        bob.clone(),
        Addressed::Mentioned,
        "what's the weather?",
    ))
    .await;
    assert_eq!(
        bot.engine
            .store()
            .history
            .load_turns(&key, 10)
            .await
            .unwrap()
            .len(),
        1,
        "only Bob's chat"
    );

    let mut reply = bot.group("club", bob, Addressed::ReplyToBot, "love it, add a verse");
    reply.replied_to_text = Some("Club Song\nWe meet on Tuesdays.".into());
    bot.send(reply).await;
    let messages = bot.backend.last_request().messages;
    assert!(
        messages
            .iter()
            .any(|m| m.content == "## Club Song\nWe meet on Tuesdays."),
        "{messages:?}"
    );
}

#[tokio::test]
async fn history_policy_always_and_never() {
    for (policy, expected) in [(HistoryPolicy::Always, 1), (HistoryPolicy::Never, 0)] {
        let settings = GenerateSettings {
            history: policy,
            ..GenerateSettings::default()
        };
        let bot = TestBot::with_plugin(plugin(settings));
        bot.backend.reply("A piece.");
        bot.say("/write slogan tea").await;
        let turns = bot
            .engine
            .store()
            .history
            .load_turns(&alice_key(), 10)
            .await
            .unwrap();
        assert_eq!(turns.len(), expected, "{policy:?}");
        bot.say("next").await;
        let turns = bot
            .engine
            .store()
            .history
            .load_turns(&alice_key(), 10)
            .await
            .unwrap();
        assert_eq!(turns.len(), expected + 1, "{policy:?}");
    }
}

#[tokio::test]
async fn a_model_failure_is_one_sentence_and_keeps_nothing() {
    let bot = bot();
    bot.backend
        .fail(ModelError::Unavailable("connection refused".into()));
    let shown = bot.say("/write poem rain").await;
    assert_eq!(
        shown,
        [ModelError::Unavailable(String::new()).user_message()]
    );
    bot.say("and?").await;
    assert_eq!(
        bot.backend.last_request().messages.len(),
        2,
        "system + new message only"
    );
}
