//! [`MemoryStore`]: the store that lives in the process and forgets on exit.
//! Used by tests and by `[store] url = "memory"`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use tokio::sync::watch;

use super::{
    ConversationFilter, ConversationSummary, HistoryStore, JobStore, LeasedJob, RollingSummary,
    ScheduledJob, StateStore, StoreError, Turn, UsageRecord, UsageScope, UsageStore, UsageTotal,
    UserTotal,
};
use crate::message::ConversationKey;

/// Turns kept per conversation; older ones can never fit a context window anyway.
const DEFAULT_TURNS_KEPT: usize = 1_000;
/// Usage rows kept; the memory store is not a ledger of record.
const USAGE_KEPT: usize = 10_000;

/// An in-process [`super::Store`]: every part, in memory.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    turns_kept: usize,
    /// Summaries saved so far, for tests to wait on.
    summaries_saved: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct State {
    turns: HashMap<ConversationKey, VecDeque<Turn>>,
    /// Turns appended per conversation since it was last cleared, the ones
    /// no longer kept included: turn numbers never shift.
    appended: HashMap<ConversationKey, u64>,
    summaries: HashMap<ConversationKey, RollingSummary>,
    /// Each conversation's last append: (order of appends, Unix ms).
    active: HashMap<ConversationKey, (u64, i64)>,
    appends: u64,
    personas: HashMap<String, String>,
    models: HashMap<String, String>,
    plugin: HashMap<String, BTreeMap<String, serde_json::Value>>,
    usage: VecDeque<UsageRecord>,
    jobs: BTreeMap<i64, KeptJob>,
    next_job_id: i64,
}

/// A scheduled job and who holds it.
#[derive(Debug)]
struct KeptJob {
    job: ScheduledJob,
    /// The holder and the end of its lease.
    lease: Option<(String, i64)>,
    /// Times taken.
    attempts: u32,
}

impl KeptJob {
    /// Nobody holds it at `now`.
    fn free_at(&self, now_unix_ms: i64) -> bool {
        self.lease
            .as_ref()
            .is_none_or(|(_, until)| *until <= now_unix_ms)
    }

