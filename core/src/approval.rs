//! Confirmations: before a `confirm` tool runs, the person whose message led
//! to the call is asked — with buttons where the platform has them (Telegram's
//! inline keyboard, Discord's buttons), with `/yes` and `/no` everywhere.
//!
//! An approval is bound to one call: that person, that conversation, those
//! exact arguments. It is answered once, expires after
//! `[tools] approval_timeout_secs`, and is never remembered: when the model
//! makes the call again, it is asked again (a retry never counts as
//! approval). Anybody else's answer is refused.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::message::{Author, ConversationKey};

/// A question put to a person, as an outbox shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// The approval's id: what a button carries back to
    /// [`crate::Inbox::answer_approval`]. Short (at most 32 characters of
    /// `[0-9a-f]`), unguessable.
    pub id: String,
    /// What is asked, in Markdown: the tool and its exact arguments.
    pub question: String,
    /// Who may answer (the asker's display name, for the prompt).
    pub asker: String,
}

/// An answer to an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Go ahead, this once.
    Approve,
    /// Do not.
    Deny,
}

/// What a button carries for `decision` on approval `id`:
/// `natter:ap:<id>:y` or `:n`, 44 bytes for a 32-character id (Telegram's
/// callback data allows 64, Discord's custom ids 100).
pub fn button_data(id: &str, decision: Decision) -> String {
    let answer = match decision {
        Decision::Approve => 'y',
        Decision::Deny => 'n',
    };
    format!("{BUTTON_PREFIX}{id}:{answer}")
}

/// The approval id and decision a button's data carries; `None` for data
/// that is not a natter confirmation's.
pub fn parse_button_data(data: &str) -> Option<(&str, Decision)> {
    let (id, answer) = data.strip_prefix(BUTTON_PREFIX)?.rsplit_once(':')?;
    let decision = match answer {
        "y" => Decision::Approve,
        "n" => Decision::Deny,
        _ => return None,
    };
    let well_formed = (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some((id, decision))
}

/// What every natter button's data starts with.
const BUTTON_PREFIX: &str = "natter:ap:";

/// What became of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    /// It was taken.
    Taken(Decision),
    /// Somebody else was asked; their display name.
    NotYours(String),
    /// Nothing is waiting for it: expired, answered already, or never asked.
    NothingPending,
}

impl Answered {
    /// A short line for the one who answered (a button's toast, a reply to `/yes`).
    pub fn user_message(&self) -> String {
        match self {
            Answered::Taken(Decision::Approve) => "Allowed.".into(),
            Answered::Taken(Decision::Deny) => "Refused.".into(),
            Answered::NotYours(asker) => format!("Only {asker} can answer this."),
            Answered::NothingPending => {
                "Nothing is waiting for your answer (it may have expired).".into()
            }
        }
    }
}

struct Pending {
    conversation: ConversationKey,
    user_id: String,
    user_name: String,
    /// Order of asking, so `/yes` answers the oldest question first.
    asked: u64,
    decide: oneshot::Sender<Decision>,
}

/// The approvals waiting for an answer, across all conversations.
pub(crate) struct Approvals {
    pending: Mutex<HashMap<String, Pending>>,
    counter: AtomicU64,
    ids: RandomState,
}

impl Default for Approvals {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            ids: RandomState::new(),
        }
    }
}

/// An open approval: its id, and where the answer arrives. Dropping it
/// withdraws the question.
pub(crate) struct Asked<'a> {
    approvals: &'a Approvals,
    pub(crate) id: String,
    answer: Option<oneshot::Receiver<Decision>>,
}

impl Asked<'_> {
    /// The answer, or `None` when the question was withdrawn.
    pub(crate) async fn answer(&mut self) -> Option<Decision> {
        self.answer.as_mut()?.await.ok()
    }
}

impl Drop for Asked<'_> {
    fn drop(&mut self) {
        self.approvals.lock().remove(&self.id);
    }
}

