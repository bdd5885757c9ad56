//! Servers over their lifetime: one killed or exiting mid-call ends that
//! call as an error, has its tools withdrawn and is back after the back-off;
//! a hung call times out; a server that stops answering is restarted; a
//! changed tool list is picked up; one that cannot start says why; shutdown
//! (or dropping the plugin) leaves no process behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{PATIENCE, alive, fake, names, pid, started, until, within};
use natter_mcp::{McpError, ServerStatus};
use serde_json::json;
use tokio::time::Instant;

fn is_down(status: &ServerStatus) -> bool {
    matches!(status, ServerStatus::Down { .. })
}

fn is_up(status: &ServerStatus) -> bool {
    matches!(status, ServerStatus::Up { .. })
}

#[tokio::test]
async fn a_server_killed_mid_call_comes_back_after_the_back_off() {
    let mut settings = fake(&[]);
    settings.restart_delay_ms = 1_500;
    settings.restart_max_delay_ms = 3_000;
    let plugin = started(vec![("s", settings)]).await;
    let first = pid(&plugin, "s");

    let started_at = Instant::now();
    let call = plugin.call("s_slow", json!({"ms": 60_000}));
    let kill = async {
        // Requests reach the server in the order they were made, so once
        // this later call is answered the server is at work on the slow one.
        let pid: u32 = plugin
            .call("s_pid", json!({}))
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(pid, first);
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &first.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    };
    let down = until(&plugin, "the server to be reported down", |s| {
        is_down(&s["s"])
    });
    let (result, (), ()) = tokio::join!(call, kill, down);
    let error = result.unwrap_err();
    assert!(
        started_at.elapsed() < Duration::from_secs(10),
        "ended within the timeout"
    );
    assert!(matches!(error, McpError::Protocol(_)), "{error}");
    let down_at = Instant::now();
    assert!(
        names(&plugin).is_empty(),
        "its tools are withdrawn while it is down"
    );
    let ServerStatus::Down { reason } = &plugin.status()["s"] else {
        panic!("not down")
    };
    assert!(reason.contains("exited"), "{reason}");
    assert!(matches!(
        plugin.call("s_add", json!({"a": 1, "b": 1})).await,
        Err(McpError::Unavailable { .. })
    ));

    until(&plugin, "the server to be back", |s| is_up(&s["s"])).await;
    assert!(
        down_at.elapsed() >= Duration::from_millis(1_400),
        "after the back-off"
    );
    assert_ne!(pid(&plugin, "s"), first, "a new process");
    assert!(!alive(first));
    assert!(names(&plugin).contains(&"s_add".to_owned()));
    assert_eq!(
        plugin.call("s_add", json!({"a": 1, "b": 1})).await.unwrap(),
        "2"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_server_exiting_mid_call_ends_the_call_and_restarts() {
    let plugin = started(vec![("s", fake(&[]))]).await;
    let first = pid(&plugin, "s");
    let error = within("the crashing call", plugin.call("s_crash", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Protocol(_)), "{error}");
    until(
        &plugin,
        "a new process",
        |s| matches!(&s["s"], ServerStatus::Up { pid: Some(p), .. } if *p != first),
    )
    .await;
    assert_eq!(
        plugin
            .call("s_echo", json!({"text": "again"}))
            .await
            .unwrap(),
        "again"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_hung_call_times_out_and_a_server_that_still_answers_stays() {
    let mut settings = fake(&[]);
    settings.timeout_secs = 1;
    let plugin = started(vec![("s", settings)]).await;
    let first = pid(&plugin, "s");
    let started_at = Instant::now();
    let error = plugin
        .call("s_slow", json!({"ms": 60_000}))
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Timeout(_)), "{error}");
    assert_eq!(error.to_string(), "no answer within 1 s");
    assert!(started_at.elapsed() < Duration::from_secs(5));
    // The health check pings it; it answers, so it is the same process.
    assert_eq!(
        plugin.call("s_add", json!({"a": 2, "b": 2})).await.unwrap(),
        "4"
    );
    assert_eq!(pid(&plugin, "s"), first);
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_server_that_stops_answering_is_restarted() {
    let mut settings = fake(&[]);
    settings.timeout_secs = 1;
    let plugin = started(vec![("s", settings)]).await;
    let first = pid(&plugin, "s");
    let error = plugin
        .call("s_freeze", json!({"ms": 600_000}))
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Timeout(_)), "{error}");
    until(&plugin, "the frozen server to be reported down", |s| {
        matches!(&s["s"], ServerStatus::Down { reason } if reason.contains("stopped answering"))
    })
    .await;
    until(
        &plugin,
        "a new process",
        |s| matches!(&s["s"], ServerStatus::Up { pid: Some(p), .. } if *p != first),
    )
    .await;
    assert!(!alive(first), "the frozen process was ended");
    assert_eq!(
        plugin.call("s_add", json!({"a": 1, "b": 2})).await.unwrap(),
        "3"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_changed_tool_list_is_picked_up() {
    let plugin = started(vec![("s", fake(&[]))]).await;
    assert!(!names(&plugin).contains(&"s_fresh".to_owned()));
    assert_eq!(
        plugin
            .call("s_grow", json!({"name": "fresh"}))
            .await
            .unwrap(),
        "added fresh"
    );
    until(
        &plugin,
        "the new tool",
        |s| matches!(&s["s"], ServerStatus::Up { tools, .. } if tools.iter().any(|t| t == "fresh")),
    )
    .await;
    assert!(names(&plugin).contains(&"s_fresh".to_owned()));
    assert_eq!(
        plugin.call("s_fresh", json!({})).await.unwrap(),
        "I am fresh"
    );
    plugin.shutdown().await;
}

#[tokio::test]
async fn a_server_that_cannot_start_says_why_and_the_others_run() {
    let mut missing = fake(&[]);
    missing.command = Some(vec!["/nonexistent/mcp-server".into()]);
    let plugin = started(vec![
        (
            "broken",
            fake(&["--fail-at-start", "no config in /etc/fake"]),
        ),
        ("missing", missing),
        ("good", fake(&[])),
    ])
    .await;
    let status = plugin.status();
    let reason = |server: &str| match &status[server] {
        ServerStatus::Down { reason } => reason.clone(),
        other => panic!("{server}: {other:?}"),
    };
    let broken = reason("broken");
    assert!(
        broken.starts_with("could not start: the server exited during the MCP handshake")
            && broken.ends_with("(its stderr: no config in /etc/fake)"),
        "{broken}"
    );
    let missing = reason("missing");
    assert!(
        missing.starts_with("could not start: cannot run /nonexistent/mcp-server: "),
        "{missing}"
    );
    assert!(is_up(&status["good"]));
    assert!(names(&plugin).iter().all(|n| n.starts_with("good_")));
    plugin.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_every_process() {
    let plugin = started(vec![("a", fake(&[])), ("b", fake(&[]))]).await;
    let pids = [pid(&plugin, "a"), pid(&plugin, "b")];
    assert!(pids.iter().all(|p| alive(*p)));
    within("shutdown", plugin.shutdown()).await;
    for pid in pids {
        assert!(!alive(pid), "process {pid} still runs");
    }
    assert!(
        plugin
            .status()
            .values()
            .all(|s| *s == ServerStatus::Stopped)
    );
    assert!(names(&plugin).is_empty());
}

#[tokio::test]
async fn dropping_the_plugin_stops_its_processes() {
    let plugin = started(vec![("a", fake(&[]))]).await;
    let pid = pid(&plugin, "a");
    drop(plugin);
    let gone = async {
        while alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, gone)
        .await
        .unwrap_or_else(|_| panic!("process {pid} outlived the plugin"));
}
