//! End-to-end: the real adapter and the real engine (with a scripted model)
//! against a loopback fake Discord, reached through `proxy_url` and
//! `gateway_url` as a bot behind a rate-limit proxy would be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::ScriptedBackend;
use natter_core::{ChatMessage, Engine, Role};
use natter_discord::{DiscordError, DiscordSettings, run};
use natter_test_support::discord::{BOT_ID, FakeDiscord, Post, TOKEN, User};
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const GUILD: u64 = 100;
const CHANNEL: u64 = 200;
const THREAD: u64 = 300;
const DM: u64 = 400;

struct Bot {
    fake: FakeDiscord,
    backend: Arc<ScriptedBackend>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), DiscordError>>,
}

fn settings(fake: &FakeDiscord) -> DiscordSettings {
    DiscordSettings {
        token: Some(SecretString::from(TOKEN)),
        proxy_url: Some(fake.proxy_url()),
        gateway_url: Some(fake.gateway_url()),
        ..DiscordSettings::default()
    }
}

impl Bot {
    async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    async fn start_with(
        configure: impl FnOnce(natter_core::EngineBuilder) -> natter_core::EngineBuilder,
    ) -> Self {
        let fake = FakeDiscord::start().await;
        fake.add_channel(GUILD, CHANNEL);
        let backend = Arc::new(ScriptedBackend::new());
        let engine = configure(Engine::builder(backend.clone())).build().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(settings(&fake), engine, shutdown.clone()));
        fake.wait_ready().await;
        Self {
            fake,
            backend,
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
}

fn alice() -> User {
    User::human(11, "alice")
}

fn user_turns(messages: &[ChatMessage]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_gets_a_reply_and_history_on_the_next_mention() {
    // `/reset` in a server is for admins by default; here anyone may.
    let bot = Bot::start_with(|b| {
        b.groups(natter_core::GroupSettings {
            admin_only: Vec::new(),
        })
    })
    .await;
    bot.backend.reply("Hello Alice!");
    let first = bot
        .fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "hi there").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 1).await;
    assert_eq!(replies[0].content, "Hello Alice!");
    assert_eq!(
        replies[0].reply_to,
        Some(first),
        "the reply references the question"
    );
    let request = bot.backend.last_request();
    let question = request.messages.last().unwrap();
    assert_eq!(question.content, "hi there", "the mention is stripped");
    assert_eq!(
        question.name.as_deref(),
        Some("alice"),
        "names are given in servers"
    );

