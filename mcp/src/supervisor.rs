//! One task per server, keeping it up: start it and list its tools; list
//! them again when it says they changed; notice when it exits, closes the
//! connection or stops answering (a ping after a call timed out or broke);
//! then report it down and start it again after an exponential back-off
//! (reset once it has stayed up for the longest delay). On shutdown it
//! closes the session, which ends the process: stdin closed, then SIGTERM,
//! then SIGKILL to its process group.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rmcp::Peer;
use rmcp::model::{ClientRequest, PingRequest, Tool};
use rmcp::service::{PeerRequestOptions, QuitReason, RoleClient};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, instrument, warn};

use crate::connect::{Connection, connect};
use crate::settings::ServerSettings;
use crate::state::{Board, Live, ServerStatus};

/// Longest a ping may take to show a server still answers.
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest natter waits for a session to close (rmcp waits up to 3 s for
/// the process to exit after stdin closes, and 3 s more after SIGTERM).
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a session ended.
enum Ended {
    /// natter is shutting down.
    Stopped,
    /// The server went, or stopped answering: why.
    Lost(String),
}

/// Keeps one server up.
pub(crate) struct Supervisor {
    pub(crate) name: String,
    pub(crate) settings: ServerSettings,
    pub(crate) board: Arc<Board>,
    pub(crate) stop: CancellationToken,
}

impl Supervisor {
    /// Runs until `stop` fires; the server is stopped when it returns.
    #[instrument(skip_all, fields(server = %self.name))]
    pub(crate) async fn run(self) {
        let mut delays = self.backoff();
        loop {
            let session = self.stop.child_token();
            let attempt = tokio::select! {
                () = self.stop.cancelled() => break,
                attempt = connect(&self.name, &self.settings, session.clone()) => attempt,
            };
            let reason = match attempt {
                Ok(connection) => {
                    let since = Instant::now();
                    match self.serve(connection, session).await {
                        Ended::Stopped => break,
                        Ended::Lost(reason) => {
                            if since.elapsed() >= self.settings.restart_max_delay() {
                                delays = self.backoff();
                            }
                            reason
                        }
                    }
                }
                Err(error) => format!("could not start: {error}"),
            };
            let delay = delays
                .next()
                .unwrap_or_else(|| self.settings.restart_max_delay());
            warn!(%reason, ?delay, "MCP server down; its tools are not offered until it is back");
            self.board.down(&self.name, ServerStatus::Down { reason });
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.board.down(&self.name, ServerStatus::Stopped);
        info!("MCP server stopped");
    }

    /// The restart delays: exponential from `restart_delay_ms`, capped at
    /// `restart_max_delay_ms`, with jitter, never running out.
    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::new()
            .with_min_delay(self.settings.restart_delay())
            .with_max_delay(self.settings.restart_max_delay())
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// Offers the connected server's tools until the session ends.
    async fn serve(&self, connection: Connection, session: CancellationToken) -> Ended {
        let Connection {
            running,
            tools,
            pid,
            stderr,
            tools_changed,
        } = connection;
        let peer = running.peer().clone();
        let health = Arc::new(Notify::new());
        self.publish(&peer, tools, pid, &health);
        info!(?pid, "MCP server up");
        let mut waiting = pin!(running.waiting());
        let timeout = self.settings.timeout();
        let lost = loop {
            tokio::select! {
                quit = &mut waiting => {
                    let mut reason = match quit {
                        Ok(QuitReason::Cancelled) => "its session was cancelled".to_owned(),
                        Ok(_) if pid.is_some() => "the server exited or closed its output".to_owned(),
                        Ok(_) => "the server closed the connection".to_owned(),
                        Err(error) => format!("its session failed: {error}"),
                    };
                    if let Some(line) = stderr.as_ref().and_then(|s| s.last_line()) {
                        reason.push_str(&format!(" (its stderr: {line})"));
                    }
                    return Ended::Lost(reason);
                }
                () = self.stop.cancelled() => {
                    // `session` is a child of `stop`: the session is closing.
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut waiting).await;
                    return Ended::Stopped;
                }
                () = tools_changed.notified() => {
                    match tokio::time::timeout(timeout, peer.list_all_tools()).await {
                        Ok(Ok(tools)) => {
                            info!(tools = tools.len(), "MCP server's tools listed again");
                            self.publish(&peer, tools, pid, &health);
                        }
                        Ok(Err(error)) => break format!("listing its tools failed: {error}"),
                        Err(_) => break format!("no answer to tools/list within {} s", timeout.as_secs()),
                    }
                }
                () = health.notified() => {
                    if let Err(reason) = ping(&peer, timeout.min(PING_TIMEOUT)).await {
                        break reason;
                    }
                }
            }
        };
        // It stopped answering: close the session (ending the process) and start afresh.
        session.cancel();
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut waiting).await;
        Ended::Lost(lost)
    }

    /// Puts the server's allowed tools on the board.
    fn publish(
        &self,
        peer: &Peer<RoleClient>,
        tools: Vec<Tool>,
        pid: Option<u32>,
        health: &Arc<Notify>,
    ) {
        let listed: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
        if let Some(allowed) = &self.settings.tools {
            for missing in allowed.iter().filter(|a| !listed.contains(a)) {
                warn!(tool = %missing, "the allow-list names a tool the MCP server does not offer");
            }
        }
        let tools = tools
            .into_iter()
            .filter(|tool| self.settings.allows(&tool.name))
            .collect();
        let live = Live::new(peer.clone(), tools, Arc::clone(health));
        self.board.up(&self.name, live, pid);
    }
}

/// Whether the server answers a ping within `timeout`.
async fn ping(peer: &Peer<RoleClient>, timeout: Duration) -> Result<(), String> {
    let request = ClientRequest::PingRequest(PingRequest::default());
    let sent = peer
        .send_request_with_option(request, PeerRequestOptions::with_timeout(timeout))
        .await
        .map_err(|error| format!("it could not be reached: {error}"))?;
    match sent.await_response().await {
        Ok(_) => Ok(()),
        Err(rmcp::ServiceError::Timeout { .. }) => Err(format!(
            "it stopped answering (no reply to a ping within {} s)",
            timeout.as_secs_f32()
        )),
        Err(error) => Err(format!("it could not be reached: {error}")),
    }
}
