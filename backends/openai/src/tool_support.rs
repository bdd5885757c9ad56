//! Servers that cannot call tools, and what the backend does about them.
//!
//! Some OpenAI-compatible servers refuse a request that offers tools: Ollama
//! with a model whose template has none (HTTP 400 "… does not support
//! tools"), vLLM started without `--enable-auto-tool-choice` (400 "\"auto\"
//! tool choice requires --enable-auto-tool-choice …", or "tool_choice =
//! \"required\" is not supported"), llama.cpp's server without `--jinja`
//! ("tools param requires --jinja flag"), OpenRouter for a model no provider
//! serves with tools ("No endpoints found that support tool use"). The
//! backend learns this from the first such answer ([`ToolSupport::learn`]:
//! one warning naming the model and the server's words), remembers it for as
//! long as it runs, offers that server no tools again, and answers without
//! them — except when the request requires a call, which then fails with
//! [`ModelError::ToolsUnsupported`].

use std::sync::OnceLock;

use tracing::warn;

use natter_core::{ModelError, ToolChoice};

use crate::wire::Tools;

/// Whether the server has said it cannot call tools, and in what words.
#[derive(Debug, Default)]
pub(crate) struct ToolSupport {
    refusal: OnceLock<String>,
}

impl ToolSupport {
    /// Whether requests to this server offer their tools.
    pub(crate) fn tools(&self) -> Tools {
        if self.refusal.get().is_some() {
            Tools::Withhold
        } else {
            Tools::Offer
        }
    }

    /// Reads `error`, the server's answer to a request of `model` that
    /// offered tools. True when it says the server cannot call tools: it is
    /// remembered, and the first time it is logged.
    pub(crate) fn learn(&self, model: &str, error: &ModelError) -> bool {
        let Some(message) = refuses_tools(error) else {
            return false;
        };
        if self.refusal.set(message.to_owned()).is_ok() {
            warn!(
                model,
                server = message,
                "the model server cannot call tools with this model; natter offers it no tools \
                 from now on (restart natter once the server supports them)"
            );
        }
        true
    }

    /// The error for a request that requires a tool call of `model`, once
    /// the server has said it cannot make one.
    pub(crate) fn unsupported(&self, model: &str) -> ModelError {
        ModelError::ToolsUnsupported {
            model: model.to_owned(),
            message: self
                .refusal
                .get()
                .cloned()
                .unwrap_or_else(|| "the server does not support tools".into()),
        }
    }
}

/// True when `choice` makes the model call a tool, so that an answer
/// without tools would not be an answer.
pub(crate) fn requires_call(choice: &ToolChoice) -> bool {
    matches!(choice, ToolChoice::Required | ToolChoice::Named(_))
}

/// The server's message, when `error` says it cannot call tools: it speaks
/// of tools (or function calling) and of their not being supported or
/// enabled, and does not point at one tool's definition (`tools[0]…`, a
/// schema), which is a fault of that tool, not of the server.
fn refuses_tools(error: &ModelError) -> Option<&str> {
    let (ModelError::Rejected { message, .. } | ModelError::Server { message, .. }) = error else {
        return None;
    };
    let lower = message.to_lowercase();
    let about_tools = lower.contains("tool") || lower.contains("function call");
    let not_available = ["support", "--jinja", "enable-auto-tool-choice"]
        .iter()
        .any(|signal| lower.contains(signal));
    let about_one_tool = lower.contains("tools[") || lower.contains("schema");
    (about_tools && not_available && !about_one_tool).then_some(message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(message: &str) -> ModelError {
        ModelError::Rejected {
            status: 400,
            message: message.into(),
        }
    }

    #[test]
    fn known_refusals_are_recognised() {
        for message in [
            "gemma2:2b does not support tools",
            "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
            "tool_choice = \"required\" is not supported!",
            "tools param requires --jinja flag",
            "Unsupported param: tools",
            "No endpoints found that support tool use.",
            "This model does not support function calling",
        ] {
            assert!(refuses_tools(&rejected(message)).is_some(), "{message}");
        }
    }

    #[test]
    fn other_refusals_are_not() {
        for message in [
            "Invalid 'tools[0].function.name': string does not match pattern.",
            "Invalid schema for function 'remind_set': 'format' is not supported",
            "This model's maximum context length is 8192 tokens.",
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        ] {
            assert!(refuses_tools(&rejected(message)).is_none(), "{message}");
        }
        assert!(
            refuses_tools(&ModelError::Unauthorized("does not support tools".into())).is_none()
        );
    }

    #[test]
    fn a_refusal_is_remembered() {
        let support = ToolSupport::default();
        assert_eq!(support.tools(), Tools::Offer);
        assert!(!support.learn("m", &rejected("context too long")));
        assert_eq!(support.tools(), Tools::Offer);
        assert!(support.learn("m", &rejected("m does not support tools")));
        assert_eq!(support.tools(), Tools::Withhold);
        assert_eq!(
            support.unsupported("m"),
            ModelError::ToolsUnsupported {
                model: "m".into(),
                message: "m does not support tools".into()
            }
        );
    }
}
