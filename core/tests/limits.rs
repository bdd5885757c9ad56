//! How much one person may ask: a conversation's queue is bounded, a flood
//! is told once and not kept, a user's rate is limited, `/stop` drops the
//! asker's waiting messages, and messages the bot will not answer never take
//! a place in a queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use natter_core::test_utils::{Step, TestBot};
use natter_core::{Addressed, Author, EngineSettings, LimitSettings, Receipt};

const BUSY: &str = "I'm still working through the messages before this one, so I'm \
     skipping new ones until I catch up. /stop drops what's waiting.";
const TOO_FAST: &str = "You're sending messages faster than I can answer them; \
     I'll skip some for a minute. Please slow down.";

fn bot(max_queue: usize, per_minute: u32) -> TestBot {
    TestBot::with(|b| {
        b.settings(EngineSettings {
            max_queue,
            ..EngineSettings::default()
        })
        .limits(LimitSettings {
            user_messages_per_minute: per_minute,
        })
    })
}

/// Scripts the next reply to take `secs` seconds.
fn slow_reply(bot: &TestBot, secs: u64, text: &str) {
    bot.backend.script(vec![
        Step::Delay(Duration::from_secs(secs)),
        Step::Delta(text.into()),
    ]);
}

async fn all(receipts: Vec<Receipt>) {
    for receipt in receipts {
        receipt.handled().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_is_told_once_and_not_kept() {
    let bot = bot(10, 0);
    slow_reply(&bot, 5, "first");
    let mut receipts = vec![bot.inbox.submit(bot.private("message 0"))];
    bot.backend.wait_for_requests(1).await;
    receipts.extend((1..500).map(|n| bot.inbox.submit(bot.private(&format!("message {n}")))));
    all(receipts).await;
    let shown = bot.outbox.messages();
    assert_eq!(shown.iter().filter(|m| *m == BUSY).count(), 1, "told once");
    let answers: Vec<&String> = shown.iter().filter(|m| *m != BUSY).collect();
    assert_eq!(
        answers.len(),
        11,
        "one in flight and ten waiting: {answers:?}"
    );
    assert_eq!(answers[0], "first");
    assert_eq!(answers[10], "echo: message 10");
    assert_eq!(
        bot.backend.requests().len(),
        11,
        "the rest never reached the model"
    );

    // Once caught up, new messages are answered again (and a new flood told again).
    assert_eq!(bot.say("later").await, ["echo: later"]);
}

#[tokio::test(start_paused = true)]
async fn a_users_rate_is_limited_across_conversations() {
    let bot = bot(10, 3);
    let alice = Author::user("alice", "Alice");
    let mut shown = Vec::new();
    for n in 0..3 {
        let group = bot.group(&format!("g{n}"), alice.clone(), Addressed::Mentioned, "hi");
        shown.extend(bot.send(group).await);
    }
    assert_eq!(shown, ["echo: hi", "echo: hi", "echo: hi"]);
    assert_eq!(bot.say("one more").await, [TOO_FAST]);
    assert!(
        bot.say("and another").await.is_empty(),
        "told once a minute"
    );
    // Others are not held back by Alice.
    let bob = bot.group(
        "g0",
        Author::user("bob", "Bob"),
        Addressed::Mentioned,
        "hello",
    );
    assert_eq!(bot.send(bob).await, ["echo: hello"]);
    // A minute later her rate has recovered.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(bot.say("back").await, ["echo: back"]);
}

#[tokio::test(start_paused = true)]
async fn stop_drops_the_askers_waiting_messages_but_not_others() {
    let bot = bot(10, 0);
    bot.backend.script(vec![Step::Hang]);
    let alice = Author::user("alice", "Alice");
    let bob = Author::user("bob", "Bob");
    let mention =
        |author: &Author, text: &str| bot.group("team", author.clone(), Addressed::Mentioned, text);
    let mut receipts = vec![bot.inbox.submit(mention(&alice, "long question"))];
    bot.backend.wait_for_requests(1).await;
    for n in 0..3 {
        receipts.push(bot.inbox.submit(mention(&alice, &format!("and {n}"))));
    }
    receipts.push(bot.inbox.submit(mention(&bob, "bob's question")));
    let stop = bot.group("team", alice.clone(), Addressed::Command, "/stop");
    receipts.push(bot.inbox.submit(stop));
    all(receipts).await;
    let shown = bot.outbox.messages();
    assert!(
        shown.contains(&"Stopped, and dropped 3 messages that were waiting.".to_owned()),
        "{shown:?}"
    );
    assert!(shown.contains(&"(stopped)".to_owned()), "{shown:?}");
    assert!(
        shown.contains(&"echo: bob's question".to_owned()),
        "{shown:?}"
    );
    assert!(
        !shown.iter().any(|m| m.starts_with("echo: and")),
        "{shown:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn messages_the_bot_will_not_answer_take_no_place_in_the_queue() {
    let bot = bot(2, 0);
    slow_reply(&bot, 5, "first");
    let alice = Author::user("alice", "Alice");
    let first = bot
        .inbox
        .submit(bot.group("g", alice.clone(), Addressed::Mentioned, "q"));
    let chatter: Vec<Receipt> = (0..50)
        .map(|n| {
            let text = format!("chatter {n}");
            bot.inbox
                .submit(bot.group("g", alice.clone(), Addressed::NotAddressed, &text))
        })
        .collect();
    let other_bot = Author::user("b", "Botty").bot();
    let from_bot = bot
        .inbox
        .submit(bot.group("g", other_bot, Addressed::Mentioned, "beep"));
    let second = bot
        .inbox
        .submit(bot.group("g", alice, Addressed::Mentioned, "q2"));
    all(chatter).await;
    from_bot.handled().await;
    first.handled().await;
    second.handled().await;
    assert_eq!(bot.outbox.messages(), ["first", "echo: q2"]);
}
