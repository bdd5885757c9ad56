//! [`SqlStore`]: natter-core's store traits on SQLite or Postgres. The SQL is
//! shared (`$N` parameters work on both); only leasing due jobs differs,
//! because several processes on one Postgres database must never take the
//! same job at once.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use natter_core::ConversationKey;
use natter_core::store::{
    ConversationFilter, ConversationSummary, HistoryStore, JobStore, LeasedJob, RollingSummary,
    ScheduledJob, StateStore, StoreError, Turn, UsageRecord, UsageScope, UsageStore, UsageTotal,
    UserTotal,
};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgPool, SqlitePool};
use tracing::instrument;

use crate::error::query_error;
use crate::rows::{self, JobRow, LeasedJobRow, TurnRow, json_text, role_name, sql_int};
use crate::settings::StoreKind;
use crate::writer::{Arg, Writer, bind_all};

/// The connection pools of either kind.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    /// SQLite: readers in parallel, and one writer that commits waiting
    /// writes together (see `writer`).
    Sqlite {
        /// Connections for reads.
        read: SqlitePool,
        /// The task that owns the one connection for writes.
        write: Writer,
    },
    /// Postgres.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool for reads; the body is
/// compiled once per database kind.
macro_rules! reading {
    ($self:ident, $pool:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite { read: $pool, .. } => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// A [`natter_core::Store`] in a SQLite file or a Postgres database: every part.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: Pool,
}

/// How a SQLite connection is tuned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteTuning {
    /// `wal` for a file.
    pub journal_mode: String,
    /// 1 is `NORMAL`: durable at checkpoints, never corrupt.
    pub synchronous: i64,
    /// How long a write waits for another writer.
    pub busy_timeout_ms: i64,
}

const LOAD_TURNS: &str = "SELECT user_role, user_name, user_content, \
     assistant_role, assistant_name, assistant_content, steps, user_images \
     FROM turns WHERE platform = $1 AND scope = $2 ORDER BY id DESC LIMIT $3";
const APPEND_TURN: &str = "INSERT INTO turns (platform, scope, \
     user_role, user_name, user_content, assistant_role, assistant_name, assistant_content, \
     steps, user_images, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const CLEAR_HISTORY: &str = "DELETE FROM turns WHERE platform = $1 AND scope = $2";
/// Turns are never deleted one by one, so the count is the newest turn's number.
const COUNT_TURNS: &str =
    "SELECT CAST(COUNT(*) AS BIGINT) FROM turns WHERE platform = $1 AND scope = $2";
const GET_SUMMARY: &str =
    "SELECT text, turns_covered FROM summaries WHERE platform = $1 AND scope = $2";
const SET_SUMMARY: &str = "INSERT INTO summaries (platform, scope, text, turns_covered, \
     updated_at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform, scope) \
     DO UPDATE SET text = excluded.text, turns_covered = excluded.turns_covered, \
     updated_at_ms = excluded.updated_at_ms";
const CLEAR_SUMMARY: &str = "DELETE FROM summaries WHERE platform = $1 AND scope = $2";
/// Conversations with turns, newest activity first: `$1` a platform or '',
/// `$2` a LIKE pattern (escaped with `\`) or '', `$3` the limit. A dashboard
/// query: it reads every turn of the platform, which is fine at its pace.
const LIST_CONVERSATIONS: &str = "SELECT c.platform, c.scope, c.turns, c.last_ms, t.user_content \
     FROM (SELECT platform, scope, CAST(COUNT(*) AS BIGINT) AS turns, \
           MAX(created_at_ms) AS last_ms, MAX(id) AS last_id \
           FROM turns WHERE ($1 = '' OR platform = $1) GROUP BY platform, scope \
           HAVING $2 = '' OR lower(scope) LIKE lower($2) ESCAPE '\\' \
           OR MAX(CASE WHEN lower(user_content) LIKE lower($2) ESCAPE '\\' \
                  OR lower(assistant_content) LIKE lower($2) ESCAPE '\\' THEN 1 ELSE 0 END) = 1) c \
     JOIN turns t ON t.id = c.last_id ORDER BY c.last_id DESC LIMIT $3";
