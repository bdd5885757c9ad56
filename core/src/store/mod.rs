//! What natter remembers between messages and across restarts, split by who
//! needs it: [`HistoryStore`] (turns, their [`RollingSummary`], persona and
//! model choices), [`StateStore`]
//! (plugins' state), [`JobStore`] (scheduled jobs) and [`UsageStore`] (the
//! usage ledger). A database implements all four — that is a [`Store`] — and
//! the engine holds one handle per part in [`Stores`], so a wrapper replaces
//! only the part it wraps.
//!
//! [`MemoryStore`] forgets on exit; `natter-store` implements the same traits
//! on SQLite and Postgres, and every implementation passes one conformance
//! suite. [`CachedStore`] puts a bounded LRU of recently active conversations
//! in front of any [`HistoryStore`]. The engine times every store operation
//! (`metered`, the `natter_store_seconds` metric).

mod cache;
mod locks;
mod memory;
mod metered;

pub use cache::CachedStore;
pub use locks::{LockGuard, Locks, NoLocks, conversation_lock};
pub use memory::MemoryStore;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;
use crate::message::{ConversationKey, Platform};

/// One exchange: a user message, the tool calls and results on the way (if
/// any), and the complete reply. Turns are stored whole or not at all, so a
/// failed or cancelled reply never enters history, and a follow-up ("move it
/// to 10") sees what the tools did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// What the user said.
    pub user: ChatMessage,
    /// The assistant's tool calls and the tools' results, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ChatMessage>,
    /// What the model answered.
    pub assistant: ChatMessage,
}

impl Turn {
    /// A turn of `user` and `assistant`, with no tool steps.
    pub fn new(user: ChatMessage, assistant: ChatMessage) -> Self {
        Self {
            user,
            steps: Vec::new(),
            assistant,
        }
    }

    /// Every message of the turn, in order.
    pub fn messages(&self) -> impl Iterator<Item = &ChatMessage> {
        std::iter::once(&self.user)
            .chain(&self.steps)
            .chain(std::iter::once(&self.assistant))
    }
}

/// What a conversation's oldest turns said, in a few sentences: kept when
/// they no longer fit the model's context window, and put at the top of the
/// prompt in their place.
///
/// Turns are numbered 1, 2, 3, … in the order they were appended since the
/// conversation's history was last cleared ([`HistoryStore::turn_count`] is
/// the newest one's number). A store that forgets its oldest turns keeps
/// counting, so a number always names the same turn and the summary's
/// coverage never shifts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollingSummary {
    /// The summary.
    pub text: String,
    /// How many of the conversation's oldest turns it covers: turns 1 to
    /// `turns_covered`.
    pub turns_covered: u64,
}

/// One row of the usage ledger: a model call and what it cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The conversation.
    pub key: ConversationKey,
    /// The user whose message caused the call.
    pub user_id: String,
    /// Backend kind ("openai", "llama").
    pub backend: String,
    /// Model name.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// Seconds of voice transcribed.
    #[serde(default)]
    pub audio_seconds: u32,
    /// Pictures made.
    #[serde(default)]
    pub images: u32,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: i64,
}

/// A job to run at a given time (reminders), owned by a plugin namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledJob {
    /// Assigned by the store.
    pub id: i64,
    /// The plugin that owns it.
    pub namespace: String,
    /// Who it belongs to (a user id), for listing and cancelling.
    pub owner: String,
    /// When it is due, in milliseconds since the Unix epoch.
    pub due_unix_ms: i64,
    /// What the plugin needs to run it.
    pub payload: serde_json::Value,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot open the store: {0}")]
    Unavailable(String),
    /// The database was written by a newer natter.
    #[error("the store was written by a newer natter (schema {found}, this build knows {known})")]
    TooNew {
        /// The schema version found.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Which conversations [`HistoryStore::list_conversations`] lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// Only this platform's.
    pub platform: Option<Platform>,
    /// Only those whose scope or stored messages contain this text (ASCII
    /// letters compared without case; `%` and `_` are plain characters).
    pub text: Option<String>,
}

/// A conversation with stored history, as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The conversation.
    pub key: ConversationKey,
    /// Turns stored.
    pub turns: u64,
    /// When its newest turn was stored, in milliseconds since the Unix epoch.
    pub last_active_ms: i64,
    /// What the user said in its newest turn.
    pub last_user_text: String,
}

