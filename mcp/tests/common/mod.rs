//! Helpers for the MCP tests: the fake server's settings, a started plugin,
//! and waiting on conditions with a bound.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use natter_mcp::{McpPlugin, McpSettings, ServerSettings, ServerStatus};
use natter_test_support::mcp::fake_server_binary;

/// Longest any test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The fake stdio server with `args`, quick to restart.
pub fn fake(args: &[&str]) -> ServerSettings {
    let mut command = vec![fake_server_binary().display().to_string()];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    ServerSettings {
        command: Some(command),
        timeout_secs: 10,
        restart_delay_ms: 100,
        restart_max_delay_ms: 400,
        ..ServerSettings::default()
    }
}

/// A plugin for `servers`, started.
pub async fn started(servers: Vec<(&str, ServerSettings)>) -> McpPlugin {
    let settings = McpSettings {
        servers: servers
            .into_iter()
            .map(|(name, s)| (name.to_owned(), s))
            .collect(),
    };
    settings.validate().unwrap();
    let plugin = McpPlugin::new(settings);
    within("the servers to start", plugin.start()).await;
    plugin
}

/// `future`'s output, or a failure naming `what` after [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("waited {PATIENCE:?} for {what}"))
}

/// Waits until `done` holds for the plugin's servers.
pub async fn until(
    plugin: &McpPlugin,
    what: &str,
    done: impl FnMut(&BTreeMap<String, ServerStatus>) -> bool,
) {
    within(what, plugin.wait_for(done)).await;
}

/// The offered tool names of the plugin, in order.
pub fn names(plugin: &McpPlugin) -> Vec<String> {
    plugin
        .offered()
        .into_iter()
        .map(|t| t.spec.definition.name)
        .collect()
}

/// The pid a server runs as (it must be up).
pub fn pid(plugin: &McpPlugin, server: &str) -> u32 {
    match &plugin.status()[server] {
        ServerStatus::Up { pid: Some(pid), .. } => *pid,
        other => panic!("{server} is not up with a pid: {other:?}"),
    }
}

/// True while a process with `pid` exists (a zombie counts).
pub fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}
