//! Confirmations on Discord, end to end: the real adapter and engine (a
//! scripted model calling a `confirm` tool) against the fake Discord, reached
//! through `proxy_url` and `gateway_url`. The question comes with Allow /
//! Refuse buttons; only the asker's press counts, every press gets an
//! ephemeral answer, the settled question loses its buttons, and `/yes`
//! still works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::{Janitor, ScriptedBackend};
use natter_core::{Engine, ToolSettings};
use natter_discord::{DiscordError, DiscordSettings, Snowflake, run};
use natter_test_support::discord::{FakeDiscord, Post, Posted, TOKEN, User};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const GUILD: u64 = 100;
const CHANNEL: u64 = 200;
const DM: u64 = 400;
const OTHER_GUILD: u64 = 900;
const OTHER_CHANNEL: u64 = 901;
const ARGS: &str = r#"{"what":"the logs"}"#;
const WHAT: &str = r#"`wipe` with `{"what":"the logs"}`"#;
const NOTHING_WAITING: &str = "Nothing is waiting for your answer (it may have expired).";

struct Bot {
    fake: FakeDiscord,
    backend: Arc<ScriptedBackend>,
    janitor: Arc<Janitor>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), DiscordError>>,
}

impl Bot {
    async fn start() -> Self {
        Self::with(|_| {}, ToolSettings::default()).await
    }

    async fn with(configure: impl FnOnce(&mut DiscordSettings), tools: ToolSettings) -> Self {
        let fake = FakeDiscord::start().await;
        fake.add_channel(GUILD, CHANNEL);
        fake.add_channel(OTHER_GUILD, OTHER_CHANNEL);
        let mut settings = DiscordSettings {
            token: Some(SecretString::from(TOKEN)),
            proxy_url: Some(fake.proxy_url()),
            gateway_url: Some(fake.gateway_url()),
            ..DiscordSettings::default()
        };
        configure(&mut settings);
        let backend = Arc::new(ScriptedBackend::new());
        let janitor = Arc::new(Janitor::default());
        let engine = Engine::builder(backend.clone())
            .plugin(janitor.clone(), Value::Null)
            .tools(tools)
            .build()
            .unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(settings, engine, shutdown.clone()));
        fake.wait_ready().await;
        Self {
            fake,
            backend,
            janitor,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run does not panic");
        assert!(result.is_ok(), "run ended with {result:?}");
    }

    fn wiped(&self) -> usize {
        self.janitor.wiped()
    }

    /// `post` makes the model call `wipe`, then say `answer`; returns the
    /// question once it shows its buttons.
    async fn ask(&self, post: Post, channel: u64, answer: &str) -> Posted {
        self.backend.call("wipe", ARGS);
        self.backend.reply(answer);
        self.fake.post(post);
        self.fake
            .wait_until("a question with buttons", |v| {
                v.posted_in(channel).iter().any(|p| !p.buttons().is_empty())
            })
            .await;
        self.fake
            .posted_in(channel)
            .into_iter()
            .find(|p| !p.buttons().is_empty())
            .unwrap()
    }

    /// `who` presses the button labelled `label` on `question`; returns the response.
    async fn press(&self, who: &User, question: &Posted, label: &str) -> Value {
        let button = question
            .buttons()
            .into_iter()
            .find(|b| b.label == label)
            .unwrap_or_else(|| panic!("no {label} button on {question:?}"));
        let interaction = self.fake.press(who, question, &button.custom_id);
        self.fake.wait_interaction_response(interaction).await
    }

    /// Waits until `channel` holds a bot message reading `content`.
    async fn shown(&self, channel: u64, content: &str) -> Posted {
        self.fake
            .wait_until(&format!("{content:?} in {channel}"), |v| {
                v.posted_in(channel).iter().any(|p| p.content == content)
            })
            .await;
        self.fake
            .posted_in(channel)
            .into_iter()
            .find(|p| p.content == content)
            .unwrap()
    }

    /// Message `id` in `channel` as it stands now.
    fn message(&self, channel: u64, id: u64) -> Posted {
        self.fake
            .posted_in(channel)
            .into_iter()
            .find(|p| p.id == id)
            .unwrap()
    }
}

fn alice() -> User {
    User::human(11, "alice")
}

fn bob() -> User {
    User::human(12, "bob")
}