    fn held_by(&self, holder: &str) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|(held_by, _)| held_by == holder)
    }

    /// When it can next be taken.
    fn takeable_at(&self) -> i64 {
        match &self.lease {
            Some((_, until)) => self.job.due_unix_ms.max(*until),
            None => self.job.due_unix_ms,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::with_turns_kept(DEFAULT_TURNS_KEPT)
    }

    /// An empty store keeping at most `turns_kept` turns per conversation.
    pub fn with_turns_kept(turns_kept: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            turns_kept: turns_kept.max(1),
            summaries_saved: watch::channel(0).0,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Usage rows recorded so far, oldest first (for tests).
    pub fn usage(&self) -> Vec<UsageRecord> {
        self.state().usage.iter().cloned().collect()
    }

    /// Conversations with stored history (for tests).
    pub fn conversation_count(&self) -> usize {
        self.state().turns.len()
    }

    /// Waits until at least `n` summaries have been saved since the store
    /// was made (for tests of work done in the background).
    pub async fn wait_for_summaries(&self, n: usize) {
        let mut saved = self.summaries_saved.subscribe();
        let _ = saved.wait_for(|count| *count >= n).await;
    }
}

#[async_trait]
impl HistoryStore for MemoryStore {
    async fn load_turns(
        &self,
        key: &ConversationKey,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError> {
        let state = self.state();
        Ok(state
            .turns
            .get(key)
            .map(|turns| {
                let skip = turns.len().saturating_sub(limit);
                turns.iter().skip(skip).cloned().collect()
            })
            .unwrap_or_default())
    }

    async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError> {
        let mut state = self.state();
        let turns = state.turns.entry(key.clone()).or_default();
        turns.push_back(turn.clone());
        while turns.len() > self.turns_kept {
            turns.pop_front();
        }
        *state.appended.entry(key.clone()).or_default() += 1;
        state.appends += 1;
        let order = state.appends;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        state.active.insert(key.clone(), (order, now));
        Ok(())
    }

    async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError> {
        let mut state = self.state();
        state.turns.remove(key);
        state.active.remove(key);
        state.appended.remove(key);
        state.summaries.remove(key);
        Ok(())
    }

    async fn turn_count(&self, key: &ConversationKey) -> Result<u64, StoreError> {
        Ok(self.state().appended.get(key).copied().unwrap_or(0))
    }

    async fn summary(&self, key: &ConversationKey) -> Result<Option<RollingSummary>, StoreError> {
        Ok(self.state().summaries.get(key).cloned())
    }

    async fn save_summary(
        &self,
        key: &ConversationKey,
        summary: &RollingSummary,
    ) -> Result<(), StoreError> {
        self.state().summaries.insert(key.clone(), summary.clone());
        self.summaries_saved.send_modify(|saved| *saved += 1);
        Ok(())
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let state = self.state();
        let needle = filter.text.as_deref().map(str::to_ascii_lowercase);
        let contains = |text: &str| {
            needle
                .as_deref()
                .is_none_or(|needle| text.to_ascii_lowercase().contains(needle))
        };
        let mut found: Vec<(u64, ConversationSummary)> = state
            .turns
            .iter()
            .filter(|(key, turns)| {
                !turns.is_empty()
                    && filter.platform.is_none_or(|p| key.platform() == p)
                    && (contains(key.scope())
                        || turns
                            .iter()
                            .any(|t| contains(&t.user.content) || contains(&t.assistant.content)))
            })
            .map(|(key, turns)| {
                let (order, last_active_ms) = state.active.get(key).copied().unwrap_or_default();
                let summary = ConversationSummary {
                    key: key.clone(),
                    turns: turns.len() as u64,
                    last_active_ms,
                    last_user_text: turns
                        .back()
                        .map(|t| t.user.content.clone())
                        .unwrap_or_default(),
                };
                (order, summary)
            })
            .collect();
        found.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
        Ok(found
            .into_iter()
            .take(limit)
            .map(|(_, summary)| summary)
            .collect())
    }

    async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().personas.get(scope).cloned())
    }

    async fn set_persona_override(
        &self,
        scope: &str,
        persona: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        match persona {
            Some(name) => state.personas.insert(scope.to_owned(), name.to_owned()),
            None => state.personas.remove(scope),
        };
        Ok(())
    }

    async fn model_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().models.get(scope).cloned())
    }

    async fn set_model_override(&self, scope: &str, model: Option<&str>) -> Result<(), StoreError> {
        let mut state = self.state();
        match model {
            Some(name) => state.models.insert(scope.to_owned(), name.to_owned()),
            None => state.models.remove(scope),
        };
        Ok(())
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn plugin_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self
            .state()
            .plugin
            .get(namespace)
            .and_then(|values| values.get(key))
            .cloned())
    }

    async fn plugin_put(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.state()
            .plugin
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.clone());
        Ok(())
    }

    async fn plugin_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .state()
            .plugin
            .get_mut(namespace)
            .and_then(|values| values.remove(key))
            .is_some())
    }

    async fn plugin_list(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        Ok(self
            .state()
            .plugin
            .get(namespace)
            .map(|values| {
                values
                    .range(prefix.to_owned()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn schedule_job(&self, job: &ScheduledJob) -> Result<i64, StoreError> {
        let mut state = self.state();
        state.next_job_id += 1;
        let id = state.next_job_id;
        let job = ScheduledJob { id, ..job.clone() };
        state.jobs.insert(
            id,
            KeptJob {
                job,
                lease: None,
                attempts: 0,
            },
        );
        Ok(id)
    }

    async fn lease_due_jobs(
        &self,
        now_unix_ms: i64,
        lease_until_unix_ms: i64,
        holder: &str,
        limit: usize,
    ) -> Result<Vec<LeasedJob>, StoreError> {
        let mut state = self.state();
        let mut due: Vec<i64> = state
            .jobs
            .values()
            .filter(|kept| kept.job.due_unix_ms <= now_unix_ms && kept.free_at(now_unix_ms))
            .map(|kept| kept.job.id)
            .collect();
        due.sort_by_key(|id| state.jobs.get(id).map(|kept| (kept.job.due_unix_ms, *id)));
        due.truncate(limit);
        let mut leased = Vec::with_capacity(due.len());
        for id in due {
            if let Some(kept) = state.jobs.get_mut(&id) {
                kept.attempts = kept.attempts.saturating_add(1);
                kept.lease = Some((holder.to_owned(), lease_until_unix_ms));
                leased.push(LeasedJob {
                    job: kept.job.clone(),
                    holder: holder.to_owned(),
                    until_unix_ms: lease_until_unix_ms,
                    attempt: kept.attempts,
                });
            }
        }
        Ok(leased)
    }

    async fn renew_job_lease(
        &self,
        id: i64,
        holder: &str,
        until_unix_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.jobs.get_mut(&id) {
            Some(kept) if kept.held_by(holder) => {
                kept.lease = Some((holder.to_owned(), until_unix_ms));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn finish_job(&self, id: i64, holder: &str) -> Result<bool, StoreError> {
        let mut state = self.state();
        let held = state.jobs.get(&id).is_some_and(|kept| kept.held_by(holder));
        if held {
            state.jobs.remove(&id);
        }
        Ok(held)
    }

    async fn release_job(
        &self,
        id: i64,
        holder: &str,
        due_unix_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.jobs.get_mut(&id) {
            Some(kept) if kept.held_by(holder) => {
                kept.lease = None;
                kept.job.due_unix_ms = due_unix_ms;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_jobs(
        &self,
        namespace: &str,
        owner: &str,
    ) -> Result<Vec<ScheduledJob>, StoreError> {
        let mut jobs: Vec<ScheduledJob> = self
            .state()
            .jobs
            .values()
            .map(|kept| &kept.job)
            .filter(|job| job.namespace == namespace && job.owner == owner)
            .cloned()
            .collect();
        jobs.sort_by_key(|job| (job.due_unix_ms, job.id));
        Ok(jobs)
    }

    async fn cancel_job(&self, namespace: &str, owner: &str, id: i64) -> Result<bool, StoreError> {
        let mut state = self.state();
        let owned = state
            .jobs
            .get(&id)
            .is_some_and(|kept| kept.job.namespace == namespace && kept.job.owner == owner);
        if owned {
            state.jobs.remove(&id);
        }
        Ok(owned)
    }

    async fn next_job_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.state().jobs.values().map(KeptJob::takeable_at).min())
    }
}

#[async_trait]
impl UsageStore for MemoryStore {
    async fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        let mut state = self.state();
        state.usage.push_back(record.clone());
        while state.usage.len() > USAGE_KEPT {
            state.usage.pop_front();
        }
        Ok(())
    }

    async fn usage_totals(
        &self,
        scope: &UsageScope,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<UsageTotal>, StoreError> {
        let state = self.state();
        let mut totals: BTreeMap<&str, UsageTotal> = BTreeMap::new();
        let rows = state.usage.iter().filter(|row| {
            (since_ms..until_ms).contains(&row.at_unix_ms)
                && match scope {
                    UsageScope::User { platform, user_id } => {
                        row.key.platform() == *platform && row.user_id == *user_id
                    }
                    UsageScope::Conversation(key) => row.key == *key,
                    UsageScope::Everyone => true,
                }
        });
        for row in rows {
            let total = totals.entry(&row.model).or_insert_with(|| UsageTotal {
                model: row.model.clone(),
                ..UsageTotal::default()
            });
            total.prompt_tokens += u64::from(row.prompt_tokens);
            total.completion_tokens += u64::from(row.completion_tokens);
            total.calls += 1;
            total.audio_seconds += u64::from(row.audio_seconds);
            total.images += u64::from(row.images);
        }
        Ok(totals.into_values().collect())
    }

    async fn top_users(
        &self,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<UserTotal>, StoreError> {
        let state = self.state();
        let mut users: BTreeMap<(String, &str), UserTotal> = BTreeMap::new();
        for row in state
            .usage
            .iter()
            .filter(|row| (since_ms..until_ms).contains(&row.at_unix_ms))
        {
            let platform = row.key.platform().as_str().to_owned();
            let total = users
                .entry((platform.clone(), &row.user_id))
                .or_insert_with(|| UserTotal {
                    platform,
                    user_id: row.user_id.clone(),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                });
            total.prompt_tokens += u64::from(row.prompt_tokens);
            total.completion_tokens += u64::from(row.completion_tokens);
        }
        let mut users: Vec<UserTotal> = users.into_values().collect();
        users.sort_by_key(|user| std::cmp::Reverse(user.prompt_tokens + user.completion_tokens));
        users.truncate(limit);
        Ok(users)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::chat::ChatMessage;
    use crate::message::Platform;

    #[tokio::test]
    async fn turns_it_forgets_still_count_so_turn_numbers_never_shift() {
        let store = MemoryStore::with_turns_kept(2);
        let key = ConversationKey::new(Platform::new("test"), "chat");
        for n in 0..5 {
            let turn = Turn::new(
                ChatMessage::user(format!("q{n}")),
                ChatMessage::assistant(format!("a{n}")),
            );
            store.append_turn(&key, &turn).await.unwrap();
        }
        assert_eq!(store.load_turns(&key, 10).await.unwrap().len(), 2);
        assert_eq!(store.turn_count(&key).await.unwrap(), 5);
        store.clear_history(&key).await.unwrap();
        assert_eq!(store.turn_count(&key).await.unwrap(), 0);
    }
}
