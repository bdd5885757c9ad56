//! Why loading a model fails, in terms a user can act on.

use std::path::PathBuf;

/// How to get the default model, appended to file errors.
pub const FETCH_HINT: &str = "run scripts/fetch-model.sh to download the default model \
(SmolLM2-135M-Instruct), or set model.llama.path to another GGUF file";

/// A model could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlamaError {
    /// The model file does not exist.
    #[error("model file {} not found: {FETCH_HINT}", path.display())]
    MissingModel {
        /// The configured path.
        path: PathBuf,
    },
    /// The file exists but is not a usable GGUF model.
    #[error("model file {} is not a usable GGUF model ({reason}): {FETCH_HINT}", path.display())]
    InvalidModel {
        /// The configured path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read model file {}: {source}", path.display())]
    Io {
        /// The configured path.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("invalid [model.llama] setting: {0}")]
    Settings(String),
    /// llama.cpp could not be initialised or could not create a context.
    #[error("llama.cpp failed: {0}")]
    Engine(String),
}
