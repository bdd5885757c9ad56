//! Warm conversations: which KV-cache sequence holds which conversation, the
//! tokens each holds, and which one is recycled next (least recently used).
//!
//! This is bookkeeping only; the worker clears the KV cache of whatever
//! sequence these functions hand back.

use llama_cpp_2::token::LlamaToken;
use natter_core::ConversationKey;

/// One KV-cache sequence and what it holds.
#[derive(Debug, Default)]
struct Slot {
    key: Option<ConversationKey>,
    tokens: Vec<LlamaToken>,
    last_used: u64,
}

/// Where a request's prompt goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The sequence id.
    pub seq: usize,
    /// Tokens already in the sequence that the prompt starts with.
    pub reusable: usize,
}

/// The table of warm slots.
#[derive(Debug)]
pub struct Slots {
    slots: Vec<Slot>,
    clock: u64,
}

/// Length of the longest common prefix of `a` and `b`.
pub fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Slots {
    /// `n` empty slots (at least one).
    pub fn new(n: usize) -> Self {
        Self {
            slots: (0..n.max(1)).map(|_| Slot::default()).collect(),
            clock: 0,
        }
    }

    /// Picks the sequence for a prompt of conversation `key`: the
    /// conversation's own slot when it has one; for requests without a
    /// conversation, an anonymous slot sharing a prefix with `prompt`;
    /// otherwise the least recently used slot, recycled. At least the last
    /// prompt token is always left to evaluate (its logits start the reply).
    /// The caller must clear the sequence's KV cache from `reusable` on.
    pub fn assign(&mut self, key: Option<&ConversationKey>, prompt: &[LlamaToken]) -> Assignment {
        self.clock += 1;
        let found = match key {
            Some(key) => self.slots.iter().position(|s| s.key.as_ref() == Some(key)),
            None => self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.key.is_none())
                .map(|(i, s)| (i, common_prefix(&s.tokens, prompt)))
                .filter(|&(_, n)| n > 0)
                .max_by_key(|&(i, n)| (n, self.slots[i].last_used))
                .map(|(i, _)| i),
        };
        let seq = found.unwrap_or_else(|| self.least_recently_used(None));
        let slot = &mut self.slots[seq];
        if found.is_none() {
            slot.tokens.clear();
            slot.key = key.cloned();
        }
        slot.last_used = self.clock;
        let reusable = common_prefix(&slot.tokens, prompt).min(prompt.len().saturating_sub(1));
        slot.tokens.truncate(reusable);
        Assignment { seq, reusable }
    }

    /// The least recently used slot other than `except`, empty ones first.
    fn least_recently_used(&self, except: Option<usize>) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != except)
            .min_by_key(|(_, s)| (!s.tokens.is_empty(), s.last_used))
            .map_or(0, |(i, _)| i)
    }

    /// Forgets what `seq` holds (after a failed evaluation).
    pub fn reset(&mut self, seq: usize) {
        if let Some(slot) = self.slots.get_mut(seq) {
            slot.tokens.clear();
            slot.key = None;
        }
    }

    /// Records that `tokens` were evaluated into `seq`.
    pub fn extend(&mut self, seq: usize, tokens: &[LlamaToken]) {
        if let Some(slot) = self.slots.get_mut(seq) {
            slot.tokens.extend_from_slice(tokens);
        }
    }

    /// Tokens held by `seq`.
    pub fn len(&self, seq: usize) -> usize {
        self.slots.get(seq).map_or(0, |s| s.tokens.len())
    }
}

#[cfg(test)]
mod tests {
    use natter_core::Platform;

    use super::*;

    fn toks(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().copied().map(LlamaToken).collect()
    }

    fn key(name: &str) -> ConversationKey {
        ConversationKey::new(Platform::new("test"), name)
    }

    #[test]
    fn a_follow_up_reuses_its_conversations_prefix() {
        let mut slots = Slots::new(2);
        let a = slots.assign(Some(&key("a")), &toks(&[1, 2, 3]));
        assert_eq!(a.reusable, 0);
        slots.extend(a.seq, &toks(&[1, 2, 3, 9]));
        let again = slots.assign(Some(&key("a")), &toks(&[1, 2, 3, 4, 5]));
        assert_eq!(
            again,
            Assignment {
                seq: a.seq,
                reusable: 3
            }
        );
        assert_eq!(slots.len(a.seq), 3, "the diverging tail is dropped");
    }

    #[test]
    fn conversations_get_their_own_slots_and_the_least_recent_is_recycled() {
        let mut slots = Slots::new(2);
        let a = slots.assign(Some(&key("a")), &toks(&[1]));
        slots.extend(a.seq, &toks(&[1, 2]));
        let b = slots.assign(Some(&key("b")), &toks(&[1]));
        assert_ne!(a.seq, b.seq);
        slots.extend(b.seq, &toks(&[1, 5]));
        // a is used again, so b is now the least recently used.
        assert_eq!(slots.assign(Some(&key("a")), &toks(&[1, 2, 7])).reusable, 2);
        let c = slots.assign(Some(&key("c")), &toks(&[1, 5]));
        assert_eq!(
            c,
            Assignment {
                seq: b.seq,
                reusable: 0
            },
            "b's slot is recycled, not shared"
        );
        assert_eq!(slots.assign(Some(&key("a")), &toks(&[1, 2, 7])).seq, a.seq);
    }

    #[test]
    fn an_identical_prompt_still_evaluates_its_last_token() {
        let mut slots = Slots::new(1);
        let a = slots.assign(Some(&key("a")), &toks(&[1, 2, 3]));
        slots.extend(a.seq, &toks(&[1, 2, 3]));
        assert_eq!(slots.assign(Some(&key("a")), &toks(&[1, 2, 3])).reusable, 2);
        assert_eq!(slots.len(a.seq), 2);
    }

    #[test]
    fn anonymous_requests_reuse_a_shared_prefix() {
        let mut slots = Slots::new(2);
        let first = slots.assign(None, &toks(&[7, 8, 9]));
        slots.extend(first.seq, &toks(&[7, 8, 9]));
        let second = slots.assign(None, &toks(&[7, 8, 1]));
        assert_eq!(
            second,
            Assignment {
                seq: first.seq,
                reusable: 2
            }
        );
    }
}
