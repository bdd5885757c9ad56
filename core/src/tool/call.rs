//! What travels between natter and a model about tools: the definitions
//! offered ([`ToolDefinition`]), how strongly a call is asked for
//! ([`ToolChoice`]), and the calls the model makes ([`ToolCall`]).

use serde::{Deserialize, Serialize};

/// Longest tool name every backend accepts (OpenAI's limit).
const MAX_TOOL_NAME: usize = 64;

/// True when `name` is a tool name every backend accepts: 1 to 64 ASCII
/// letters, digits, `_` or `-`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=MAX_TOOL_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A tool as the model is told about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// The name the model calls it by (see [`is_valid_tool_name`]).
    pub name: String,
    /// What it does and when to use it, for the model.
    pub description: String,
    /// JSON Schema of the arguments (an object).
    pub parameters: serde_json::Value,
}

/// Whether the model may, must, or must not call a tool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides (the default).
    #[default]
    Auto,
    /// The model must answer in words; tools are shown but not callable.
    None,
    /// The model must call one of the tools.
    Required,
    /// The model must call this tool.
    Named(String),
}

/// One call the model made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id; the result message names it.
    pub id: String,
    /// The tool called.
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not yet checked
    /// (a model may write invalid JSON; the engine says so in the result).
    pub arguments: String,
}

impl ToolCall {
    /// A call of `name` with `arguments` (JSON text).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_what_every_backend_accepts() {
        assert!(is_valid_tool_name("remind_set"));
        assert!(is_valid_tool_name("files__read-file2"));
        assert!(!is_valid_tool_name(""));
        assert!(!is_valid_tool_name("remind.set"));
        assert!(!is_valid_tool_name("sét"));
        assert!(!is_valid_tool_name(&"x".repeat(65)));
    }
}
