//! The `[model.openai]` settings section.

use natter_core::secret::{deserialize_non_empty, serialize_redacted};
use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

use crate::base_url::redact;

/// How to reach an OpenAI-compatible server. `Debug` and `Serialize` show
/// the API key and any credentials in `base_url` as `[redacted]`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiSettings {
    /// The API root, e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`
    /// (Ollama) or `http://localhost:8080/v1` (llama.cpp server). Credentials
    /// in it (`http://user:key@host/v1`) are not sent as such: with no
    /// `api_key`, the password is the API key; with one, they are ignored.
    #[serde(serialize_with = "serialize_redacted_url")]
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
    /// The model's context window in tokens; when set (and not 0) it wins.
    /// Else known for OpenAI models, else asked of the server when natter
    /// starts (Ollama, vLLM, llama.cpp's server say it), else 8192.
    /// `context_window` is read as this too.
    #[serde(alias = "context_window")]
    pub context: Option<usize>,
    /// Ask for token usage at the end of streams (`stream_options.include_usage`).
    /// Turn off for servers that reject the option.
    pub stream_usage: bool,
    /// Whether the model can see pictures (image content parts). Unset:
    /// known for OpenAI's models, else asked of the server when natter
    /// starts (llama.cpp's server and Ollama say), else no.
    pub vision: Option<bool>,
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
            context: None,
            stream_usage: true,
            vision: None,
            moderation_model: "omni-moderation-latest".into(),
        }
    }
}

fn serialize_redacted_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact(url))
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field cannot be left out unseen.
        let Self {
            base_url,
            model,
            api_key,
            timeout_secs,
            connect_timeout_secs,
            max_retries,
            max_retry_wait_secs,
            deadline_secs,
            context,
            stream_usage,
            vision,
            moderation_model,
        } = self;
        f.debug_struct("OpenAiSettings")
            .field("base_url", &redact(base_url))
            .field("model", model)
            .field("api_key", api_key)
            .field("timeout_secs", timeout_secs)
            .field("connect_timeout_secs", connect_timeout_secs)
            .field("max_retries", max_retries)
            .field("max_retry_wait_secs", max_retry_wait_secs)
            .field("deadline_secs", deadline_secs)
            .field("context", context)
            .field("stream_usage", stream_usage)
            .field("vision", vision)
            .field("moderation_model", moderation_model)
            .finish()
    }
}