/// A conversation's history and the persona and model choices made at run
/// time: what a chat turn reads and writes. [`CachedStore`] caches it.
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// The newest `limit` turns of `key`, oldest first.
    async fn load_turns(
        &self,
        key: &ConversationKey,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError>;

    /// Adds a complete turn to `key`'s history, atomically.
    async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError>;

    /// Forgets `key`'s history and its summary; turn numbers start again at 1.
    async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError>;

    /// How many turns were appended to `key` since its history was last
    /// cleared: the number of its newest turn (see [`RollingSummary`]).
    async fn turn_count(&self, key: &ConversationKey) -> Result<u64, StoreError>;

    /// `key`'s rolling summary, if one was saved since its history was last cleared.
    async fn summary(&self, key: &ConversationKey) -> Result<Option<RollingSummary>, StoreError>;

    /// Saves `summary` as `key`'s rolling summary, replacing the one before.
    async fn save_summary(
        &self,
        key: &ConversationKey,
        summary: &RollingSummary,
    ) -> Result<(), StoreError>;

    /// Up to `limit` conversations with stored history that `filter` picks,
    /// the most recently active first (for dashboards).
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError>;

    /// The persona chosen for `scope` at run time, if any.
    async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError>;

    /// Chooses (`Some`) or forgets (`None`) the persona for `scope`.
    async fn set_persona_override(
        &self,
        scope: &str,
        persona: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The model chosen for `scope` (a conversation) at run time, if any.
    async fn model_override(&self, scope: &str) -> Result<Option<String>, StoreError>;

    /// Chooses (`Some`) or forgets (`None`) the model for `scope`.
    async fn set_model_override(&self, scope: &str, model: Option<&str>) -> Result<(), StoreError>;
}

/// Plugins' own key/value state, one namespace per plugin.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// A plugin's value for `key` in its `namespace`.
    async fn plugin_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError>;

    /// Sets a plugin's value.
    async fn plugin_put(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Removes a plugin's value; true if it existed.
    async fn plugin_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError>;

    /// A plugin's keys starting with `prefix`, sorted, with their values.
    async fn plugin_list(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError>;
}

/// A job a process has taken from the store: it holds the job until
/// `until_unix_ms` unless it renews the lease, and no other process takes it
/// meanwhile. A holder that dies lets the lease run out, and the job is taken
/// again: jobs run at least once, never lost with a crashed process.
#[derive(Clone, Debug, PartialEq)]
pub struct LeasedJob {
    /// The job.
    pub job: ScheduledJob,
    /// Who holds it: the token given to [`JobStore::lease_due_jobs`].
    pub holder: String,
    /// Until when, in milliseconds since the Unix epoch.
    pub until_unix_ms: i64,
    /// How many times the job has been taken, this time included: more than
    /// one means an earlier holder let go or let its lease run out.
    pub attempt: u32,
}

/// Jobs plugins scheduled for later (reminders).
///
/// Taking a job leases it rather than removing it: the job stays in the store
/// until its holder reports it done ([`JobStore::finish_job`]), so a process
/// killed while holding one does not lose it — once the lease runs out,
/// another process (or the next start) takes it again.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Schedules a job (its `id` is ignored); returns the assigned id.
    async fn schedule_job(&self, job: &ScheduledJob) -> Result<i64, StoreError>;

    /// Leases up to `limit` jobs due at or before `now_unix_ms` that nobody
    /// holds (or whose lease ran out by then) to `holder` until
    /// `lease_until_unix_ms`, earliest first. A job is held by one holder at
    /// a time, even with several processes taking jobs at once.
    async fn lease_due_jobs(
        &self,
        now_unix_ms: i64,
        lease_until_unix_ms: i64,
        holder: &str,
        limit: usize,
    ) -> Result<Vec<LeasedJob>, StoreError>;

    /// Extends `holder`'s lease of job `id` to `until_unix_ms`; false if the
    /// job is no longer held by `holder` (done, cancelled, or taken by
    /// another after the lease ran out).
    async fn renew_job_lease(
        &self,
        id: i64,
        holder: &str,
        until_unix_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Removes job `id`, done by `holder`; false if `holder` no longer held
    /// it (cancelled, or taken by another after the lease ran out).
    async fn finish_job(&self, id: i64, holder: &str) -> Result<bool, StoreError>;

    /// `holder` lets go of job `id` without running it: it is due again at
    /// `due_unix_ms`. False if `holder` no longer held it.
    async fn release_job(
        &self,
        id: i64,
        holder: &str,
        due_unix_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Pending jobs of `owner` in `namespace` (held ones included), earliest first.
    async fn list_jobs(
        &self,
        namespace: &str,
        owner: &str,
    ) -> Result<Vec<ScheduledJob>, StoreError>;

    /// Cancels a pending job of `owner`; true if it existed.
    async fn cancel_job(&self, namespace: &str, owner: &str, id: i64) -> Result<bool, StoreError>;

    /// When a job can next be taken: the earliest due time of a job nobody
    /// holds, or the end of a lease, so a scheduler knows how long to sleep.
    async fn next_job_due(&self) -> Result<Option<i64>, StoreError>;
}

/// Whose usage a question is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageScope {
    /// One user on one platform (user ids are per platform).
    User {
        /// The platform.
        platform: crate::message::Platform,
        /// The platform's user id.
        user_id: String,
    },
    /// One conversation (a private chat, a group, a thread).
    Conversation(ConversationKey),
    /// Everyone.
    Everyone,
}

/// Tokens of one model over a span of time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotal {
    /// The model's name.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Model calls.
    pub calls: u64,
    /// Seconds of voice transcribed.
    #[serde(default)]
    pub audio_seconds: u64,
    /// Pictures made.
    #[serde(default)]
    pub images: u64,
}

/// One user's tokens over a span of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTotal {
    /// The platform.
    pub platform: String,
    /// The platform's user id.
    pub user_id: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
}

