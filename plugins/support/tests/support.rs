//! The support plugin driven through a real engine with a scripted model and
//! the fixture knowledge base in `tests/fixtures/kb`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use natter_core::test_utils::{Op, OutboxEvent, RecordingOutbox, ScriptedBackend, TestBot};
use natter_core::{Addressed, Author, ChatRequest, DeliveryError, ModelBackend, Platform, Role};
use natter_plugin_support::settings::NOT_FOUND;
use natter_plugin_support::{SupportPlugin, SupportSettings};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kb")
}

fn settings() -> SupportSettings {
    SupportSettings {
        docs: fixtures(),
        handoff_channel: Some("test:support-team".into()),
        ..SupportSettings::default()
    }
}

fn bot_with(settings: SupportSettings) -> TestBot {
    TestBot::with_plugin(SupportPlugin::new(settings).expect("plugin builds"))
}

fn bot() -> TestBot {
    bot_with(settings())
}

fn system(request: &ChatRequest) -> &str {
    assert_eq!(request.messages[0].role, Role::System);
    &request.messages[0].content
}

/// A copy of the fixture knowledge base that a test may change.
fn copied_kb() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(fixtures()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// What was sent to channel `channel` of the test platform.
fn sent_to(bot: &TestBot, channel: &str) -> Vec<String> {
    bot.outbox
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send { to, text, .. }
                if to.platform == Platform::new("test") && to.channel == channel =>
            {
                Some(text)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn answers_cite_the_chunk_that_holds_the_answer() {
    let bot = bot();

    bot.backend
        .reply("Standard delivery takes 2 to 3 working days [1].");
    assert_eq!(
        bot.say("How long does standard delivery take?").await,
        ["Standard delivery takes 2 to 3 working days [1]."]
    );
    let asked = bot.backend.last_request();
    let prompt = system(&asked);
    assert!(prompt.contains("cite"), "{prompt}");
    assert!(
        prompt.contains(
            "[1] shipping.md — Shipping › Delivery times\n\
             Standard delivery within Germany takes 2 to 3 working days."
        ),
        "{prompt}"
    );
    assert!(
        !prompt.contains("warranty.txt"),
        "unrelated chunk: {prompt}"
    );
    assert!(!prompt.contains("returns.md"), "unrelated chunk: {prompt}");
    assert_eq!(
        asked.messages.last().unwrap().content,
        "How long does standard delivery take?"
    );

    bot.backend.reply("Yes, we accept PayPal [1].");
    bot.say("Do you accept PayPal?").await;
    let prompt = system(&bot.backend.last_request()).to_owned();
    assert!(
        prompt.contains(
            "[1] faq.md — Which payment methods do you accept?\n\
             We accept Visa, Mastercard, PayPal"
        ),
        "{prompt}"
    );
    assert!(
        !prompt.contains("\n[2] "),
        "only the matching answer: {prompt}"
    );
    assert!(
        !prompt.contains("Delivery times"),
        "the last question's excerpts are gone: {prompt}"
    );

    bot.backend.reply("That is covered by the warranty [1].");
    bot.say("The dimmer of my lamp stopped working").await;
    let prompt = system(&bot.backend.last_request()).to_owned();
    assert!(
        prompt.contains("[1] warranty.txt\nEvery Lumen Lamps product"),
        "{prompt}"
    );
    assert!(
        prompt.contains("The warranty covers faulty wiring, broken switches and dimmers"),
        "{prompt}"
    );
}

#[tokio::test]
async fn questions_the_articles_do_not_cover_are_declined_without_the_model() {
    let bot = bot();
    for question in [
        "What's the weather like in Paris tomorrow?",
        "can you tell me a joke",
    ] {
        let shown = bot.say(question).await;
        assert_eq!(shown, [NOT_FOUND], "{question}");
        assert!(shown[0].contains("/human"));
    }
    assert!(
        bot.backend.requests().is_empty(),
        "the model was never asked"
    );
}

#[tokio::test]
async fn a_stricter_min_score_declines_weak_matches() {
    // "Do you ship to Japan?" only shares common words with the shipping pages.
    let question = "Do you ship to Japan?";
    let lenient = bot();
    lenient.backend.reply("We only ship within Europe [1].");
    assert_eq!(
        lenient.say(question).await,
        ["We only ship within Europe [1]."]
    );

    let strict = bot_with(SupportSettings {
        min_score: 3.0,
        ..settings()
    });
    assert_eq!(strict.say(question).await, [NOT_FOUND]);
    assert!(strict.backend.requests().is_empty());
}

#[tokio::test]
async fn top_k_limits_the_excerpts() {
    let bot = bot_with(SupportSettings {
        top_k: 1,
        ..settings()
    });
    bot.backend.reply("ok");
    bot.say("How long does standard delivery take?").await;
    let prompt = system(&bot.backend.last_request()).to_owned();
    assert!(prompt.contains("[1] shipping.md — Shipping › Delivery times"));
    assert!(!prompt.contains("\n[2] "), "{prompt}");
}

#[tokio::test]
async fn kb_search_shows_the_best_match_with_its_score() {
    let bot = bot();
    let shown = bot.say("/kb search paypal").await;
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].starts_with("Best matches for “paypal” (used when the score is above 1):"),
        "{}",
        shown[0]
    );
    let first = shown[0].lines().nth(1).unwrap();
    assert!(
        first.starts_with("1. **faq.md — Which payment methods do you accept?** (score "),
        "{first}"
    );

    let shown = bot.say("/kb search when are you open").await;
    assert!(
        shown[0].contains("contact.toml — When is customer service open?"),
        "{}",
        shown[0]
    );

    assert_eq!(
        bot.say("/kb search weather").await,
        ["No help article matches “weather”."]
    );
    for usage in ["/kb", "/kb search", "/kb frobnicate"] {
        let shown = bot.say(usage).await;
        assert!(
            shown[0].starts_with("Usage: /kb search <words>"),
            "{usage}: {shown:?}"
        );
    }
    assert!(bot.backend.requests().is_empty());
}

#[tokio::test]
async fn kb_reload_picks_up_a_new_file_for_admins_only() {
    let dir = copied_kb();
    let bot = bot_with(SupportSettings {
        docs: dir.path().to_owned(),
        ..settings()
    });
    let question = "Where is your showroom?";
    assert_eq!(bot.say(question).await, [NOT_FOUND]);

    fs::write(
        dir.path().join("showroom.md"),
        "# Showroom\n\nOur showroom is at Karl-Heine-Straße 12 in Leipzig, open Saturdays 10:00–16:00.\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("old-notes.txt"),
        b"Caf\xe9 notes in Latin-1\n",
    )
    .unwrap();

    let member = Author::user("bob", "Bob");
    let refused = bot
        .send(bot.group("shop", member, Addressed::Command, "/kb reload"))
        .await;
    assert_eq!(refused, ["Only admins can use /kb reload in group chats."]);
    assert_eq!(bot.say(question).await, [NOT_FOUND], "not reloaded");

    let admin = Author::user("carol", "Carol").admin();
    let report = bot
        .send(bot.group("shop", admin, Addressed::Command, "/kb reload"))
        .await;
    assert_eq!(report.len(), 1);
    assert!(
        report[0].starts_with("Reloaded the knowledge base: 6 files, 17 chunks.\nSkipped 1:\n• old-notes.txt — not UTF-8"),
        "{}",
        report[0]
    );

    bot.backend.reply("Karl-Heine-Straße 12 [1].");
    assert_eq!(bot.say(question).await, ["Karl-Heine-Straße 12 [1]."]);
    let prompt = system(&bot.backend.last_request()).to_owned();
    assert!(
        prompt.contains("[1] showroom.md — Showroom\nOur showroom is at"),
        "{prompt}"
    );
}

#[tokio::test]
async fn kb_reload_reports_a_docs_folder_that_went_away() {
    let dir = copied_kb();
    let bot = bot_with(SupportSettings {
        docs: dir.path().to_owned(),
        ..settings()
    });
    drop(dir);
    let shown = bot.say("/kb reload").await;
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].starts_with("Could not reload the knowledge base: cannot read the docs folder /"),
        "{}",
        shown[0]
    );
    assert!(
        shown[0].ends_with("The one loaded before stays in use."),
        "{}",
        shown[0]
    );
    bot.backend.reply("2 to 3 working days [1].");
    assert_eq!(
        bot.say("How long does standard delivery take?").await,
        ["2 to 3 working days [1]."],
        "the old knowledge base stays in use"
    );
}

