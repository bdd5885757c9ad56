//! The JSON the Chat Completions API speaks, as far as natter uses it:
//! requests (with the tools offered and the calls and results of history)
//! and replies, streamed or whole (with the model's tool calls).

use serde::{Deserialize, Serialize};

use natter_core::{
    ChatMessage, ChatRequest, FinishReason, Moderation, Role, ToolCall, ToolChoice, ToolDefinition,
    Usage,
};

#[derive(Serialize)]
pub(crate) struct Request<'a> {
    pub model: &'a str,
    pub messages: Vec<Message<'a>>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<WireToolChoice<'a>>,
}

#[derive(Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'static str,
    /// `null` for an assistant message that only calls tools, as OpenAI sends it.
    pub content: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<CallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

/// A message's content: its text, or — with pictures — a list of parts,
/// the text first.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Content<'a> {
    Text(&'a str),
    Parts(Vec<Part<'a>>),
}

/// `{"type": "text", "text": …}` or `{"type": "image_url", "image_url": {"url": "data:…"}}`.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Serialize)]
pub(crate) struct ImageUrl {
    pub url: String,
}

impl<'a> Content<'a> {
    fn of(message: &'a ChatMessage) -> Self {
        if message.images.is_empty() {
            return Content::Text(&message.content);
        }
        let text = (!message.content.is_empty()).then_some(Part::Text {
            text: &message.content,
        });
        Content::Parts(
            text.into_iter()
                .chain(message.images.iter().map(|image| Part::ImageUrl {
                    image_url: ImageUrl {
                        url: image.data_url(),
                    },
                }))
                .collect(),
        )
    }
}

/// `{"type": "function", "function": {"name", "description", "parameters"}}`.
#[derive(Serialize)]
pub(crate) struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: &'a ToolDefinition,
}

/// `"none"`, `"required"` or `{"type": "function", "function": {"name"}}`;
/// `"auto"` is the default and never sent.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum WireToolChoice<'a> {
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: FunctionName<'a>,
    },
}

#[derive(Serialize)]
pub(crate) struct FunctionName<'a> {
    pub name: &'a str,
}

impl<'a> WireToolChoice<'a> {
    fn from_choice(choice: &'a ToolChoice) -> Option<Self> {
        match choice {
            ToolChoice::Auto => None,
            ToolChoice::None => Some(Self::Mode("none")),
            ToolChoice::Required => Some(Self::Mode("required")),
            ToolChoice::Named(name) => Some(Self::Function {
                kind: "function",
                function: FunctionName { name },
            }),
        }
    }
}

/// A call in an assistant message of history.
#[derive(Serialize)]
pub(crate) struct CallOut<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionOut<'a>,
}

#[derive(Serialize)]
pub(crate) struct FunctionOut<'a> {
    pub name: &'a str,
    pub arguments: &'a str,
}

/// Whether a request carries the tools of the [`ChatRequest`] or none at all
/// (for a server that cannot call tools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tools {
    Offer,
    Withhold,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        model: &'a str,
        request: &'a ChatRequest,
        stream: bool,
        usage: bool,
        tools: Tools,
    ) -> Self {
        let params = &request.params;
        let offered = if tools == Tools::Offer {
            request.tools.as_slice()
        } else {
            &[]
        };
        Self {
            model,
            messages: request.messages.iter().map(Message::from_chat).collect(),
            stream,
            stream_options: (stream && usage).then_some(StreamOptions {
                include_usage: true,
            }),
            max_tokens: params.max_tokens,
            temperature: params.temperature,
            top_p: params.top_p,
            stop: &params.stop,
            seed: params.seed,
            tools: offered
                .iter()
                .map(|function| Tool {
                    kind: "function",
                    function,
                })
                .collect(),
            tool_choice: if offered.is_empty() {
                None
            } else {
                WireToolChoice::from_choice(&request.tool_choice)
            },
        }
    }
}

impl<'a> Message<'a> {
    fn from_chat(message: &'a ChatMessage) -> Self {
        let calls_only = message.role == Role::Assistant
            && !message.tool_calls.is_empty()
            && message.content.is_empty();
        Self {
            role: message.role.as_str(),
            content: (!calls_only).then(|| Content::of(message)),
            name: message.name.as_deref().and_then(sanitize_name),
            tool_calls: message.tool_calls.iter().map(CallOut::from_call).collect(),
            tool_call_id: message.tool_call_id.as_deref(),
        }
    }
}

impl<'a> CallOut<'a> {
    fn from_call(call: &'a ToolCall) -> Self {
        Self {
            id: &call.id,
            kind: "function",
            function: FunctionOut {
                name: &call.name,
                arguments: &call.arguments,
            },
        }
    }
}

