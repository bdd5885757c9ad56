//! Putting the model's tool calls together from the pieces servers send.
//!
//! OpenAI streams each call in pieces that share an `index`: the `id` and
//! `function.name` on the first, `function.arguments` as fragments of JSON
//! text to concatenate. Several calls may be interleaved. Other servers send
//! a whole call in one piece (Ollama), repeat the id or name on every piece,
//! leave out the index, or leave out the id. [`CallAssembler`] accepts all of
//! these; [`CallAssembler::finish`] returns the calls in index order, each
//! with a unique id (generated where the server gave none), and the finish
//! reason the reply really had. A reply that was not streamed has its calls
//! whole ([`CallAssembler::add_whole`]) and ends the same way.

use std::collections::HashSet;

use tracing::warn;

use natter_core::{FinishReason, ToolCall};

use crate::wire::CallPiece;

/// One call as far as it has arrived.
#[derive(Debug)]
struct Partial {
    index: usize,
    id: String,
    name: String,
    arguments: String,
}

/// The calls of one reply, gathered piece by piece.
#[derive(Debug, Default)]
pub(crate) struct CallAssembler {
    calls: Vec<Partial>,
}

impl CallAssembler {
    /// Adds one piece: the start of a new call, or more of one under way.
    pub(crate) fn add(&mut self, piece: &CallPiece) {
        let candidate = match piece.index {
            Some(index) => self.calls.iter().rposition(|call| call.index == index),
            None => self.calls.len().checked_sub(1),
        };
        let slot = match candidate {
            Some(at) if continues(&self.calls[at], piece) => at,
            _ => {
                let index = piece.index.unwrap_or_else(|| self.next_index());
                self.calls.push(Partial {
                    index,
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[slot];
        if call.id.is_empty()
            && let Some(id) = piece.id()
        {
            id.clone_into(&mut call.id);
        }
        if call.name.is_empty()
            && let Some(name) = piece.name()
        {
            name.clone_into(&mut call.name);
        }
        call.arguments.push_str(&piece.arguments());
    }

    /// Adds a whole call, the `index`th of a reply that was not streamed.
    pub(crate) fn add_whole(&mut self, index: usize, call: &CallPiece) {
        self.calls.push(Partial {
            index,
            id: call.id().unwrap_or_default().to_owned(),
            name: call.name().unwrap_or_default().to_owned(),
            arguments: call.arguments(),
        });
    }

    /// The finished calls, in index order, and the reply's finish reason
    /// given that the server `reported` one (or none).
    ///
    /// A reply with calls finished with [`FinishReason::ToolCalls`], whatever
    /// the server said (some say `stop`) — unless it was cut short (`length`,
    /// `content_filter`): then the calls are incomplete, and dropped, and the
    /// reason stands. A call without a name cannot be run, and is dropped.
    pub(crate) fn finish(self, reported: Option<FinishReason>) -> (FinishReason, Vec<ToolCall>) {
        let mut calls = self.calls;
        calls.sort_by_key(|call| call.index);
        let mut ids = HashSet::new();
        let calls: Vec<ToolCall> = calls
            .into_iter()
            .filter(|call| {
                if call.name.is_empty() {
                    warn!(id = %call.id, "the model sent a tool call without a name; ignored");
                }
                !call.name.is_empty()
            })
            .map(|call| {
                let id = if call.id.is_empty() || ids.contains(&call.id) {
                    new_call_id()
                } else {
                    call.id
                };
                ids.insert(id.clone());
                ToolCall::new(id, call.name, call.arguments)
            })
            .collect();
        let reported = reported.unwrap_or(FinishReason::Stop);
        match reported {
            FinishReason::Length | FinishReason::ContentFilter if !calls.is_empty() => {
                warn!(
                    calls = calls.len(),
                    reason = ?reported,
                    "the reply was cut short in the middle of tool calls; they are not run"
                );
                (reported, Vec::new())
            }
            _ if !calls.is_empty() => (FinishReason::ToolCalls, calls),
            FinishReason::ToolCalls => {
                warn!("the server said the model called tools, but sent no calls");
                (FinishReason::Stop, calls)
            }
            other => (other, calls),
        }
    }

    fn next_index(&self) -> usize {
        self.calls
            .iter()
            .map(|call| call.index + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Whether `piece` continues `call` rather than starting a call of its own.
/// A different id, or a different name, starts a new call; so does a name
/// without an index when the call already has one (a server that sends whole
/// calls without indexes). Otherwise the piece is more of the same call.
fn continues(call: &Partial, piece: &CallPiece) -> bool {
    if let Some(id) = piece.id()
        && !call.id.is_empty()
    {
        return id == call.id;
    }
    match piece.name() {
        Some(name) if !call.name.is_empty() => piece.index.is_some() && name == call.name,
        _ => true,
    }
}

/// A fresh id for a call whose server gave it none, in OpenAI's style.
fn new_call_id() -> String {
    format!("call_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn piece(json: serde_json::Value) -> CallPiece {
        serde_json::from_value(json).unwrap()
    }

    fn assemble(pieces: &[serde_json::Value]) -> (FinishReason, Vec<ToolCall>) {
        let mut calls = CallAssembler::default();
        for json in pieces {
            calls.add(&piece(json.clone()));
        }
        calls.finish(Some(FinishReason::Stop))
    }

    #[test]
    fn repeated_ids_and_names_on_every_piece_make_one_call() {
        let (reason, calls) = assemble(&[
            serde_json::json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\":"}}),
            serde_json::json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "1}"}}),
        ]);
        assert_eq!(reason, FinishReason::ToolCalls);
        assert_eq!(calls, [ToolCall::new("a", "f", "{\"x\":1}")]);
    }

    #[test]
    fn calls_sharing_an_index_but_not_an_id_are_two_calls() {
        let (_, calls) = assemble(&[
            serde_json::json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}),
            serde_json::json!({"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}),
        ]);
        let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["f", "g"]);
    }

