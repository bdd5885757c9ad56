//! [`CachedStore`]: keeps the recent turns of recently active conversations in
//! memory — with their turn count and rolling summary — in front of any
//! [`HistoryStore`], so the context window of a busy conversation is served
//! without a database round trip.
//!
//! The cache is an LRU capped at a number of conversations: memory is bounded by
//! the cap, not by how many conversations the bot has ever seen. Writes go
//! through to the inner store first; a conversation evicted from the cache is
//! simply read again from the inner store the next time it is needed.
//!
//! It is sound when this process is the only writer of the conversations it
//! caches (SQLite, or the in-memory store). Several processes sharing one
//! Postgres database must not put it in front of that database, or one would not
//! see the turns the others add.

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use lru::LruCache;

use super::{
    ConversationFilter, ConversationSummary, HistoryStore, RollingSummary, StoreError, Turn,
};
use crate::message::ConversationKey;

/// Turns kept per cached conversation at most, whatever window is asked for.
const DEFAULT_MAX_TURNS: usize = 1_000;
/// Write counters; a key maps to one of them. More stripes, fewer needless misses.
const STRIPES: usize = 256;

/// What the cache holds for one conversation: its newest turns, oldest first.
struct Entry {
    turns: VecDeque<Turn>,
    /// True when `turns` is the conversation's whole history.
    complete: bool,
    /// The key's stripe counter when the entry was read from the inner store.
    loaded_at: u64,
    /// The conversation's turn count, and the stripe counter when it was
    /// read from the inner store; `None` until asked for.
    count: Option<(u64, u64)>,
}

/// A write-through LRU cache of recent turns (and of the persona overrides
/// looked up for them) in front of another [`HistoryStore`]. Plugin state,
/// usage and jobs are not its business: [`super::Stores`] keeps them apart.
pub struct CachedStore {
    inner: Arc<dyn HistoryStore>,
    cache: Mutex<LruCache<ConversationKey, Entry>>,
    /// Persona override per scope, `None` cached too (most scopes have none).
    personas: Mutex<LruCache<String, Option<String>>>,
    /// Rolling summary per conversation, `None` cached too.
    summaries: Mutex<LruCache<ConversationKey, Option<RollingSummary>>>,
    /// Turns kept per conversation: the largest window asked for so far, capped.
    keep: AtomicUsize,
    max_turns: usize,
    /// Bumped around every history write of a key in the stripe, so a load that
    /// raced a write does not cache what it read.
    stripes: Box<[AtomicU64]>,
    hasher: RandomState,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("conversations", &self.cached_conversations())
            .field("capacity", &self.lock().cap())
            .field("max_turns", &self.max_turns)
            .finish_non_exhaustive()
    }
}

