//! natter-llama: a local language model in-process, no server and no API key.
//!
//! [`LlamaBackend`] runs a GGUF model file with llama.cpp (through the
//! `llama-cpp-2` crate) and implements natter's
//! [`ModelBackend`](natter_core::ModelBackend). The default model,
//! SmolLM2-135M-Instruct, is fetched by `scripts/fetch-model.sh`.
//!
//! ```no_run
//! use natter_llama::{LlamaBackend, LlamaSettings};
//!
//! # fn main() -> Result<(), natter_llama::LlamaError> {
//! let backend = LlamaBackend::load(&LlamaSettings::default())?;
//! # Ok(()) }
//! ```
//!
//! The parts:
//! - [`settings`]: the `[model.llama]` section.
//! - `backend`: loading, templating, tokenizing, the request queue.
//! - `worker`: the thread owning the llama.cpp context; prompt evaluation and sampling.
//! - `slots`: which conversations' evaluated prompts stay warm.
//! - `template`: the model's Jinja chat template, or ChatML.
//! - `output`: UTF-8 across tokens and stop strings.
//! - `sampler`: the sampler chain per request.
//! - [`runtime`]: llama.cpp's process-wide initialisation.

mod backend;
mod error;
mod grammar;
mod output;
pub mod runtime;
mod sampler;
pub mod settings;
mod slots;
mod template;
mod tools;
mod worker;

pub use backend::{LlamaBackend, LlamaStats};
pub use error::{FETCH_HINT, LlamaError};
pub use settings::{DEFAULT_MODEL_PATH, LlamaSettings};
