//! The [`ModelBackend`] trait: one interface for every language model natter
//! talks to, local or remote, and the errors callers can act on.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use crate::chat::{ChatMessage, ChatRequest, ChatResponse, ChatStream, StreamEvent};

/// What a backend can do; the engine sizes history and replies from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Short name of the backend kind, for logs and the usage ledger ("openai", "llama").
    pub backend: String,
    /// The model's name.
    pub model: String,
    /// Tokens the model can attend to: prompt and reply together.
    pub context_window: usize,
    /// Whether the engine offers this model tools. A model that cannot use
    /// them well (or an operator who wants the first word sooner) says no,
    /// and its turns carry no tool definitions.
    pub tools: bool,
    /// Whether the model can see pictures (image content parts). A model
    /// that cannot gets none: its users are told so, and their captions
    /// are answered.
    pub vision: bool,
}

impl Capabilities {
    /// Capabilities of `backend` serving `model` with `context_window` tokens.
    pub fn new(
        backend: impl Into<String>,
        model: impl Into<String>,
        context_window: usize,
    ) -> Self {
        Self {
            backend: backend.into(),
            model: model.into(),
            context_window,
            tools: true,
            vision: false,
        }
    }

    /// The same capabilities, shown pictures only when `vision` is true.
    #[must_use]
    pub fn with_vision(mut self, vision: bool) -> Self {
        self.vision = vision;
        self
    }

    /// The same capabilities, offered tools only when `tools` is true.
    #[must_use]
    pub fn with_tools(mut self, tools: bool) -> Self {
        self.tools = tools;
        self
    }
}

/// Why a generation failed. Variants say what a caller can do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The server could not be reached (connection refused, DNS, TLS).
    #[error("cannot reach the model server: {0}")]
    Unavailable(String),
    /// The server asked us to slow down, and retrying did not help.
    #[error("the model server is rate limiting requests (retry after {retry_after:?})")]
    RateLimited {
        /// How long the server asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The API key is missing or wrong.
    #[error("the model server rejected the credentials ({0})")]
    Unauthorized(String),
    /// The server refused this request (bad parameters, unknown model, too long).
    #[error("the model server refused the request: HTTP {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// The server failed, and retrying did not help.
    #[error("the model server failed: HTTP {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// Nothing arrived for longer than the configured timeout.
    #[error("the model server did not answer within {0:?}")]
    Timeout(Duration),
    /// The reply broke off or could not be understood.
    #[error("the reply stream broke: {0}")]
    Protocol(String),
    /// A local engine's queue is full.
    #[error("the model is busy with other conversations")]
    Busy,
    /// The prompt alone does not fit the context window.
    #[error("the message needs {needed} tokens but the model has room for {available}")]
    ContextOverflow {
        /// Tokens the prompt needs.
        needed: usize,
        /// Tokens available for it.
        available: usize,
    },
    /// A local model failed.
    #[error("the local model failed: {0}")]
    Engine(String),
    /// The request needs a tool call, and the model or its server cannot call tools.
    #[error("model {model} cannot call tools: {message}")]
    ToolsUnsupported {
        /// The model's name.
        model: String,
        /// Why (the server's own words, when it gave them).
        message: String,
    },
}

impl ModelError {
    /// One short sentence to show a chat user; the details go to the log.
    pub fn user_message(&self) -> String {
        match self {
            ModelError::Unavailable(_) => {
                "Sorry, I can't reach the language model right now. Please try again in a moment."
                    .into()
            }
            ModelError::RateLimited { .. } => {
                "Sorry, the language model is rate limiting me. Please try again in a minute."
                    .into()
            }
            ModelError::Unauthorized(_) => {
                "Sorry, I'm not allowed to use the language model (check the API key).".into()
            }
            ModelError::Rejected { .. } => "Sorry, the language model refused that request.".into(),
            ModelError::Server { .. } => {
                "Sorry, the language model had an error. Please try again.".into()
            }
            ModelError::Timeout(_) => {
                "Sorry, the language model took too long to answer. Please try again.".into()
            }
            ModelError::Protocol(_) => {
                "Sorry, the language model's reply broke off. Please try again.".into()
            }
            ModelError::Busy => {
                "I'm busy with other conversations; please try again in a moment.".into()
            }
            ModelError::ContextOverflow { needed, available } => format!(
                "Your message is too long for this model ({needed} tokens; room for {available})."
            ),
            ModelError::Engine(_) => "Sorry, the local model failed. Please try again.".into(),
            ModelError::ToolsUnsupported { .. } => {
                "Sorry, this language model can't use tools, so I can't do that.".into()
            }
        }
    }

