//! Money: every model call is in the ledger, `/usage` adds it up as the model
//! reported it, each budget refuses at its limit with when it resets, and
//! resets on the paused clock; admins are exempt, some users have their own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{Step, TestBot};
use natter_core::{
    Addressed, Author, BudgetSettings, Command, CommandSpec, MemoryStore, Plugin, PluginContext,
    PluginError, Price, Prices, TokioClock,
};

/// 18:00 UTC on a Wednesday: midnight is six hours away.
const EVENING: &str = "2026-01-14T18:00:00Z";

fn ms(at: &str) -> i64 {
    at.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn bot(budget: serde_json::Value, prices: Prices, store: Arc<MemoryStore>) -> TestBot {
    let budget: BudgetSettings = serde_json::from_value(budget).unwrap();
    TestBot::with(|b| {
        b.clock(Arc::new(TokioClock::starting_at(ms(EVENING))))
            .store(store)
            .budget(budget)
            .prices(prices)
            .plugin(Arc::new(Grader), serde_json::Value::Null)
    })
}

/// `/grade text` asks the model without showing its answer, as plugins do.
struct Grader;

#[async_trait]
impl Plugin for Grader {
    fn name(&self) -> &str {
        "grader"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new("grade", "Grade a text")]
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        let request = cx.one_shot("Grade this.", &cmd.args).await?;
        let grade = cx.ask_model(request).await?;
        cx.reply(&format!("Grade: {grade}")).await
    }
}

/// A reply of `words` deltas: the scripted model reports 1 prompt token
/// and one completion token per delta.
fn reply(bot: &TestBot, words: usize) {
    bot.backend
        .script((0..words).map(|n| Step::Delta(format!("w{n} "))).collect());
}