#[tokio::test]
async fn only_the_listed_channels_get_support() {
    let bot = bot_with(SupportSettings {
        channels: vec!["test:helpdesk".into()],
        ..settings()
    });
    let weather = "What's the weather like in Paris tomorrow?";
    let alice = || Author::user("alice", "Alice");

    let shown = bot
        .send(bot.group("helpdesk", alice(), Addressed::Mentioned, weather))
        .await;
    assert_eq!(shown, [NOT_FOUND]);
    assert!(bot.backend.requests().is_empty());

    bot.backend.reply("Sunny, probably.");
    let shown = bot
        .send(bot.group("random", alice(), Addressed::Mentioned, weather))
        .await;
    assert_eq!(shown, ["Sunny, probably."]);
    assert!(
        !system(&bot.backend.last_request()).contains("help articles"),
        "no excerpts outside support channels"
    );

    let shown = bot
        .send(bot.group("random", alice(), Addressed::Command, "/human"))
        .await;
    assert_eq!(
        shown,
        ["Handing over to a person isn't available in this chat."]
    );
    assert!(sent_to(&bot, "support-team").is_empty());
}

#[tokio::test]
async fn human_posts_the_recent_turns_to_the_team_channel() {
    let bot = bot_with(SupportSettings {
        handoff_turns: 2,
        ..settings()
    });
    bot.backend
        .reply("Standard delivery takes 2 to 3 working days [1].");
    bot.say("How long does standard delivery take?").await;
    bot.backend.reply("Yes, we accept PayPal [1].");
    bot.say("Do you accept PayPal?").await;
    bot.say("What's the weather like in Paris tomorrow?").await;

    let shown = bot.say("/human my parcel is late, order 1234").await;
    let thanks = "Thanks — I've passed your request and our conversation on to our team. \
                  A person will follow up with you soon.";
    assert!(shown.contains(&thanks.to_owned()), "{shown:?}");
    assert_eq!(
        sent_to(&bot, "alice").last().map(String::as_str),
        Some(thanks)
    );

    let posted = sent_to(&bot, "support-team");
    assert_eq!(posted.len(), 1, "{posted:?}");
    let notice = &posted[0];
    for part in [
        "Hand-off request** from **Alice** (user id alice) in test:alice",
        "Note: my parcel is late, order 1234",
        "Last 2 turns:",
        "> **Alice:** Do you accept PayPal?\n> **Bot:** Yes, we accept PayPal [1].",
        "> **Alice:** What's the weather like in Paris tomorrow?\n> **Bot:** Sorry, I couldn't find",
    ] {
        assert!(notice.contains(part), "missing {part:?} in:\n{notice}");
    }
    assert!(
        !notice.contains("standard delivery"),
        "only the last 2 turns: {notice}"
    );
}

