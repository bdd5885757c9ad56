//! The tool loop on the scripted model: calls run and their results reach
//! the model; read-only calls run in parallel; the step cap, the repeat
//! breaker, timeouts and errors end as results; `/stop` stops a running tool;
//! admins-only and confirmed tools ask the right person; history keeps the
//! calls for the next turn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{OutboxEvent, RecordingOutbox, ScriptedBackend, TestBot};
use natter_core::{
    Addressed, Author, ChatMessage, Permission, Plugin, PluginContext, PluginError, Role,
    ToolChoice, ToolInvocation, ToolSettings, ToolSpec,
};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::time::Instant;

/// Arguments of `slow`.
#[derive(Deserialize, JsonSchema)]
struct Wait {
    /// How long to take, in milliseconds.
    ms: u64,
}

/// Arguments of `note`.
#[derive(Deserialize, JsonSchema)]
struct Note {
    /// The text.
    text: String,
}

#[derive(Default)]
struct Kit {
    deleted: AtomicUsize,
    notes: AtomicUsize,
}

#[async_trait]
impl Plugin for Kit {
    fn name(&self) -> &str {
        "kit"
    }

    fn tools(&self) -> Vec<ToolSpec> {
        vec![
            ToolSpec::new::<Note>("note", "Take a note").side_effect(),
            ToolSpec::new::<Wait>("slow", "Look something up slowly"),
            ToolSpec::new::<Wait>("broken", "Always fails"),
            ToolSpec::new::<Note>("admin_note", "Note for admins").permission(Permission::Admins),
            ToolSpec::new::<Note>("delete_all", "Delete everything")
                .side_effect()
                .permission(Permission::Confirm),
        ]
    }

    async fn call_tool(
        &self,
        _cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        match call.name.as_str() {
            "note" | "admin_note" => {
                let note: Note = call.args()?;
                self.notes.fetch_add(1, Ordering::SeqCst);
                Ok(format!("noted: {}", note.text))
            }
            "slow" => {
                let wait: Wait = call.args()?;
                tokio::time::sleep(Duration::from_millis(wait.ms)).await;
                Ok(format!("waited {} ms", wait.ms))
            }
            "delete_all" => {
                self.deleted.fetch_add(1, Ordering::SeqCst);
                Ok("deleted".into())
            }
            _ => Err(PluginError::internal("the disk is on fire")),
        }
    }
}

fn bot_with(kit: Arc<Kit>, tools: ToolSettings) -> TestBot {
    TestBot::with(|builder| builder.plugin(kit, serde_json::Value::Null).tools(tools))
}

fn bot(kit: Arc<Kit>) -> TestBot {
    bot_with(kit, ToolSettings::default())
}

/// The tool results the model was sent in its last request, in order.
fn results_seen(bot: &TestBot) -> Vec<String> {
    bot.backend
        .last_request()
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.clone())
        .collect()
}

#[tokio::test]
async fn a_call_runs_and_its_result_reaches_the_model() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("note", r#"{"text":"buy milk"}"#);
    bot.backend.reply("Noted: buy milk.");
    assert_eq!(bot.say("note that I need milk").await, ["Noted: buy milk."]);
    assert_eq!(kit.notes.load(Ordering::SeqCst), 1);

    let requests = bot.backend.requests();
    assert_eq!(requests.len(), 2);
    let offered: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        offered,
        ["note", "slow", "broken", "admin_note", "delete_all"]
    );
    assert_eq!(requests[0].tool_choice, ToolChoice::Auto);
    let second = &requests[1].messages;
    let asked = &second[second.len() - 2];
    assert_eq!(asked.role, Role::Assistant);
    assert_eq!(asked.tool_calls[0].name, "note");
    assert_eq!(
        second.last().unwrap(),
        &ChatMessage::tool_result("call-1", "noted: buy milk")
    );
}