/// OpenAI accepts names without whitespace or `<|\/>`, up to 64 characters.
fn sanitize_name(name: &str) -> Option<String> {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    (!clean.trim_matches('_').is_empty()).then_some(clean)
}

#[derive(Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<WireUsage>,
    pub error: Option<ApiError>,
}

#[derive(Deserialize)]
pub(crate) struct ChunkChoice {
    #[serde(default)]
    pub delta: Delta,
    pub finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Delta {
    pub content: Option<String>,
    pub tool_calls: Option<Vec<CallPiece>>,
}

/// A tool call, or a piece of one: streamed calls arrive in pieces that share
/// an `index`, with `id` and `function.name` usually only on the first; a
/// whole reply's calls arrive complete (and without `index`).
#[derive(Deserialize, Default)]
pub(crate) struct CallPiece {
    pub index: Option<usize>,
    pub id: Option<String>,
    pub function: Option<FunctionPiece>,
}

#[derive(Deserialize, Default)]
pub(crate) struct FunctionPiece {
    pub name: Option<String>,
    /// JSON text (a fragment of it when streamed); a few servers send the
    /// arguments as a JSON object instead.
    pub arguments: Option<serde_json::Value>,
}

impl CallPiece {
    /// The call's id, if this piece carries a non-empty one.
    pub(crate) fn id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }

    /// The tool's name, if this piece carries a non-empty one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.function
            .as_ref()
            .and_then(|f| f.name.as_deref())
            .filter(|name| !name.is_empty())
    }

    /// This piece's part of the arguments' JSON text.
    pub(crate) fn arguments(&self) -> String {
        match self.function.as_ref().and_then(|f| f.arguments.as_ref()) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(object) => object.to_string(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    pub usage: Option<WireUsage>,
}

#[derive(Deserialize)]
pub(crate) struct CompletionChoice {
    pub message: CompletionMessage,
    pub finish_reason: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CompletionMessage {
    pub content: Option<String>,
    pub tool_calls: Option<Vec<CallPiece>>,
}

#[derive(Deserialize, Clone, Copy)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

/// `POST /moderations` body.
#[derive(Serialize)]
pub(crate) struct ModerationRequest<'a> {
    pub model: &'a str,
    pub input: &'a str,
}

/// `POST /moderations` reply: one result per input.
#[derive(Deserialize)]
pub(crate) struct ModerationResponse {
    #[serde(default)]
    pub results: Vec<ModerationResult>,
}

#[derive(Deserialize)]
pub(crate) struct ModerationResult {
    #[serde(default)]
    pub flagged: bool,
    #[serde(default)]
    pub categories: std::collections::BTreeMap<String, bool>,
}

impl ModerationResponse {
    /// Flagged if any result is; the categories that are true, sorted.
    pub(crate) fn into_moderation(self) -> Moderation {
        let mut moderation = Moderation::default();
        for result in self.results {
            moderation.flagged |= result.flagged;
            moderation.categories.extend(
                result
                    .categories
                    .into_iter()
                    .filter_map(|(name, hit)| hit.then_some(name)),
            );
        }
        moderation.categories.sort();
        moderation.categories.dedup();
        moderation
    }
}

/// `{"error": {"message": …}}`, the shape of API errors.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ApiError,
}

#[derive(Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub message: String,
}

pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" | "eos" | "end_turn" => FinishReason::Stop,
        "length" | "max_tokens" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_acceptable() {
        assert_eq!(sanitize_name("Ana María").as_deref(), Some("Ana_María"));
        assert_eq!(sanitize_name("<|>"), None);
        assert_eq!(sanitize_name(&"x".repeat(80)).map(|n| n.len()), Some(64));
    }

    #[test]
    fn pictures_go_as_content_parts_after_the_text() {
        let image = natter_core::ImagePart {
            reference: "file-1".into(),
            mime: "image/png".into(),
            base64: "iVBORw0KGgo=".into(),
        };
        let with = ChatMessage::user("what is this?").with_images(vec![image.clone()]);
        let json = serde_json::to_value(Message::from_chat(&with)).unwrap();
        assert_eq!(
            json["content"],
            serde_json::json!([
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ])
        );
        let alone = ChatMessage::user("").with_images(vec![image]);
        let json = serde_json::to_value(Message::from_chat(&alone)).unwrap();
        assert_eq!(json["content"].as_array().map(Vec::len), Some(1));
        let plain = serde_json::to_value(Message::from_chat(&ChatMessage::user("hi"))).unwrap();
        assert_eq!(plain["content"], "hi");
    }
}
