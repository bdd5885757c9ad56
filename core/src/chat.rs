//! What a model sees and says: chat messages, generation parameters, and the
//! stream of reply deltas that ends in a [`Completion`].

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::backend::ModelError;
use crate::message::ConversationKey;

/// Who a chat message is from, as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The persona's instructions.
    System,
    /// A person.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The lowercase name OpenAI-style APIs and chat templates use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation as sent to a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who it is from.
    pub role: Role,
    /// What it says.
    pub content: String,
    /// The speaker's display name in group chats, so the model knows who talks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            name: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// The same message, attributed to `name`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Sampling and length settings for one generation. `None` leaves the
/// backend's default in place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    /// The most tokens the reply may have.
    pub max_tokens: Option<u32>,
    /// Sampling temperature; 0 is greedy.
    pub temperature: Option<f32>,
    /// Nucleus sampling cut-off.
    pub top_p: Option<f32>,
    /// Strings that end the reply (not included in it).
    pub stop: Vec<String>,
    /// Seed for reproducible sampling where the backend supports it.
    pub seed: Option<u64>,
}

/// Everything a backend needs for one generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// System prompt, history and the new message, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Sampling and length.
    pub params: GenerationParams,
    /// The conversation this is for, so a backend can keep its state warm.
    pub conversation: Option<ConversationKey>,
}

impl ChatRequest {
    /// A request for `messages` with default parameters.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    /// The same request with `params`.
    pub fn with_params(mut self, params: GenerationParams) -> Self {
        self.params = params;
        self
    }
}

/// Token accounting for one generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
}

/// Why a generation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished, or a stop string matched.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The backend filtered the content.
    ContentFilter,
    /// Anything else the backend reported.
    Other(String),
}

/// How a successful generation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// Token counts, when the backend reports them.
    pub usage: Option<Usage>,
    /// Why it ended.
    pub finish_reason: FinishReason,
}

/// One event of a streamed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// More text.
    Delta(String),
    /// The reply is complete. Always the last event of a successful stream: a
    /// stream that ends without it was cut off, and is an error.
    Done(Completion),
}

/// A streamed reply: deltas, then exactly one [`StreamEvent::Done`] — or an error.
pub type ChatStream = BoxStream<'static, Result<StreamEvent, ModelError>>;

/// A whole reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatResponse {
    /// The text.
    pub text: String,
    /// How it ended.
    pub completion: Completion,
}
