//! Asking the server for the model's context window (and whether it can see
//! pictures), where it can say:
//!
//! | server | asked | the window |
//! |---|---|---|
//! | Ollama | `POST {root}/api/show {"model": …}` | `num_ctx` in `parameters` when set; else the model's `model_info["<arch>.context_length"]`, but at most [`OLLAMA_DEFAULT_CONTEXT`] |
//! | vLLM | `GET {base_url}/models` | `max_model_len` of the model's entry |
//! | llama.cpp server | `GET {root}/props` | `default_generation_settings.n_ctx` |
//!
//! (`root` is `base_url` without its `/v1`.) The three are asked at once,
//! each for at most [`DISCOVERY_TIMEOUT`], so a server that does not answer
//! delays start-up by that much and no more; a server answers the ones that
//! are not its own with 404 (or, for OpenAI's `/models`, with no length).
//!
//! Ollama runs a model with its own default window unless `num_ctx` says
//! otherwise — 4096 tokens on most machines, more with much VRAM or
//! `OLLAMA_CONTEXT_LENGTH`, neither of which its API shows — not with the
//! model's own `context_length`. Taking that as the window would send
//! histories Ollama silently cuts, so without `num_ctx` the window is the
//! smaller of the two; set `[model.openai] context` for a larger default.

use std::time::Duration;

use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::debug;

use crate::base_url::BaseUrl;
use crate::context::Server;

/// Longest wait for each of the servers' answers.
pub(crate) const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);
/// The window Ollama runs a model with when `num_ctx` is not set (on
/// machines with less than 24 GiB of VRAM; 2048 before version 0.6).
pub(crate) const OLLAMA_DEFAULT_CONTEXT: usize = 4096;

/// What the server says of the model.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Discovered {
    /// Its context window, and which server said.
    pub(crate) context: Option<(usize, Server)>,
    /// Whether it can see pictures: llama.cpp's server says in
    /// `modalities.vision`, Ollama in `capabilities`.
    pub(crate) vision: Option<bool>,
}

/// What the server says of the model: its context window and whether it sees.
pub(crate) async fn discover(
    client: &reqwest::Client,
    base: &BaseUrl,
    key: Option<&SecretString>,
    model: &str,
) -> Discovered {
    let show = client
        .post(format!("{}/api/show", base.root()))
        .json(&serde_json::json!({ "model": model }));
    let models = client.get(base.endpoint("models"));
    let props = client.get(format!("{}/props", base.root()));
    let (ollama, vllm, llamacpp) = futures::join!(
        fetch::<OllamaShow>(show, key, "Ollama"),
        fetch::<ModelList>(models, key, "vLLM"),
        fetch::<Props>(props, key, "llama.cpp server"),
    );
    let vision = llamacpp
        .as_ref()
        .and_then(|props| props.modalities.as_ref().map(|m| m.vision))
        .or_else(|| {
            ollama
                .as_ref()
                .and_then(|show| show.capabilities.as_ref())
                .map(|capabilities| capabilities.iter().any(|c| c == "vision"))
        });
    let found = [
        (ollama.and_then(OllamaShow::context), Server::Ollama),
        (
            vllm.and_then(|list| list.max_model_len(model)),
            Server::Vllm,
        ),
        (
            llamacpp.map(|props| props.default_generation_settings.n_ctx),
            Server::LlamaCpp,
        ),
    ];
    let context = found.into_iter().find_map(|(tokens, server)| {
        let tokens = usize::try_from(tokens?).ok().filter(|&t| t > 0)?;
        Some((tokens, server))
    });
    Discovered { context, vision }
}

/// The answer to `request`, if it is a success in the expected shape.
async fn fetch<T: DeserializeOwned>(
    request: RequestBuilder,
    key: Option<&SecretString>,
    server: &str,
) -> Option<T> {
    let mut request = request.timeout(DISCOVERY_TIMEOUT);
    if let Some(key) = key {
        request = request.bearer_auth(key.expose_secret());
    }
    let answer = async {
        let response = request.send().await?.error_for_status()?;
        response.json::<T>().await
    };
    match answer.await {
        Ok(answer) => Some(answer),
        Err(error) => {
            debug!(server, error = %error.without_url(), "not that server, or it does not say");
            None
        }
    }
}

/// Ollama's `POST /api/show`.
#[derive(Deserialize)]
struct OllamaShow {
    #[serde(default)]
    parameters: Option<String>,
    #[serde(default)]
    model_info: Map<String, Value>,
    /// `["completion", "vision", "tools"]` (Ollama 0.6 and later).
    #[serde(default)]
    capabilities: Option<Vec<String>>,
}

impl OllamaShow {
    fn context(self) -> Option<u64> {
        let num_ctx = self.parameters.as_deref().and_then(|parameters| {
            parameters.lines().find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("num_ctx"))
                    .then(|| words.next()?.parse::<u64>().ok())
                    .flatten()
            })
        });
        if num_ctx.is_some() {
            return num_ctx;
        }
        let architecture = self.model_info.get("general.architecture")?.as_str()?;
        let most = self
            .model_info
            .get(&format!("{architecture}.context_length"))?
            .as_u64()?;
        Some(most.min(OLLAMA_DEFAULT_CONTEXT as u64))
    }
}

/// `GET /v1/models`.
#[derive(Deserialize)]
struct ModelList {
    data: Vec<ListedModel>,
}

#[derive(Deserialize)]
struct ListedModel {
    id: String,
    /// vLLM's; other servers leave it out.
    #[serde(default)]
    max_model_len: Option<u64>,
}

impl ModelList {
    fn max_model_len(self, model: &str) -> Option<u64> {
        self.data
            .into_iter()
            .find(|listed| listed.id == model)?
            .max_model_len
    }
}

/// llama.cpp server's `GET /props`.
#[derive(Deserialize)]
struct Props {
    default_generation_settings: GenerationSettings,
    /// `{"vision": true, "audio": false}` (with a multimodal projector loaded).
    #[serde(default)]
    modalities: Option<Modalities>,
}

#[derive(Deserialize)]
struct Modalities {
    #[serde(default)]
    vision: bool,
}

#[derive(Deserialize)]
struct GenerationSettings {
    n_ctx: u64,
}
