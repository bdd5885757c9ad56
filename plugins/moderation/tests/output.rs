//! Output rules on streamed replies: a matching phrase split across model
//! chunks never shows, not even its first half in an intermediate edit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{REFUSAL, bot, everything_shown, history, streaming_bot};
use natter_core::test_utils::Step;

const EVERY: Duration = Duration::from_secs(2);

#[tokio::test(start_paused = true)]
async fn a_redacted_phrase_split_across_chunks_never_shows() {
    let bot = streaming_bot(r#"output = { words = ["launch code"] }"#);
    bot.backend.reply_chunks(
        &[
            "Sure, here is what I know about it. The launch co",
            "de is kept in a safe, and the laun",
            "ch code changes daily; nobody outside the team ever sees it.",
        ],
        EVERY,
    );
    let shown = bot.say("what is the code?").await;
    let expected = "Sure, here is what I know about it. The [removed] is kept in a safe, \
                    and the [removed] changes daily; nobody outside the team ever sees it.";
    assert_eq!(shown, [expected]);
    let all = everything_shown(&bot.outbox);
    assert!(all.len() >= 3, "it streamed in edits: {all:?}");
    for text in &all {
        assert!(
            !text.contains("laun"),
            "the phrase or its first half showed: {text:?}"
        );
    }
    let turns = history(&bot).await;
    assert_eq!(
        turns[0].assistant.content, expected,
        "history keeps what was shown"
    );
}

#[tokio::test(start_paused = true)]
async fn a_word_is_only_caught_whole_even_when_the_stream_splits_it() {
    let bot = streaming_bot(r#"output = { words = ["ass", "secret"] }"#);
    bot.backend.reply_chunks(
        &[
            "Your ass",
            "istant keeps a super",
            "secret diary. That one ass",
            " is a secret.",
        ],
        EVERY,
    );
    let shown = bot.say("tell me").await;
    assert_eq!(
        shown,
        ["Your assistant keeps a supersecret diary. That one [removed] is a [removed]."]
    );
    for text in everything_shown(&bot.outbox) {
        assert!(!text.contains("[removed]istant"), "{text:?}");
        assert!(!text.contains("super[removed]"), "{text:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_blocked_phrase_stops_the_reply_and_shows_the_refusal() {
    let bot = streaming_bot(r#"output = { words = ["forbidden"], action = "refuse" }"#);
    bot.backend.script(vec![
        Step::Delta("Step one: gather everything you need for the job. ".into()),
        Step::Delay(EVERY),
        Step::Delta("Step two: do the forb".into()),
        Step::Delay(EVERY),
        Step::Delta("idden part.".into()),
        Step::Delay(EVERY),
        Step::Delta(" Step three: clean up.".into()),
    ]);
    assert_eq!(bot.say("how?").await, [REFUSAL]);
    let all = everything_shown(&bot.outbox);
    assert!(all.len() >= 2, "it had started streaming: {all:?}");
    for text in &all {
        assert!(!text.contains("forb"), "leaked in {text:?}");
    }
    assert_eq!(bot.backend.dropped_streams(), 1, "the model was stopped");
    assert!(
        history(&bot).await.is_empty(),
        "a blocked reply is not history"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pattern_match_split_across_chunks_never_shows() {
    let bot = streaming_bot(r#"output = { patterns = ['\b\d{3}-\d{2}-\d{4}\b'] }"#);
    bot.backend.reply_chunks(
        &[
            "I looked it up in the records you sent me earlier. Your number is 123-4",
            "5-6789 — keep it safe, and do not share it with anyone you do not fully trust. ",
            "Is there anything else I can help you with today, or are we done for now?",
        ],
        EVERY,
    );
    let shown = bot.say("my number?").await;
    assert_eq!(
        shown,
        [
            "I looked it up in the records you sent me earlier. Your number is [removed] — keep it \
             safe, and do not share it with anyone you do not fully trust. Is there anything else \
             I can help you with today, or are we done for now?"
        ]
    );
    let all = everything_shown(&bot.outbox);
    assert!(all.len() >= 3, "it streamed in edits: {all:?}");
    for text in &all {
        assert!(!text.contains("123"), "part of the number showed: {text:?}");
    }
}

#[tokio::test]
async fn whole_replies_are_screened_too() {
    let bot = bot(r#"output = { words = ["secret"], patterns = ['(?i)pass(word)?: *\S+'] }"#);
    bot.backend.reply("The SECRET is out; password: hunter2.");
    assert_eq!(
        bot.say("tell me").await,
        ["The [removed] is out; [removed]"]
    );
}

#[tokio::test]
async fn output_rules_leave_input_alone() {
    let bot = bot(r#"output = { words = ["secret"] }"#);
    bot.say("my secret").await;
    assert_eq!(
        bot.backend.last_request().messages.last().unwrap().content,
        "my secret"
    );
}