impl CachedStore {
    /// A cache of at most `conversations` conversations in front of `inner`.
    pub fn new(inner: Arc<dyn HistoryStore>, conversations: NonZeroUsize) -> Self {
        Self {
            inner,
            cache: Mutex::new(LruCache::new(conversations)),
            // A conversation looks up a few scopes (thread, channel, server).
            personas: Mutex::new(LruCache::new(
                NonZeroUsize::new(conversations.get().saturating_mul(4)).unwrap_or(conversations),
            )),
            summaries: Mutex::new(LruCache::new(conversations)),
            keep: AtomicUsize::new(1),
            max_turns: DEFAULT_MAX_TURNS,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The same cache keeping at most `turns` turns per conversation (default
    /// 1,000); windows larger than that are read from the inner store.
    pub fn with_max_turns(mut self, turns: usize) -> Self {
        self.max_turns = turns.max(1);
        self
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &Arc<dyn HistoryStore> {
        &self.inner
    }

    /// How many conversations are cached right now.
    pub fn cached_conversations(&self) -> usize {
        self.lock().len()
    }

    /// How many turns are cached right now, over all conversations.
    pub fn cached_turns(&self) -> usize {
        self.lock().iter().map(|(_, entry)| entry.turns.len()).sum()
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<ConversationKey, Entry>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn summaries(&self) -> MutexGuard<'_, LruCache<ConversationKey, Option<RollingSummary>>> {
        self.summaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn stripe(&self, key: &(impl std::hash::Hash + ?Sized)) -> &AtomicU64 {
        let index = (self.hasher.hash_one(key) as usize) % self.stripes.len();
        &self.stripes[index]
    }

    /// `key`'s value from `lru`, else from `read` (the inner store), kept
    /// unless a write to the same key began meanwhile (its stripe moved on).
    async fn read_through<K, V>(
        &self,
        lru: &Mutex<LruCache<K, V>>,
        key: K,
        read: impl Future<Output = Result<V, StoreError>>,
    ) -> Result<V, StoreError>
    where
        K: std::hash::Hash + Eq,
        V: Clone,
    {
        let stripe = self.stripe(&key);
        let version = {
            let mut cached = lru.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(value) = cached.get(&key) {
                return Ok(value.clone());
            }
            stripe.load(Ordering::SeqCst)
        };
        let value = read.await?;
        let mut cached = lru.lock().unwrap_or_else(PoisonError::into_inner);
        if stripe.load(Ordering::SeqCst) == version {
            cached.put(key, value.clone());
        }
        Ok(value)
    }

    /// Runs `write` (to the inner store) for `key`, moving its stripe on
    /// before and after so no read racing it is kept, and forgets the cached
    /// value: read again next time, simpler than proving no lookup raced it.
    async fn write_through<K, V>(
        &self,
        lru: &Mutex<LruCache<K, V>>,
        key: &K,
        write: impl Future<Output = Result<(), StoreError>>,
    ) -> Result<(), StoreError>
    where
        K: std::hash::Hash + Eq,
    {
        {
            let _guard = lru.lock().unwrap_or_else(PoisonError::into_inner);
            self.stripe(key).fetch_add(1, Ordering::SeqCst);
        }
        let written = write.await;
        let mut cached = lru.lock().unwrap_or_else(PoisonError::into_inner);
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
        cached.pop(key);
        written
    }

    /// Marks the start of a history write; returns the stripe's new counter.
    fn begin_write(&self, key: &ConversationKey) -> u64 {
        let _guard = self.lock();
        self.stripe(key).fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// The newest `limit` of `turns`, oldest first.
fn newest(turns: impl ExactSizeIterator<Item = Turn>, limit: usize) -> Vec<Turn> {
    let skip = turns.len().saturating_sub(limit);
    turns.skip(skip).collect()
}

#[async_trait]
impl HistoryStore for CachedStore {
    async fn load_turns(
        &self,
        key: &ConversationKey,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError> {
        self.keep
            .fetch_max(limit.min(self.max_turns), Ordering::Relaxed);
        let keep = self.keep.load(Ordering::Relaxed);
        let stripe = self.stripe(key);
        let version = {
            let mut cache = self.lock();
            if let Some(entry) = cache.get(key)
                && (entry.complete || entry.turns.len() >= limit)
            {
                return Ok(newest(entry.turns.iter().cloned(), limit));
            }
            stripe.load(Ordering::SeqCst)
        };
        let want = limit.max(keep);
        let turns = self.inner.load_turns(key, want).await?;
        let entry = Entry {
            complete: turns.len() < want && turns.len() <= keep,
            turns: newest(turns.iter().cloned(), keep).into(),
            loaded_at: version,
            count: None,
        };
        {
            let mut cache = self.lock();
            if stripe.load(Ordering::SeqCst) == version {
                cache.put(key.clone(), entry);
            }
        }
        Ok(newest(turns.into_iter(), limit))
    }

    async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError> {
        let started = self.begin_write(key);
        let written = self.inner.append_turn(key, turn).await;
        let mut cache = self.lock();
        let before = self.stripe(key).fetch_add(1, Ordering::SeqCst);
        let keep = self.keep.load(Ordering::Relaxed);
        // Extend the cached history only if it was read before this write began
        // and no other write to the stripe ran meanwhile; otherwise it may
        // already hold this turn, or miss another, so it is read again later.
        let extend = written.is_ok()
            && before == started
            && cache
                .peek(key)
                .is_some_and(|entry| entry.loaded_at < started);
        if extend {
            if let Some(entry) = cache.get_mut(key) {
                // A count read after this write began may include the turn already.
                entry.count = entry
                    .count
                    .filter(|(_, read_at)| *read_at < started)
                    .map(|(count, read_at)| (count + 1, read_at));
                entry.turns.push_back(turn.clone());
                while entry.turns.len() > keep {
                    entry.turns.pop_front();
                    entry.complete = false;
                }
            }
        } else {
            cache.pop(key);
        }
        written
    }

    async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError> {
        self.begin_write(key);
        let cleared = self.inner.clear_history(key).await;
        let mut cache = self.lock();
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
        cache.pop(key);
        drop(cache);
        self.summaries().pop(key);
        cleared
    }

    async fn turn_count(&self, key: &ConversationKey) -> Result<u64, StoreError> {
        let stripe = self.stripe(key);
        let version = {
            let mut cache = self.lock();
            if let Some((count, _)) = cache.get(key).and_then(|entry| entry.count) {
                return Ok(count);
            }
            stripe.load(Ordering::SeqCst)
        };
        let count = self.inner.turn_count(key).await?;
        let mut cache = self.lock();
        if stripe.load(Ordering::SeqCst) == version
            && let Some(entry) = cache.get_mut(key)
        {
            entry.count = Some((count, version));
        }
        Ok(count)
    }

    async fn summary(&self, key: &ConversationKey) -> Result<Option<RollingSummary>, StoreError> {
        self.read_through(&self.summaries, key.clone(), self.inner.summary(key))
            .await
    }

    async fn save_summary(
        &self,
        key: &ConversationKey,
        summary: &RollingSummary,
    ) -> Result<(), StoreError> {
        self.write_through(&self.summaries, key, self.inner.save_summary(key, summary))
            .await
    }

    // Listings are for dashboards: read from the store of record.
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        self.inner.list_conversations(filter, limit).await
    }

    async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        self.read_through(
            &self.personas,
            scope.to_owned(),
            self.inner.persona_override(scope),
        )
        .await
    }

    async fn set_persona_override(
        &self,
        scope: &str,
        persona: Option<&str>,
    ) -> Result<(), StoreError> {
        let write = self.inner.set_persona_override(scope, persona);
        self.write_through(&self.personas, &scope.to_owned(), write)
            .await
    }

    // Model choices are rare and read once per message: not worth caching.
    async fn model_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        self.inner.model_override(scope).await
    }

    async fn set_model_override(&self, scope: &str, model: Option<&str>) -> Result<(), StoreError> {
        self.inner.set_model_override(scope, model).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::{Notify, oneshot};

    use super::*;
    use crate::chat::ChatMessage;
    use crate::message::Platform;
    use crate::store::MemoryStore;

    fn key(n: usize) -> ConversationKey {
        ConversationKey::new(Platform::new("test"), format!("chat/{n}"))
    }

    fn turn(n: usize) -> Turn {
        Turn::new(
            ChatMessage::user(format!("q{n}")),
            ChatMessage::assistant(format!("a{n}")),
        )
    }

    fn cap(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    /// Counts history reads and can hold one read or write at a gate.
    #[derive(Default)]
    struct Probe {
        inner: MemoryStore,
        loads: AtomicUsize,
        counts: AtomicUsize,
        summary_reads: AtomicUsize,
        hold_load: Mutex<Option<(oneshot::Sender<()>, Arc<Notify>)>>,
        hold_append: Mutex<Option<(oneshot::Sender<()>, Arc<Notify>)>>,
    }

    impl Probe {
        /// Makes the next load (or append) stop after touching the inner store,
        /// reporting on the returned receiver, until the notify is signalled.
        fn hold(
            slot: &Mutex<Option<(oneshot::Sender<()>, Arc<Notify>)>>,
        ) -> (oneshot::Receiver<()>, Arc<Notify>) {
            let (tx, rx) = oneshot::channel();
            let release = Arc::new(Notify::new());
            *slot.lock().unwrap() = Some((tx, release.clone()));
            (rx, release)
        }

        async fn gate(slot: &Mutex<Option<(oneshot::Sender<()>, Arc<Notify>)>>) {
            let held = slot.lock().unwrap().take();
            if let Some((reached, release)) = held {
                let _ = reached.send(());
                release.notified().await;
            }
        }
    }

    #[async_trait]
    impl HistoryStore for Probe {
        async fn load_turns(
            &self,
            key: &ConversationKey,
            limit: usize,
        ) -> Result<Vec<Turn>, StoreError> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let turns = self.inner.load_turns(key, limit).await;
            Self::gate(&self.hold_load).await;
            turns
        }
        async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError> {
            let done = self.inner.append_turn(key, turn).await;
            Self::gate(&self.hold_append).await;
            done
        }
        async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError> {
            self.inner.clear_history(key).await
        }
        async fn turn_count(&self, key: &ConversationKey) -> Result<u64, StoreError> {
            self.counts.fetch_add(1, Ordering::SeqCst);
            self.inner.turn_count(key).await
        }
        async fn summary(
            &self,
            key: &ConversationKey,
        ) -> Result<Option<RollingSummary>, StoreError> {
            self.summary_reads.fetch_add(1, Ordering::SeqCst);
            self.inner.summary(key).await
        }
        async fn save_summary(
            &self,
            key: &ConversationKey,
            summary: &RollingSummary,
        ) -> Result<(), StoreError> {
            self.inner.save_summary(key, summary).await
        }
        async fn list_conversations(
            &self,
            filter: &ConversationFilter,
            limit: usize,
        ) -> Result<Vec<ConversationSummary>, StoreError> {
            self.inner.list_conversations(filter, limit).await
        }
        async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
            self.inner.persona_override(scope).await
        }
        async fn set_persona_override(
            &self,
            scope: &str,
            persona: Option<&str>,
        ) -> Result<(), StoreError> {
            self.inner.set_persona_override(scope, persona).await
        }
        async fn model_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
            self.inner.model_override(scope).await
        }
        async fn set_model_override(
            &self,
            scope: &str,
            model: Option<&str>,
        ) -> Result<(), StoreError> {
            self.inner.set_model_override(scope, model).await
        }
    }

    fn cached(conversations: usize) -> (Arc<Probe>, Arc<CachedStore>) {
        let probe = Arc::new(Probe::default());
        let store = Arc::new(CachedStore::new(probe.clone(), cap(conversations)));
        (probe, store)
    }

    #[tokio::test]
    async fn a_cached_conversation_is_served_without_reading_the_inner_store() {
        let (probe, store) = cached(10);
        assert!(store.load_turns(&key(1), 5).await.unwrap().is_empty());
        for n in 0..8 {
            store.append_turn(&key(1), &turn(n)).await.unwrap();
            store.load_turns(&key(1), 5).await.unwrap();
        }
        assert_eq!(
            probe.loads.load(Ordering::SeqCst),
            1,
            "only the first load misses"
        );
        assert_eq!(
            store.load_turns(&key(1), 5).await.unwrap(),
            (3..8).map(turn).collect::<Vec<_>>()
        );
        assert_eq!(
            probe.inner.load_turns(&key(1), 100).await.unwrap(),
            (0..8).map(turn).collect::<Vec<_>>(),
            "writes go through"
        );
        assert!(store.cached_turns() <= 5, "keeps only the window asked for");
    }

    #[tokio::test]
    async fn memory_is_bounded_by_the_cap_and_evicted_conversations_reload() {
        let (probe, store) = cached(100);
        for n in 0..5_000 {
            store.load_turns(&key(n), 10).await.unwrap();
            store.append_turn(&key(n), &turn(n)).await.unwrap();
        }
        assert_eq!(store.cached_conversations(), 100);
        assert_eq!(store.cached_turns(), 100);
        assert_eq!(probe.inner.conversation_count(), 5_000);
        let loads = probe.loads.load(Ordering::SeqCst);
        assert_eq!(store.load_turns(&key(7), 10).await.unwrap(), vec![turn(7)]);
        assert_eq!(
            probe.loads.load(Ordering::SeqCst),
            loads + 1,
            "evicted: read again"
        );
    }

    #[tokio::test]
    async fn a_larger_window_than_cached_is_read_from_the_inner_store() {
        let (probe, store) = cached(10);
        for n in 0..20 {
            probe.inner.append_turn(&key(1), &turn(n)).await.unwrap();
        }
        assert_eq!(store.load_turns(&key(1), 3).await.unwrap().len(), 3);
        assert_eq!(
            store.load_turns(&key(1), 10).await.unwrap(),
            (10..20).map(turn).collect::<Vec<_>>()
        );
        assert_eq!(probe.loads.load(Ordering::SeqCst), 2);
        store.load_turns(&key(1), 10).await.unwrap();
        assert_eq!(probe.loads.load(Ordering::SeqCst), 2, "now cached at 10");
    }

    #[tokio::test]
    async fn persona_overrides_are_cached_and_written_through() {
        let (probe, store) = cached(10);
        assert_eq!(store.persona_override("s/1").await.unwrap(), None);
        probe
            .inner
            .set_persona_override("s/1", Some("behind the cache's back"))
            .await
            .unwrap();
        assert_eq!(
            store.persona_override("s/1").await.unwrap(),
            None,
            "served from the cache"
        );
        store
            .set_persona_override("s/1", Some("pirate"))
            .await
            .unwrap();
        assert_eq!(
            probe
                .inner
                .persona_override("s/1")
                .await
                .unwrap()
                .as_deref(),
            Some("pirate")
        );
        assert_eq!(
            store.persona_override("s/1").await.unwrap().as_deref(),
            Some("pirate")
        );
        store.set_persona_override("s/1", None).await.unwrap();
        assert_eq!(store.persona_override("s/1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn clearing_forgets_the_cached_history() {
        let (_, store) = cached(10);
        store.load_turns(&key(1), 5).await.unwrap();
        store.append_turn(&key(1), &turn(1)).await.unwrap();
        store.clear_history(&key(1)).await.unwrap();
        assert!(store.load_turns(&key(1), 5).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_write_during_a_miss_is_not_lost() {
        let (probe, store) = cached(10);
        let (reached, release) = Probe::hold(&probe.hold_load);
        let loading = tokio::spawn({
            let store = store.clone();
            async move { store.load_turns(&key(1), 5).await.unwrap() }
        });
        reached.await.unwrap(); // the load has read an empty history
        store.append_turn(&key(1), &turn(1)).await.unwrap();
        release.notify_one();
        assert!(loading.await.unwrap().is_empty());
        assert_eq!(store.load_turns(&key(1), 5).await.unwrap(), vec![turn(1)]);
    }

    #[tokio::test]
    async fn a_miss_during_a_write_does_not_duplicate_the_turn() {
        let (probe, store) = cached(10);
        let (reached, release) = Probe::hold(&probe.hold_append);
        let appending = tokio::spawn({
            let store = store.clone();
            async move { store.append_turn(&key(1), &turn(1)).await.unwrap() }
        });
        reached.await.unwrap(); // written to the inner store, cache not yet updated
        assert_eq!(store.load_turns(&key(1), 5).await.unwrap(), vec![turn(1)]);
        release.notify_one();
        appending.await.unwrap();
        assert_eq!(store.load_turns(&key(1), 5).await.unwrap(), vec![turn(1)]);
    }

    #[tokio::test]
    async fn turn_counts_and_summaries_are_cached_and_cleared_with_the_history() {
        let (probe, store) = cached(10);
        store.load_turns(&key(1), 5).await.unwrap();
        store.append_turn(&key(1), &turn(1)).await.unwrap();
        assert_eq!(store.turn_count(&key(1)).await.unwrap(), 1);
        store.append_turn(&key(1), &turn(2)).await.unwrap();
        assert_eq!(store.turn_count(&key(1)).await.unwrap(), 2);
        assert_eq!(probe.counts.load(Ordering::SeqCst), 1, "counted once");

        assert_eq!(store.summary(&key(1)).await.unwrap(), None);
        let summary = RollingSummary {
            text: "Alice asked twice.".into(),
            turns_covered: 1,
        };
        store.save_summary(&key(1), &summary).await.unwrap();
        assert_eq!(
            probe.inner.summary(&key(1)).await.unwrap().as_ref(),
            Some(&summary),
            "written through"
        );
        assert_eq!(
            store.summary(&key(1)).await.unwrap().as_ref(),
            Some(&summary)
        );
        assert_eq!(
            store.summary(&key(1)).await.unwrap().as_ref(),
            Some(&summary)
        );
        assert_eq!(probe.summary_reads.load(Ordering::SeqCst), 2, "then cached");

        store.clear_history(&key(1)).await.unwrap();
        assert_eq!(store.summary(&key(1)).await.unwrap(), None);
        store.load_turns(&key(1), 5).await.unwrap();
        assert_eq!(store.turn_count(&key(1)).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_count_read_during_a_write_is_not_counted_twice() {
        let (probe, store) = cached(10);
        store.load_turns(&key(1), 5).await.unwrap();
        let (reached, release) = Probe::hold(&probe.hold_append);
        let appending = tokio::spawn({
            let store = store.clone();
            async move { store.append_turn(&key(1), &turn(1)).await.unwrap() }
        });
        reached.await.unwrap(); // written to the inner store, cache not yet updated
        assert_eq!(store.turn_count(&key(1)).await.unwrap(), 1);
        release.notify_one();
        appending.await.unwrap();
        assert_eq!(store.turn_count(&key(1)).await.unwrap(), 1);
    }
}
