//! Opening the store the settings name: connect, tune SQLite, run the embedded
//! migrations (refusing a database from a newer natter), and put the bounded
//! conversation cache in front when this process owns the database. Also the
//! read-only [`check`] behind `natter check`.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use natter_core::store::{CachedStore, MemoryStore, StoreError, Stores};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tracing::{info, instrument};

use crate::error::unavailable;
use crate::locks::PgLocks;
use crate::schema::{self, POSTGRES, SQLITE, known_version};
use crate::settings::{StoreKind, StoreSettings};
use crate::sql::{Pool, SqlStore};
use crate::writer::Writer;

/// How long to wait for a connection before calling the database unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the store `settings` name and prepares its schema: the stores the
/// engine is built with (`EngineBuilder::store`). With SQLite (and with Postgres
/// if `cache_conversations` is set) history comes through a [`CachedStore`].
///
/// Fails with [`StoreError::TooNew`] for a database written by a newer natter,
/// and [`StoreError::Unavailable`] when the database cannot be reached.
#[instrument(skip_all, fields(store = %settings.describe()))]
pub async fn open(settings: &StoreSettings) -> Result<Stores, StoreError> {
    let kind = settings.kind()?;
    let store = match kind {
        StoreKind::Memory => return Ok(Stores::new(Arc::new(MemoryStore::new()))),
        StoreKind::Sqlite | StoreKind::Postgres => Arc::new(connect(settings).await?),
    };
    let mut stores = Stores::new(store.clone());
    if kind == StoreKind::Postgres {
        let locks = PgLocks::new(postgres_options(settings)?, settings.lock_connections);
        stores = stores.with_locks(Arc::new(locks));
    }
    let stores = match NonZeroUsize::new(settings.cache_for(kind)) {
        Some(conversations) => {
            stores.with_history(Arc::new(CachedStore::new(store, conversations)))
        }
        None => stores,
    };
    info!("store ready");
    Ok(stores)
}

/// Connects to the SQLite or Postgres database `settings` name and migrates it,
/// without the cache. [`open`] is what the binary wants; this is for tools and
/// tests that need [`SqlStore::close`].
pub async fn connect(settings: &StoreSettings) -> Result<SqlStore, StoreError> {
    match settings.kind()? {
        StoreKind::Sqlite => sqlite_store(settings).await,
        StoreKind::Postgres => {
            let pool = postgres_pool(settings).await?;
            let mut connection = pool.acquire().await.map_err(unavailable)?;
            let found = schema::postgres_version(&mut connection).await?;
            drop(connection);
            schema::refuse_newer(found, &POSTGRES)?;
            POSTGRES
                .run(&pool)
                .await
                .map_err(|e| schema::migrate_error(e, &POSTGRES))?;
            Ok(SqlStore::new(Pool::Postgres(pool)))
        }
        StoreKind::Memory => Err(StoreError::Unavailable(
            "\"memory\" is not a database; use open()".to_owned(),
        )),
    }
}

/// True for SQLite URLs that name a database living only in the connection.
fn sqlite_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn sqlite_options(settings: &StoreSettings) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str(settings.url.expose())
        .map_err(unavailable)?
        .busy_timeout(Duration::from_millis(settings.busy_timeout_ms))
        .foreign_keys(true))
}

/// The SQLite store: the writer's connection (opened first: it creates the
/// file, sets WAL mode and migrates) and a pool of `max_connections` readers.
async fn sqlite_store(settings: &StoreSettings) -> Result<SqlStore, StoreError> {
    if sqlite_in_memory(settings.url.expose()) {
        return Err(StoreError::Unavailable(
            "an in-memory SQLite database is not supported; use url = \"memory\"".to_owned(),
        ));
    }
    let options = sqlite_options(settings)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    create_parent_dir(options.get_filename()).await?;
    // Migrate through a pool of one (what sqlx's migrator wants), then write
    // through a connection of the writer's own.
    let setup = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(unavailable)?;
    let mut connection = setup.acquire().await.map_err(unavailable)?;
    let found = schema::sqlite_version(&mut connection).await?;
    drop(connection);
    schema::refuse_newer(found, &SQLITE)?;
    SQLITE
        .run(&setup)
        .await
        .map_err(|e| schema::migrate_error(e, &SQLITE))?;
    setup.close().await;
    // The writer's checkpoints run elsewhere (see `writer`).
    let writer = options
        .clone()
        .pragma("wal_autocheckpoint", "0")
        .connect()
        .await
        .map_err(unavailable)?;
    let read = SqlitePoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(unavailable)?;
    Ok(SqlStore::new(Pool::Sqlite {
        write: Writer::spawn(writer, read.clone()),
        read,
    }))
}

async fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

fn postgres_options(settings: &StoreSettings) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(settings.url.expose())
        .map_err(unavailable)?
        .disable_statement_logging())
}

async fn postgres_pool(settings: &StoreSettings) -> Result<sqlx::PgPool, StoreError> {
    let options = postgres_options(settings)?;
    // One connection first, so a server that refuses or is not there says
    // so at once, rather than as a pool timing out ten seconds later.
    let first = tokio::time::timeout(ACQUIRE_TIMEOUT, sqlx::PgConnection::connect_with(&options))
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "the server did not answer within {} s",
                ACQUIRE_TIMEOUT.as_secs()
            ))
        })?
        .map_err(unavailable)?;
    first.close().await.map_err(unavailable)?;
    PgPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(unavailable)
}

/// The locks the processes on `settings`' database share: `None` unless it
/// is Postgres (a SQLite file or memory belongs to one process). For tools
/// such as `natter check` asking whether another process holds a lock.
pub fn postgres_locks(settings: &StoreSettings) -> Result<Option<PgLocks>, StoreError> {
    match settings.kind()? {
        StoreKind::Postgres => Ok(Some(PgLocks::new(postgres_options(settings)?, 1))),
        StoreKind::Sqlite | StoreKind::Memory => Ok(None),
    }
}

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreCheck {
    /// Which kind of store.
    pub kind: StoreKind,
    /// The store in words, password redacted ([`StoreSettings::describe`]).
    pub description: String,
    /// The state of its schema.
    pub schema: SchemaState,
}

/// The schema of a database natter could open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaState {
    /// The in-memory store has no schema.
    InMemory,
    /// The database (or the SQLite file) does not exist yet, or is empty; it
    /// will be created at start.
    WillBeCreated,
    /// The schema is this build's.
    UpToDate(i64),
    /// An older natter's schema; it will be migrated at start.
    WillMigrate {
        /// The version found.
        found: i64,
        /// This build's.
        known: i64,
    },
}

impl fmt::Display for StoreCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.description)?;
        match self.schema {
            SchemaState::InMemory => f.write_str("ok"),
            SchemaState::WillBeCreated => f.write_str("ok, will be created at start"),
            SchemaState::UpToDate(version) => write!(f, "ok, schema {version}"),
            SchemaState::WillMigrate { found, known } => {
                write!(f, "ok, schema {found} will be upgraded to {known} at start")
            }
        }
    }
}

/// Whether natter could open the store `settings` name, without creating or
/// changing anything: for `natter check`. Errors are the ones [`open`] would
/// give (unreachable database, newer schema).
pub async fn check(settings: &StoreSettings) -> Result<StoreCheck, StoreError> {
    let kind = settings.kind()?;
    let schema = match kind {
        StoreKind::Memory => SchemaState::InMemory,
        StoreKind::Sqlite => check_sqlite(settings).await?,
        StoreKind::Postgres => check_postgres(settings).await?,
    };
    Ok(StoreCheck {
        kind,
        description: settings.describe(),
        schema,
    })
}

fn schema_state(found: Option<i64>, known: i64) -> Result<SchemaState, StoreError> {
    Ok(match found {
        None => SchemaState::WillBeCreated,
        Some(found) if found > known => return Err(StoreError::TooNew { found, known }),
        Some(found) if found == known => SchemaState::UpToDate(found),
        Some(found) => SchemaState::WillMigrate { found, known },
    })
}

async fn check_sqlite(settings: &StoreSettings) -> Result<SchemaState, StoreError> {
    if sqlite_in_memory(settings.url.expose()) {
        return Ok(SchemaState::WillBeCreated);
    }
    let options = sqlite_options(settings)?.read_only(true);
    let file = options.get_filename().to_owned();
    if !tokio::fs::try_exists(&file).await.unwrap_or(false) {
        return Ok(SchemaState::WillBeCreated);
    }
    let mut connection = options.connect().await.map_err(unavailable)?;
    let found = schema::sqlite_version(&mut connection).await;
    let _ = connection.close().await;
    schema_state(found?, known_version(&SQLITE))
}

async fn check_postgres(settings: &StoreSettings) -> Result<SchemaState, StoreError> {
    // One connection, no retries: `natter check` answers promptly.
    let mut connection = postgres_options(settings)?
        .connect()
        .await
        .map_err(unavailable)?;
    let found = schema::postgres_version(&mut connection).await;
    let _ = connection.close().await;
    schema_state(found?, known_version(&POSTGRES))
}
