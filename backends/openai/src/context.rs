//! The model's context window and where natter learned it, first that
//! applies:
//!
//! 1. the setting `[model.openai] context` — it wins over everything;
//! 2. what tiktoken knows of OpenAI's own models;
//! 3. the server, asked once when the backend connects
//!    ([`OpenAiBackend::connect`](crate::OpenAiBackend::connect)): Ollama,
//!    vLLM and llama.cpp's server say it (`discovery`);
//! 4. else [`ASSUMED_CONTEXT`] tokens, with a warning — a server with fewer
//!    would silently cut the oldest history.

use std::fmt;

use crate::tokens::known_context_window;

/// Tokens assumed for a model nothing says the window of.
pub const ASSUMED_CONTEXT: usize = 8192;

/// Where the context window came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextSource {
    /// The setting `[model.openai] context`.
    Configured,
    /// The server said, in its own API.
    Discovered(Server),
    /// A known OpenAI model.
    KnownModel,
    /// Nothing said; [`ASSUMED_CONTEXT`].
    Assumed,
}

/// A server that says a model's context window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Server {
    /// Ollama (`POST /api/show`).
    Ollama,
    /// vLLM (`GET /v1/models`).
    Vllm,
    /// llama.cpp's server (`GET /props`).
    LlamaCpp,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::Ollama => "Ollama",
            Server::Vllm => "vLLM",
            Server::LlamaCpp => "llama.cpp server",
        })
    }
}

impl fmt::Display for ContextSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextSource::Configured => f.write_str("configured"),
            ContextSource::Discovered(server) => write!(f, "discovered from {server}"),
            ContextSource::KnownModel => f.write_str("known model"),
            ContextSource::Assumed => f.write_str("assumed"),
        }
    }
}

/// The window without asking the server: configured (`Some` and not 0),
/// known, or assumed — which [`OpenAiBackend::connect`](crate::OpenAiBackend::connect)
/// then asks the server to better.
pub(crate) fn without_asking(configured: Option<usize>, model: &str) -> (usize, ContextSource) {
    if let Some(tokens) = configured.filter(|&tokens| tokens > 0) {
        (tokens, ContextSource::Configured)
    } else if let Some(tokens) = known_context_window(model) {
        (tokens, ContextSource::KnownModel)
    } else {
        (ASSUMED_CONTEXT, ContextSource::Assumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_wins_then_known_models_then_the_assumption() {
        assert_eq!(
            without_asking(Some(2048), "gpt-4o-mini"),
            (2048, ContextSource::Configured)
        );
        let (known, source) = without_asking(Some(0), "gpt-4o-mini");
        assert_eq!(source, ContextSource::KnownModel);
        assert!(known >= 128_000);
        assert_eq!(
            without_asking(None, "llama3.2"),
            (ASSUMED_CONTEXT, ContextSource::Assumed)
        );
        assert_eq!(
            ContextSource::Discovered(Server::LlamaCpp).to_string(),
            "discovered from llama.cpp server"
        );
    }
}

/// Whether one of OpenAI's models can see pictures, by its name; `None`
/// for a name natter does not know (the server is asked, else no).
pub(crate) fn known_vision(model: &str) -> Option<bool> {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    let blind = [
        "gpt-3.5",
        "o1-mini",
        "o1-preview",
        "o3-mini",
        "gpt-4-0613",
        "gpt-4-32k",
    ];
    if blind.iter().any(|prefix| name.starts_with(prefix)) || name == "gpt-4" {
        return Some(false);
    }
    let seeing = [
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-4-turbo",
        "gpt-5",
        "o1",
        "o3",
        "o4",
    ];
    seeing
        .iter()
        .any(|prefix| name.starts_with(prefix))
        .then_some(true)
}

#[cfg(test)]
mod vision_tests {
    use super::known_vision;

    #[test]
    fn openai_models_are_known_to_see_or_not() {
        assert_eq!(known_vision("gpt-4o-mini"), Some(true));
        assert_eq!(known_vision("openai/gpt-4.1"), Some(true));
        assert_eq!(known_vision("o3-mini"), Some(false));
        assert_eq!(known_vision("gpt-3.5-turbo"), Some(false));
        assert_eq!(known_vision("gpt-4"), Some(false));
        assert_eq!(known_vision("llama3.2"), None);
    }
}
