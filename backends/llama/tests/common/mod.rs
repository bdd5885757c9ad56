//! What the model test files share: the model file and how to load it.

use std::path::PathBuf;

use natter_core::{ChatRequest, ConversationKey, Platform};
use natter_llama::{LlamaBackend, LlamaSettings};

/// The model file, or `None` when it is missing (then the test says it
/// skipped, or fails under `CI=true`). `NATTER_LLAMA_MODEL` names another.
pub fn model_path(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("NATTER_LLAMA_MODEL").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        },
        PathBuf::from,
    );
    natter_test_support::optional::model_file(test, &path)
}

/// Two threads, a 2,048-token context, the rest default.
pub fn settings(path: PathBuf) -> LlamaSettings {
    LlamaSettings {
        threads: 2,
        context: 2048,
        ..LlamaSettings::for_model(path)
    }
}

/// The backend for `settings`.
pub fn load(settings: &LlamaSettings) -> LlamaBackend {
    LlamaBackend::load(settings).expect("the model loads")
}

/// `request` in the conversation `name`.
pub fn in_conversation(mut request: ChatRequest, name: &str) -> ChatRequest {
    request.conversation = Some(ConversationKey::new(Platform::new("test"), name));
    request
}
