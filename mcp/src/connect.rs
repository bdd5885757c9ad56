//! Reaching one server: spawning its process (in a process group of its
//! own, killed when dropped, with a small environment and its stderr going
//! to the log) or opening its streamable HTTP endpoint; the MCP handshake;
//! the first tool list; and the client side's handler ([`Listener`]), which
//! hears `notifications/tools/list_changed`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use natter_core::secret::non_empty;
use process_wrap::tokio::{CommandWrap, KillOnDrop};
use rmcp::ClientHandler;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::{
    ClientInitializeError, NotificationContext, RoleClient, RunningService, serve_client_with_ct,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport, TokioChildProcess};
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::McpError;
use crate::settings::{Endpoint, INHERITED_VARIABLES, ServerSettings};
use crate::stderr::Stderr;

/// How long a process that failed to start may take to finish its stderr.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// A running connection to a server, with its tools as first listed.
pub(crate) struct Connection {
    /// The MCP session; it ends when the server goes or `cancel` fires.
    pub(crate) running: RunningService<RoleClient, Listener>,
    /// The server's tools (all of them; the allow-list is applied later).
    pub(crate) tools: Vec<Tool>,
    /// The process id, for a command.
    pub(crate) pid: Option<u32>,
    /// The process's stderr, for a command.
    pub(crate) stderr: Option<Stderr>,
    /// Notified when the server says its tool list changed.
    pub(crate) tools_changed: Arc<Notify>,
}

/// The client side of a session: says who natter is, and passes
/// `notifications/tools/list_changed` on.
pub(crate) struct Listener {
    server: String,
    tools_changed: Arc<Notify>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("natter", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(server = %self.server, "the server's tool list changed");
        self.tools_changed.notify_one();
    }
}

/// Starts `server` and lists its tools, all within its timeout. The session
/// ends when `cancel` fires (or is dropped with the connection).
pub(crate) async fn connect(
    server: &str,
    settings: &ServerSettings,
    cancel: CancellationToken,
) -> Result<Connection, McpError> {
    let tools_changed = Arc::new(Notify::new());
    let listener = Listener {
        server: server.to_owned(),
        tools_changed: Arc::clone(&tools_changed),
    };
    let timeout = settings.timeout();
    let endpoint = settings
        .endpoint()
        .map_err(|reason| McpError::Settings(reason.to_owned()))?;
    match endpoint {
        Endpoint::Command { program, args } => {
            let (transport, stderr) = spawn(program, args, settings)?;
            let pid = transport.id();
            let mut stderr = stderr.map(|stderr| Stderr::forward(server, stderr));
            match handshake(listener, transport, cancel, timeout, Peer::Process).await {
                Ok((running, tools)) => Ok(Connection {
                    running,
                    tools,
                    pid,
                    stderr,
                    tools_changed,
                }),
                Err(error) => {
                    // A process that gave up has usually said why on stderr.
                    let Some(mut stderr) = stderr.take() else {
                        return Err(error);
                    };
                    stderr.closed(LAST_WORDS).await;
                    Err(with_last_words(error, &stderr))
                }
            }
        }
        Endpoint::Url(url) => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url);
            if let Some(token) = non_empty(&settings.bearer_token) {
                config = config.auth_header(token.expose_secret());
            }
            let transport = StreamableHttpClientTransport::from_config(config);
            let (running, tools) =
                handshake(listener, transport, cancel, timeout, Peer::Http).await?;
            Ok(Connection {
                running,
                tools,
                pid: None,
                stderr: None,
                tools_changed,
            })
        }
    }
}

/// Runs the command with natter's few inherited variables and the
/// server's own, in its own process group (a signal to natter's group, such
/// as Ctrl-C, leaves it to natter to stop it; stopping it stops its
/// children), killed if natter drops it.
fn spawn(
    program: &str,
    args: &[String],
    settings: &ServerSettings,
) -> Result<(TokioChildProcess, Option<tokio::process::ChildStderr>), McpError> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_clear();
    for name in INHERITED_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in &settings.env {
        command.env(name, value.expose_secret());
    }
    let mut wrapped = CommandWrap::from(command);
    #[cfg(unix)]
    wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
    wrapped.wrap(KillOnDrop);
    TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| McpError::Spawn {
            program: program.to_owned(),
            source,
        })
}

/// What is at the other end of a transport, for saying what went wrong.
#[derive(Clone, Copy)]
enum Peer {
    Process,
    Http,
}

/// The MCP handshake over `transport`, then the tool list.
async fn handshake<T, E, A>(
    listener: Listener,
    transport: T,
    cancel: CancellationToken,
    timeout: Duration,
    peer: Peer,
) -> Result<(RunningService<RoleClient, Listener>, Vec<Tool>), McpError>
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let running = tokio::time::timeout(timeout, serve_client_with_ct(listener, transport, cancel))
        .await
        .map_err(|_| McpError::Timeout(timeout))?
        .map_err(|error| {
            McpError::Protocol(match (peer, error) {
                // Its stdout ended or its stdin broke: the process is gone.
                (
                    Peer::Process,
                    ClientInitializeError::ConnectionClosed(_)
                    | ClientInitializeError::TransportError { .. },
                ) => "the server exited during the MCP handshake".to_owned(),
                (Peer::Http, ClientInitializeError::ConnectionClosed(_)) => {
                    "the server closed the connection during the MCP handshake".to_owned()
                }
                (_, other) => format!("the MCP handshake failed: {other}"),
            })
        })?;
    let tools = tokio::time::timeout(timeout, running.peer().list_all_tools())
        .await
        .map_err(|_| McpError::Timeout(timeout))?
        .map_err(|error| McpError::Protocol(format!("listing its tools failed: {error}")))?;
    Ok((running, tools))
}

/// `error`, with the process's last line on stderr when there is one.
fn with_last_words(error: McpError, stderr: &Stderr) -> McpError {
    match (error, stderr.last_line()) {
        (McpError::Protocol(reason), Some(line)) => {
            McpError::Protocol(format!("{reason} (its stderr: {line})"))
        }
        (McpError::Timeout(after), Some(line)) => McpError::Protocol(format!(
            "no answer within {} s (its stderr: {line})",
            after.as_secs_f32()
        )),
        (error, _) => error,
    }
}
