//! # natter-openai — any OpenAI-compatible Chat Completions API
//!
//! One [`ModelBackend`](natter_core::ModelBackend) for OpenAI, Ollama, vLLM,
//! llama.cpp's server, OpenRouter and anything else that speaks
//! `POST {base_url}/chat/completions`: streaming over server-sent events or not,
//! retries with back-off on 429/5xx/connection errors (honouring `Retry-After`,
//! bounded), connect and read timeouts, one deadline per reply across its
//! retries, and the API key held as a secret.
//!
//! The context window: the setting `context` wins, OpenAI's models are
//! known, and [`OpenAiBackend::connect`] asks other servers once — Ollama,
//! vLLM and llama.cpp's server say it — waiting a few seconds at most, then
//! assumes 8192 tokens with a warning; [`OpenAiBackend::context_source`]
//! says which ([`ContextSource`]). [`OpenAiBackend::new`] asks nothing.
//!
//! Tools: a request's tools go out as `tools` (`{"type": "function", …}`) with
//! its `tool_choice` (`auto`, the default, is left out; neither key is sent
//! without tools), and calls and results in history as assistant `tool_calls`
//! and `tool` messages. The model's calls — streamed in pieces, interleaved,
//! whole, with or without ids, whatever finish reason the server names — come
//! back complete in [`Completion::tool_calls`](natter_core::Completion) of the
//! final `Done` (or of `complete`), with [`FinishReason::ToolCalls`](natter_core::FinishReason).
//! A server that refuses tools (an Ollama model without them, vLLM without
//! `--enable-auto-tool-choice`, …) is logged once, remembered, and asked
//! without tools from then on; a request that requires a call then fails with
//! [`ModelError::ToolsUnsupported`](natter_core::ModelError).
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[model.openai]` section |
//! | `context` | the context window and where it came from: settings, known model, server, assumed |
//! | `discovery` | asking Ollama, vLLM or llama.cpp's server for the context window |
//! | `base_url` | the API's URLs, credentials written into them, showing them redacted |
//! | `backend` | [`OpenAiBackend`]: one request per generation |
//! | `wire` | the JSON the API speaks |
//! | `sse` | turning the event stream into natter's reply stream |
//! | `tool_calls` | putting the model's tool calls together from their pieces |
//! | `tool_support` | servers that cannot call tools: recognising, remembering, answering without |
//! | `http` | sending a request, with retries |
//! | `tokens` | counting tokens: tiktoken for OpenAI models, an estimate otherwise |
//! | `media` | speech to text ([`OpenAiTranscriber`]) and text to picture ([`OpenAiImages`]) |

mod backend;
mod base_url;
mod context;
mod discovery;
mod http;
mod media;
pub mod settings;
mod sse;
mod tokens;
mod tool_calls;
mod tool_support;
mod wire;

pub use backend::{OpenAiBackend, OpenAiError};
pub use context::{ASSUMED_CONTEXT, ContextSource, Server};
pub use media::{EndpointSettings, OpenAiImages, OpenAiTranscriber};
pub use settings::OpenAiSettings;
