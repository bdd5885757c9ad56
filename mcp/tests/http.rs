//! The plugin against the fake MCP server over streamable HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{names, started};
use natter_core::Effect;
use natter_mcp::{ServerSettings, ServerStatus};
use natter_test_support::mcp::FakeMcpHttp;
use serde_json::json;

#[tokio::test]
async fn tools_are_listed_and_called_over_http() {
    let server = FakeMcpHttp::start().await;
    let settings = ServerSettings {
        url: Some(server.url()),
        timeout_secs: 10,
        ..ServerSettings::default()
    };
    let plugin = started(vec![("web", settings)]).await;
    assert!(
        matches!(&plugin.status()["web"], ServerStatus::Up { pid: None, .. }),
        "{:?}",
        plugin.status()
    );
    let offered = names(&plugin);
    assert!(offered.contains(&"web_add".to_owned()), "{offered:?}");
    assert!(
        !offered.contains(&"web_crash".to_owned()),
        "no process tools over HTTP"
    );
    let add = plugin
        .offered()
        .into_iter()
        .find(|t| t.tool == "add")
        .unwrap();
    assert_eq!(add.spec.effect, Effect::ReadOnly);
    assert_eq!(
        plugin
            .call("web_add", json!({"a": 20, "b": 22}))
            .await
            .unwrap(),
        "42"
    );
    assert_eq!(
        plugin
            .call("web_echo", json!({"text": "over http"}))
            .await
            .unwrap(),
        "over http"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn an_http_server_that_is_not_there_is_down_with_the_reason() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = ServerSettings {
        url: Some(format!("http://127.0.0.1:{port}/mcp")),
        timeout_secs: 5,
        ..ServerSettings::default()
    };
    let plugin = started(vec![("web", settings)]).await;
    let status = plugin.status();
    let ServerStatus::Down { reason } = &status["web"] else {
        panic!("{status:?}")
    };
    assert!(reason.starts_with("could not start: "), "{reason}");
    assert!(names(&plugin).is_empty());
    plugin.shutdown().await;
}