impl Approvals {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens an approval in `conversation` that only `asker` may answer.
    pub(crate) fn ask(&self, conversation: &ConversationKey, asker: &Author) -> Asked<'_> {
        let asked = self.counter.fetch_add(1, Ordering::Relaxed);
        // Two independently seeded hashes of a counter: unpredictable to
        // anyone outside the process, unique within it.
        let id = format!(
            "{:016x}{:016x}",
            self.ids.hash_one(asked),
            RandomState::new().hash_one(asked)
        );
        let (decide, answer) = oneshot::channel();
        self.lock().insert(
            id.clone(),
            Pending {
                conversation: conversation.clone(),
                user_id: asker.id.clone(),
                user_name: asker.display_name.clone(),
                asked,
                decide,
            },
        );
        Asked {
            approvals: self,
            id,
            answer: Some(answer),
        }
    }

    /// `user_id` answers approval `id` (a button press).
    pub(crate) fn answer(&self, id: &str, user_id: &str, decision: Decision) -> Answered {
        let mut pending = self.lock();
        match pending.get(id) {
            None => Answered::NothingPending,
            Some(waiting) if waiting.user_id != user_id => {
                Answered::NotYours(waiting.user_name.clone())
            }
            Some(_) => Self::take(&mut pending, id, decision),
        }
    }

    /// `user_id` answers the oldest question put to them in `conversation`
    /// (`/yes`, `/no`).
    pub(crate) fn answer_oldest(
        &self,
        conversation: &ConversationKey,
        user_id: &str,
        decision: Decision,
    ) -> Answered {
        let mut pending = self.lock();
        let in_conversation = pending
            .iter()
            .filter(|(_, waiting)| waiting.conversation == *conversation);
        let mine = in_conversation
            .clone()
            .filter(|(_, waiting)| waiting.user_id == user_id)
            .min_by_key(|(_, waiting)| waiting.asked)
            .map(|(id, _)| id.clone());
        match mine {
            Some(id) => Self::take(&mut pending, &id, decision),
            None => match in_conversation.min_by_key(|(_, waiting)| waiting.asked) {
                Some((_, other)) => Answered::NotYours(other.user_name.clone()),
                None => Answered::NothingPending,
            },
        }
    }

    fn take(pending: &mut HashMap<String, Pending>, id: &str, decision: Decision) -> Answered {
        match pending
            .remove(id)
            .map(|waiting| waiting.decide.send(decision))
        {
            Some(Ok(())) => Answered::Taken(decision),
            _ => Answered::NothingPending,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::message::Platform;

    fn key() -> ConversationKey {
        ConversationKey::new(Platform::new("test"), "group/g")
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn button_data_round_trips() {
        for decision in [Decision::Approve, Decision::Deny] {
            let data = button_data(ID, decision);
            assert_eq!(data.len(), 44, "{data}");
            assert_eq!(parse_button_data(&data), Some((ID, decision)));
        }
        assert_eq!(button_data(ID, Decision::Deny), format!("natter:ap:{ID}:n"));
    }

    #[test]
    fn foreign_button_data_is_not_an_answer() {
        for data in [
            "",
            "vote:1",
            "natter:ap:",
            "natter:ap::y",
            &format!("natter:ap:{ID}:maybe"),
            &format!("natter:ap:{ID}"),
            "natter:ap:not-hex!:y",
            "natter:ap:zz:y",
            &format!("natter:ap:{ID}{ID}:y"),
        ] {
            assert_eq!(parse_button_data(data), None, "{data:?}");
        }
    }

    #[tokio::test]
    async fn only_the_asker_answers_and_only_once() {
        let approvals = Approvals::default();
        let alice = Author::user("a", "Alice");
        let mut asked = approvals.ask(&key(), &alice);
        assert_eq!(asked.id.len(), 32);
        assert_eq!(
            approvals.answer(&asked.id, "b", Decision::Approve),
            Answered::NotYours("Alice".into())
        );
        assert_eq!(
            approvals.answer(&asked.id, "a", Decision::Deny),
            Answered::Taken(Decision::Deny)
        );
        assert_eq!(
            approvals.answer(&asked.id, "a", Decision::Approve),
            Answered::NothingPending
        );
        assert_eq!(asked.answer().await, Some(Decision::Deny));
    }

    #[test]
    fn a_withdrawn_question_cannot_be_answered() {
        let approvals = Approvals::default();
        let alice = Author::user("a", "Alice");
        let id = approvals.ask(&key(), &alice).id.clone();
        assert_eq!(
            approvals.answer(&id, "a", Decision::Approve),
            Answered::NothingPending
        );
        assert_eq!(
            approvals.answer_oldest(&key(), "a", Decision::Approve),
            Answered::NothingPending
        );
    }

    #[tokio::test]
    async fn yes_answers_the_oldest_question_put_to_you() {
        let approvals = Approvals::default();
        let (alice, bob) = (Author::user("a", "Alice"), Author::user("b", "Bob"));
        let mut first = approvals.ask(&key(), &alice);
        let second = approvals.ask(&key(), &alice);
        let mut bobs = approvals.ask(&key(), &bob);
        assert_ne!(first.id, second.id);
        assert_eq!(
            approvals.answer_oldest(&key(), "c", Decision::Approve),
            Answered::NotYours("Alice".into())
        );
        assert_eq!(
            approvals.answer_oldest(&key(), "a", Decision::Approve),
            Answered::Taken(Decision::Approve)
        );
        assert_eq!(first.answer().await, Some(Decision::Approve));
        assert_eq!(
            approvals.answer_oldest(&key(), "b", Decision::Deny),
            Answered::Taken(Decision::Deny)
        );
        assert_eq!(bobs.answer().await, Some(Decision::Deny));
        drop(second);
        assert_eq!(
            approvals.answer_oldest(&key(), "a", Decision::Approve),
            Answered::NothingPending
        );
    }
}