const GET_PERSONA: &str = "SELECT persona FROM persona_overrides WHERE scope = $1";
const SET_PERSONA: &str = "INSERT INTO persona_overrides (scope, persona, updated_at_ms) \
     VALUES ($1, $2, $3) ON CONFLICT (scope) \
     DO UPDATE SET persona = excluded.persona, updated_at_ms = excluded.updated_at_ms";
const UNSET_PERSONA: &str = "DELETE FROM persona_overrides WHERE scope = $1";
const GET_MODEL: &str = "SELECT model FROM model_overrides WHERE scope = $1";
const SET_MODEL: &str = "INSERT INTO model_overrides (scope, model, updated_at_ms) \
     VALUES ($1, $2, $3) ON CONFLICT (scope) \
     DO UPDATE SET model = excluded.model, updated_at_ms = excluded.updated_at_ms";
const UNSET_MODEL: &str = "DELETE FROM model_overrides WHERE scope = $1";
const PLUGIN_GET: &str = "SELECT value FROM plugin_state WHERE namespace = $1 AND key = $2";
const PLUGIN_PUT: &str = "INSERT INTO plugin_state (namespace, key, value, updated_at_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (namespace, key) \
     DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms";
const PLUGIN_DELETE: &str = "DELETE FROM plugin_state WHERE namespace = $1 AND key = $2";
const PLUGIN_LIST: &str = "SELECT key, value FROM plugin_state \
     WHERE namespace = $1 AND key >= $2 AND substr(key, 1, length($2)) = $2 ORDER BY key";
const TOTALS_OF_USER: &str = "SELECT model, CAST(SUM(prompt_tokens) AS BIGINT), \
     CAST(SUM(completion_tokens) AS BIGINT), CAST(COUNT(*) AS BIGINT), \
     CAST(SUM(audio_seconds) AS BIGINT), CAST(SUM(images) AS BIGINT) FROM usage_ledger \
     WHERE platform = $1 AND user_id = $2 AND at_ms >= $3 AND at_ms < $4 \
     GROUP BY model ORDER BY model";
const TOTALS_OF_CONVERSATION: &str = "SELECT model, CAST(SUM(prompt_tokens) AS BIGINT), \
     CAST(SUM(completion_tokens) AS BIGINT), CAST(COUNT(*) AS BIGINT), \
     CAST(SUM(audio_seconds) AS BIGINT), CAST(SUM(images) AS BIGINT) FROM usage_ledger \
     WHERE platform = $1 AND scope = $2 AND at_ms >= $3 AND at_ms < $4 \
     GROUP BY model ORDER BY model";
const TOTALS_OF_EVERYONE: &str = "SELECT model, CAST(SUM(prompt_tokens) AS BIGINT), \
     CAST(SUM(completion_tokens) AS BIGINT), CAST(COUNT(*) AS BIGINT), \
     CAST(SUM(audio_seconds) AS BIGINT), CAST(SUM(images) AS BIGINT) FROM usage_ledger \
     WHERE at_ms >= $1 AND at_ms < $2 GROUP BY model ORDER BY model";
const TOP_USERS: &str = "SELECT platform, user_id, CAST(SUM(prompt_tokens) AS BIGINT), \
     CAST(SUM(completion_tokens) AS BIGINT) FROM usage_ledger \
     WHERE at_ms >= $1 AND at_ms < $2 GROUP BY platform, user_id \
     ORDER BY SUM(prompt_tokens) + SUM(completion_tokens) DESC, platform, user_id LIMIT $3";
const RECORD_USAGE: &str = "INSERT INTO usage_ledger (platform, scope, user_id, backend, model, \
     prompt_tokens, completion_tokens, audio_seconds, images, at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const SCHEDULE_JOB: &str = "INSERT INTO scheduled_jobs (namespace, owner, due_ms, payload) \
     VALUES ($1, $2, $3, $4) RETURNING id";
/// Leases due jobs nobody holds: `$1` now, `$2` the limit, `$3` the holder,
/// `$4` the end of the lease. SQLite has one writer at a time, so a single
/// `UPDATE … RETURNING` hands each job to one holder.
const LEASE_DUE_JOBS_SQLITE: &str = "UPDATE scheduled_jobs \
     SET leased_by = $3, leased_until_ms = $4, attempts = attempts + 1 WHERE id IN \
     (SELECT id FROM scheduled_jobs WHERE due_ms <= $1 \
      AND (leased_until_ms IS NULL OR leased_until_ms <= $1) ORDER BY due_ms, id LIMIT $2) \
     RETURNING id, namespace, owner, due_ms, payload, attempts";
