//! [`McpPlugin`]: the configured servers' tools as one plugin's tools.
//! `tools()` offers the tools of every server that is up at that moment;
//! `call_tool` finds the server behind a name and forwards the call, under
//! the server's timeout.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use natter_core::{Plugin, PluginContext, PluginError, ToolInvocation, ToolSpec};
use rmcp::model::{CallToolRequestParams, Tool};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, instrument, warn};

use crate::content::result_text;
use crate::error::McpError;
use crate::naming::offered_names;
use crate::settings::{McpSettings, ServerSettings};
use crate::state::{Board, Live, ServerStatus};
use crate::supervisor::{CLOSE_TIMEOUT, Supervisor};

/// One tool on offer: the name the model calls it by, and where it comes from.
#[derive(Clone, Debug)]
pub struct OfferedTool {
    /// The server.
    pub server: String,
    /// The server's own name for it.
    pub tool: String,
    /// How the model sees it (name, description, schema), and its effect
    /// and permission.
    pub spec: ToolSpec,
}

/// The plugin that makes MCP servers' tools natter tools. Build it with
/// [`McpPlugin::new`], [`start`](McpPlugin::start) it before the first
/// message, [`shutdown`](McpPlugin::shutdown) it when natter stops.
pub struct McpPlugin {
    settings: McpSettings,
    board: Arc<Board>,
    stop: CancellationToken,
    supervisors: Mutex<Option<JoinSet<()>>>,
}

impl McpPlugin {
    /// A plugin for the servers in `settings` (validated: a server whose
    /// settings are invalid does not start and says why). Nothing runs
    /// until [`McpPlugin::start`].
    pub fn new(settings: McpSettings) -> Self {
        let board = Arc::new(Board::new(settings.servers.keys()));
        Self {
            settings,
            board,
            stop: CancellationToken::new(),
            supervisors: Mutex::new(None),
        }
    }

    /// Starts every server and waits until each has come up or failed
    /// (each within its `timeout_secs`); failed ones are retried in the
    /// background. Calling it again does nothing.
    pub async fn start(&self) {
        {
            let mut supervisors = self
                .supervisors
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if supervisors.is_some() || self.stop.is_cancelled() {
                return;
            }
            let mut set = JoinSet::new();
            for (name, settings) in &self.settings.servers {
                let supervisor = Supervisor {
                    name: name.clone(),
                    settings: settings.clone(),
                    board: Arc::clone(&self.board),
                    stop: self.stop.child_token(),
                };
                set.spawn(supervisor.run());
            }
            *supervisors = Some(set);
        }
        self.wait_for(|servers| {
            servers
                .values()
                .all(|status| !matches!(status, ServerStatus::Starting))
        })
        .await;
    }