    /// A short name for the kind of failure, for metrics and dashboards
    /// (`unavailable`, `rate_limited`, `timeout`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ModelError::Unavailable(_) => "unavailable",
            ModelError::RateLimited { .. } => "rate_limited",
            ModelError::Unauthorized(_) => "unauthorized",
            ModelError::Rejected { .. } => "rejected",
            ModelError::Server { .. } => "server",
            ModelError::Timeout(_) => "timeout",
            ModelError::Protocol(_) => "protocol",
            ModelError::Busy => "busy",
            ModelError::ContextOverflow { .. } => "context_overflow",
            ModelError::Engine(_) => "engine",
            ModelError::ToolsUnsupported { .. } => "tools_unsupported",
        }
    }

    /// True when trying the same request again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ModelError::Unavailable(_)
                | ModelError::RateLimited { .. }
                | ModelError::Server { .. }
                | ModelError::Timeout(_)
                | ModelError::Busy
        )
    }
}

/// A language model natter can talk to.
///
/// Implementations: `natter-openai` (any OpenAI-compatible HTTP API) and
/// `natter-llama` (llama.cpp in-process). Every implementation passes the same
/// conformance suite.
#[async_trait]
pub trait ModelBackend: Send + Sync {
    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Tokens `messages` take in a prompt, including per-message overhead.
    fn count_tokens(&self, messages: &[ChatMessage]) -> usize;

    /// Start a generation. The stream yields deltas then one [`StreamEvent::Done`];
    /// dropping it cancels the generation.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError>;

    /// True once the model is ready to answer at once. A backend that loads
    /// its model on first use says `false` until then; the default is `true`.
    fn is_loaded(&self) -> bool {
        true
    }

    /// A whole reply. The default collects [`ModelBackend::stream`].
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        collect_stream(self.stream(request).await?).await
    }
}

/// Collects a stream into one response; a stream without `Done` is an error.
pub async fn collect_stream(mut stream: ChatStream) -> Result<ChatResponse, ModelError> {
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(delta) => text.push_str(&delta),
            StreamEvent::Done(completion) => return Ok(ChatResponse { text, completion }),
        }
    }
    Err(ModelError::Protocol(
        "the stream ended before the reply was complete".into(),
    ))
}

/// A rough token count for text when no tokenizer is known: about four
/// characters per token, never less than one token per word-ish run.
pub fn estimate_tokens(text: &str) -> usize {
    let chars = text.chars().count();
    let words = text.split_whitespace().count();
    chars.div_ceil(4).max(words)
}

/// [`estimate_tokens`] over messages, with the few tokens of framing each
/// message costs in chat templates; tool calls count their name and arguments.
pub fn estimate_message_tokens(messages: &[ChatMessage]) -> usize {
    const PER_MESSAGE: usize = 4;
    messages
        .iter()
        .map(|m| {
            let calls: usize = m
                .tool_calls
                .iter()
                .map(|call| {
                    PER_MESSAGE + estimate_tokens(&call.name) + estimate_tokens(&call.arguments)
                })
                .sum();
            PER_MESSAGE + estimate_tokens(&m.content) + calls + m.images.len() * IMAGE_TOKENS
        })
        .sum()
}

/// What one picture costs in a prompt, in tokens: OpenAI's price for a
/// detailed picture of up to 1024 pixels a side (85 plus 170 for each of
/// four tiles), about what other vision models take for one too.
pub const IMAGE_TOKENS: usize = 765;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_grows_with_text() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("hi"), 1);
        assert!(estimate_tokens("a b c d e f") >= 6);
        assert!(estimate_tokens(&"word ".repeat(100)) >= 100);
    }

    #[tokio::test]
    async fn collect_requires_done() {
        let cut: ChatStream =
            futures::stream::iter(vec![Ok(StreamEvent::Delta("partial".into()))]).boxed();
        assert!(matches!(
            collect_stream(cut).await,
            Err(ModelError::Protocol(_))
        ));
    }
}