/// Postgres: rows another process is leasing are locked, and skipped; one
/// it leased meanwhile fails the re-checked condition.
const LEASE_DUE_JOBS_POSTGRES: &str = "UPDATE scheduled_jobs \
     SET leased_by = $3, leased_until_ms = $4, attempts = attempts + 1 WHERE id IN \
     (SELECT id FROM scheduled_jobs WHERE due_ms <= $1 \
      AND (leased_until_ms IS NULL OR leased_until_ms <= $1) ORDER BY due_ms, id LIMIT $2 \
      FOR UPDATE SKIP LOCKED) \
     AND (leased_until_ms IS NULL OR leased_until_ms <= $1) \
     RETURNING id, namespace, owner, due_ms, payload, attempts";
const RENEW_JOB_LEASE: &str =
    "UPDATE scheduled_jobs SET leased_until_ms = $3 WHERE id = $1 AND leased_by = $2";
const FINISH_JOB: &str = "DELETE FROM scheduled_jobs WHERE id = $1 AND leased_by = $2";
const RELEASE_JOB: &str = "UPDATE scheduled_jobs \
     SET due_ms = $3, leased_by = NULL, leased_until_ms = NULL WHERE id = $1 AND leased_by = $2";
const LIST_JOBS: &str = "SELECT id, namespace, owner, due_ms, payload FROM scheduled_jobs \
     WHERE namespace = $1 AND owner = $2 ORDER BY due_ms, id";
const CANCEL_JOB: &str =
    "DELETE FROM scheduled_jobs WHERE id = $1 AND namespace = $2 AND owner = $3";
/// When a job can next be taken: its due time, or the end of its lease.
const NEXT_JOB_DUE: &str = "SELECT MIN(CASE WHEN leased_until_ms > due_ms \
     THEN leased_until_ms ELSE due_ms END) FROM scheduled_jobs";

/// A LIKE pattern finding `text` anywhere, its `%`, `_` and `\\` taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl SqlStore {
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// SQLite or Postgres.
    pub fn kind(&self) -> StoreKind {
        match self.pool {
            Pool::Sqlite { .. } => StoreKind::Sqlite,
            Pool::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// Runs a write; returns the rows it changed.
    async fn execute(&self, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        match &self.pool {
            Pool::Sqlite { write, .. } => write.execute(sql, args).await,
            Pool::Postgres(pool) => bind_all!(sqlx::query(sql), &args)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
        }
        .map_err(query_error)
    }

    /// Inserts one row (`sql` is a plain `INSERT … VALUES (…)` into `table`).
    async fn insert(
        &self,
        table: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite { write, .. } => write.insert(table, sql, args).await,
            Pool::Postgres(pool) => bind_all!(sqlx::query(sql), &args)
                .execute(pool)
                .await
                .map(drop),
        }
        .map_err(query_error)
    }

    /// Runs a write; returns the rows it gave back (`RETURNING`).
    async fn fetch_written<T>(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match &self.pool {
            Pool::Sqlite { write, .. } => write
                .fetch_all(sql, args)
                .await
                .and_then(|rows| rows.iter().map(T::from_row).collect()),
            Pool::Postgres(pool) => bind_all!(sqlx::query_as(sql), &args).fetch_all(pool).await,
        }
        .map_err(query_error)
    }

    /// How SQLite connections are tuned (`None` for Postgres), for diagnostics.
    pub async fn sqlite_tuning(&self) -> Result<Option<SqliteTuning>, StoreError> {
        let Pool::Sqlite { read: pool, .. } = &self.pool else {
            return Ok(None);
        };
        let mut connection = pool.acquire().await.map_err(query_error)?;
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *connection)
            .await
            .map_err(query_error)?;
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *connection)
            .await
            .map_err(query_error)?;
        let busy_timeout_ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *connection)
            .await
            .map_err(query_error)?;
        Ok(Some(SqliteTuning {
            journal_mode,
            synchronous,
            busy_timeout_ms,
        }))
    }

    /// Closes every connection, waiting for those in use to be returned.
    /// SQLite folds its write-ahead log back into the file when the last closes.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { read, write } => {
                write.close().await;
                read.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

