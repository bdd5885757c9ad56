//! Input rules: refused messages never reach the model; redacted ones reach
//! it (and history) redacted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{REFUSAL, bot, history, last_user_text};

const REFUSE: &str = r#"
input = { words = ["buy followers", "darn"], patterns = ['(?i)\bfree\s+crypto\b'] }
"#;

const REDACT: &str = r#"
redaction = "***"
input = { words = ["darn"], patterns = ['\b\d{4}(?:[ -]?\d{4}){3}\b'], action = "redact" }
"#;

#[tokio::test]
async fn a_refused_message_gets_the_refusal_and_the_model_sees_nothing() {
    let bot = bot(REFUSE);
    assert_eq!(bot.say("want to BUY   followers?").await, [REFUSAL]);
    assert_eq!(bot.say("Darn.").await, [REFUSAL]);
    assert_eq!(bot.say("get FREE\ncrypto here").await, [REFUSAL]);
    assert!(
        bot.backend.requests().is_empty(),
        "the model was never called"
    );
    assert!(history(&bot).await.is_empty(), "refusals are not history");
}

#[tokio::test]
async fn commands_are_screened_too() {
    let bot = bot(REFUSE);
    assert_eq!(bot.say("/help darn").await, [REFUSAL]);
    let help = bot.say("/help").await;
    assert_ne!(help, [REFUSAL], "a clean command runs");
}

#[tokio::test]
async fn words_match_whole_words_only_and_patterns_as_written() {
    let bot = bot(REFUSE);
    assert_eq!(
        bot.say("darned followers, freecrypto").await,
        ["echo: darned followers, freecrypto"]
    );
    assert_eq!(bot.backend.requests().len(), 1);
}

#[tokio::test]
async fn a_redacted_message_reaches_the_model_and_history_redacted() {
    let bot = bot(REDACT);
    let shown = bot
        .say("oh DARN, my card 4111 1111 1111 1111 expired")
        .await;
    assert_eq!(shown, ["echo: oh ***, my card *** expired"]);
    assert_eq!(last_user_text(&bot), "oh ***, my card *** expired");
    let turns = history(&bot).await;
    assert_eq!(turns[0].user.content, "oh ***, my card *** expired");
}

#[tokio::test]
async fn clean_messages_pass_unchanged() {
    let bot = bot(REDACT);
    assert_eq!(bot.say("hello there").await, ["echo: hello there"]);
    assert_eq!(last_user_text(&bot), "hello there");
}
