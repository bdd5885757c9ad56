//! The `[model.openai]` settings section.

use natter_core::secret::{deserialize_non_empty, serialize_redacted};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How to reach an OpenAI-compatible server.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiSettings {
    /// The API root, e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`
    /// (Ollama) or `http://localhost:8080/v1` (llama.cpp server).
    pub base_url: String,
    /// The model name the server knows.
    pub model: String,
    /// The API key; unset (or empty) for servers that need none. The natter
    /// binary fills it from `OPENAI_API_KEY` when unset.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub api_key: Option<SecretString>,
    /// Longest wait for the next bytes of an answer, in seconds.
    pub timeout_secs: u64,
    /// Longest wait to connect, in seconds.
    pub connect_timeout_secs: u64,
    /// Retries after 429, 5xx or connection errors, before giving up.
    pub max_retries: u32,
    /// Longest `Retry-After` to honour, in seconds; a longer one gives up at once.
    pub max_retry_wait_secs: u64,
    /// Longest wait for a reply to start, in seconds, across every attempt
    /// and the waits between them; then the request fails as timed out. A
    /// reply asked for whole must have arrived by then; a streamed one that
    /// has started is bounded by `timeout_secs` between chunks instead.
    pub deadline_secs: u64,
    /// The model's context window in tokens; by default known for OpenAI
    /// models, else 8192.
    pub context_window: Option<usize>,
    /// Ask for token usage at the end of streams (`stream_options.include_usage`).
    /// Turn off for servers that reject the option.
    pub stream_usage: bool,
    /// The model `POST {base_url}/moderations` uses when a plugin asks for a
    /// moderation check (the moderation plugin's `openai_moderation`).
    pub moderation_model: String,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: None,
            timeout_secs: 60,
            connect_timeout_secs: 10,
            max_retries: 3,
            max_retry_wait_secs: 30,
            deadline_secs: 90,
            context_window: None,
            stream_usage: true,
            moderation_model: "omni-moderation-latest".into(),
        }
    }
}
