//! The delivery driver on a paused clock with a recording outbox: pacing,
//! coalescing, retry-after, splitting, and the final text always arriving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::{Op, OutboxEvent, RecordingOutbox, ScriptedBackend, Step, TestBot};
use natter_core::{DeliveryError, LengthUnit, PlatformLimits, Rate};

fn limits() -> PlatformLimits {
    PlatformLimits {
        max_len: 4096,
        unit: LengthUnit::Chars,
        streaming: true,
        streaming_suffix: " …".into(),
        per_chat: vec![Rate::new(1, Duration::from_secs(1))],
        per_group: vec![Rate::new(20, Duration::from_secs(60))],
        global: vec![Rate::new(30, Duration::from_secs(1))],
        typing_every: Some(Duration::from_secs(4)),
        min_edit_interval: Duration::ZERO,
    }
}

fn bot(limits: PlatformLimits) -> TestBot {
    TestBot::with_parts(
        Arc::new(ScriptedBackend::new()),
        Arc::new(RecordingOutbox::new(limits)),
        |b| b,
    )
}

fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("word{i} ")).collect()
}

fn gaps(writes: &[OutboxEvent]) -> Vec<Duration> {
    writes.windows(2).map(|w| w[1].at() - w[0].at()).collect()
}

#[tokio::test(start_paused = true)]
async fn streaming_edits_are_paced_coalesced_and_end_with_the_whole_text() {
    let bot = bot(limits());
    let chunks = words(50);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    // 50 chunks over 5 seconds: far more than one edit per second allows.
    bot.backend.reply_chunks(&refs, Duration::from_millis(100));
    let reply = bot.say("go").await;
    let full = chunks.concat();
    assert_eq!(
        reply,
        std::slice::from_ref(&full),
        "the final text is the whole reply, without the suffix"
    );
    let writes = bot.outbox.writes();
    assert!(
        writes.len() >= 4 && writes.len() <= 7,
        "{} writes for 50 chunks",
        writes.len()
    );
    for gap in gaps(&writes) {
        assert!(gap >= Duration::from_secs(1), "edits {gap:?} apart");
    }
    // Intermediate edits show the latest text with the suffix, never stale text.
    let mut shown = 0;
    for write in &writes[..writes.len() - 1] {
        let (OutboxEvent::Send { text, .. } | OutboxEvent::Edit { text, .. }) = write else {
            panic!("typing is not a write");
        };
        assert!(text.ends_with(" …"), "{text:?}");
        let len = text.len() - " …".len();
        assert!(len > shown, "each edit shows more text");
        shown = len;
    }
}

/// A reply of 20 chunks over 2 seconds to a platform with no pacing.
async fn writes_without_pacing(min_edit_interval: Duration) -> Vec<OutboxEvent> {
    let bot = bot(PlatformLimits {
        per_chat: Vec::new(),
        per_group: Vec::new(),
        global: Vec::new(),
        min_edit_interval,
        ..limits()
    });
    let chunks = words(20);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    bot.backend.reply_chunks(&refs, Duration::from_millis(100));
    assert_eq!(bot.say("go").await, [chunks.concat()]);
    bot.outbox.writes()
}

#[tokio::test(start_paused = true)]
async fn without_pacing_edits_keep_the_minimum_interval() {
    let unpaced = writes_without_pacing(Duration::ZERO).await;
    assert!(
        unpaced.len() >= 15,
        "{} writes with no floor",
        unpaced.len()
    );

    let floored = writes_without_pacing(Duration::from_millis(500)).await;
    assert!(
        (4..=6).contains(&floored.len()),
        "{} writes for 20 chunks over 2 s",
        floored.len()
    );
    let partial = &floored[..floored.len() - 1];
    for gap in gaps(partial) {
        assert!(gap >= Duration::from_millis(500), "edits {gap:?} apart");
    }
}

