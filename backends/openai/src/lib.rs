//! # natter-openai — any OpenAI-compatible Chat Completions API
//!
//! One [`ModelBackend`](natter_core::ModelBackend) for OpenAI, Ollama, vLLM,
//! llama.cpp's server, OpenRouter and anything else that speaks
//! `POST {base_url}/chat/completions`: streaming over server-sent events or not,
//! retries with back-off on 429/5xx/connection errors (honouring `Retry-After`,
//! bounded), connect and read timeouts, and the API key held as a secret.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[model.openai]` section |
//! | `wire` | the JSON the API speaks |
//! | `sse` | turning the event stream into natter's reply stream |
//! | `http` | sending a request, with retries |
//! | `tokens` | counting tokens: tiktoken for OpenAI models, an estimate otherwise |

mod backend;
mod http;
pub mod settings;
mod sse;
mod tokens;
mod tool_calls;
mod tool_support;
mod wire;

pub use backend::{OpenAiBackend, OpenAiError};
pub use settings::OpenAiSettings;
