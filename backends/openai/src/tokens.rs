//! Counting tokens: OpenAI's own BPE (tiktoken) for model names it knows, a
//! character-based estimate for everything else (Ollama, vLLM, …, whose
//! tokenizers we cannot see over the API).
//!
//! A message counts its text, its speaker's name, and each tool call it makes
//! (the tool's name and the arguments' JSON text, plus a few tokens of
//! framing); a tool result counts as its text. This is an estimate: OpenAI
//! does not document how calls are framed. The tools a request offers are not
//! counted here — [`ModelBackend::count_tokens`](natter_core::ModelBackend)
//! sees messages only — so a long tool list costs prompt room the history
//! budget does not know of.

use std::sync::OnceLock;

use natter_core::{ChatMessage, ToolCall, backend::estimate_message_tokens};
use tiktoken_rs::CoreBPE;

/// Framing tokens per message in OpenAI chat formats.
const PER_MESSAGE: usize = 3;
/// Framing tokens per tool call (its id, type and the JSON around it): an estimate.
const PER_CALL: usize = 4;

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
                    PER_MESSAGE
                        + bpe.count_ordinary(&m.content)
                        + usize::from(m.name.is_some())
                        + m.tool_calls
                            .iter()
                            .map(|call| count_call(bpe, call))
                            .sum::<usize>()
                })
                .sum(),
            None => estimate_message_tokens(messages),
        }
    }
}

fn count_call(bpe: &CoreBPE, call: &ToolCall) -> usize {
    PER_CALL + bpe.count_ordinary(&call.name) + bpe.count_ordinary(&call.arguments)
}

/// The context window of a known OpenAI model.
pub(crate) fn known_context_window(model: &str) -> Option<usize> {
    tiktoken_rs::model::get_context_size(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_and_results_count_for_known_and_unknown_models() {
        let arguments = r#"{"when":"in 10 minutes","text":"drink a cup of green tea"}"#;
        let call = ToolCall::new("call_1", "remind_set", arguments);
        let calling = ChatMessage::tool_calls("", vec![call]);
        let result = ChatMessage::tool_result("call_1", "reminder set for 10:42: drink tea");
        for model in ["gpt-4o-mini", "llama3.2"] {
            let counter = TokenCounter::new(model);
            let empty = counter.count(&[ChatMessage::assistant("")]);
            let arguments_alone = counter.count(&[ChatMessage::assistant(arguments)]);
            assert!(
                counter.count(std::slice::from_ref(&calling)) > arguments_alone,
                "{model}: a call counts its name and arguments"
            );
            assert!(
                counter.count(std::slice::from_ref(&result)) > empty + 5,
                "{model}: a result counts its text"
            );
        }
    }
}