#[async_trait]
impl HistoryStore for SqlStore {
    #[instrument(level = "debug", skip(self), fields(conversation = %key))]
    async fn load_turns(
        &self,
        key: &ConversationKey,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError> {
        let rows: Vec<TurnRow> = reading!(self, pool => sqlx::query_as(LOAD_TURNS)
            .bind(key.platform().as_str())
            .bind(key.scope())
            .bind(sql_int(limit))
            .fetch_all(pool)
            .await)
        .map_err(query_error)?;
        rows.into_iter().rev().map(rows::turn).collect()
    }

    #[instrument(level = "debug", skip(self, turn), fields(conversation = %key))]
    async fn append_turn(&self, key: &ConversationKey, turn: &Turn) -> Result<(), StoreError> {
        // One row holds the whole turn: it is committed whole or not at all.
        let steps = rows::steps_text(&turn.steps)?;
        let images = rows::images_text(&turn.user.images)?;
        let args = vec![
            Arg::from(key.platform().as_str()),
            Arg::from(key.scope()),
            Arg::from(role_name(turn.user.role)),
            Arg::from(turn.user.name.as_deref()),
            Arg::from(turn.user.content.as_str()),
            Arg::from(role_name(turn.assistant.role)),
            Arg::from(turn.assistant.name.as_deref()),
            Arg::from(turn.assistant.content.as_str()),
            Arg::from(steps),
            Arg::from(images),
            Arg::from(now_ms()),
        ];
        self.insert("turns", APPEND_TURN, args).await
    }

    #[instrument(level = "debug", skip(self), fields(conversation = %key))]
    async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError> {
        let args = vec![Arg::from(key.platform().as_str()), Arg::from(key.scope())];
        // The summary first: should the second delete fail, the turns stay
        // and a summary is simply made again.
        self.execute(CLEAR_SUMMARY, args.clone()).await?;
        self.execute(CLEAR_HISTORY, args).await.map(drop)
    }

    #[instrument(level = "debug", skip(self), fields(conversation = %key))]
    async fn turn_count(&self, key: &ConversationKey) -> Result<u64, StoreError> {
        let count: i64 = reading!(self, pool => sqlx::query_scalar(COUNT_TURNS)
            .bind(key.platform().as_str())
            .bind(key.scope())
            .fetch_one(pool)
            .await)
        .map_err(query_error)?;
        Ok(rows::count(count))
    }

    #[instrument(level = "debug", skip(self), fields(conversation = %key))]
    async fn summary(&self, key: &ConversationKey) -> Result<Option<RollingSummary>, StoreError> {
        let row: Option<(String, i64)> = reading!(self, pool => sqlx::query_as(GET_SUMMARY)
            .bind(key.platform().as_str())
            .bind(key.scope())
            .fetch_optional(pool)
            .await)
        .map_err(query_error)?;
        Ok(row.map(|(text, covered)| RollingSummary {
            text,
            turns_covered: rows::count(covered),
        }))
    }

    #[instrument(level = "debug", skip(self, summary), fields(conversation = %key))]
    async fn save_summary(
        &self,
        key: &ConversationKey,
        summary: &RollingSummary,
    ) -> Result<(), StoreError> {
        let args = vec![
            Arg::from(key.platform().as_str()),
            Arg::from(key.scope()),
            Arg::from(summary.text.as_str()),
            Arg::from(i64::try_from(summary.turns_covered).unwrap_or(i64::MAX)),
            Arg::from(now_ms()),
        ];
        self.execute(SET_SUMMARY, args).await.map(drop)
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let platform = filter.platform.map(|p| p.as_str()).unwrap_or_default();
        let pattern = filter
            .text
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(like_pattern)
            .unwrap_or_default();
        let rows: Vec<(String, String, i64, i64, String)> =
            reading!(self, pool => sqlx::query_as(LIST_CONVERSATIONS)
                .bind(platform)
                .bind(pattern.as_str())
                .bind(sql_int(limit))
                .fetch_all(pool)
                .await)
            .map_err(query_error)?;
        rows.into_iter()
            .map(|(platform, scope, turns, last_active_ms, last_user_text)| {
                let platform = platform
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("platform {platform:?}: {e}")))?;
                Ok(ConversationSummary {
                    key: ConversationKey::new(platform, scope),
                    turns: rows::count(turns),
                    last_active_ms,
                    last_user_text,
                })
            })
            .collect()
    }

    async fn persona_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        reading!(self, pool => sqlx::query_scalar(GET_PERSONA)
            .bind(scope)
            .fetch_optional(pool)
            .await)
        .map_err(query_error)
    }

    async fn set_persona_override(
        &self,
        scope: &str,
        persona: Option<&str>,
    ) -> Result<(), StoreError> {
        match persona {
            Some(name) => {
                let args = vec![Arg::from(scope), Arg::from(name), Arg::from(now_ms())];
                self.execute(SET_PERSONA, args).await
            }
            None => self.execute(UNSET_PERSONA, vec![Arg::from(scope)]).await,
        }
        .map(drop)
    }

    async fn model_override(&self, scope: &str) -> Result<Option<String>, StoreError> {
        reading!(self, pool => sqlx::query_scalar(GET_MODEL)
            .bind(scope)
            .fetch_optional(pool)
            .await)
        .map_err(query_error)
    }

    async fn set_model_override(&self, scope: &str, model: Option<&str>) -> Result<(), StoreError> {
        match model {
            Some(name) => {
                let args = vec![Arg::from(scope), Arg::from(name), Arg::from(now_ms())];
                self.execute(SET_MODEL, args).await
            }
            None => self.execute(UNSET_MODEL, vec![Arg::from(scope)]).await,
        }
        .map(drop)
    }
}

