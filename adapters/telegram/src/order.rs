//! [`InOrder`]: a chat's messages reach the engine in the order they
//! arrived, even when one of them must first wait (for its author's admin
//! status) — `/persona pirate` then "@bot hi" is answered by the pirate —
//! while other chats' messages go on meanwhile.
//!
//! A message with nothing to wait for, in a chat with nothing waiting, is
//! handed over at once, with no task. Otherwise it gets a task that waits
//! for what it needs and for the chat's message before it, then hands over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use natter_core::{Inbox, Incoming};
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Hands messages to the engine in each chat's arrival order.
pub(crate) struct InOrder {
    inbox: Inbox,
    /// Per chat, the last message still waiting to be handed over.
    tails: Arc<Mutex<HashMap<i64, Tail>>>,
    next: AtomicU64,
    tasks: TaskTracker,
}

/// The last waiting message of a chat: done once it is handed over.
struct Tail {
    id: u64,
    done: oneshot::Receiver<()>,
}

impl InOrder {
    /// Hands messages to `inbox`.
    pub(crate) fn new(inbox: Inbox) -> Self {
        Self {
            inbox,
            tails: Arc::default(),
            next: AtomicU64::new(0),
            tasks: TaskTracker::new(),
        }
    }

    /// Hands `message` of `chat` over now, or after the chat's messages
    /// still waiting.
    pub(crate) fn now(&self, chat: i64, message: Incoming) {
        if lock(&self.tails).contains_key(&chat) {
            self.after(chat, async move { Some(message) });
        } else {
            // The receipt is not needed: the engine orders and answers on its own.
            drop(self.inbox.submit(message));
        }
    }

    /// Hands the message `ready` yields (if any) over once it does and once
    /// the chat's messages before it are handed over; meanwhile other
    /// chats' messages go on.
    pub(crate) fn after(
        &self,
        chat: i64,
        ready: impl Future<Output = Option<Incoming>> + Send + 'static,
    ) {
        let (done, waited) = oneshot::channel();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let before = lock(&self.tails).insert(chat, Tail { id, done: waited });
        let inbox = self.inbox.clone();
        let tails = Arc::clone(&self.tails);
        self.tasks.spawn(
            async move {
                let message = ready.await;
                if let Some(before) = before {
                    // Sent when it is handed over, or dropped if it never is.
                    let _ = before.done.await;
                }
                if let Some(message) = message {
                    drop(inbox.submit(message));
                }
                let mut tails = lock(&tails);
                if tails.get(&chat).is_some_and(|tail| tail.id == id) {
                    tails.remove(&chat);
                }
                drop(tails);
                drop(done);
            }
            .in_current_span(),
        );
    }

    /// Waits until every waiting message is handed over (for shutdown).
    pub(crate) async fn flush(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

fn lock(tails: &Mutex<HashMap<i64, Tail>>) -> MutexGuard<'_, HashMap<i64, Tail>> {
    tails.lock().unwrap_or_else(|e| e.into_inner())
}
