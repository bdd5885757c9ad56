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
//!
//! The engine counts every history message on every turn to fit the window,
//! and running the BPE over the same old messages again and again is most of
//! that work: tiktoken counts are cached per message in a small LRU, keyed by
//! a hash of what the count depends on (role, name, content, tool calls).
//! The estimate is cheaper than hashing and is not cached.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use lru::LruCache;
use natter_core::backend::{IMAGE_TOKENS, estimate_message_tokens};
use natter_core::{ChatMessage, ToolCall};
use tiktoken_rs::CoreBPE;

/// Framing tokens per message in OpenAI chat formats.
const PER_MESSAGE: usize = 3;
/// Framing tokens per tool call (its id, type and the JSON around it): an estimate.
const PER_CALL: usize = 4;
/// Messages whose counts are kept: the recent history of a few dozen busy
/// conversations, at some 50 bytes each.
const CACHED_MESSAGES: NonZeroUsize = match NonZeroUsize::new(4096) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

pub(crate) struct TokenCounter {
    model: String,
    known: bool,
    bpe: OnceLock<Option<&'static CoreBPE>>,
    /// Message key → its count, for tiktoken counts.
    counted: Mutex<LruCache<u64, usize>>,
}

impl TokenCounter {
    pub(crate) fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            known: tiktoken_rs::tokenizer::get_tokenizer(model).is_some(),
            bpe: OnceLock::new(),
            counted: Mutex::new(LruCache::new(CACHED_MESSAGES)),
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
                .map(|m| self.cached(bpe, m) + m.images.len() * IMAGE_TOKENS)
                .sum(),
            None => estimate_message_tokens(messages),
        }
    }

    /// `message`'s count from the cache, or counted and cached. The lock is
    /// not held while counting.
    fn cached(&self, bpe: &CoreBPE, message: &ChatMessage) -> usize {
        let key = key(message);
        if let Some(&count) = self.counted().get(&key) {
            return count;
        }
        let count = count_message(bpe, message);
        self.counted().put(key, count);
        count
    }

    fn counted(&self) -> MutexGuard<'_, LruCache<u64, usize>> {
        // A panic elsewhere cannot leave a count half-written: keep using it.
        self.counted.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a message's count depends on, hashed.
fn key(message: &ChatMessage) -> u64 {
    let mut hasher = DefaultHasher::new();
    message.role.hash(&mut hasher);
    message.name.hash(&mut hasher);
    message.content.hash(&mut hasher);
    message.tool_calls.len().hash(&mut hasher);
    for call in &message.tool_calls {
        call.id.hash(&mut hasher);
        call.name.hash(&mut hasher);
        call.arguments.hash(&mut hasher);
    }
    hasher.finish()
}

fn count_message(bpe: &CoreBPE, message: &ChatMessage) -> usize {
    PER_MESSAGE
        + bpe.count_ordinary(&message.content)
        + usize::from(message.name.is_some())
        + message
            .tool_calls
            .iter()
            .map(|call| count_call(bpe, call))
            .sum::<usize>()
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
    fn cached_counts_are_the_counts_and_differ_where_messages_do() {
        let call = |arguments: &str| ToolCall::new("call_1", "remind_set", arguments);
        let messages = [
            ChatMessage::user("Remind me to stretch in ten minutes, please."),
            ChatMessage::user("Remind me to stretch in ten minutes, please.").with_name("Ana"),
            ChatMessage::tool_calls("", vec![call(r#"{"when":"in 10 minutes"}"#)]),
            ChatMessage::tool_calls(
                "",
                vec![call(r#"{"when":"in 10 minutes","text":"stretch"}"#)],
            ),
        ];
        let counter = TokenCounter::new("gpt-4o-mini");
        let first: Vec<usize> = messages
            .iter()
            .map(|m| counter.count(std::slice::from_ref(m)))
            .collect();
        assert_eq!(counter.counted().len(), messages.len(), "one entry each");
        let again: Vec<usize> = messages
            .iter()
            .map(|m| counter.count(std::slice::from_ref(m)))
            .collect();
        assert_eq!(first, again);
        assert_eq!(counter.counted().len(), messages.len(), "counted once each");
        assert_eq!(counter.count(&messages), first.iter().sum::<usize>());
        assert_ne!(first[0], first[1], "the name counts");
        assert_ne!(first[2], first[3], "the arguments count");
        let fresh = TokenCounter::new("gpt-4o-mini");
        for (message, cached) in messages.iter().zip(&first) {
            assert_eq!(fresh.count(std::slice::from_ref(message)), *cached);
        }
    }

    #[test]
    fn estimates_are_not_cached() {
        let counter = TokenCounter::new("llama3.2");
        assert!(counter.count(&[ChatMessage::user("hello there")]) > 0);
        assert_eq!(counter.counted().len(), 0);
    }

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
