//! [`Metered`]: every store operation timed, as the engine sees it (cache
//! hits included), into the `natter_store_seconds` histogram labelled with
//! the operation and whether it succeeded. Wraps each part of [`Stores`].

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{
    ConversationFilter, ConversationSummary, HistoryStore, JobStore, LeasedJob, LockGuard, Locks,
    RollingSummary, ScheduledJob, StateStore, StoreError, Stores, Turn, UsageRecord, UsageScope,
    UsageStore, UsageTotal, UserTotal,
};
use crate::message::ConversationKey;
use crate::telemetry;

/// A store part whose operations are timed.
pub(crate) struct Metered<T: ?Sized>(Arc<T>);

/// `stores` with every part metered.
pub(crate) fn wrap(stores: Stores) -> Stores {
    Stores {
        history: Arc::new(Metered(stores.history)),
        state: Arc::new(Metered(stores.state)),
        jobs: Arc::new(Metered(stores.jobs)),
        usage: Arc::new(Metered(stores.usage)),
        locks: Arc::new(Metered(stores.locks)),
    }
}

/// Runs `operation`, recording how long `op` took and whether it succeeded.
async fn timed<T>(
    op: &'static str,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = operation.await;
    telemetry::store_op(op, started.elapsed(), result.is_ok());
    result
}

#[async_trait]
impl HistoryStore for Metered<dyn HistoryStore> {
    async fn load_turns(
        &self,
        key: &ConversationKey,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError> {
        timed("load_turns", self.0.load_turns(key, limit)).await
    }

    async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError> {
        timed("append_turn", self.0.append_turn(key, turn)).await
    }

    async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError> {
        timed("clear_history", self.0.clear_history(key)).await
    }

    async fn turn_count(&self, key: &ConversationKey) -> Result<u64, StoreError> {
        timed("turn_count", self.0.turn_count(key)).await
    }

    async fn summary(&self, key: &ConversationKey) -> Result<Option<RollingSummary>, StoreError> {
        timed("summary", self.0.summary(key)).await
    }

    async fn save_summary(
        &self,
        key: &ConversationKey,
        summary: &RollingSummary,
    ) -> Result<(), StoreError> {
        timed("save_summary", self.0.save_summary(key, summary)).await
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        timed(
            "list_conversations",
            self.0.list_conversations(filter, limit),
        )
        .await
    }

    async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        timed("persona_override", self.0.persona_override(scope)).await
    }

    async fn set_persona_override(
        &self,
        scope: &str,
        persona: Option<&str>,
    ) -> Result<(), StoreError> {
        timed(
            "set_persona_override",
            self.0.set_persona_override(scope, persona),
        )
        .await
    }

    async fn model_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        timed("model_override", self.0.model_override(scope)).await
    }

    async fn set_model_override(&self, scope: &str, model: Option<&str>) -> Result<(), StoreError> {
        timed(
            "set_model_override",
            self.0.set_model_override(scope, model),
        )
        .await
    }
}

#[async_trait]
impl StateStore for Metered<dyn StateStore> {
    async fn plugin_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        timed("plugin_get", self.0.plugin_get(namespace, key)).await
    }

    async fn plugin_put(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        timed("plugin_put", self.0.plugin_put(namespace, key, value)).await
    }

    async fn plugin_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        timed("plugin_delete", self.0.plugin_delete(namespace, key)).await
    }

    async fn plugin_list(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        timed("plugin_list", self.0.plugin_list(namespace, prefix)).await
    }
}

#[async_trait]
impl JobStore for Metered<dyn JobStore> {
    async fn schedule_job(&self, job: &ScheduledJob) -> Result<i64, StoreError> {
        timed("schedule_job", self.0.schedule_job(job)).await
    }

    async fn lease_due_jobs(
        &self,
        now_unix_ms: i64,
        lease_until_unix_ms: i64,
        holder: &str,
        limit: usize,
    ) -> Result<Vec<LeasedJob>, StoreError> {
        let lease = self
            .0
            .lease_due_jobs(now_unix_ms, lease_until_unix_ms, holder, limit);
        timed("lease_due_jobs", lease).await
    }

    async fn renew_job_lease(
        &self,
        id: i64,
        holder: &str,
        until_unix_ms: i64,
    ) -> Result<bool, StoreError> {
        timed(
            "renew_job_lease",
            self.0.renew_job_lease(id, holder, until_unix_ms),
        )
        .await
    }

    async fn finish_job(&self, id: i64, holder: &str) -> Result<bool, StoreError> {
        timed("finish_job", self.0.finish_job(id, holder)).await
    }

    async fn release_job(
        &self,
        id: i64,
        holder: &str,
        due_unix_ms: i64,
    ) -> Result<bool, StoreError> {
        timed("release_job", self.0.release_job(id, holder, due_unix_ms)).await
    }

    async fn list_jobs(
        &self,
        namespace: &str,
        owner: &str,
    ) -> Result<Vec<ScheduledJob>, StoreError> {
        timed("list_jobs", self.0.list_jobs(namespace, owner)).await
    }

    async fn cancel_job(&self, namespace: &str, owner: &str, id: i64) -> Result<bool, StoreError> {
        timed("cancel_job", self.0.cancel_job(namespace, owner, id)).await
    }

    async fn next_job_due(&self) -> Result<Option<i64>, StoreError> {
        timed("next_job_due", self.0.next_job_due()).await
    }
}

#[async_trait]
impl Locks for Metered<dyn Locks> {
    async fn lock(&self, name: &str) -> Result<LockGuard, StoreError> {
        timed("lock", self.0.lock(name)).await
    }

    async fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        timed("try_lock", self.0.try_lock(name)).await
    }

    fn shared(&self) -> bool {
        self.0.shared()
    }
}

#[async_trait]
impl UsageStore for Metered<dyn UsageStore> {
    async fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        timed("record_usage", self.0.record_usage(record)).await
    }

    async fn usage_totals(
        &self,
        scope: &UsageScope,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<UsageTotal>, StoreError> {
        timed(
            "usage_totals",
            self.0.usage_totals(scope, since_ms, until_ms),
        )
        .await
    }

    async fn top_users(
        &self,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<UserTotal>, StoreError> {
        timed("top_users", self.0.top_users(since_ms, until_ms, limit)).await
    }
}