/// The usage ledger: one row per model call, and what was spent.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds a row to the usage ledger.
    async fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError>;

    /// Per model, the tokens `scope` used from `since_ms` (inclusive) to
    /// `until_ms` (exclusive), models in name order.
    async fn usage_totals(
        &self,
        scope: &UsageScope,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<UsageTotal>, StoreError>;

    /// The `limit` users who used most tokens in the span, most first.
    async fn top_users(
        &self,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<UserTotal>, StoreError>;
}

/// A database that keeps everything: history, plugin state, jobs and usage.
/// Implemented for every type that implements the four parts.
pub trait Store: HistoryStore + StateStore + JobStore + UsageStore {}

impl<T: HistoryStore + StateStore + JobStore + UsageStore + ?Sized> Store for T {}

/// The store behind each part of what natter remembers. Usually one database
/// serves all four; a wrapper (a cache, a test probe) replaces just the part
/// it wraps.
#[derive(Clone)]
pub struct Stores {
    /// Turns and persona choices.
    pub history: Arc<dyn HistoryStore>,
    /// Plugins' state.
    pub state: Arc<dyn StateStore>,
    /// Scheduled jobs.
    pub jobs: Arc<dyn JobStore>,
    /// The usage ledger.
    pub usage: Arc<dyn UsageStore>,
    /// Locks shared with the other processes on the same database
    /// ([`NoLocks`] when there are none).
    pub locks: Arc<dyn Locks>,
}

impl Stores {
    /// Every part kept by `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            history: store.clone(),
            state: store.clone(),
            jobs: store.clone(),
            usage: store,
            locks: Arc::new(NoLocks),
        }
    }

    /// The same stores with locks shared by several processes (Postgres).
    pub fn with_locks(mut self, locks: Arc<dyn Locks>) -> Self {
        self.locks = locks;
        self
    }

    /// The same stores with history kept by `history` (e.g. a [`CachedStore`]
    /// in front of the database).
    pub fn with_history(mut self, history: Arc<dyn HistoryStore>) -> Self {
        self.history = history;
        self
    }

    /// The same stores, every operation timed (the `natter_store_seconds`
    /// metric). The engine meters the stores it is given.
    pub fn metered(self) -> Self {
        metered::wrap(self)
    }
}

impl<S: Store + 'static> From<Arc<S>> for Stores {
    fn from(store: Arc<S>) -> Self {
        Self::new(store)
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
