//! Fitting a conversation into the model's context window: the system prompt,
//! the new message and as many of the newest turns as the token budget allows
//! (context window − reply budget − system prompt − new message). Oldest turns
//! are dropped first, and a turn is kept or dropped whole — its tool calls and
//! results with it, and counted with it.

use crate::backend::{ModelBackend, ModelError};
use crate::chat::ChatMessage;
use crate::store::Turn;

/// The messages to send, oldest first: system, kept turns, new message.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// System prompt, history, new message.
    pub messages: Vec<ChatMessage>,
    /// Turns that did not fit and were left out.
    pub dropped_turns: usize,
    /// Prompt tokens by the backend's count.
    pub prompt_tokens: usize,
}

/// Builds the prompt for `new` from `turns` (oldest first) within the budget
/// of `context_window` tokens, `reply_budget` of which are kept for the reply.
///
/// Fails with [`ModelError::ContextOverflow`] when the system prompt and the
/// new message alone leave no room for the reply.
pub fn fit(
    backend: &dyn ModelBackend,
    context_window: usize,
    system: ChatMessage,
    turns: &[Turn],
    new: ChatMessage,
    reply_budget: usize,
) -> Result<Window, ModelError> {
    let context = context_window;
    let available = context.saturating_sub(reply_budget);
    let fixed = backend.count_tokens(std::slice::from_ref(&system))
        + backend.count_tokens(std::slice::from_ref(&new));
    if fixed > available {
        return Err(ModelError::ContextOverflow {
            needed: fixed,
            available,
        });
    }
    let mut remaining = available - fixed;
    let mut kept = 0;
    for turn in turns.iter().rev() {
        let cost: usize = turn
            .messages()
            .map(|message| backend.count_tokens(std::slice::from_ref(message)))
            .sum();
        if cost > remaining {
            break;
        }
        remaining -= cost;
        kept += 1;
    }
    let kept_turns = &turns[turns.len() - kept..];
    let mut messages =
        Vec::with_capacity(2 + kept_turns.iter().map(|t| 2 + t.steps.len()).sum::<usize>());
    messages.push(system);
    for turn in kept_turns {
        messages.extend(turn.messages().cloned());
    }
    messages.push(new);
    Ok(Window {
        messages,
        dropped_turns: turns.len() - kept,
        prompt_tokens: available - remaining,
    })
}
