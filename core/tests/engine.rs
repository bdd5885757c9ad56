//! The engine's behaviour, driven through its inbox with a scripted model and
//! a recording outbox: triggers, ordering, parallelism, cancellation, history
//! windows, personas, commands, plugins and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{RecordingOutbox, ScriptedBackend, Step, TEST_PLATFORM, TestBot};
use natter_core::{
    Addressed, Author, ChannelRef, ChatRequest, Command, CommandSpec, ConversationKey,
    EngineSettings, Flow, Incoming, MemoryStore, ModelError, Persona, PersonaSettings, Personas,
    Plugin, PluginContext, PluginError, Role,
};
use tokio::time::Instant;

fn roles(request: &ChatRequest) -> Vec<Role> {
    request.messages.iter().map(|m| m.role).collect()
}

#[tokio::test]
async fn history_carries_over_and_failed_turns_do_not() {
    let bot = TestBot::new();
    assert_eq!(bot.say("hello").await, ["echo: hello"]);
    bot.backend.script(vec![
        Step::Delta("half".into()),
        Step::Fail(ModelError::Protocol("x".into())),
    ]);
    let failed = bot.say("break").await;
    assert!(failed[0].starts_with("half\n\n⚠️ "), "{failed:?}");
    bot.backend.fail(ModelError::Server {
        status: 500,
        message: "down".into(),
    });
    assert_eq!(
        bot.say("again").await,
        ["Sorry, the language model had an error. Please try again."]
    );
    bot.say("third").await;
    let last = bot.backend.last_request();
    assert_eq!(
        roles(&last),
        [Role::System, Role::User, Role::Assistant, Role::User]
    );
    assert_eq!(last.messages[1].content, "hello");
    assert_eq!(last.messages[3].content, "third");
}