#[async_trait]
impl StateStore for SqlStore {
    async fn plugin_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = reading!(self, pool => sqlx::query_scalar(PLUGIN_GET)
            .bind(namespace)
            .bind(key)
            .fetch_optional(pool)
            .await)
        .map_err(query_error)?;
        text.map(|text| rows::value(key, &text)).transpose()
    }

    async fn plugin_put(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let args = vec![
            Arg::from(namespace),
            Arg::from(key),
            Arg::from(json_text(value)),
            Arg::from(now_ms()),
        ];
        self.execute(PLUGIN_PUT, args).await.map(drop)
    }

    async fn plugin_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let args = vec![Arg::from(namespace), Arg::from(key)];
        Ok(self.execute(PLUGIN_DELETE, args).await? > 0)
    }

    async fn plugin_list(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let found: Vec<(String, String)> = reading!(self, pool => sqlx::query_as(PLUGIN_LIST)
            .bind(namespace)
            .bind(prefix)
            .fetch_all(pool)
            .await)
        .map_err(query_error)?;
        found
            .into_iter()
            .map(|(key, text)| {
                let value = rows::value(&key, &text)?;
                Ok((key, value))
            })
            .collect()
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn schedule_job(&self, job: &ScheduledJob) -> Result<i64, StoreError> {
        let args = vec![
            Arg::from(job.namespace.as_str()),
            Arg::from(job.owner.as_str()),
            Arg::from(job.due_unix_ms),
            Arg::from(json_text(&job.payload)),
        ];
        let ids: Vec<(i64,)> = self.fetch_written(SCHEDULE_JOB, args).await?;
        ids.first()
            .map(|(id,)| *id)
            .ok_or_else(|| StoreError::Query("scheduling a job returned no id".to_owned()))
    }

    async fn lease_due_jobs(
        &self,
        now_unix_ms: i64,
        lease_until_unix_ms: i64,
        holder: &str,
        limit: usize,
    ) -> Result<Vec<LeasedJob>, StoreError> {
        let sql = match self.pool {
            Pool::Sqlite { .. } => LEASE_DUE_JOBS_SQLITE,
            Pool::Postgres(_) => LEASE_DUE_JOBS_POSTGRES,
        };
        let args = vec![
            Arg::from(now_unix_ms),
            Arg::from(sql_int(limit)),
            Arg::from(holder),
            Arg::from(lease_until_unix_ms),
        ];
        let taken: Vec<LeasedJobRow> = self.fetch_written(sql, args).await?;
        let mut jobs = taken
            .into_iter()
            .map(|row| rows::leased_job(row, holder, lease_until_unix_ms))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING promises no order.
        jobs.sort_by_key(|leased| (leased.job.due_unix_ms, leased.job.id));
        Ok(jobs)
    }

    async fn renew_job_lease(
        &self,
        id: i64,
        holder: &str,
        until_unix_ms: i64,
    ) -> Result<bool, StoreError> {
        let args = vec![Arg::from(id), Arg::from(holder), Arg::from(until_unix_ms)];
        Ok(self.execute(RENEW_JOB_LEASE, args).await? > 0)
    }

    async fn finish_job(&self, id: i64, holder: &str) -> Result<bool, StoreError> {
        let args = vec![Arg::from(id), Arg::from(holder)];
        Ok(self.execute(FINISH_JOB, args).await? > 0)
    }

    async fn release_job(
        &self,
        id: i64,
        holder: &str,
        due_unix_ms: i64,
    ) -> Result<bool, StoreError> {
        let args = vec![Arg::from(id), Arg::from(holder), Arg::from(due_unix_ms)];
        Ok(self.execute(RELEASE_JOB, args).await? > 0)
    }

    async fn list_jobs(
        &self,
        namespace: &str,
        owner: &str,
    ) -> Result<Vec<ScheduledJob>, StoreError> {
        let found: Vec<JobRow> = reading!(self, pool => sqlx::query_as(LIST_JOBS)
            .bind(namespace)
            .bind(owner)
            .fetch_all(pool)
            .await)
        .map_err(query_error)?;
        found.into_iter().map(rows::job).collect()
    }

    async fn cancel_job(&self, namespace: &str, owner: &str, id: i64) -> Result<bool, StoreError> {
        let args = vec![Arg::from(id), Arg::from(namespace), Arg::from(owner)];
        Ok(self.execute(CANCEL_JOB, args).await? > 0)
    }

    async fn next_job_due(&self) -> Result<Option<i64>, StoreError> {
        reading!(self, pool => sqlx::query_scalar(NEXT_JOB_DUE)
            .fetch_one(pool)
            .await)
        .map_err(query_error)
    }
}

