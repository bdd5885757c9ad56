//! Tools: what the model may do besides talk. A tool is offered to the model
//! by name, description and a JSON Schema of its arguments; the model answers
//! with [`ToolCall`]s; the engine runs them and hands back the results, until
//! the model answers in words.
//!
//! Plugins declare tools with [`ToolSpec`] — a Rust type deriving
//! `schemars::JsonSchema` is the schema, so a plugin author writes a struct,
//! not a schema — and run them in [`crate::Plugin::call_tool`], with the same
//! [`crate::PluginContext`] a command gets.
//!
//! Each tool has an [`Effect`] (read-only calls of one step run in parallel;
//! side effects run one at a time, in order) and a [`Permission`] (everyone,
//! admins, or confirmation by the person who asked), which settings can
//! override per tool and per channel ([`ToolSettings`]).
//!
//! | module | owns |
//! |---|---|
//! | `call` | [`ToolCall`], [`ToolDefinition`], [`ToolChoice`]: what backends send and receive |
//! | `spec` | [`ToolSpec`], [`Effect`], [`Permission`], [`ToolInvocation`]: what plugins declare and get |
//! | `settings` | the `[tools]` section |

mod call;
mod settings;
mod spec;

pub use call::{ToolCall, ToolChoice, ToolDefinition, is_valid_tool_name};
pub use settings::{ToolSettings, ToolSettingsError};
pub use spec::{Effect, Permission, ToolInvocation, ToolSpec};