#[tokio::test]
async fn bots_and_unaddressed_group_chatter_are_ignored() {
    let bot = TestBot::new();
    let robot = Author::user("b1", "OtherBot").bot();
    assert!(
        bot.send(bot.group("g", robot.clone(), Addressed::Mentioned, "hi"))
            .await
            .is_empty()
    );
    let alice = Author::user("a", "Alice");
    assert!(
        bot.send(bot.group("g", alice.clone(), Addressed::NotAddressed, "chatter"))
            .await
            .is_empty()
    );
    assert_eq!(
        bot.send(bot.group("g", alice, Addressed::Mentioned, "hi"))
            .await,
        ["echo: hi"]
    );
    assert_eq!(bot.backend.requests().len(), 1);

    let answering = TestBot::with(|b| {
        b.settings(EngineSettings {
            answer_bots: true,
            ..EngineSettings::default()
        })
    });
    assert_eq!(
        answering
            .send(answering.group("g", robot, Addressed::Mentioned, "hi"))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn group_messages_carry_the_author_name() {
    let bot = TestBot::new();
    bot.send(bot.group("g", Author::user("a", "Alice"), Addressed::Mentioned, "hi"))
        .await;
    let request = bot.backend.last_request();
    assert_eq!(request.messages[1].name.as_deref(), Some("Alice"));
    bot.say("private").await;
    assert_eq!(bot.backend.last_request().messages[1].name, None);
}

#[tokio::test]
async fn a_message_replying_to_someone_else_carries_the_quote() {
    let bot = TestBot::new();
    let mut asking = bot.group(
        "g",
        Author::user("ann", "Ann"),
        Addressed::Mentioned,
        "is this right?",
    );
    asking.replied_to_text = Some("The Moon is\nmade of cheese.".into());
    bot.send(asking).await;
    let last = bot.backend.last_request().messages.last().unwrap().clone();
    assert_eq!(
        last.content,
        "> The Moon is\n> made of cheese.\n\nis this right?"
    );

    // A reply to the bot's own message: that message is in history already.
    let mut follow_up = bot.group(
        "g",
        Author::user("ann", "Ann"),
        Addressed::ReplyToBot,
        "why?",
    );
    follow_up.replied_to_text = Some("echo: is this right?".into());
    bot.send(follow_up).await;
    let last = bot.backend.last_request().messages.last().unwrap().clone();
    assert_eq!(last.content, "why?");
}

#[tokio::test(start_paused = true)]
async fn one_conversation_is_handled_in_order() {
    let bot = TestBot::new();
    bot.backend.script(vec![
        Step::Delay(Duration::from_secs(5)),
        Step::Delta("slow first".into()),
    ]);
    let first = bot.inbox.submit(bot.private("one"));
    let second = bot.inbox.submit(bot.private("two"));
    second.handled().await;
    first.handled().await;
    assert_eq!(bot.outbox.messages(), ["slow first", "echo: two"]);
    let second_request = bot.backend.last_request();
    assert_eq!(
        second_request.messages[2].content, "slow first",
        "saw the first turn"
    );
}

async fn time_three_slow_conversations(max_parallel: usize) -> Duration {
    let bot = TestBot::with(|b| {
        b.settings(EngineSettings {
            max_parallel,
            ..EngineSettings::default()
        })
    });
    for _ in 0..3 {
        bot.backend.script(vec![
            Step::Delay(Duration::from_secs(10)),
            Step::Delta("done".into()),
        ]);
    }
    let start = Instant::now();
    let receipts: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|who| {
            let m = bot.message(
                ConversationKey::new(TEST_PLATFORM, *who),
                ChannelRef::private(TEST_PLATFORM, *who),
                Author::user(*who, *who),
                Addressed::Private,
                "hi",
            );
            bot.inbox.submit(m)
        })
        .collect();
    for r in receipts {
        r.handled().await;
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn conversations_run_in_parallel_up_to_the_limit() {
    assert_eq!(
        time_three_slow_conversations(3).await,
        Duration::from_secs(10)
    );
    assert_eq!(
        time_three_slow_conversations(2).await,
        Duration::from_secs(20)
    );
    assert_eq!(
        time_three_slow_conversations(1).await,
        Duration::from_secs(30)
    );
}

fn streaming_bot() -> TestBot {
    let limits = natter_core::PlatformLimits {
        streaming: true,
        ..natter_core::PlatformLimits::unlimited()
    };
    TestBot::with_parts(
        Arc::new(ScriptedBackend::new()),
        Arc::new(RecordingOutbox::new(limits)),
        |b| b,
    )
}

#[tokio::test(start_paused = true)]
async fn stop_cancels_the_reply_in_flight() {
    let bot = streaming_bot();
    bot.backend
        .script(vec![Step::Delta("Once upon a time".into()), Step::Hang]);
    let story = bot.inbox.submit(bot.private("tell me a story"));
    bot.outbox.wait_for_writes(1).await;
    let stop = bot.inbox.submit(bot.private("/stop"));
    story.handled().await;
    stop.handled().await;
    assert_eq!(bot.backend.dropped_streams(), 1, "generation stopped");
    let messages = bot.outbox.messages();
    assert_eq!(messages[0], "Once upon a time\n\n(stopped)");
    assert_eq!(messages[1], "Stopped.");
    bot.say("next").await;
    assert_eq!(
        roles(&bot.backend.last_request()),
        [Role::System, Role::User],
        "stopped reply not in history"
    );
    assert_eq!(bot.say("/stop").await, ["Nothing to stop."]);
}

#[tokio::test(start_paused = true)]
async fn in_a_group_only_the_person_answered_or_an_admin_stops_a_reply() {
    let bot = streaming_bot();
    let alice = Author::user("alice", "Alice");
    let bob = Author::user("bob", "Bob");
    let admin = Author {
        is_admin: true,
        ..Author::user("carol", "Carol")
    };
    let in_group =
        |author: &Author, text: &str| bot.group("g", author.clone(), Addressed::Mentioned, text);
    bot.backend
        .script(vec![Step::Delta("Once upon a time".into()), Step::Hang]);
    let story = bot.inbox.submit(in_group(&alice, "tell me a story"));
    bot.outbox.wait_for_writes(1).await;

    let stop = bot.send(in_group(&bob, "/stop")).await;
    assert_eq!(
        stop,
        ["The reply being written answers someone else: only they or an admin can stop it."]
    );
    assert_eq!(bot.backend.dropped_streams(), 0, "still being written");

    let stop = bot.send(in_group(&admin, "/stop")).await;
    assert_eq!(stop, ["Stopped."]);
    story.handled().await;
    assert_eq!(bot.backend.dropped_streams(), 1, "an admin stopped it");

    // Its author may stop their own.
    bot.backend
        .script(vec![Step::Delta("Another".into()), Step::Hang]);
    let writes = bot.outbox.writes().len();
    let story = bot.inbox.submit(in_group(&alice, "another"));
    bot.outbox.wait_for_writes(writes + 1).await;
    assert_eq!(bot.send(in_group(&alice, "/stop")).await, ["Stopped."]);
    story.handled().await;
    assert_eq!(bot.backend.dropped_streams(), 2);
}

#[tokio::test]
async fn history_window_drops_oldest_turns_first() {
    // 300-token window, 100 for the reply: room for the prompt and a few turns.
    let backend = Arc::new(ScriptedBackend::new().with_context_window(300));
    // Summaries off: this is the window alone (tests/summaries.rs has them),
    // and the scripted model's requests are all replies.
    let bot = TestBot::with_parts(backend, Arc::new(RecordingOutbox::default()), |b| {
        b.model_defaults(natter_core::ModelDefaults {
            max_tokens: 100,
            ..Default::default()
        })
        .settings(EngineSettings {
            summarize: false,
            ..EngineSettings::default()
        })
    });
    for n in 0..10 {
        bot.say(&format!("message number {n} {}", "padding ".repeat(8)))
            .await;
    }
    let request = bot.backend.last_request();
    let tokens = bot.backend.as_ref();
    let used = natter_core::ModelBackend::count_tokens(tokens, &request.messages);
    assert!(
        used <= 200,
        "prompt {used} tokens exceeds the 200-token budget"
    );
    let kept: Vec<&str> = request.messages[1..request.messages.len() - 1]
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
        .collect();
    assert!(
        !kept.is_empty() && kept.len() < 9,
        "{} turns kept",
        kept.len()
    );
    // The newest turns are the ones kept, in order.
    let expected: Vec<String> = (9 - kept.len()..9)
        .map(|n| format!("message number {n} {}", "padding ".repeat(8)))
        .collect();
    assert_eq!(
        kept,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_message_too_long_for_the_model_is_refused_clearly() {
    let backend = Arc::new(ScriptedBackend::new().with_context_window(600));
    let bot = TestBot::with_parts(backend, Arc::new(RecordingOutbox::default()), |b| b);
    let reply = bot.say(&"word ".repeat(400)).await;
    assert!(
        reply[0].starts_with("Your message is too long for this model"),
        "{reply:?}"
    );
    assert!(bot.backend.requests().is_empty());
}

fn personas() -> Personas {
    let mut set = BTreeMap::new();
    for name in ["assistant", "pirate", "poet"] {
        set.insert(
            name.to_owned(),
            Persona {
                temperature: Some(0.3),
                ..Persona::new(format!("You are {name}."))
            },
        );
    }
    set.get_mut("pirate").unwrap().max_tokens = Some(77);
    let mut settings = PersonaSettings::default();
    settings
        .channels
        .insert("test:server:S".into(), "pirate".into());
    Personas::new(settings, set).unwrap()
}

#[tokio::test]
async fn personas_inherit_thread_channel_server_and_switch_by_admins() {
    let bot = TestBot::with(|b| b.personas(personas()));
    let thread = ChannelRef::group(TEST_PLATFORM, "C")
        .in_server("S")
        .in_thread("T");
    let in_thread = |author: Author, text: &str| {
        bot.message(
            ConversationKey::new(TEST_PLATFORM, "C/T"),
            thread.clone(),
            author,
            Addressed::Mentioned,
            text,
        )
    };
    let in_channel = |author: Author, text: &str| {
        let channel = ChannelRef::group(TEST_PLATFORM, "C").in_server("S");
        bot.message(
            ConversationKey::new(TEST_PLATFORM, "C"),
            channel,
            author,
            Addressed::Mentioned,
            text,
        )
    };
    let alice = Author::user("a", "Alice");
    let admin = Author::user("z", "Zoe").admin();

    bot.send(in_thread(alice.clone(), "hi")).await;
    let request = bot.backend.last_request();
    assert_eq!(
        request.messages[0].content, "You are pirate.",
        "server assignment"
    );
    assert_eq!(request.params.max_tokens, Some(77));
    assert_eq!(request.params.temperature, Some(0.3));

    assert_eq!(
        bot.send(in_channel(alice.clone(), "/persona poet")).await,
        ["Only admins can change the persona in group chats."]
    );
    assert_eq!(
        bot.send(in_channel(admin.clone(), "/persona poet")).await,
        ["Persona is now poet."]
    );
    bot.send(in_thread(alice.clone(), "again")).await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are poet.",
        "thread inherits channel"
    );

    assert_eq!(
        bot.send(in_thread(admin.clone(), "/persona assistant"))
            .await,
        ["Persona is now assistant."]
    );
    bot.send(in_thread(alice.clone(), "more")).await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are assistant."
    );
    bot.send(in_channel(alice.clone(), "channel")).await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are poet.",
        "thread override stays in thread"
    );

    let shown = bot.send(in_thread(alice, "/persona")).await;
    assert!(shown[0].starts_with("Persona: assistant"), "{shown:?}");
    assert!(shown[0].contains("assistant, pirate, poet"), "{shown:?}");
    assert_eq!(
        bot.send(in_thread(admin.clone(), "/persona ghost")).await[0],
        "There is no persona called ghost. Available: assistant, pirate, poet."
    );
    assert_eq!(
        bot.send(in_thread(admin, "/persona reset")).await,
        ["Persona reset to poet."]
    );
}

#[tokio::test]
async fn anyone_switches_persona_in_a_private_chat_and_reset_clears_history() {
    let bot = TestBot::with(|b| b.personas(personas()));
    bot.say("hello").await;
    assert_eq!(bot.say("/persona pirate").await, ["Persona is now pirate."]);
    bot.say("ahoy").await;
    let request = bot.backend.last_request();
    assert_eq!(request.messages[0].content, "You are pirate.");
    assert_eq!(request.messages.len(), 4);
    assert_eq!(
        bot.say("/reset").await,
        ["History cleared. Let's start fresh."]
    );
    bot.say("fresh").await;
    assert_eq!(bot.backend.last_request().messages.len(), 2);
}

/// A plugin exercising every hook.
struct Probe;

#[async_trait]
impl Plugin for Probe {
    fn name(&self) -> &str {
        "probe"
    }
    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("count", "Count the words").usage("<text…>"),
            CommandSpec::new("secret", "Admins only").admin_only(),
        ]
    }
    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        match cmd.name.as_str() {
            "count" if cmd.args.is_empty() => Err(PluginError::usage("Usage: /count <text…>")),
            "count" => {
                let seen: u32 = cx.state().get("seen").await?.unwrap_or(0) + 1;
                cx.state().put("seen", &seen).await?;
                cx.reply(&format!("{} words (call {seen})", cmd.words().count()))
                    .await
            }
            _ => cx.reply("classified").await,
        }
    }
    async fn on_message(
        &self,
        cx: &mut PluginContext<'_>,
        msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        if msg.text == "ping" {
            cx.reply("pong").await?;
            return Ok(Flow::Handled);
        }
        if msg.text == "explode" {
            return Err(PluginError::Internal("kaboom".into()));
        }
        Ok(Flow::Continue)
    }
    async fn before_model(
        &self,
        _cx: &mut PluginContext<'_>,
        req: &mut ChatRequest,
    ) -> Result<(), PluginError> {
        req.messages[0].content.push_str(" Be brief.");
        Ok(())
    }
}