#[async_trait]
impl UsageStore for SqlStore {
    #[instrument(level = "debug", skip(self, record), fields(conversation = %record.key))]
    async fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        let args = vec![
            Arg::from(record.key.platform().as_str()),
            Arg::from(record.key.scope()),
            Arg::from(record.user_id.as_str()),
            Arg::from(record.backend.as_str()),
            Arg::from(record.model.as_str()),
            Arg::from(i64::from(record.prompt_tokens)),
            Arg::from(i64::from(record.completion_tokens)),
            Arg::from(i64::from(record.audio_seconds)),
            Arg::from(i64::from(record.images)),
            Arg::from(record.at_unix_ms),
        ];
        self.insert("usage_ledger", RECORD_USAGE, args).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn usage_totals(
        &self,
        scope: &UsageScope,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<UsageTotal>, StoreError> {
        let (sql, mut args) = match scope {
            UsageScope::User { platform, user_id } => (
                TOTALS_OF_USER,
                vec![Arg::from(platform.as_str()), Arg::from(user_id.as_str())],
            ),
            UsageScope::Conversation(key) => (
                TOTALS_OF_CONVERSATION,
                vec![Arg::from(key.platform().as_str()), Arg::from(key.scope())],
            ),
            UsageScope::Everyone => (TOTALS_OF_EVERYONE, Vec::new()),
        };
        args.extend([Arg::from(since_ms), Arg::from(until_ms)]);
        let rows: Vec<(String, i64, i64, i64, i64, i64)> = reading!(self, pool =>
            bind_all!(sqlx::query_as(sql), &args).fetch_all(pool).await)
        .map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(model, prompt, completion, calls, audio, images)| UsageTotal {
                    model,
                    prompt_tokens: rows::count(prompt),
                    completion_tokens: rows::count(completion),
                    calls: rows::count(calls),
                    audio_seconds: rows::count(audio),
                    images: rows::count(images),
                },
            )
            .collect())
    }

    #[instrument(level = "debug", skip(self))]
    async fn top_users(
        &self,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<UserTotal>, StoreError> {
        let args = vec![
            Arg::from(since_ms),
            Arg::from(until_ms),
            Arg::from(sql_int(limit)),
        ];
        let rows: Vec<(String, String, i64, i64)> = reading!(self, pool =>
            bind_all!(sqlx::query_as(TOP_USERS), &args).fetch_all(pool).await)
        .map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(|(platform, user_id, prompt, completion)| UserTotal {
                platform,
                user_id,
                prompt_tokens: rows::count(prompt),
                completion_tokens: rows::count(completion),
            })
            .collect())
    }
}
