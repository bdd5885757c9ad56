//! The endpoints where servers other than OpenAI say a model's context
//! window, served as the server the fake acts as ([`FakeOpenAi::act_as`]):
//!
//! | server | endpoint | the window |
//! |---|---|---|
//! | Ollama | `POST /api/show {"model": …}` | `parameters`' `num_ctx` when set, else `model_info["<arch>.context_length"]` (the model's most) |
//! | vLLM | `GET /v1/models` | `data[].max_model_len` |
//! | llama.cpp server | `GET /props` | `default_generation_settings.n_ctx` |
//!
//! As OpenAI (the default) it answers `GET /v1/models` as OpenAI does, with
//! no context lengths, and the others with 404; so does every server for the
//! endpoints that are not its own. [`FakeOpenAi::stall_discovery`] makes all
//! three take the request and never answer. Every request to them is recorded
//! ([`FakeOpenAi::discovery_requests`]).
//!
//! [`FakeOpenAi::act_as`]: super::FakeOpenAi::act_as
//! [`FakeOpenAi::stall_discovery`]: super::FakeOpenAi::stall_discovery
//! [`FakeOpenAi::discovery_requests`]: super::FakeOpenAi::discovery_requests

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Inner;

/// The server the fake acts as, for the endpoints above.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Server {
    /// OpenAI: `/v1/models` without context lengths, nothing else.
    #[default]
    OpenAi,
    /// Ollama serving `model`, whose GGUF says `context_length`; `num_ctx`
    /// when its Modelfile sets one.
    Ollama {
        model: String,
        context_length: u64,
        num_ctx: Option<u64>,
    },
    /// vLLM serving `model` with `--max-model-len`.
    Vllm { model: String, max_model_len: u64 },
    /// llama.cpp's server started with `-c n_ctx`, on a model trained for
    /// `n_ctx_train` (which `/v1/models` shows, and is not the window).
    LlamaCpp { n_ctx: u64, n_ctx_train: u64 },
}

/// A request to one of these endpoints.
#[derive(Clone, Debug)]
pub struct DiscoveryRequest {
    /// `POST /api/show`, `GET /v1/models` or `GET /props`.
    pub endpoint: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
    pub authorization: Option<String>,
}

type Shared = State<Arc<Mutex<Inner>>>;

/// Records the request; false when the fake is told to stall.
fn record(inner: &Mutex<Inner>, endpoint: &str, headers: &HeaderMap, body: Option<Value>) -> bool {
    let mut inner = inner.lock().unwrap();
    inner.discovery.push(DiscoveryRequest {
        endpoint: endpoint.to_owned(),
        body,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    !inner.discovery_stalled
}

async fn stall() -> Response {
    std::future::pending::<()>().await;
    StatusCode::GATEWAY_TIMEOUT.into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found").into_response()
}

/// `POST /api/show`: Ollama's model details.
pub(super) async fn ollama_show(State(inner): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !record(&inner, "POST /api/show", &headers, Some(body.clone())) {
        return stall().await;
    }
    let (server, vision) = {
        let inner = inner.lock().unwrap();
        (inner.server.clone(), inner.vision)
    };
    let Server::Ollama {
        model,
        context_length,
        num_ctx,
    } = server
    else {
        return not_found();
    };
    if body["model"] != model.as_str() {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": format!("model '{}' not found", body["model"])})),
        )
            .into_response();
    }
    let mut parameters = vec![r#"stop                           "<|eot_id|>""#.to_owned()];
    if let Some(num_ctx) = num_ctx {
        parameters.insert(0, format!("num_ctx                        {num_ctx}"));
    }
    axum::Json(json!({
        "modelfile": format!("FROM {model}\n"),
        "parameters": parameters.join("\n"),
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B"},
        "model_info": {
            "general.architecture": "llama",
            "general.parameter_count": 3_212_749_888_u64,
            "llama.attention.head_count": 24,
            "llama.context_length": context_length,
            "llama.embedding_length": 3072,
        },
        "capabilities": if vision { json!(["completion", "vision", "tools"]) } else { json!(["completion", "tools"]) },
    }))
    .into_response()
}

/// `GET /v1/models`: the models list, as the server the fake acts as lists them.
pub(super) async fn models(State(inner): Shared, headers: HeaderMap) -> Response {
    if !record(&inner, "GET /v1/models", &headers, None) {
        return stall().await;
    }
    let server = inner.lock().unwrap().server.clone();
    let model = match server {
        Server::OpenAi => json!({"id": "gpt-4o-mini", "object": "model",
                                 "created": 1_721_172_741, "owned_by": "system"}),
        Server::Ollama { model, .. } => json!({"id": model, "object": "model",
                                               "created": 1_735_000_000, "owned_by": "library"}),
        Server::Vllm {
            model,
            max_model_len,
        } => json!({"id": model, "object": "model", "created": 1_735_000_000,
                    "owned_by": "vllm", "root": model, "parent": null,
                    "max_model_len": max_model_len, "permission": []}),
        Server::LlamaCpp { n_ctx_train, .. } => json!({"id": "model.gguf", "object": "model",
                    "created": 1_735_000_000, "owned_by": "llamacpp",
                    "meta": {"n_ctx_train": n_ctx_train, "n_vocab": 128_256}}),
    };
    axum::Json(json!({"object": "list", "data": [model]})).into_response()
}

/// `GET /props`: llama.cpp server's properties.
pub(super) async fn props(State(inner): Shared, headers: HeaderMap) -> Response {
    if !record(&inner, "GET /props", &headers, None) {
        return stall().await;
    }
    let (server, vision) = {
        let inner = inner.lock().unwrap();
        (inner.server.clone(), inner.vision)
    };
    let Server::LlamaCpp { n_ctx, .. } = server else {
        return not_found();
    };
    axum::Json(json!({
        "default_generation_settings": {
            "n_ctx": n_ctx,
            "params": {"n_predict": -1, "temperature": 0.8},
        },
        "total_slots": 1,
        "model_path": "/models/model.gguf",
        "chat_template": "{{ messages }}",
        "modalities": {"vision": vision, "audio": false},
    }))
    .into_response()
}