#[tokio::test(start_paused = true)]
async fn usage_adds_up_what_the_model_reported_chats_and_plugins_alike() {
    let store = Arc::new(MemoryStore::new());
    let prices = Prices::from([(
        "script".to_owned(),
        Price {
            input: 1_000.0,
            output: 2_000.0,
        },
    )]);
    let bot = bot(serde_json::json!({}), prices, store.clone());
    reply(&bot, 3);
    bot.say("hello").await;
    reply(&bot, 1);
    assert_eq!(bot.say("/grade my essay").await, ["Grade: w0 "]);
    let rows = store.usage();
    assert_eq!(rows.len(), 2, "the chat turn and the plugin's call");
    assert_eq!((rows[0].prompt_tokens, rows[0].completion_tokens), (1, 3));
    assert_eq!((rows[1].prompt_tokens, rows[1].completion_tokens), (1, 1));
    let shown = bot.say("/usage").await;
    assert_eq!(
        shown,
        ["Your usage (Alice):\n\
          today (UTC): 6 tokens ($0.0100)\n  script: 2 in, 4 out, 2 calls\n\
          this month: 6 tokens ($0.0100)\n  script: 2 in, 4 out, 2 calls"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_daily_budget_refuses_at_its_limit_and_resets_at_midnight() {
    let store = Arc::new(MemoryStore::new());
    let bot = bot(
        serde_json::json!({"user_daily_tokens": 8}),
        Prices::new(),
        store,
    );
    reply(&bot, 3);
    assert_eq!(bot.say("one").await, ["w0 w1 w2 "]);
    reply(&bot, 3);
    assert_eq!(bot.say("two").await, ["w0 w1 w2 "]);
    let refused = bot.say("three").await;
    assert_eq!(
        refused,
        ["You've used your daily budget of 8 tokens; it resets at 00:00 UTC (in 6h 0m)."]
    );
    assert_eq!(
        bot.backend.requests().len(),
        2,
        "no model call when over budget"
    );
    assert_eq!(
        bot.say("/grade x").await,
        ["You've used your daily budget of 8 tokens; it resets at 00:00 UTC (in 6h 0m)."],
        "plugins' model calls too"
    );
    tokio::time::advance(Duration::from_secs(6 * 3600)).await;
    assert_eq!(bot.say("next day").await, ["echo: next day"]);
}

#[tokio::test(start_paused = true)]
async fn admins_are_exempt_and_some_users_have_their_own_limits() {
    let store = Arc::new(MemoryStore::new());
    let budget = serde_json::json!({
        "user_daily_tokens": 2,
        "users": {"test:bob": {"user_daily_tokens": 100}}
    });
    let bot = bot(budget, Prices::new(), store);
    let in_group = |author: Author, text: &str| bot.group("g", author, Addressed::Mentioned, text);
    let admin = Author::user("ann", "Ann").admin();
    for _ in 0..3 {
        reply(&bot, 5);
        assert_eq!(bot.send(in_group(admin.clone(), "hi")).await.len(), 1);
    }
    assert!(bot.outbox.messages().iter().all(|m| m.starts_with("w0")));
    let bob = Author::user("bob", "Bob");
    reply(&bot, 5);
    assert_eq!(
        bot.send(in_group(bob.clone(), "hi")).await,
        ["w0 w1 w2 w3 w4 "]
    );
    reply(&bot, 5);
    assert_eq!(bot.send(in_group(bob, "again")).await, ["w0 w1 w2 w3 w4 "]);
    reply(&bot, 5);
    bot.say("alice spends").await;
    assert!(
        bot.say("alice again").await[0].starts_with("You've used your daily budget of 2 tokens")
    );
}

#[tokio::test(start_paused = true)]
async fn a_monthly_cost_budget_uses_the_prices() {
    let store = Arc::new(MemoryStore::new());
    let prices = Prices::from([(
        "script".to_owned(),
        Price {
            input: 0.0,
            output: 1_000_000.0, // a dollar a token, to keep the numbers small
        },
    )]);
    let bot = bot(serde_json::json!({"user_monthly_cost": 3.0}), prices, store);
    reply(&bot, 3);
    bot.say("spend three dollars").await;
    assert_eq!(
        bot.say("more").await,
        [
            "You've used your monthly budget of $3.00; it resets on the 1st at 00:00 UTC (in 17 days)."
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_chats_daily_budget_counts_everyone_in_it() {
    let store = Arc::new(MemoryStore::new());
    let bot = bot(
        serde_json::json!({"chat_daily_tokens": 5}),
        Prices::new(),
        store,
    );
    let from =
        |id: &str, text: &str| bot.group("g", Author::user(id, id), Addressed::Mentioned, text);
    reply(&bot, 4);
    bot.send(from("a", "one")).await;
    assert_eq!(
        bot.send(from("b", "two")).await,
        ["This chat has used its daily budget of 5 tokens; it resets at 00:00 UTC (in 6h 0m)."]
    );
    reply(&bot, 1);
    assert_eq!(
        bot.say("in private").await,
        ["w0 "],
        "other chats are not held back"
    );
}

#[tokio::test(start_paused = true)]
async fn admins_see_the_chat_and_the_top_users() {
    let store = Arc::new(MemoryStore::new());
    let bot = bot(serde_json::json!({}), Prices::new(), store);
    let in_group = |author: Author, text: &str| bot.group("g", author, Addressed::Mentioned, text);
    reply(&bot, 9);
    bot.send(in_group(Author::user("bob", "Bob"), "long")).await;
    reply(&bot, 1);
    bot.send(in_group(Author::user("cy", "Cy"), "short")).await;
    let admin = Author::user("ann", "Ann").admin();
    let here = bot.send(in_group(admin.clone(), "/usage here")).await;
    assert!(
        here[0].starts_with("This chat's usage:\ntoday (UTC): 12 tokens"),
        "{here:?}"
    );
    let top = bot.send(in_group(admin, "/usage top")).await;
    assert_eq!(
        top,
        [
            "Most tokens this month (UTC):\n1. test:bob — 10 tokens (1 in, 9 out)\n2. test:cy — 2 tokens (1 in, 1 out)"
        ]
    );
    let member = bot
        .send(in_group(Author::user("cy", "Cy"), "/usage top"))
        .await;
    assert_eq!(member, ["Only admins can see that in group chats."]);
}
