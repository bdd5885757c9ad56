//! Keeping each channel's messages in order on their way to the engine.
//!
//! serenity runs every event handler call in its own task, so two messages
//! that arrive back to back may reach the handler in either order. The shard
//! has already put both in the cache's per-channel message store (in arrival
//! order) before either handler runs, so whichever handler runs first takes
//! every not-yet-taken recent message of its channel up to its own, oldest
//! first; the other then finds its message taken. A message the cache has
//! already dropped is still handed on — late rather than lost.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serenity::cache::Cache;
use serenity::model::channel::Message;
use serenity::model::id::{ChannelId, MessageId};
use tokio::time::Instant;

/// Messages the cache keeps per channel for ordering.
pub(crate) const CACHED_PER_CHANNEL: usize = 64;
/// Ids remembered per channel as taken (more than the cache holds).
const REMEMBERED_PER_CHANNEL: usize = 256;
/// Only messages this much older than the one being handled are taken with it.
const CATCH_UP: Duration = Duration::from_secs(10);
/// Channels tracked before idle ones are forgotten.
const TRACKED_CHANNELS: usize = 1024;
/// A channel idle this long may be forgotten.
const IDLE: Duration = Duration::from_secs(60);

/// Per-channel record of which messages were handed on.
#[derive(Default)]
pub(crate) struct Ordering {
    channels: Mutex<HashMap<ChannelId, Arc<tokio::sync::Mutex<Taken>>>>,
}

/// The messages of one channel already handed on.
#[derive(Default)]
pub(crate) struct Taken {
    ids: HashSet<MessageId>,
    queue: VecDeque<MessageId>,
    last_used: Option<Instant>,
}

impl Taken {
    fn contains(&self, id: MessageId) -> bool {
        self.ids.contains(&id)
    }

    fn insert(&mut self, id: MessageId) {
        if self.ids.insert(id) {
            self.queue.push_back(id);
            if self.queue.len() > REMEMBERED_PER_CHANNEL
                && let Some(old) = self.queue.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }
}

impl Ordering {
    fn channels(&self) -> MutexGuard<'_, HashMap<ChannelId, Arc<tokio::sync::Mutex<Taken>>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn channel(&self, id: ChannelId) -> Arc<tokio::sync::Mutex<Taken>> {
        let mut channels = self.channels();
        if channels.len() >= TRACKED_CHANNELS && !channels.contains_key(&id) {
            let now = Instant::now();
            channels.retain(|_, taken| match taken.try_lock() {
                Ok(taken) => taken.last_used.is_some_and(|at| now - at < IDLE),
                Err(_) => true,
            });
        }
        Arc::clone(channels.entry(id).or_default())
    }

    /// Runs `take` on `msg` and on every earlier recent message of its channel
    /// not yet taken, oldest first, one channel at a time.
    pub(crate) async fn take_in_order<F, Fut>(&self, cache: &Cache, msg: Message, mut take: F)
    where
        F: FnMut(Message) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let taken = self.channel(msg.channel_id);
        let mut taken = taken.lock().await;
        taken.last_used = Some(Instant::now());
        if taken.contains(msg.id) {
            return;
        }
        let mut batch = pending_before(cache, &msg, &taken);
        if !batch.iter().any(|m| m.id == msg.id) {
            batch.push(msg);
        }
        batch.sort_by_key(|m| m.id);
        for message in batch {
            taken.insert(message.id);
            take(message).await;
        }
    }
}

/// Cached messages of `msg`'s channel from shortly before it up to it, not yet taken.
fn pending_before(cache: &Cache, msg: &Message, taken: &Taken) -> Vec<Message> {
    let Some(messages) = cache.channel_messages(msg.channel_id) else {
        return Vec::new();
    };
    let catch_up = CATCH_UP.as_millis() as u64;
    let since = millis(msg.id).saturating_sub(catch_up);
    messages
        .values()
        .filter(|m| m.id <= msg.id && millis(m.id) >= since && !taken.contains(m.id))
        .cloned()
        .collect()
}

/// The creation time a snowflake carries, in milliseconds since Discord's epoch.
fn millis(id: MessageId) -> u64 {
    id.get() >> 22
}