    /// Stops every server and waits until they have stopped (a server
    /// that ignores its closed stdin and SIGTERM is killed).
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let supervisors = self
            .supervisors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut supervisors) = supervisors {
            let all_done = async { while supervisors.join_next().await.is_some() {} };
            if tokio::time::timeout(CLOSE_TIMEOUT + Duration::from_secs(1), all_done)
                .await
                .is_err()
            {
                warn!("an MCP server did not stop in time; it is killed as natter lets go of it");
            }
        }
    }

    /// What each server is doing now.
    pub fn status(&self) -> BTreeMap<String, ServerStatus> {
        self.board.statuses()
    }

    /// Waits until `done` holds for [`McpPlugin::status`], checking it at
    /// every change.
    pub async fn wait_for(&self, done: impl FnMut(&BTreeMap<String, ServerStatus>) -> bool) {
        self.board.wait_for(done).await;
    }

    /// The tools on offer now: every up server's, by their offered names
    /// (see the crate docs for how names are made).
    pub fn offered(&self) -> Vec<OfferedTool> {
        self.catalogue()
            .into_iter()
            .map(|entry| OfferedTool {
                spec: entry.spec(),
                server: entry.server,
                tool: entry.tool.name.to_string(),
            })
            .collect()
    }

    /// Calls the tool offered as `name` with `arguments` (a JSON object),
    /// under its server's timeout; the result as the model reads it.
    #[instrument(skip(self, arguments))]
    pub async fn call(&self, name: &str, arguments: Value) -> Result<String, McpError> {
        let Some(entry) = self.catalogue().into_iter().find(|e| e.name == name) else {
            return Err(self.why_not_offered(name));
        };
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            _ => return Err(McpError::Arguments(name.to_owned())),
        };
        let mut request = CallToolRequestParams::new(entry.tool.name.clone());
        if let Some(arguments) = arguments {
            request = request.with_arguments(arguments);
        }
        let timeout = entry.settings.timeout();
        // If this call is given up on (its timeout, the engine's, or /stop),
        // rmcp tells the server it is cancelled and the supervisor checks
        // that the server still answers.
        let mut check_health = CheckHealthUnlessDone(Some(Arc::clone(&entry.live.health)));
        let outcome = tokio::time::timeout(timeout, entry.live.peer.call_tool(request)).await;
        let result = match outcome {
            Err(_) => return Err(McpError::Timeout(timeout)),
            Ok(Err(rmcp::ServiceError::McpError(refused))) => {
                check_health.done();
                return Err(McpError::Refused {
                    tool: name.to_owned(),
                    message: refused.message.to_string(),
                });
            }
            Ok(Err(error)) => {
                return Err(McpError::Protocol(format!(
                    "the call to the MCP server {} failed: {error}",
                    entry.server
                )));
            }
            Ok(Ok(result)) => result,
        };
        check_health.done();
        debug!(server = %entry.server, "MCP tool answered");
        result_text(result).map_err(|message| McpError::ToolFailed {
            tool: name.to_owned(),
            message,
        })
    }

    /// Every up server's allowed tools, with their offered names.
    fn catalogue(&self) -> Vec<Entry> {
        let live = self.board.live();
        let pairs = live.iter().flat_map(|(server, live)| {
            live.tools
                .iter()
                .map(move |t| (server.as_str(), t.name.as_ref()))
        });
        let mut names = offered_names(pairs).into_iter();
        let mut entries = Vec::new();
        for (server, live) in &live {
            let Some(settings) = self.settings.servers.get(server) else {
                continue;
            };
            for tool in &live.tools {
                let Some(name) = names.next() else {
                    return entries;
                };
                entries.push(Entry {
                    name,
                    server: server.clone(),
                    tool: tool.clone(),
                    settings: settings.clone(),
                    live: Arc::clone(live),
                });
            }
        }
        entries
    }

    /// Why `name` is not on offer: its server is down, or there is no such tool.
    fn why_not_offered(&self, name: &str) -> McpError {
        let statuses = self.board.statuses();
        let down = statuses.iter().find_map(|(server, status)| {
            let prefix = offered_names([(server.as_str(), "")]).pop()?;
            let reason = match status {
                ServerStatus::Up { .. } => return None,
                ServerStatus::Starting => "it is starting".to_owned(),
                ServerStatus::Down { reason } => reason.clone(),
                ServerStatus::Stopped => "it was stopped".to_owned(),
            };
            name.starts_with(&prefix).then(|| (server.clone(), reason))
        });
        match down {
            Some((server, reason)) => McpError::Unavailable { server, reason },
            None => McpError::UnknownTool(name.to_owned()),
        }
    }
}

impl Drop for McpPlugin {
    fn drop(&mut self) {
        // Supervisors end their sessions (and processes) as they see this.
        self.stop.cancel();
    }
}

/// One offered tool, with what a call needs.
struct Entry {
    name: String,
    server: String,
    tool: Tool,
    settings: ServerSettings,
    live: Arc<Live>,
}

impl Entry {
    fn spec(&self) -> ToolSpec {
        let description = self
            .tool
            .description
            .as_ref()
            .map(|d| d.to_string())
            .or_else(|| self.tool.title.clone())
            .unwrap_or_else(|| format!("{} (from the MCP server {})", self.tool.name, self.server));
        let schema = Value::Object((*self.tool.input_schema).clone());
        let spec = ToolSpec::with_schema(self.name.clone(), description, schema)
            .permission(self.settings.permission);
        let read_only = self
            .tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            == Some(true);
        if read_only { spec } else { spec.side_effect() }
    }
}

/// Pokes the supervisor's health check when dropped before [`done`](Self::done).
struct CheckHealthUnlessDone(Option<Arc<tokio::sync::Notify>>);

impl CheckHealthUnlessDone {
    fn done(&mut self) {
        self.0 = None;
    }
}

impl Drop for CheckHealthUnlessDone {
    fn drop(&mut self) {
        if let Some(health) = self.0.take() {
            health.notify_one();
        }
    }
}

#[async_trait]
impl Plugin for McpPlugin {
    fn name(&self) -> &str {
        "mcp"
    }

    fn tools(&self) -> Vec<ToolSpec> {
        self.catalogue().iter().map(Entry::spec).collect()
    }

    async fn call_tool(
        &self,
        _cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        Ok(self.call(&call.name, call.arguments).await?)
    }
}
