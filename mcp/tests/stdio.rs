//! The plugin against the fake MCP server run as a child process over
//! stdio: tools listed with valid names, descriptions, schemas and effects;
//! calls answered; the allow-list; errors the model can read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fake, names, started};
use natter_core::{Effect, Permission};
use natter_mcp::{McpError, ServerStatus};
use natter_test_support::mcp::LONG_TOOL;
use serde_json::json;

#[tokio::test]
async fn tools_are_listed_and_called() {
    let plugin = started(vec![("calc", fake(&[]))]).await;
    let offered = plugin.offered();
    let add = offered.iter().find(|t| t.tool == "add").unwrap();
    assert_eq!(add.spec.definition.name, "calc_add");
    assert_eq!(add.spec.definition.description, "Adds two numbers.");
    assert_eq!(
        add.spec.definition.parameters["properties"]["a"]["type"],
        "number"
    );
    assert_eq!(
        add.spec.definition.parameters["required"],
        json!(["a", "b"])
    );
    assert_eq!(add.server, "calc");
    assert_eq!(
        plugin
            .call("calc_add", json!({"a": 2, "b": 3}))
            .await
            .unwrap(),
        "5"
    );
    assert_eq!(
        plugin
            .call("calc_echo", json!({"text": "héllo"}))
            .await
            .unwrap(),
        "héllo"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn read_only_hints_and_permissions_set_the_policy() {
    let mut settings = fake(&[]);
    settings.permission = Permission::Confirm;
    let plugin = started(vec![("calc", settings)]).await;
    let offered = plugin.offered();
    let effect = |tool: &str| offered.iter().find(|t| t.tool == tool).unwrap().spec.effect;
    assert_eq!(
        effect("add"),
        Effect::ReadOnly,
        "add is marked readOnlyHint"
    );
    assert_eq!(effect("echo"), Effect::SideEffect, "no hint: a side effect");
    assert!(
        offered
            .iter()
            .all(|t| t.spec.permission == Permission::Confirm)
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn names_are_made_valid_for_every_model() {
    let plugin = started(vec![("my files", fake(&[]))]).await;
    let offered = plugin.offered();
    let name_of = |tool: &str| {
        offered
            .iter()
            .find(|t| t.tool == tool)
            .unwrap_or_else(|| panic!("{tool} not offered"))
            .spec
            .definition
            .name
            .clone()
    };
    assert_eq!(name_of("add"), "my_files_add");
    assert_eq!(name_of("dotted.name"), "my_files_dotted_name");
    let twin = name_of("dotted_name");
    assert!(
        twin.starts_with("my_files_dotted_name_") && twin.len() == 29,
        "{twin}"
    );
    let long = name_of(LONG_TOOL);
    assert_eq!(long.len(), 64, "{long}");
    assert!(
        offered
            .iter()
            .all(|t| natter_core::tool::is_valid_tool_name(&t.spec.definition.name))
    );
    // Each name reaches its own tool.
    assert_eq!(
        plugin
            .call("my_files_dotted_name", json!({}))
            .await
            .unwrap(),
        "dotted.name"
    );
    assert_eq!(plugin.call(&twin, json!({})).await.unwrap(), "dotted_name");
    assert_eq!(plugin.call(&long, json!({})).await.unwrap(), LONG_TOOL);
    plugin.shutdown().await;
}

#[tokio::test]
async fn the_allow_list_filters_by_the_servers_own_names() {
    let mut settings = fake(&[]);
    settings.tools = Some(vec![
        "add".into(),
        "dotted.name".into(),
        "nonexistent".into(),
    ]);
    let plugin = started(vec![("calc", settings)]).await;
    assert_eq!(names(&plugin), ["calc_add", "calc_dotted_name"]);
    match &plugin.status()["calc"] {
        ServerStatus::Up { tools, .. } => assert_eq!(tools, &["add", "dotted.name"]),
        other => panic!("{other:?}"),
    }
    let refused = plugin
        .call("calc_echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(refused, McpError::UnknownTool(_)), "{refused}");
    plugin.shutdown().await;
}

#[tokio::test]
async fn failures_are_errors_the_model_can_read() {
    let plugin = started(vec![("calc", fake(&[]))]).await;
    let failed = plugin
        .call("calc_fail", json!({"message": "disk full"}))
        .await
        .unwrap_err();
    assert_eq!(failed.to_string(), "calc_fail failed: disk full");
    assert!(matches!(
        natter_core::PluginError::from(failed),
        natter_core::PluginError::Usage(_)
    ));
    let refused = plugin
        .call("calc_add", json!({"a": "two"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, McpError::Refused { message, .. } if message.contains("a must be a number")),
        "{refused}"
    );
    let not_object = plugin.call("calc_add", json!([1, 2])).await.unwrap_err();
    assert!(matches!(not_object, McpError::Arguments(_)), "{not_object}");
    let picture = plugin.call("calc_picture", json!({})).await.unwrap();
    assert_eq!(picture, "a red dot\n\n[image: image/png, 8 bytes]");
    plugin.shutdown().await;
}

#[tokio::test]
async fn the_server_gets_its_own_env_and_not_natters_secrets() {
    let mut settings = fake(&[]);
    settings
        .env
        .insert("FAKE_API_KEY".into(), "k-123".to_owned().into());
    let plugin = started(vec![("calc", settings)]).await;
    let read = |name: &str| plugin.call("calc_env", json!({ "name": name }));
    assert_eq!(read("FAKE_API_KEY").await.unwrap(), "k-123");
    assert_eq!(read("PATH").await.unwrap(), std::env::var("PATH").unwrap());
    // Anything of natter's own environment beyond the few inherited
    // variables stays with natter: cargo sets CARGO_PKG_NAME for this test.
    assert_eq!(std::env::var("CARGO_PKG_NAME").unwrap(), "natter-mcp");
    assert_eq!(read("CARGO_PKG_NAME").await.unwrap(), "(unset)");
    plugin.shutdown().await;
}
