//! [`PgLocks`]: natter-core's [`Locks`] on Postgres advisory locks, which
//! is how several natter processes on one database keep a conversation's
//! turns in order: the process about to run a turn holds the conversation's
//! lock until the turn is stored, and a process with the next message waits
//! for it, then reads history that includes the first turn.
//!
//! A session-level advisory lock belongs to a connection, so a held lock
//! keeps one connection of a pool of its own (`[store] lock_connections`)
//! and lets go by unlocking and returning it. A connection whose state is in
//! doubt — a wait given up half-way, a failed unlock — is closed instead of
//! returned: the server ends the session and with it every lock it held, so
//! a lock is never left behind, not even by a process killed outright.

use std::time::Duration;

use async_trait::async_trait;
use natter_core::store::{LockGuard, Locks, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use tracing::debug;

use crate::error::query_error;

/// Locks are keyed by a 64-bit hash of their name (`hashtextextended`, in
/// the server): two names sharing a hash only wait for each other.
const LOCK: &str = "SELECT pg_advisory_lock(hashtextextended($1, 0))";
const TRY_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

/// How long a lock waits for a connection of its own: as long as it takes
/// (the engine bounds how many turns run at once), but not forever.
const CONNECTION_WAIT: Duration = Duration::from_secs(3_600);
/// Lock connections unused this long are closed.
const IDLE: Duration = Duration::from_secs(60);

/// Named locks every process on one Postgres database shares.
#[derive(Clone, Debug)]
pub struct PgLocks {
    pool: PgPool,
}

impl PgLocks {
    /// Locks on the database `options` reach, holding at most `connections`
    /// locks at once (more wait for one to be let go). Connects lazily.
    pub fn new(options: PgConnectOptions, connections: u32) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(1))
            .min_connections(0)
            .acquire_timeout(CONNECTION_WAIT)
            .idle_timeout(IDLE)
            .connect_lazy_with(options);
        Self { pool }
    }

    /// Closes every lock connection, waiting for held locks to be let go.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn connection(&self) -> Result<InDoubt, StoreError> {
        Ok(InDoubt(Some(
            self.pool.acquire().await.map_err(query_error)?,
        )))
    }
}

#[async_trait]
impl Locks for PgLocks {
    async fn lock(&self, name: &str) -> Result<LockGuard, StoreError> {
        let mut connection = self.connection().await?;
        sqlx::query(LOCK)
            .bind(name)
            .execute(connection.as_mut()?)
            .await
            .map_err(query_error)?;
        Ok(LockGuard::new(connection.held(name)))
    }

    async fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        let mut connection = self.connection().await?;
        let locked: bool = sqlx::query_scalar(TRY_LOCK)
            .bind(name)
            .fetch_one(connection.as_mut()?)
            .await
            .map_err(query_error)?;
        if !locked {
            // Known state, nothing held: back to the pool.
            drop(connection.0.take());
            return Ok(None);
        }
        Ok(Some(LockGuard::new(connection.held(name))))
    }

    fn shared(&self) -> bool {
        true
    }
}

/// A connection that may hold a lock nobody will unlock: closed, not
/// returned, if dropped before it is known to hold what it should.
struct InDoubt(Option<PoolConnection<Postgres>>);

impl InDoubt {
    fn as_mut(&mut self) -> Result<&mut sqlx::PgConnection, StoreError> {
        self.0
            .as_deref_mut()
            .ok_or_else(|| StoreError::Query("the lock connection is gone".to_owned()))
    }

    /// The connection now holds `name`.
    fn held(mut self, name: &str) -> Held {
        Held {
            connection: self.0.take(),
            name: name.to_owned(),
        }
    }
}

impl Drop for InDoubt {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            // Closing the session lets go of whatever the server granted.
            drop(connection.detach());
        }
    }
}

/// A connection holding the lock `name`: unlocked and returned to the pool
/// when dropped (closed if that cannot be done).
struct Held {
    connection: Option<PoolConnection<Postgres>>,
    name: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let mut connection = InDoubt(Some(connection));
        let name = std::mem::take(&mut self.name);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // `connection` is closed, which unlocks.
        };
        runtime.spawn(async move {
            let Ok(conn) = connection.as_mut() else {
                return;
            };
            match sqlx::query_scalar::<_, bool>(UNLOCK)
                .bind(&name)
                .fetch_one(conn)
                .await
            {
                Ok(true) => {
                    // Known state: back to the pool.
                    drop(connection.0.take());
                }
                Ok(false) => debug!(%name, "lock was not held at unlock; closing its connection"),
                Err(error) => debug!(%name, %error, "could not unlock; closing the connection"),
            }
        });
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("name", &self.name).finish()
    }
}
