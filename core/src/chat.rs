//! What a model sees and says: chat messages (tool calls and results
//! included), generation parameters, the tools offered, and the stream of
//! reply deltas that ends in a [`Completion`].

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::backend::ModelError;
use crate::message::ConversationKey;
use crate::tool::{ToolCall, ToolChoice, ToolDefinition};

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
    /// The result of a tool the model called.
    Tool,
}

impl Role {
    /// The lowercase name OpenAI-style APIs and chat templates use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
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
    /// The tools an assistant message calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Pictures that come with a user message's text: its image content
    /// parts, sent to models that can see ([`crate::Capabilities::vision`])
    /// and left out for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImagePart>,
}

/// A picture in a message, ready for a model: encoded (JPEG or PNG), within
/// the size limits, and named by where it came from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePart {
    /// Where the original is: the platform's file id or URL. Kept so history
    /// can say which picture a turn was about; never fetched by a model.
    pub reference: String,
    /// The MIME type of `data` (`image/jpeg`, `image/png`).
    pub mime: String,
    /// The encoded picture, base64 (standard alphabet, padded).
    pub base64: String,
}

impl ImagePart {
    /// The picture as a `data:` URL, the form OpenAI-compatible servers take.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.mime, self.base64)
    }

    /// Size of the encoded picture in bytes (about ¾ of its base64 text).
    pub fn encoded_len(&self) -> usize {
        self.base64.len() / 4 * 3
    }
}

impl std::fmt::Debug for ImagePart {
    /// Without the picture: a log line with megabytes of base64 helps nobody.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImagePart")
            .field("reference", &self.reference)
            .field("mime", &self.mime)
            .field("bytes", &self.encoded_len())
            .finish()
    }
}

impl ChatMessage {
    /// A message from `role` saying `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            images: Vec::new(),
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

    /// An assistant message calling `calls` (with whatever it said first).
    pub fn tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }

    /// The result of call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// The same message with `images` after its text.
    #[must_use]
    pub fn with_images(mut self, images: Vec<ImagePart>) -> Self {
        self.images = images;
        self
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
    /// Tools the model may call; none for a plain chat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// Whether it may, must or must not call one.
    #[serde(default)]
    pub tool_choice: ToolChoice,
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

    /// The same request offering `tools` under `choice`.
    pub fn with_tools(mut self, tools: Vec<ToolDefinition>, choice: ToolChoice) -> Self {
        self.tools = tools;
        self.tool_choice = choice;
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
    /// The model called tools ([`Completion::tool_calls`]) and waits for their results.
    ToolCalls,
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
    /// The tools the model called, complete, in the order it called them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl Completion {
    /// A generation that ended for `finish_reason`, calling no tools.
    pub fn new(finish_reason: FinishReason, usage: Option<Usage>) -> Self {
        Self {
            usage,
            finish_reason,
            tool_calls: Vec::new(),
        }
    }
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
