//! [`McpError`]: why a server could not start or a call did not give a
//! result, in variants a caller can act on; and how each reaches the model
//! as a [`PluginError`].

use std::time::Duration;

use natter_core::PluginError;

/// Why a server could not start, or a call of one of its tools failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The server's settings do not say how to reach it.
    #[error("{0}")]
    Settings(String),
    /// The command could not be run.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The MCP handshake or a request failed: the process exited, the
    /// connection closed, or the server answered with something else.
    #[error("{0}")]
    Protocol(String),
    /// The server did not answer in time.
    #[error("no answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The server is not up (it is starting or waiting to be restarted).
    #[error("the MCP server {server} is unavailable ({reason}); try again later")]
    Unavailable {
        /// The server.
        server: String,
        /// Why it is down.
        reason: String,
    },
    /// No server offers a tool of this name.
    #[error("there is no MCP tool named {0}")]
    UnknownTool(String),
    /// The arguments are not a JSON object.
    #[error("the arguments of {0} must be a JSON object")]
    Arguments(String),
    /// The server refused the request (e.g. invalid arguments).
    #[error("{tool} was refused: {message}")]
    Refused {
        /// The tool (as offered).
        tool: String,
        /// The server's message.
        message: String,
    },
    /// The tool ran and reported an error (`isError: true`).
    #[error("{tool} failed: {message}")]
    ToolFailed {
        /// The tool (as offered).
        tool: String,
        /// The tool's message.
        message: String,
    },
}

impl From<McpError> for PluginError {
    /// What the model should correct (arguments, a tool's own failure, a
    /// name) is a usage error, which the model reads and nobody logs; the
    /// server being down, slow or broken is logged and reaches the model too.
    fn from(error: McpError) -> Self {
        match error {
            McpError::UnknownTool(_)
            | McpError::Arguments(_)
            | McpError::Refused { .. }
            | McpError::ToolFailed { .. } => PluginError::usage(error.to_string()),
            other => PluginError::internal(other),
        }
    }
}