/// What a press was answered with: the text of an ephemeral message that
/// pings no one, or `None` for an acknowledgement that shows nothing.
fn told(response: &Value) -> Option<&str> {
    match response["type"].as_u64() {
        Some(4) => {
            let data = &response["data"];
            assert_eq!(data["flags"], 64, "not ephemeral: {response}");
            assert_eq!(
                data["allowed_mentions"]["parse"],
                json!([]),
                "may ping: {response}"
            );
            data["content"].as_str()
        }
        Some(6) => None,
        _ => panic!("an answer that is neither a message nor an acknowledgement: {response}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_asker_allows_by_button_and_only_the_asker() {
    let bot = Bot::start().await;
    let post = Post::in_guild(GUILD, CHANNEL, &alice(), "wipe the logs").mentioning_bot();
    let question = bot.ask(post, CHANNEL, "The logs are gone.").await;
    assert_eq!(
        question.content,
        format!(
            "🔧 I'd like to run {WHAT}. Allow it?\n\nalice, press Allow or Refuse (or reply /yes or /no)."
        )
    );
    assert!(question.reply_to.is_some(), "not a reply to the question");
    assert_eq!(question.allowed_mentions["parse"], json!([]), "it may ping");
    let buttons = question.buttons();
    let shown: Vec<(&str, Option<&str>, u64)> = buttons
        .iter()
        .map(|b| (b.label.as_str(), b.emoji.as_deref(), b.style))
        .collect();
    assert_eq!(
        shown,
        [("Allow", Some("✅"), 3), ("Refuse", Some("❌"), 4)],
        "labels, emoji, Success and Danger"
    );
    let (allow, refuse) = (&buttons[0].custom_id, &buttons[1].custom_id);
    assert!(
        allow.starts_with("natter:ap:") && allow.ends_with(":y"),
        "{allow}"
    );
    assert_eq!(refuse, &format!("{}n", &allow[..allow.len() - 1]));

    let by_bob = bot.press(&bob(), &question, "Allow").await;
    assert_eq!(told(&by_bob), Some("Only alice can answer this."));
    assert_eq!(bot.wiped(), 0, "Bob's press ran the tool");
    assert_eq!(bot.message(CHANNEL, question.id).buttons().len(), 2);

    let by_alice = bot.press(&alice(), &question, "Allow").await;
    assert_eq!(told(&by_alice), Some("Allowed."));
    bot.shown(CHANNEL, "The logs are gone.").await;
    assert_eq!(bot.wiped(), 1);
    let settled = bot.message(CHANNEL, question.id);
    assert_eq!(settled.content, format!("✅ alice allowed {WHAT}."));
    assert_eq!(settled.components, json!([]), "buttons left: {settled:?}");
    assert_eq!(
        bot.backend.last_request().messages.last().unwrap().content,
        "wiped"
    );

    let again = bot.press(&alice(), &question, "Allow").await;
    assert_eq!(told(&again), Some(NOTHING_WAITING));
    assert_eq!(bot.wiped(), 1, "a second press ran it again");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_in_a_dm_does_not_run_the_tool() {
    let bot = Bot::start().await;
    let post = Post::direct(DM, &alice(), "wipe the logs");
    let question = bot.ask(post, DM, "Fine, I left them.").await;
    let refused = bot.press(&alice(), &question, "Refuse").await;
    assert_eq!(told(&refused), Some("Refused."));
    bot.shown(DM, "Fine, I left them.").await;
    let settled = bot.message(DM, question.id);
    assert_eq!(settled.content, format!("❌ alice refused {WHAT}."));
    assert!(settled.buttons().is_empty());
    assert_eq!(bot.wiped(), 0);
    let told = bot
        .backend
        .last_request()
        .messages
        .last()
        .unwrap()
        .content
        .clone();
    assert!(told.starts_with("refused: alice said no"), "{told}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_after_expiry_finds_nothing_waiting() {
    let tools = ToolSettings {
        approval_timeout_secs: 1,
        ..ToolSettings::default()
    };
    let bot = Bot::with(|_| {}, tools).await;
    let post = Post::in_guild(GUILD, CHANNEL, &alice(), "wipe the logs").mentioning_bot();
    let question = bot.ask(post, CHANNEL, "Nobody answered.").await;
    let expired = format!("⌛ No answer in time: {WHAT} was not run.");
    assert!(bot.shown(CHANNEL, &expired).await.buttons().is_empty());
    // A client that still shows the buttons.
    let late = bot.press(&alice(), &question, "Allow").await;
    assert_eq!(told(&late), Some(NOTHING_WAITING));
    bot.shown(CHANNEL, "Nobody answered.").await;
    assert_eq!(bot.wiped(), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_still_answers_and_the_buttons_go() {
    let bot = Bot::start().await;
    let post = Post::in_guild(GUILD, CHANNEL, &alice(), "wipe the logs").mentioning_bot();
    let question = bot.ask(post, CHANNEL, "Done by /yes.").await;
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "/yes").mentioning_bot());
    bot.shown(CHANNEL, "Done by /yes.").await;
    assert_eq!(bot.wiped(), 1);
    let settled = bot.message(CHANNEL, question.id);
    assert_eq!(settled.content, format!("✅ alice allowed {WHAT}."));
    assert_eq!(settled.components, json!([]));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presses_outside_the_allowed_places_and_foreign_buttons_reach_nothing() {
    let allowed = |s: &mut DiscordSettings| s.allowed_guilds = vec![Snowflake(GUILD)];
    let bot = Bot::with(allowed, ToolSettings::default()).await;
    let post = Post::in_guild(GUILD, CHANNEL, &alice(), "wipe the logs").mentioning_bot();
    let question = bot.ask(post, CHANNEL, "Done.").await;
    // The same buttons on a message in a server the bot does not serve (as
    // if posted before the settings changed): acknowledged, nothing more.
    let elsewhere = Posted {
        channel: OTHER_CHANNEL,
        ..question.clone()
    };
    let elsewhere = bot.press(&alice(), &elsewhere, "Allow").await;
    assert_eq!(told(&elsewhere), None);
    // A button natter never made.
    let interaction = bot.fake.press(&alice(), &question, "poll:42");
    let foreign = bot.fake.wait_interaction_response(interaction).await;
    assert_eq!(told(&foreign), None);
    assert_eq!(bot.wiped(), 0);

    let allowed = bot.press(&alice(), &question, "Allow").await;
    assert_eq!(told(&allowed), Some("Allowed."));
    bot.shown(CHANNEL, "Done.").await;
    assert_eq!(bot.wiped(), 1);
    bot.stop().await;
}