#[tokio::test]
async fn human_without_a_handoff_channel_says_it_is_not_set_up() {
    let bot = bot_with(SupportSettings {
        handoff_channel: None,
        ..settings()
    });
    let shown = bot.say("/human please call me").await;
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].starts_with("Sorry, handing over to a person isn't set up for this bot yet"),
        "{}",
        shown[0]
    );
    assert_eq!(
        bot.outbox.message_count(),
        1,
        "nothing posted anywhere else"
    );
}

#[test]
fn settings_errors_name_the_key_or_the_folder() {
    let missing = fixtures().join("no-such-folder");
    let error = SupportPlugin::new(SupportSettings {
        docs: missing.clone(),
        ..settings()
    })
    .unwrap_err();
    assert_eq!(error.key(), "plugins.support.docs");
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );

    let error = SupportPlugin::new(SupportSettings {
        handoff_channel: Some("support-team".into()),
        ..settings()
    })
    .unwrap_err();
    assert_eq!(error.key(), "plugins.support.handoff_channel");
    assert!(error.to_string().contains("support-team"), "{error}");

    let section = serde_json::json!({"docs": "kb", "top-k": 3});
    let typo = serde_json::from_value::<SupportSettings>(section).unwrap_err();
    assert!(typo.to_string().contains("top-k"), "{typo}");
}

#[tokio::test]
async fn human_tells_the_user_when_the_team_chat_cannot_be_reached() {
    let sorry =
        "Sorry, I couldn't reach our team just now. Please try /human again in a few minutes.";

    let bot = bot();
    bot.outbox
        .fail_next(Op::Send, DeliveryError::Rejected("chat not found".into()));
    assert_eq!(bot.say("/human hello?").await, [sorry]);
    assert!(sent_to(&bot, "support-team").is_empty());

    // A platform that is not running in this process.
    let bot = bot_with(SupportSettings {
        handoff_channel: Some("discord:112233".into()),
        ..settings()
    });
    assert_eq!(bot.say("/human hello?").await, [sorry]);
    assert_eq!(bot.outbox.message_count(), 1);
}