#[tokio::test]
async fn a_model_that_takes_no_tools_is_offered_none() {
    let kit = Arc::new(Kit::default());
    let bot = TestBot::with_parts(
        Arc::new(ScriptedBackend::new().without_tools()),
        Arc::new(RecordingOutbox::default()),
        |builder| builder.plugin(kit.clone(), serde_json::Value::Null),
    );
    bot.backend
        .reply("I can't take notes, but here is a list: milk.");
    assert_eq!(
        bot.say("note that I need milk").await,
        ["I can't take notes, but here is a list: milk."]
    );

    let requests = bot.backend.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].tools.is_empty(), "{:?}", requests[0].tools);
    assert_eq!(kit.notes.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn read_only_calls_of_one_step_run_in_parallel_and_side_effects_in_order() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.calls(&[
        ("slow", r#"{"ms":1000}"#),
        ("slow", r#"{"ms":2000}"#),
        ("note", r#"{"text":"a"}"#),
        ("note", r#"{"text":"b"}"#),
    ]);
    bot.backend.reply("done");
    let start = Instant::now();
    assert_eq!(bot.say("go").await, ["done"]);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "the two lookups overlapped"
    );
    assert_eq!(
        results_seen(&bot),
        ["waited 1000 ms", "waited 2000 ms", "noted: a", "noted: b"]
    );
}

#[tokio::test]
async fn after_the_step_cap_tools_are_withdrawn_and_the_model_must_answer() {
    let kit = Arc::new(Kit::default());
    let tools = ToolSettings {
        max_steps: 3,
        ..ToolSettings::default()
    };
    let bot = bot_with(kit.clone(), tools);
    for n in 0..5 {
        bot.backend.call("note", &format!(r#"{{"text":"{n}"}}"#));
    }
    let shown = bot.say("loop").await;
    let requests = bot.backend.requests();
    assert_eq!(requests.len(), 3, "three model calls, no more");
    assert!(!requests[1].tools.is_empty());
    assert!(requests[2].tools.is_empty(), "withdrawn for the last");
    assert_eq!(requests[2].tool_choice, ToolChoice::None);
    assert_eq!(
        kit.notes.load(Ordering::SeqCst),
        2,
        "the last step's call was ignored"
    );
    assert_eq!(shown, ["(The model returned an empty reply.)"]);
}

#[tokio::test]
async fn the_same_call_repeated_is_not_run_again() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    for _ in 0..3 {
        bot.backend.call("note", r#"{"text":"same"}"#);
    }
    bot.backend.reply("ok");
    assert_eq!(bot.say("again and again").await, ["ok"]);
    assert_eq!(kit.notes.load(Ordering::SeqCst), 2, "repeat_limit = 2");
    let last = results_seen(&bot);
    assert!(
        last[2].starts_with("not run: this exact call was already made 2 time(s)"),
        "{last:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_that_takes_too_long_times_out_as_a_result() {
    let bot = bot(Arc::new(Kit::default()));
    bot.backend.call("slow", r#"{"ms":60000}"#);
    bot.backend.reply("sorry, too slow");
    let start = Instant::now();
    assert_eq!(bot.say("look it up").await, ["sorry, too slow"]);
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(
        results_seen(&bot),
        ["error: slow did not finish within 30 s"]
    );
}

#[tokio::test]
async fn errors_bad_arguments_and_unknown_tools_go_back_to_the_model() {
    let bot = bot(Arc::new(Kit::default()));
    bot.backend.calls(&[
        ("broken", r#"{"ms":1}"#),
        ("note", r#"{"txt":"typo"}"#),
        ("note", "{not json"),
        ("launch_rockets", "{}"),
    ]);
    assert_eq!(bot.say("try things").await.len(), 1);
    let results = results_seen(&bot);
    assert_eq!(results[0], "error: the disk is on fire");
    assert!(
        results[1].starts_with("error: invalid arguments for note: missing field `text`"),
        "{results:?}"
    );
    assert!(
        results[2].starts_with("error: the arguments are not valid JSON"),
        "{results:?}"
    );
    assert!(
        results[3].starts_with("error: there is no tool named \"launch_rockets\""),
        "{results:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_cancels_a_running_tool() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("slow", r#"{"ms":600000}"#);
    let asked = bot.inbox.submit(bot.private("look it up"));
    bot.backend.wait_for_requests(1).await;
    bot.inbox.submit(bot.private("/stop")).handled().await;
    asked.handled().await;
    let mut shown = bot.outbox.messages();
    shown.sort();
    assert_eq!(shown, ["(stopped)", "Stopped."]);
    assert_eq!(
        bot.backend.requests().len(),
        1,
        "the model was not asked again"
    );
    let history = bot
        .engine
        .store()
        .history
        .load_turns(&bot.private("").key, 10)
        .await
        .unwrap();
    assert!(history.is_empty(), "a stopped reply is not kept");
}

#[tokio::test]
async fn admins_only_tools_are_refused_for_others() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("admin_note", r#"{"text":"x"}"#);
    bot.backend.reply("I can't.");
    let member = bot.group(
        "g",
        Author::user("b", "Bob"),
        Addressed::Mentioned,
        "note x",
    );
    assert_eq!(bot.send(member).await, ["I can't."]);
    assert_eq!(kit.notes.load(Ordering::SeqCst), 0);
    assert!(results_seen(&bot)[0].starts_with("refused: only admins may use admin_note here"));

    bot.backend.call("admin_note", r#"{"text":"x"}"#);
    let admin = bot.group(
        "g",
        Author::user("a", "Ann").admin(),
        Addressed::Mentioned,
        "note x",
    );
    bot.send(admin).await;
    assert_eq!(kit.notes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn settings_override_a_tools_permission_per_channel() {
    let kit = Arc::new(Kit::default());
    let tools: ToolSettings = serde_json::from_value(serde_json::json!({
        "channels": {"test:g": {"note": "admins"}}
    }))
    .unwrap();
    let bot = bot_with(kit.clone(), tools);
    bot.backend.call("note", r#"{"text":"x"}"#);
    let member = bot.group(
        "g",
        Author::user("b", "Bob"),
        Addressed::Mentioned,
        "note x",
    );
    bot.send(member).await;
    assert_eq!(kit.notes.load(Ordering::SeqCst), 0, "admins only in test:g");
    bot.backend.call("note", r#"{"text":"x"}"#);
    bot.say("note x").await;
    assert_eq!(kit.notes.load(Ordering::SeqCst), 1, "anyone elsewhere");
}

/// The texts of the sends so far, waiting for at least `n`.
async fn sends(bot: &TestBot, n: usize) -> Vec<String> {
    bot.outbox.wait_for_writes(n).await;
    bot.outbox
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_confirmed_call_runs_once_allowed() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("delete_all", r#"{"text":"everything"}"#);
    bot.backend.reply("All gone.");
    let asked = bot.inbox.submit(bot.private("delete it all"));
    let prompt = sends(&bot, 1).await;
    assert_eq!(
        prompt,
        [
            "🔧 I'd like to run `delete_all` with `{\"text\":\"everything\"}`. Allow it?\n\nAlice, reply /yes to allow it or /no to refuse."
        ]
    );
    assert_eq!(
        kit.deleted.load(Ordering::SeqCst),
        0,
        "not before the answer"
    );
    assert!(
        bot.say("/yes").await.is_empty(),
        "the question shows the answer"
    );
    asked.handled().await;
    assert_eq!(kit.deleted.load(Ordering::SeqCst), 1);
    let messages = bot.outbox.messages();
    assert_eq!(
        messages,
        [
            "✅ Alice allowed `delete_all` with `{\"text\":\"everything\"}`.",
            "All gone."
        ]
    );
    assert_eq!(results_seen(&bot), ["deleted"]);
}

#[tokio::test]
async fn a_refused_call_does_not_run_and_a_retry_asks_again() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("delete_all", r#"{"text":"everything"}"#);
    bot.backend.call("delete_all", r#"{"text":"everything"}"#);
    bot.backend.reply("Fine, I won't.");
    let asked = bot.inbox.submit(bot.private("delete it all"));
    sends(&bot, 1).await;
    assert!(bot.say("/no").await.is_empty());
    // The model tries the very same call again: a new question, not approval.
    sends(&bot, 3).await;
    assert_eq!(kit.deleted.load(Ordering::SeqCst), 0);
    assert!(bot.say("/no").await.is_empty());
    asked.handled().await;
    assert_eq!(kit.deleted.load(Ordering::SeqCst), 0);
    assert!(
        results_seen(&bot)
            .iter()
            .all(|r| r.starts_with("refused: Alice said no"))
    );
    assert_eq!(bot.outbox.messages().last().unwrap(), "Fine, I won't.");
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_confirmation_expires() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("delete_all", r#"{"text":"x"}"#);
    bot.backend.reply("No answer, so I did nothing.");
    let start = Instant::now();
    let shown = bot.say("delete x").await;
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    assert_eq!(kit.deleted.load(Ordering::SeqCst), 0);
    assert_eq!(
        shown,
        [
            "⌛ No answer in time: `delete_all` with `{\"text\":\"x\"}` was not run.",
            "No answer, so I did nothing."
        ]
    );
    assert_eq!(
        results_seen(&bot),
        ["not run: Alice did not answer in time"]
    );
    assert_eq!(
        bot.say("/yes").await,
        ["Nothing is waiting for your answer (it may have expired)."]
    );
}

#[tokio::test]
async fn only_the_person_asked_can_answer() {
    let kit = Arc::new(Kit::default());
    let bot = bot(kit.clone());
    bot.backend.call("delete_all", r#"{"text":"x"}"#);
    let alice = Author::user("a", "Alice");
    let bob = Author::user("b", "Bob").admin();
    let asked = bot
        .inbox
        .submit(bot.group("g", alice.clone(), Addressed::Mentioned, "delete x"));
    sends(&bot, 1).await;
    let by_bob = bot.group("g", bob, Addressed::Command, "/yes");
    assert_eq!(bot.send(by_bob).await, ["Only Alice can answer this."]);
    assert!(bot.outbox.messages()[0].contains("Alice, reply /yes"));
    assert_eq!(kit.deleted.load(Ordering::SeqCst), 0);
    let by_alice = bot.group("g", alice, Addressed::Command, "/yes");
    bot.send(by_alice).await;
    asked.handled().await;
    assert_eq!(kit.deleted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn history_carries_the_calls_into_the_next_turn() {
    let bot = bot(Arc::new(Kit::default()));
    bot.backend.call("note", r#"{"text":"call Ana at 9"}"#);
    bot.backend.reply("Noted.");
    bot.say("remember to call Ana at 9").await;
    bot.backend.reply("Moved.");
    bot.say("move it to 10").await;
    let messages = bot.backend.last_request().messages;
    let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Assistant,
            Role::User
        ]
    );
    assert_eq!(
        messages[2].tool_calls[0].arguments,
        r#"{"text":"call Ana at 9"}"#
    );
    assert_eq!(messages[3].content, "noted: call Ana at 9");
    assert_eq!(messages[4].content, "Noted.");
    let turns = bot
        .engine
        .store()
        .history
        .load_turns(&bot.private("").key, 10)
        .await
        .unwrap();
    assert_eq!(turns[0].steps.len(), 2);
}

#[tokio::test]
async fn every_model_call_is_in_the_usage_ledger() {
    let store = Arc::new(natter_core::MemoryStore::new());
    let kit = Arc::new(Kit::default());
    let bot = TestBot::with(|b| b.store(store.clone()).plugin(kit, serde_json::Value::Null));
    bot.backend.call("note", r#"{"text":"x"}"#);
    bot.backend.reply("done");
    bot.say("note x").await;
    assert_eq!(store.usage().len(), 2, "the tool step and the answer");
}

#[tokio::test(start_paused = true)]
async fn progress_shows_while_a_tool_works_and_the_answer_replaces_it() {
    let limits = natter_core::PlatformLimits {
        streaming: true,
        streaming_suffix: " …".into(),
        ..natter_core::PlatformLimits::unlimited()
    };
    let outbox = Arc::new(natter_core::test_utils::RecordingOutbox::new(limits));
    let backend = Arc::new(natter_core::test_utils::ScriptedBackend::new());
    let kit = Arc::new(Kit::default());
    let bot = TestBot::with_parts(backend, outbox, |b| b.plugin(kit, serde_json::Value::Null));
    bot.backend.call("slow", r#"{"ms":5000}"#);
    bot.backend.reply("It took a while.");
    let asked = bot.inbox.submit(bot.private("look it up"));
    bot.outbox.wait_for_writes(1).await;
    assert_eq!(
        bot.outbox.messages(),
        ["🔧 slow — 5000 …"],
        "shown while the tool runs"
    );
    asked.handled().await;
    assert_eq!(
        bot.outbox.messages(),
        ["It took a while."],
        "replaced by the answer"
    );
}
