//! The JSON the Chat Completions API speaks, as far as natter uses it.

use serde::{Deserialize, Serialize};

use natter_core::{ChatMessage, ChatRequest, FinishReason, Moderation, Usage};

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
}

#[derive(Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(model: &'a str, request: &'a ChatRequest, stream: bool, usage: bool) -> Self {
        let params = &request.params;
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
        }
    }
}

impl<'a> Message<'a> {
    fn from_chat(message: &'a ChatMessage) -> Self {
        Self {
            role: message.role.as_str(),
            content: &message.content,
            name: message.name.as_deref().and_then(sanitize_name),
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
}
