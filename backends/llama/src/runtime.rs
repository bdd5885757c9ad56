//! llama.cpp's process-wide state: its backend is initialised once per
//! process and its logs go to `tracing` instead of stderr; contexts are
//! created one at a time (doing so in parallel from one model is unsound).

use std::sync::{Mutex, OnceLock, PoisonError};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::{LogOptions, send_logs_to_tracing};

use crate::error::LlamaError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// The process's llama.cpp backend, initialised on first use.
pub fn backend() -> Result<&'static LlamaBackend, LlamaError> {
    BACKEND
        .get_or_init(|| {
            send_logs_to_tracing(LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlamaError::Engine(format!("initialising llama.cpp: {e}")))
}

/// A new context for `model`, created while no other context is being created.
pub fn new_context(
    model: &LlamaModel,
    params: LlamaContextParams,
) -> Result<LlamaContext<'_>, LlamaError> {
    let backend = backend()?;
    let _serialised = CONTEXT_CREATION
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    model
        .new_context(backend, params)
        .map_err(|e| LlamaError::Engine(format!("creating a context: {e}")))
}
