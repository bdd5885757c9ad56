//! The [`ConversationStore`] trait: what natter remembers between messages and
//! across restarts, and [`MemoryStore`], the implementation that forgets on exit.
//!
//! `natter-store` implements the same trait on SQLite and Postgres; every
//! implementation passes one conformance suite. [`CachedStore`] wraps any of
//! them with a bounded LRU of recently active conversations.

mod cache;
mod memory;

pub use cache::CachedStore;
pub use memory::MemoryStore;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;
use crate::message::ConversationKey;

/// One exchange: a user message and the complete reply to it. Turns are stored
/// whole or not at all, so a failed or cancelled reply never enters history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// What the user said.
    pub user: ChatMessage,
    /// What the model answered.
    pub assistant: ChatMessage,
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

/// Where conversations, persona choices, plugin state, usage and scheduled jobs live.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The newest `limit` turns of `key`, oldest first.
    async fn load_turns(
        &self,
        key: &ConversationKey,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError>;

    /// Adds a complete turn to `key`'s history, atomically.
    async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError>;

    /// Forgets `key`'s history.
    async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError>;

    /// The persona chosen for `scope` at run time, if any.
    async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError>;

    /// Chooses (`Some`) or forgets (`None`) the persona for `scope`.
    async fn set_persona_override(
        &self,
        scope: &str,
        persona: Option<&str>,
    ) -> Result<(), StoreError>;

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

    /// Adds a row to the usage ledger.
    async fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError>;

    /// Schedules a job (its `id` is ignored); returns the assigned id.
    async fn schedule_job(&self, job: &ScheduledJob) -> Result<i64, StoreError>;

    /// Removes and returns up to `limit` jobs due at or before `now_unix_ms`,
    /// earliest first. A job is taken once, even by several processes.
    async fn take_due_jobs(
        &self,
        now_unix_ms: i64,
        limit: usize,
    ) -> Result<Vec<ScheduledJob>, StoreError>;

    /// Pending jobs of `owner` in `namespace`, earliest first.
    async fn list_jobs(
        &self,
        namespace: &str,
        owner: &str,
    ) -> Result<Vec<ScheduledJob>, StoreError>;

    /// Cancels a pending job of `owner`; true if it existed.
    async fn cancel_job(&self, namespace: &str, owner: &str, id: i64) -> Result<bool, StoreError>;

    /// The earliest due time of any pending job, so a scheduler knows how long to sleep.
    async fn next_job_due(&self) -> Result<Option<i64>, StoreError>;
}
