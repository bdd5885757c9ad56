//! Counting tokens: OpenAI's own BPE (tiktoken) for model names it knows, a
//! character-based estimate for everything else (Ollama, vLLM, …, whose
//! tokenizers we cannot see over the API).

use std::sync::OnceLock;

use natter_core::{ChatMessage, backend::estimate_message_tokens};
use tiktoken_rs::CoreBPE;

/// Framing tokens per message in OpenAI chat formats.
const PER_MESSAGE: usize = 3;

pub(crate) struct TokenCounter {
    model: String,
    known: bool,
    bpe: OnceLock<Option<&'static CoreBPE>>,
}

impl TokenCounter {
    pub(crate) fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            known: tiktoken_rs::tokenizer::get_tokenizer(model).is_some(),
            bpe: OnceLock::new(),
        }
    }

    pub(crate) fn count(&self, messages: &[ChatMessage]) -> usize {
        let bpe = if self.known {
            *self
                .bpe
                .get_or_init(|| tiktoken_rs::bpe_for_model(&self.model).ok())
        } else {
            None
        };
        match bpe {
            Some(bpe) => messages
                .iter()
                .map(|m| {
                    PER_MESSAGE + bpe.count_ordinary(&m.content) + usize::from(m.name.is_some())
                })
                .sum(),
            None => estimate_message_tokens(messages),
        }
    }
}

/// The context window of a known OpenAI model.
pub(crate) fn known_context_window(model: &str) -> Option<usize> {
    tiktoken_rs::model::get_context_size(model)
}