    bot.backend.reply("Still here.");
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "and again?").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 2).await;
    assert_eq!(replies[1].content, "Still here.");
    let messages = bot.backend.last_request().messages;
    assert_eq!(user_turns(&messages), vec!["hi there", "and again?"]);
    assert!(
        messages
            .iter()
            .any(|m| m.role == Role::Assistant && m.content == "Hello Alice!")
    );

    // A text command after the mention, then a fresh start.
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "/reset").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 3).await;
    assert!(
        replies[2].content.contains("History cleared"),
        "{:?}",
        replies[2]
    );
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "who am I?").mentioning_bot());
    bot.fake.wait_replies(CHANNEL, 4).await;
    assert_eq!(
        user_turns(&bot.backend.last_request().messages),
        vec!["who am I?"]
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_without_a_mention_are_ignored_and_bots_are_not_answered() {
    let bot = Bot::start().await;
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "just chatting"));
    bot.fake.post(
        Post::in_guild(GUILD, CHANNEL, &User::bot(66, "otherbot"), "ping pong").mentioning_bot(),
    );
    // Same channel, same conversation: handled after the two above.
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "now you").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 1).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].content, "echo: now you");
    let requests = bot.backend.requests();
    assert_eq!(requests.len(), 1, "only the mention reached the model");
    assert_eq!(user_turns(&requests[0].messages), vec!["now you"]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_are_answered_without_a_mention() {
    let bot = Bot::start().await;
    bot.backend.reply("Hi in private.");
    let question = bot.fake.post(Post::direct(DM, &alice(), "hello privately"));
    let replies = bot.fake.wait_replies(DM, 1).await;
    assert_eq!(replies[0].content, "Hi in private.");
    assert_eq!(replies[0].reply_to, Some(question));
    let request = bot.backend.last_request();
    let last = request.messages.last().unwrap();
    assert_eq!(last.content, "hello privately");
    assert_eq!(last.name, None, "no names in private chats");
    bot.fake.post(Post::direct(DM, &alice(), "/help"));
    let replies = bot.fake.wait_replies(DM, 2).await;
    assert!(replies[1].content.contains("/reset"), "{:?}", replies[1]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_has_its_own_history() {
    let bot = Bot::start().await;
    bot.fake.add_thread(GUILD, CHANNEL, THREAD);
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "channel question").mentioning_bot());
    bot.fake.wait_replies(CHANNEL, 1).await;

    bot.fake
        .post(Post::in_guild(GUILD, THREAD, &alice(), "thread question").mentioning_bot());
    let in_thread = bot.fake.wait_replies(THREAD, 1).await;
    assert_eq!(in_thread[0].content, "echo: thread question");
    assert_eq!(
        user_turns(&bot.backend.last_request().messages),
        vec!["thread question"],
        "the channel's history stays out of the thread"
    );

    bot.fake
        .post(Post::in_guild(GUILD, THREAD, &alice(), "thread follow-up").mentioning_bot());
    bot.fake.wait_replies(THREAD, 2).await;
    assert_eq!(
        user_turns(&bot.backend.last_request().messages),
        vec!["thread question", "thread follow-up"]
    );
    assert_eq!(
        bot.fake.posted_in(CHANNEL).len(),
        1,
        "thread replies stay in the thread"
    );

    // Replying to the bot's message in the thread addresses it without a mention.
    let mine = bot.fake.posted_in(THREAD)[1].clone();
    bot.fake
        .post(Post::in_guild(GUILD, THREAD, &alice(), "go on").replying_to(&mine));
    bot.fake.wait_replies(THREAD, 3).await;
    assert_eq!(user_turns(&bot.backend.last_request().messages).len(), 3);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_reply_arrives_complete_and_in_order() {
    let bot = Bot::start().await;
    let words: Vec<String> = (0..834).map(|i| format!("w{i:04}")).collect();
    let text = words.join(" ");
    assert!(text.chars().count() >= 5000);
    bot.backend.reply(text.clone());
    let question = bot
        .fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "tell me a lot").mentioning_bot());
    let parts = bot.fake.wait_replies(CHANNEL, 3).await;
    for part in &parts {
        assert!(
            part.content.chars().count() <= 2000,
            "{} chars",
            part.content.len()
        );
    }
    assert_eq!(parts[0].reply_to, Some(question));
    let joined = parts
        .iter()
        .map(|p| p.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        joined,
        text,
        "every word, in order, in {} messages",
        parts.len()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_edits_stay_within_five_per_five_seconds() {
    let bot = Bot::start().await;
    let chunks: Vec<String> = (0..40).map(|i| format!("chunk{i} ")).collect();
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    bot.backend.reply_chunks(&refs, Duration::from_millis(50));
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "stream please").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 1).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].content, chunks.concat());

    let writes: Vec<_> = bot
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.is_write() && c.channel() == Some(CHANNEL))
        .collect();
    assert!(
        writes.len() >= 2,
        "the reply streamed: {} writes",
        writes.len()
    );
    assert!(
        writes.len() < 40,
        "edits were coalesced: {} writes",
        writes.len()
    );
    // Any six consecutive writes span at least five seconds (a little slack
    // for the time between the courier's clock and the fake's).
    for window in writes.windows(6) {
        let span = window[5].at - window[0].at;
        assert!(
            span >= Duration::from_millis(4_900),
            "6 writes within {span:?}"
        );
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_output_never_pings_anyone() {
    let bot = Bot::start().await;
    let nasty = format!("@everyone @here <@{BOT_ID}> <@11> <@&5> look at this");
    bot.backend.reply(nasty.clone());
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "say it").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 1).await;
    assert_eq!(replies[0].content, nasty, "the text is shown as written");
    let writes: Vec<_> = bot
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.is_write())
        .collect();
    assert!(!writes.is_empty());
    for call in writes {
        assert_eq!(
            call.body["allowed_mentions"],
            json!({"parse": [], "users": [], "roles": [], "replied_user": false}),
            "{} {}",
            call.method,
            call.path
        );
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_reconnect_mid_conversation_loses_nothing() {
    let bot = Bot::start().await;
    bot.backend.reply_chunks(
        &["first ", "answer ", "arrives"],
        Duration::from_millis(300),
    );
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "question one").mentioning_bot());
    // Reconnect while the first reply is being written.
    bot.fake
        .wait_until("the first reply to start", |v| {
            !v.posted_in(CHANNEL).is_empty()
        })
        .await;
    bot.fake.request_reconnect();
    // Posted while no connection is live: Discord holds it for the session.
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "question two").mentioning_bot());
    bot.fake.wait_until("a resume", |v| v.resumes() >= 1).await;

    let replies = bot.fake.wait_replies(CHANNEL, 2).await;
    assert_eq!(replies[0].content, "first answer arrives");
    assert_eq!(replies[1].content, "echo: question two");
    assert_eq!(
        user_turns(&bot.backend.last_request().messages),
        vec!["question one", "question two"],
        "history kept across the reconnect"
    );
    assert_eq!(
        bot.fake.identifies_and_resumes(),
        (1, 1),
        "the session was resumed, not restarted"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_bad_token_fails_fast_with_a_clear_error() {
    let fake = FakeDiscord::start().await;
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .build()
        .unwrap();
    let wrong = DiscordSettings {
        token: Some(SecretString::from("not-the-token")),
        ..settings(&fake)
    };
    let result = run(wrong, engine.clone(), CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DiscordError::InvalidToken)),
        "{result:?}"
    );

    let missing = DiscordSettings {
        token: None,
        ..settings(&fake)
    };
    let result = run(missing, engine.clone(), CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DiscordError::MissingToken)),
        "{result:?}"
    );

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = DiscordSettings {
        proxy_url: Some(nowhere),
        ..settings(&fake)
    };
    let result = run(unreachable, engine, CancellationToken::new()).await;
    assert!(
        matches!(result, Err(DiscordError::Unreachable { .. })),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_in_one_channel_is_answered_in_order() {
    let bot = Bot::start().await;
    let questions: Vec<String> = (0..8).map(|i| format!("question {i}")).collect();
    for question in &questions {
        bot.fake
            .post(Post::in_guild(GUILD, CHANNEL, &alice(), question).mentioning_bot());
    }
    let replies = bot.fake.wait_replies(CHANNEL, questions.len()).await;
    let expected: Vec<String> = questions.iter().map(|q| format!("echo: {q}")).collect();
    let got: Vec<String> = replies.into_iter().map(|r| r.content).collect();
    assert_eq!(got, expected, "answered in the order they were posted");
    assert_eq!(
        user_turns(&bot.backend.last_request().messages),
        questions,
        "history in posting order"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_send_is_retried_until_it_arrives() {
    let bot = Bot::start().await;
    bot.fake.fail_next(
        "POST",
        "/messages",
        429,
        json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
    );
    bot.backend.reply("Worth the wait.");
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "hello?").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 1).await;
    assert_eq!(replies[0].content, "Worth the wait.");
    let creates = bot
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
        .count();
    assert_eq!(creates, 2, "one refused with 429, one accepted");
    bot.stop().await;
}

#[tokio::test]
async fn a_missing_message_content_intent_is_named() {
    let fake = FakeDiscord::start().await;
    fake.refuse_privileged_intents();
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .build()
        .unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        run(settings(&fake), engine, CancellationToken::new()),
    )
    .await
    .expect("run gives up instead of retrying forever");
    assert!(
        matches!(result, Err(DiscordError::IntentsNotEnabled)),
        "{result:?}"
    );
}

