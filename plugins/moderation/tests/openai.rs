//! `openai_moderation`: the real OpenAI backend against a loopback fake of the
//! API — flagged input is refused before the model sees it, clean input
//! passes, and a failing moderation endpoint fails open unless told otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::REFUSAL;
use natter_core::test_utils::{RecordingOutbox, TestBot};
use natter_core::{
    Addressed, Author, ChannelRef, ConversationKey, Engine, Inbox, Incoming, MessageId,
    ModelBackend, Moderator, Platform,
};
use natter_openai::{OpenAiBackend, OpenAiSettings};
use natter_test_support::openai::FakeOpenAi;

const UNAVAILABLE: &str = "I can't check messages right now; please try again in a moment.";

fn openai(base_url: String) -> OpenAiBackend {
    OpenAiBackend::new(OpenAiSettings {
        base_url,
        model: "gpt-4o-mini".into(),
        max_retries: 0,
        ..OpenAiSettings::default()
    })
    .unwrap()
}

/// A base URL nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

/// An engine on `backend` with the moderation plugin checking with
/// `moderator`, on a recording platform.
struct Bot {
    _engine: Engine,
    inbox: Inbox,
    outbox: Arc<RecordingOutbox>,
    next: AtomicU64,
}

impl Bot {
    fn new(backend: Arc<dyn ModelBackend>, moderator: Arc<dyn Moderator>, settings: &str) -> Self {
        let plugin = Arc::new(common::plugin(settings).with_moderator(moderator));
        let engine = Engine::builder(backend)
            .plugin(plugin, serde_json::Value::Null)
            .build()
            .unwrap();
        let outbox = Arc::new(RecordingOutbox::default());
        let inbox = engine.attach(Platform::new("test"), outbox.clone());
        Self {
            _engine: engine,
            inbox,
            outbox,
            next: AtomicU64::new(1),
        }
    }

    /// Sends `text` in `channel` and returns what the bot answered.
    async fn say_in(&self, channel: &str, text: &str) -> Vec<String> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let message = Incoming {
            key: ConversationKey::new(Platform::new("test"), format!("private/{channel}")),
            channel: ChannelRef::private(Platform::new("test"), channel),
            id: MessageId(format!("in-{n}")),
            author: Author::user("alice", "Alice"),
            text: text.to_owned(),
            addressed: Addressed::Private,
            replied_to_text: None,
            attachments: Vec::new(),
        };
        let before = self.outbox.message_count();
        self.inbox.submit(message).handled().await;
        self.outbox.messages().split_off(before)
    }

    async fn say(&self, text: &str) -> Vec<String> {
        self.say_in("alice", text).await
    }
}

async fn fake() -> FakeOpenAi {
    let fake = FakeOpenAi::start().await;
    fake.flag_words(&["idiot"]);
    fake
}

#[tokio::test]
async fn flagged_input_is_refused_before_the_model_sees_it() {
    let fake = fake().await;
    let openai = Arc::new(openai(fake.base_url()));
    let bot = Bot::new(openai.clone(), openai, "openai_moderation = true");
    assert_eq!(bot.say("you IDIOT").await, [REFUSAL]);
    assert!(
        fake.requests().is_empty(),
        "no chat completion was asked for"
    );
    let checked = fake.moderation_requests();
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0]["input"], "you IDIOT");
    assert_eq!(checked[0]["model"], "omni-moderation-latest");
}

#[tokio::test]
async fn clean_input_passes_to_the_model() {
    let fake = fake().await;
    let openai = Arc::new(openai(fake.base_url()));
    let bot = Bot::new(openai.clone(), openai, "openai_moderation = true");
    assert_eq!(bot.say("hello there").await, ["echo: hello there"]);
    assert_eq!(fake.moderation_requests().len(), 1);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn the_rules_come_first_and_the_service_sees_redacted_text() {
    let fake = fake().await;
    let openai = Arc::new(openai(fake.base_url()));
    let bot = Bot::new(
        openai.clone(),
        openai,
        r#"
        openai_moderation = true
        input = { words = ["spam"], patterns = ['\d{4}-\d{4}'] }
        channels."test:redacting" = { inherit = false, input = { patterns = ['\d{4}-\d{4}'], action = "redact" } }
        "#,
    );
    assert_eq!(bot.say("buy spam").await, [REFUSAL]);
    assert!(
        fake.moderation_requests().is_empty(),
        "refused by the rules alone"
    );

    assert_eq!(
        bot.say_in("redacting", "my pin is 1234-5678").await,
        ["echo: my pin is [removed]"]
    );
    assert_eq!(
        fake.moderation_requests()[0]["input"],
        "my pin is [removed]"
    );
}

#[tokio::test]
async fn the_service_is_not_asked_where_a_channel_turns_it_off() {
    let fake = fake().await;
    let openai = Arc::new(openai(fake.base_url()));
    let bot = Bot::new(
        openai.clone(),
        openai,
        r#"
        openai_moderation = true
        channels."test:trusted" = { openai_moderation = false }
        "#,
    );
    assert_eq!(
        bot.say_in("trusted", "you idiot").await,
        ["echo: you idiot"]
    );
    assert!(fake.moderation_requests().is_empty());
    assert_eq!(bot.say("you idiot").await, [REFUSAL]);
}

#[tokio::test]
async fn a_failing_endpoint_lets_messages_through_by_default() {
    let fake = fake().await;
    // Chat works while the moderation endpoint is down.
    let bot = Bot::new(
        Arc::new(openai(fake.base_url())),
        Arc::new(openai(dead_url())),
        "openai_moderation = true",
    );
    assert_eq!(bot.say("you idiot").await, ["echo: you idiot"]);
    assert_eq!(fake.requests().len(), 1, "the model was asked");
}

#[tokio::test]
async fn a_failing_endpoint_refuses_messages_when_set_to() {
    let fake = fake().await;
    let bot = Bot::new(
        Arc::new(openai(fake.base_url())),
        Arc::new(openai(dead_url())),
        r#"
        openai_moderation = true
        on_check_error = "refuse"
        "#,
    );
    assert_eq!(bot.say("hello").await, [UNAVAILABLE]);
    assert!(fake.requests().is_empty(), "the model was not asked");
}

#[tokio::test]
async fn without_a_moderation_service_messages_pass() {
    let bot = TestBot::with_plugin(common::plugin("openai_moderation = true"));
    assert_eq!(bot.say("you idiot").await, ["echo: you idiot"]);
    assert_eq!(bot.say("again").await, ["echo: again"]);
    assert_eq!(bot.backend.requests().len(), 2);
}