#[tokio::test]
async fn plugins_get_commands_messages_and_the_request() {
    let store = Arc::new(MemoryStore::new());
    let bot = TestBot::with(|b| {
        b.store(store.clone())
            .plugin(Arc::new(Probe), serde_json::Value::Null)
    });
    let help = bot.say("/help").await;
    assert!(
        help[0].contains("/count <text…> — Count the words"),
        "{help:?}"
    );
    assert_eq!(bot.say("/count one two three").await, ["3 words (call 1)"]);
    assert_eq!(bot.say("/count a").await, ["1 words (call 2)"]);
    assert_eq!(bot.say("/count").await, ["Usage: /count <text…>"]);
    assert_eq!(
        bot.say("/nope").await,
        ["Unknown command /nope — try /help."]
    );
    assert_eq!(bot.say("ping").await, ["pong"]);
    assert_eq!(
        bot.say("explode").await,
        ["Sorry, something went wrong in the probe plugin."]
    );
    assert!(
        bot.backend.requests().is_empty(),
        "nothing reached the model"
    );
    let group = bot.group(
        "g",
        Author::user("a", "Alice"),
        Addressed::Command,
        "/secret",
    );
    assert_eq!(
        bot.send(group).await,
        ["Only admins can use /secret in group chats."]
    );
    bot.say("hello").await;
    assert!(
        bot.backend.last_request().messages[0]
            .content
            .ends_with(" Be brief.")
    );
    // History keeps what the user said, not what plugins added.
    bot.say("again").await;
    assert_eq!(bot.backend.last_request().messages[1].content, "hello");
}

