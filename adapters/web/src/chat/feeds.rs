//! [`Feeds`]: each browser conversation's live events — replies as they are
//! written, edits, confirmations, "typing" — from the outbox to the page's
//! event stream. A conversation nobody watches drops its events: its turns
//! are in the store, and the page shows them when it is opened.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::sync::broadcast;

/// Events buffered per watcher before it counts as lagging.
const BUFFERED: usize = 256;

/// What a chat page is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedEvent {
    /// A new message from the bot.
    Message {
        /// Its id, for later edits.
        id: String,
        /// Its text as safe HTML.
        html: String,
    },
    /// A message's text changed (a reply growing as it streams, an
    /// approval's outcome); buttons it had are gone.
    Edit {
        /// The message.
        id: String,
        /// Its whole new text as safe HTML.
        html: String,
    },
    /// A question with Allow and Refuse buttons.
    Approval {
        /// The message.
        id: String,
        /// The question as safe HTML.
        html: String,
        /// What the buttons send back.
        approval: String,
    },
    /// The bot is working on a reply.
    Typing,
}

/// Every watched conversation's channel.
#[derive(Default)]
pub struct Feeds {
    by_conversation: Mutex<HashMap<String, broadcast::Sender<FeedEvent>>>,
}

impl Feeds {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, broadcast::Sender<FeedEvent>>> {
        self.by_conversation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching `conversation`.
    pub fn subscribe(&self, conversation: &str) -> broadcast::Receiver<FeedEvent> {
        let mut feeds = self.lock();
        feeds.retain(|_, sender| sender.receiver_count() > 0);
        feeds
            .entry(conversation.to_owned())
            .or_insert_with(|| broadcast::channel(BUFFERED).0)
            .subscribe()
    }

    /// Tells `conversation`'s watchers, if any, about `event`.
    pub fn publish(&self, conversation: &str, event: FeedEvent) {
        if let Some(sender) = self.lock().get(conversation) {
            // No watcher left is fine: the store has the turns.
            let _ = sender.send(event);
        }
    }
}