#[tokio::test]
async fn old_turns_make_room_for_the_excerpts_in_a_small_context_window() {
    let backend = Arc::new(ScriptedBackend::new().with_context_window(1200));
    let plugin = SupportPlugin::new(settings()).unwrap();
    // Summaries off: the old turns are simply dropped, and every request the
    // scripted model sees is a reply.
    let bot = TestBot::with_parts(backend, Arc::new(RecordingOutbox::default()), |builder| {
        builder
            .plugin(Arc::new(plugin), serde_json::Value::Null)
            .settings(natter_core::EngineSettings {
                summarize: false,
                ..natter_core::EngineSettings::default()
            })
    });
    // Turns outside the knowledge base's reach, long enough to fill the window.
    for n in 0..6 {
        bot.backend
            .reply(format!("Reply {n}: {}", "blah ".repeat(60)));
        bot.say(&format!(
            "Greeting {n} with express shipping costs {}",
            "la ".repeat(60)
        ))
        .await;
    }
    bot.backend.reply("2 to 3 working days [1].");
    bot.say("How long does standard delivery take?").await;

    let request = bot.backend.last_request();
    let budget = 1200 - request.params.max_tokens.unwrap() as usize;
    assert!(
        bot.backend.count_tokens(&request.messages) <= budget,
        "the request fits"
    );
    assert!(
        system(&request).contains("[1] shipping.md — Shipping › Delivery times"),
        "{}",
        system(&request)
    );
    let history = request.messages.len() - 2;
    assert!(history < 12, "old turns were left out: {history} remain");
    assert_eq!(history % 2, 0, "whole turns only");
    assert_eq!(
        request.messages.last().unwrap().content,
        "How long does standard delivery take?"
    );
}

#[tokio::test]
async fn a_model_that_cannot_answer_hands_the_conversation_over_by_itself() {
    let bot = bot();
    bot.backend
        .reply("I'm not sure about that, so I'm passing your question to a colleague.");
    let shown = bot
        .say("Can I return a lamp I bought as a gift with express delivery?")
        .await;
    assert_eq!(
        shown.last().map(String::as_str),
        Some("A person from our team will follow up with you here soon.")
    );
    let told = system(&bot.backend.last_request()).to_owned();
    assert!(
        told.contains(
            "reply with exactly this sentence and nothing else: \"I'm not sure about that"
        ),
        "{told}"
    );
    let posted = sent_to(&bot, "support-team");
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].contains("could not answer"), "{}", posted[0]);
    assert!(
        posted[0].contains("gift with express delivery"),
        "{}",
        posted[0]
    );

    // An ordinary answer hands nothing over.
    bot.backend
        .reply("Express delivery arrives the next working day [1].");
    bot.say("How fast is express delivery?").await;
    assert_eq!(sent_to(&bot, "support-team").len(), 1);
}

#[tokio::test]
async fn without_auto_handoff_the_model_suggests_human_instead() {
    let bot = bot_with(SupportSettings {
        auto_handoff: false,
        ..settings()
    });
    bot.backend
        .reply("I'm not sure about that, so I'm passing your question to a colleague.");
    bot.say("How fast is express delivery?").await;
    assert!(system(&bot.backend.last_request()).contains("suggest sending /human"));
    assert!(sent_to(&bot, "support-team").is_empty());
}

#[tokio::test]
async fn the_model_looks_things_up_mid_answer() {
    let bot = bot();
    bot.backend.call("kb_search", r#"{"query":"paypal"}"#);
    bot.backend.reply("Yes, we take PayPal [1].");
    assert_eq!(
        bot.say("Which payment methods do you accept?").await,
        ["Yes, we take PayPal [1]."]
    );
    let offered = &bot.backend.requests()[0].tools;
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].name, "kb_search");
    let found = bot
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert!(
        found.starts_with("[1] faq.md — Which payment methods do you accept?\n"),
        "{found}"
    );
    assert!(found.to_lowercase().contains("paypal"), "{found}");

    bot.backend
        .call("kb_search", r#"{"query":"weather forecast"}"#);
    bot.backend.reply("I don't know.");
    bot.say("Which payment methods do you accept, and the weather?")
        .await;
    let found = bot
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert_eq!(
        found,
        "Nothing in the help articles matches “weather forecast”."
    );
}

#[tokio::test]
async fn the_search_tool_stays_in_the_support_channels() {
    let bot = bot_with(SupportSettings {
        channels: vec!["test:helpdesk".into()],
        ..settings()
    });
    bot.backend.call("kb_search", r#"{"query":"paypal"}"#);
    bot.backend.reply("ok");
    bot.say("anything").await;
    let result = bot
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert_eq!(
        result,
        "error: the help articles are not searched in this chat"
    );
}