#[tokio::test]
async fn clashing_plugin_commands_are_refused() {
    struct Clash;
    #[async_trait]
    impl Plugin for Clash {
        fn name(&self) -> &str {
            "clash"
        }
        fn commands(&self) -> Vec<CommandSpec> {
            vec![CommandSpec::new("help", "mine")]
        }
    }
    let result = natter_core::Engine::builder(Arc::new(ScriptedBackend::new()))
        .plugin(Arc::new(Clash), serde_json::Value::Null)
        .build();
    let error = result.err().expect("clash refused").to_string();
    assert!(
        error.contains("/help") && error.contains("clash"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_replies_finish_then_cancels_the_rest() {
    let bot = streaming_bot();
    bot.backend.script(vec![
        Step::Delay(Duration::from_secs(5)),
        Step::Delta("finished".into()),
    ]);
    let quick = bot.inbox.submit(bot.private("quick"));
    bot.engine.shutdown(Duration::from_secs(10)).await;
    quick.handled().await;
    assert_eq!(bot.outbox.messages(), ["finished"]);

    let bot = streaming_bot();
    bot.backend
        .script(vec![Step::Delta("endless".into()), Step::Hang]);
    let slow = bot.inbox.submit(bot.private("slow"));
    bot.outbox.wait_for_writes(1).await;
    let start = Instant::now();
    bot.engine.shutdown(Duration::from_secs(2)).await;
    slow.handled().await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(bot.outbox.messages(), ["endless\n\n(stopped)"]);
    assert_eq!(bot.backend.dropped_streams(), 1);
    // After shutdown, nothing new is handled.
    bot.inbox.submit(bot.private("late")).handled().await;
    assert_eq!(bot.outbox.message_count(), 1);
}

#[tokio::test]
async fn plugins_see_delivered_replies_but_not_failed_ones() {
    struct Witness;

    #[async_trait]
    impl Plugin for Witness {
        fn name(&self) -> &str {
            "witness"
        }

        async fn after_reply(
            &self,
            cx: &mut PluginContext<'_>,
            reply: &str,
        ) -> Result<(), PluginError> {
            cx.reply(&format!("(saw: {reply})")).await
        }
    }

    let bot = TestBot::with_plugin(Witness);
    assert_eq!(bot.say("hi").await, ["echo: hi", "(saw: echo: hi)"]);
    bot.backend.fail(ModelError::Server {
        status: 500,
        message: "down".into(),
    });
    assert_eq!(
        bot.say("again").await,
        ["Sorry, the language model had an error. Please try again."]
    );
}

#[tokio::test]
async fn a_photo_or_voice_note_is_said_to_be_unseen_and_the_caption_still_answered() {
    use natter_core::{Attachment, AttachmentKind};
    let bot = TestBot::new();
    let mut photo = bot.private("what does this error mean?");
    photo.attachments = vec![Attachment::new(AttachmentKind::Image, "file-1")];
    assert_eq!(
        bot.send(photo).await,
        [
            "I can't see pictures with this model, so I'm answering with what I have.",
            "echo: what does this error mean?"
        ]
    );
    let mut voice = bot.private("");
    voice.attachments = vec![Attachment::new(AttachmentKind::Voice, "file-2")];
    assert_eq!(
        bot.send(voice).await,
        ["I can't listen to voice or audio messages here — please tell me in words."]
    );
    assert_eq!(
        bot.backend.requests().len(),
        1,
        "a voice note alone asks no model"
    );

    // In a group answering every message, a photo passed around is not a question.
    let open = TestBot::with(|b| {
        let settings = natter_core::TriggerSettings {
            answer: Some(natter_core::Answer::All),
            ..natter_core::TriggerSettings::default()
        };
        b.triggers(natter_core::Triggers::new(settings, &[TEST_PLATFORM], false).unwrap())
    });
    let mut shared = open.group("g", Author::user("a", "Alice"), Addressed::NotAddressed, "");
    shared.attachments = vec![Attachment::new(AttachmentKind::Image, "file-3")];
    assert!(open.send(shared).await.is_empty());
}