    #[test]
    fn whole_calls_without_index_or_id_are_separate_with_unique_ids() {
        let (_, calls) = assemble(&[
            serde_json::json!({"function": {"name": "f", "arguments": {"city": "Oslo"}}}),
            serde_json::json!({"function": {"name": "f", "arguments": {"city": "Rome"}}}),
        ]);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].arguments, r#"{"city":"Oslo"}"#);
        assert_eq!(calls[1].arguments, r#"{"city":"Rome"}"#);
        assert!(calls[0].id.starts_with("call_"));
        assert_ne!(calls[0].id, calls[1].id);
    }

    #[test]
    fn a_duplicate_id_is_replaced() {
        let (_, calls) = assemble(&[
            serde_json::json!({"index": 0, "id": "call_0", "function": {"name": "f"}}),
            serde_json::json!({"index": 1, "id": "call_0", "function": {"name": "g"}}),
        ]);
        assert_eq!(calls[0].id, "call_0");
        assert_ne!(calls[1].id, "call_0");
    }

    #[test]
    fn calls_cut_off_by_length_are_not_run() {
        let mut calls = CallAssembler::default();
        calls.add(&piece(
            serde_json::json!({"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\""}}),
        ));
        assert_eq!(
            calls.finish(Some(FinishReason::Length)),
            (FinishReason::Length, Vec::new())
        );
    }

    #[test]
    fn nameless_calls_are_dropped_and_an_empty_tool_calls_reply_is_a_stop() {
        let mut calls = CallAssembler::default();
        calls.add(&piece(
            serde_json::json!({"index": 0, "id": "a", "function": {"arguments": "{}"}}),
        ));
        assert_eq!(
            calls.finish(Some(FinishReason::ToolCalls)),
            (FinishReason::Stop, Vec::new())
        );
    }
}
