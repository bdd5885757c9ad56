//! # natter-mcp — MCP servers as natter tools
//!
//! natter as an MCP client (Model Context Protocol, on the official `rmcp`
//! SDK): each server configured under `[mcp.servers.NAME]` — a command run
//! as a child process speaking MCP on stdio, or a streamable HTTP URL — has
//! its tools offered to the model through one plugin, [`McpPlugin`].
//!
//! ```toml
//! [mcp.servers.files]
//! command = ["python3", "fs_server.py", "--root", "/srv/docs"]
//! env = { API_KEY = "…" }
//! tools = ["read_file", "search"]   # optional allow-list
//! permission = "confirm"            # everyone (default) | admins | confirm
//! ```
//!
//! - **Names**: a tool is offered as `<server>_<tool>`, made valid for every
//!   model (other characters become `_`; too long, it is cut and ends in a
//!   short stable hash; a clash is made unique), with the server's
//!   description and input schema.
//! - **Policy**: a tool is a side effect (run alone, in order) unless the
//!   server marks it read-only (`readOnlyHint`); its permission is the
//!   server's `permission`, which `[tools.permissions]` can override per tool.
//! - **Lifecycle**: servers start before the first message, and their tools
//!   are listed then and again on `notifications/tools/list_changed`. A
//!   server that exits, closes the connection or stops answering has its
//!   tools withdrawn and is started again after an exponential back-off.
//!   Calls time out after the server's `timeout_secs`. A process's stderr
//!   goes to the log. Shutdown stops every process (stdin closed, SIGTERM,
//!   then SIGKILL to its process group); a dropped process is killed.
//! - **Results**: text parts joined, other parts described briefly; a
//!   result marked `isError` and every failure reach the model as an error
//!   it can explain.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[mcp]` section and its validation |
//! | `plugin` | [`McpPlugin`]: tools on offer, calls forwarded |
//! | `supervisor` | one task per server: start, watch, restart, stop |
//! | `connect` | spawning a process or opening a URL, the handshake, the client handler |
//! | `stderr` | a process's stderr into the log |
//! | `state` | [`ServerStatus`] and the board supervisors write |
//! | `naming` | `<server>_<tool>` names valid for every model |
//! | `content` | a call's result as text for the model |
//! | `error` | [`McpError`] |

mod connect;
mod content;
mod error;
mod naming;
mod plugin;
pub mod settings;
mod state;
mod stderr;
mod supervisor;

pub use error::McpError;
pub use plugin::{McpPlugin, OfferedTool};
pub use settings::{McpSettings, McpSettingsError, ServerSettings};
pub use state::ServerStatus;
