//! The metrics natter records, named in one place. Core records them
//! through the [`metrics`] facade where the events happen; without a
//! recorder installed they cost next to nothing. An exporter (the web
//! crate's `/metrics`) installs one and calls [`describe`] once.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `natter_messages_received_total` | counter | `platform` |
//! | `natter_replies_total` | counter | `platform`, `outcome` (`completed`, `stopped`, `failed`, `blocked`, `undelivered`) |
//! | `natter_reply_seconds` | histogram | `platform` — from the turn's start (after its wait in line) to the last text delivered |
//! | `natter_first_token_seconds` | histogram | `model` — from the model call to its first text |
//! | `natter_tokens_total` | counter | `model`, `kind` (`prompt`, `completion`) |
//! | `natter_model_errors_total` | counter | `model`, `kind` ([`crate::ModelError::kind`]) |
//! | `natter_platform_rate_limited_total` | counter | `platform` — the platform answered "retry after" |
//! | `natter_delivery_retries_total` | counter | `platform` — a send or edit tried again |
//! | `natter_queue_depth` | gauge | — messages waiting in conversations' lines |
//! | `natter_replies_in_flight` | gauge | — messages being handled now |
//! | `natter_store_seconds` | histogram | `op` (the store method), `result` (`ok`, `error`) |

use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use crate::message::Platform;

/// Messages adapters submitted.
pub const MESSAGES_RECEIVED: &str = "natter_messages_received_total";
/// Chat replies finished, by outcome.
pub const REPLIES: &str = "natter_replies_total";
/// How long chat replies took.
pub const REPLY_SECONDS: &str = "natter_reply_seconds";
/// How long models took to say their first word.
pub const FIRST_TOKEN_SECONDS: &str = "natter_first_token_seconds";
/// Tokens models read and wrote.
pub const TOKENS: &str = "natter_tokens_total";
/// Model calls that failed.
pub const MODEL_ERRORS: &str = "natter_model_errors_total";
/// Platform "retry after" answers.
pub const PLATFORM_RATE_LIMITED: &str = "natter_platform_rate_limited_total";
/// Sends and edits tried again.
pub const DELIVERY_RETRIES: &str = "natter_delivery_retries_total";
/// Messages waiting in line.
pub const QUEUE_DEPTH: &str = "natter_queue_depth";
/// Messages being handled.
pub const REPLIES_IN_FLIGHT: &str = "natter_replies_in_flight";
/// Store operations' latency.
pub const STORE_SECONDS: &str = "natter_store_seconds";

/// Describes every metric to the installed recorder (help text and units).
pub fn describe() {
    describe_counter!(MESSAGES_RECEIVED, "Messages adapters handed to the engine.");
    describe_counter!(REPLIES, "Chat replies finished, by how they ended.");
    describe_histogram!(
        REPLY_SECONDS,
        Unit::Seconds,
        "From a chat turn's start to its last text delivered."
    );
    describe_histogram!(
        FIRST_TOKEN_SECONDS,
        Unit::Seconds,
        "From a model call to its first text."
    );
    describe_counter!(
        TOKENS,
        "Tokens models read (prompt) and wrote (completion)."
    );
    describe_counter!(MODEL_ERRORS, "Model calls that failed, by kind of failure.");
    describe_counter!(
        PLATFORM_RATE_LIMITED,
        "Times a platform asked natter to retry later (HTTP 429)."
    );
    describe_counter!(DELIVERY_RETRIES, "Sends and edits tried again.");
    describe_gauge!(
        QUEUE_DEPTH,
        "Messages waiting in their conversation's line."
    );
    describe_gauge!(REPLIES_IN_FLIGHT, "Messages being handled right now.");
    describe_histogram!(STORE_SECONDS, Unit::Seconds, "Store operations' latency.");
}

/// A message arrived from `platform`.
pub(crate) fn message_received(platform: Platform) {
    counter!(MESSAGES_RECEIVED, "platform" => platform.as_str()).increment(1);
}

/// A chat reply on `platform` ended with `outcome` after `took`.
pub(crate) fn reply_finished(platform: Platform, outcome: &'static str, took: Duration) {
    counter!(REPLIES, "platform" => platform.as_str(), "outcome" => outcome).increment(1);
    histogram!(REPLY_SECONDS, "platform" => platform.as_str()).record(took.as_secs_f64());
}

/// `model` said its first word `took` after it was called.
pub(crate) fn first_token(model: &str, took: Duration) {
    histogram!(FIRST_TOKEN_SECONDS, "model" => model.to_owned()).record(took.as_secs_f64());
}

/// `model` read `prompt` tokens and wrote `completion`.
pub(crate) fn tokens(model: &str, prompt: u32, completion: u32) {
    counter!(TOKENS, "model" => model.to_owned(), "kind" => "prompt").increment(prompt.into());
    counter!(TOKENS, "model" => model.to_owned(), "kind" => "completion")
        .increment(completion.into());
}

/// A call of `model` failed with an error of `kind`.
pub(crate) fn model_error(model: &str, kind: &'static str) {
    counter!(MODEL_ERRORS, "model" => model.to_owned(), "kind" => kind).increment(1);
}

/// `platform` asked to retry later.
pub(crate) fn platform_rate_limited(platform: Platform) {
    counter!(PLATFORM_RATE_LIMITED, "platform" => platform.as_str()).increment(1);
}

/// A send or edit on `platform` is tried again.
pub(crate) fn delivery_retry(platform: Platform) {
    counter!(DELIVERY_RETRIES, "platform" => platform.as_str()).increment(1);
}

/// `waiting` messages wait in line now.
pub(crate) fn queue_depth(waiting: usize) {
    gauge!(QUEUE_DEPTH).set(waiting as f64);
}

/// `handling` messages are being handled now.
pub(crate) fn in_flight(handling: usize) {
    gauge!(REPLIES_IN_FLIGHT).set(handling as f64);
}

/// Store operation `op` took `took` and succeeded (`ok`) or not.
pub(crate) fn store_op(op: &'static str, took: Duration, ok: bool) {
    let result = if ok { "ok" } else { "error" };
    histogram!(STORE_SECONDS, "op" => op, "result" => result).record(took.as_secs_f64());
}
