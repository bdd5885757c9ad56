//! The engine and the plugin together: the scripted model calls an MCP
//! tool, and the server's answer reaches the model as the tool result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{fake, started};
use natter_core::Role;
use natter_core::test_utils::TestBot;

#[tokio::test]
async fn the_model_calls_an_mcp_tool_and_reads_its_result() {
    let plugin = Arc::new(started(vec![("calc", fake(&[]))]).await);
    let bot = TestBot::with(|builder| builder.plugin(plugin.clone(), serde_json::Value::Null));
    bot.backend.call("calc_add", r#"{"a": 19, "b": 23}"#);
    bot.backend.reply("19 + 23 = 42");
    assert_eq!(bot.say("what is 19 + 23?").await, ["19 + 23 = 42"]);

    let requests = bot.backend.requests();
    assert_eq!(requests.len(), 2);
    let offered: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert!(
        offered.contains(&"calc_add") && offered.contains(&"calc_echo"),
        "{offered:?}"
    );
    let result = bot
        .backend
        .last_request()
        .messages
        .into_iter()
        .find(|m| m.role == Role::Tool)
        .unwrap();
    assert_eq!(result.content, "42");
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_failing_call_reaches_the_model_as_an_error() {
    let plugin = Arc::new(started(vec![("calc", fake(&[]))]).await);
    let bot = TestBot::with(|builder| builder.plugin(plugin.clone(), serde_json::Value::Null));
    bot.backend.call("calc_fail", r#"{"message": "disk full"}"#);
    bot.backend.reply("The disk is full.");
    assert_eq!(bot.say("save it").await, ["The disk is full."]);
    let result = bot
        .backend
        .last_request()
        .messages
        .into_iter()
        .find(|m| m.role == Role::Tool)
        .unwrap();
    assert_eq!(result.content, "error: calc_fail failed: disk full");
    plugin.shutdown().await;
}
