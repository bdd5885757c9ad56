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
//! **Tools.** A request offering tools gets calls the model cannot get wrong,
//! whatever its chat template: the model picks a tool (or, under
//! `ToolChoice::Auto`, to answer in words) and then writes the arguments,
//! each step greedy under a grammar built from the tools' names and argument
//! schemas, so every call names an offered tool and its arguments match the
//! schema. The call arrives in `Completion::tool_calls` with
//! `FinishReason::ToolCalls`, and nothing of the steps reaches the reply
//! text. Validity is guaranteed; judgement is the model's, and a 135M
//! model's is weak (docs/local-model.md, "Tools").
//!
//! The parts:
//! - [`settings`]: the `[model.llama]` section.
//! - `backend`: loading, templating, tokenizing, the request queue.
//! - `worker`: the thread owning the llama.cpp context; prompt evaluation,
//!   sampling, and the tool stages (`worker::stages`).
//! - `slots`: which conversations' evaluated prompts stay warm.
//! - `template`: the model's Jinja chat template, or ChatML; tools and tool
//!   calls for templates that know them.
//! - `tools`: the two tool stages — the instruction, their grammars, calls and
//!   results in history for templates without tools.
//! - `grammar`: GBNF grammars, and JSON Schema → grammar for tool arguments.
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