/// `/nudge` schedules a job due at once that mentions its author.
struct Nudge;

#[async_trait::async_trait]
impl natter_core::Plugin for Nudge {
    fn name(&self) -> &str {
        "nudge"
    }

    fn commands(&self) -> Vec<natter_core::CommandSpec> {
        vec![natter_core::CommandSpec::new("nudge", "Nudge me")]
    }

    async fn on_command(
        &self,
        cx: &mut natter_core::PluginContext<'_>,
        _cmd: natter_core::Command,
    ) -> Result<(), natter_core::PluginError> {
        let message = cx.message();
        let payload = json!({"channel": message.channel, "author": message.author});
        cx.schedule(&message.author.id, cx.now_unix_ms(), payload)
            .await
            .map(drop)
    }

    async fn on_job(
        &self,
        cx: &mut natter_core::JobContext<'_>,
        job: natter_core::ScheduledJob,
    ) -> Result<(), natter_core::PluginError> {
        let channel: natter_core::ChannelRef =
            serde_json::from_value(job.payload["channel"].clone()).unwrap();
        let author: natter_core::Author =
            serde_json::from_value(job.payload["author"].clone()).unwrap();
        let mention = cx.mention(&channel, &author);
        cx.post(&channel, &format!("{mention} time to stretch @everyone"))
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_notice_pings_exactly_the_user_it_mentions() {
    let bot = Bot::start_with(|b| b.plugin(Arc::new(Nudge), serde_json::Value::Null)).await;
    bot.fake
        .post(Post::in_guild(GUILD, CHANNEL, &alice(), "/nudge").mentioning_bot());
    let replies = bot.fake.wait_replies(CHANNEL, 1).await;
    assert_eq!(replies[0].content, "<@11> time to stretch @everyone");
    let call = bot
        .fake
        .calls()
        .into_iter()
        .rfind(|c| c.is_write())
        .unwrap();
    assert_eq!(
        call.body["allowed_mentions"],
        json!({"parse": [], "users": ["11"], "roles": [], "replied_user": false}),
        "only the mentioned user, never @everyone"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_set_to_answer_all_answers_its_threads_chatter_and_others_stay_quiet() {
    const QUIET: u64 = 201;
    let triggers = natter_core::TriggerSettings {
        places: [(
            format!("discord:{CHANNEL}"),
            natter_core::TriggerRule {
                answer: Some(natter_core::Answer::All),
                ..natter_core::TriggerRule::default()
            },
        )]
        .into(),
        ..natter_core::TriggerSettings::default()
    };
    let triggers =
        natter_core::Triggers::new(triggers, &[natter_discord::PLATFORM], false).unwrap();
    let bot = Bot::start_with(|b| b.triggers(triggers)).await;
    bot.fake.add_channel(GUILD, QUIET);
    bot.fake.add_thread(GUILD, CHANNEL, THREAD);

    bot.backend.reply("Thread answer.");
    bot.fake
        .post(Post::in_guild(GUILD, THREAD, &alice(), "anyone around?"));
    let replies = bot.fake.wait_replies(THREAD, 1).await;
    assert_eq!(
        replies[0].content, "Thread answer.",
        "the thread inherits all"
    );

    // Chatter in the quiet channel is let go; the mention after it is the
    // first thing the model sees there (a channel is handled in order).
    bot.fake
        .post(Post::in_guild(GUILD, QUIET, &alice(), "just chatting"));
    bot.backend.reply("Quiet answer.");
    bot.fake
        .post(Post::in_guild(GUILD, QUIET, &alice(), "a question").mentioning_bot());
    let replies = bot.fake.wait_replies(QUIET, 1).await;
    assert_eq!(replies[0].content, "Quiet answer.");
    assert_eq!(
        user_turns(&bot.backend.last_request().messages),
        ["a question"],
        "the chatter never reached the model"
    );
    assert_eq!(bot.backend.requests().len(), 2);
    bot.stop().await;
}