#[tokio::test(start_paused = true)]
async fn typing_repeats_until_the_first_text() {
    let bot = bot(limits());
    bot.backend.script(vec![
        Step::Delay(Duration::from_secs(10)),
        Step::Delta("hi".into()),
    ]);
    bot.say("think hard").await;
    let typing = bot
        .outbox
        .events()
        .iter()
        .filter(|e| matches!(e, OutboxEvent::Typing { .. }))
        .count();
    assert_eq!(typing, 3, "at 0 s, 4 s and 8 s");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_the_final_text_still_arrives() {
    let bot = bot(limits());
    bot.outbox
        .fail_next(Op::Edit, DeliveryError::RetryAfter(Duration::from_secs(7)));
    let chunks = words(30);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    bot.backend.reply_chunks(&refs, Duration::from_millis(100));
    assert_eq!(bot.say("go").await, [chunks.concat()]);
    let writes = bot.outbox.writes();
    // The refused edit came at 1 s; nothing was written for 7 s after it.
    assert!(
        gaps(&writes).iter().any(|g| *g >= Duration::from_secs(8)),
        "{:?}",
        gaps(&writes)
    );
}

#[tokio::test(start_paused = true)]
async fn a_final_write_survives_transient_failures_and_rate_limits() {
    let bot = bot(PlatformLimits {
        streaming: false,
        ..limits()
    });
    bot.outbox
        .fail_next(Op::Send, DeliveryError::Transient("502".into()));
    bot.outbox
        .fail_next(Op::Send, DeliveryError::RetryAfter(Duration::from_secs(3)));
    bot.outbox
        .fail_next(Op::Send, DeliveryError::Transient("reset".into()));
    assert_eq!(bot.say("hello").await, ["echo: hello"]);
}

#[tokio::test(start_paused = true)]
async fn a_refused_edit_continues_in_a_new_message() {
    let bot = bot(limits());
    bot.backend
        .reply_chunks(&["first part ", "second part"], Duration::from_secs(2));
    bot.outbox.fail_next(
        Op::Edit,
        DeliveryError::Rejected("message to edit not found".into()),
    );
    bot.outbox.fail_next(
        Op::Edit,
        DeliveryError::Rejected("message to edit not found".into()),
    );
    let reply = bot.say("go").await;
    assert_eq!(reply.last().unwrap(), "first part second part", "{reply:?}");
}

#[tokio::test(start_paused = true)]
async fn long_replies_are_split_in_order_and_never_truncated() {
    let bot = bot(PlatformLimits {
        max_len: 120,
        ..limits()
    });
    let sentences: String = (0..40)
        .map(|i| format!("Sentence number {i} is here. "))
        .collect();
    let text = format!(
        "{}\n\n```rust\n{}```\nThe end.",
        sentences,
        "let x = 1;\n".repeat(30)
    );
    let chunks: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    bot.backend.reply_chunks(&refs, Duration::from_millis(10));
    let parts = bot.say("long please").await;
    assert!(parts.len() >= 8, "{} parts", parts.len());
    for part in &parts {
        assert!(part.chars().count() + 2 <= 120, "part too long: {part:?}");
        assert_eq!(
            part.matches("```").count() % 2,
            0,
            "unbalanced fence: {part:?}"
        );
    }
    let strip = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .filter(|w| !w.starts_with("```"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        strip(&parts.join("\n")),
        strip(&text),
        "nothing lost, order kept"
    );
    let sends: Vec<_> = bot
        .outbox
        .writes()
        .into_iter()
        .filter_map(|w| match w {
            OutboxEvent::Send { reply_to, .. } => Some(reply_to),
            _ => None,
        })
        .collect();
    assert!(
        sends[0].is_some() && sends[1..].iter().all(Option::is_none),
        "only the first part replies"
    );
}

#[tokio::test(start_paused = true)]
async fn group_and_global_budgets_hold_across_conversations() {
    let limits = PlatformLimits {
        streaming: false,
        per_chat: vec![],
        per_group: vec![Rate::new(3, Duration::from_secs(60))],
        global: vec![Rate::new(30, Duration::from_secs(1))],
        ..limits()
    };
    let bot = bot(limits);
    let alice = natter_core::Author::user("a", "Alice");
    let receipts: Vec<_> = (0..5)
        .map(|i| {
            bot.inbox.submit(bot.group(
                "g",
                alice.clone(),
                natter_core::Addressed::Mentioned,
                &format!("m{i}"),
            ))
        })
        .collect();
    for r in receipts {
        r.handled().await;
    }
    let writes = bot.outbox.writes();
    assert_eq!(writes.len(), 5);
    assert!(
        writes[3].at() - writes[0].at() >= Duration::from_secs(60),
        "4th write waited for the group window"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_stream_in_a_group_leaves_budget_for_its_final_text() {
    let bot = bot(limits());
    // 90 seconds of streaming into a group allowed 20 writes a minute.
    let chunks = words(90);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    bot.backend.reply_chunks(&refs, Duration::from_secs(1));
    let start = tokio::time::Instant::now();
    let message = bot.group(
        "g",
        natter_core::Author::user("bob", "Bob"),
        natter_core::Addressed::Mentioned,
        "tell me a long story",
    );
    let reply = bot.send(message).await;
    assert_eq!(reply, [chunks.concat()]);
    let writes = bot.outbox.writes();
    let last = writes.last().unwrap().at() - start;
    assert!(
        last <= Duration::from_secs(91),
        "the final text waited for the group budget: {last:?} after the start"
    );
    for (i, write) in writes.iter().enumerate() {
        let in_window = writes[i..]
            .iter()
            .take_while(|w| w.at() - write.at() < Duration::from_secs(60))
            .count();
        assert!(in_window <= 20, "{in_window} writes within a minute");
    }
}
