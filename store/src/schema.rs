//! The database schema: migrations embedded in the binary (one set per database
//! kind, in `store/migrations/`), run at start, and the guard that refuses a
//! database written by a newer natter.

use natter_core::StoreError;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{PgConnection, SqliteConnection};

use crate::error::{query_error, unavailable};

/// The SQLite migrations.
pub(crate) static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
/// The Postgres migrations.
pub(crate) static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The table sqlx records applied migrations in.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// The newest schema version this build knows for `migrator`.
pub(crate) fn known_version(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest schema version this build of natter writes.
pub fn schema_version() -> i64 {
    known_version(&SQLITE).max(known_version(&POSTGRES))
}

/// The newest migration applied to a SQLite database, `None` for a new one.
pub(crate) async fn sqlite_version(
    connection: &mut SqliteConnection,
) -> Result<Option<i64>, StoreError> {
    let exists: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
            .bind(MIGRATIONS_TABLE)
            .fetch_one(&mut *connection)
            .await
            .map_err(query_error)?;
    if exists == 0 {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *connection)
        .await
        .map_err(query_error)
}

/// The newest migration applied to a Postgres schema, `None` for a new one.
pub(crate) async fn postgres_version(
    connection: &mut PgConnection,
) -> Result<Option<i64>, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(MIGRATIONS_TABLE)
        .fetch_one(&mut *connection)
        .await
        .map_err(query_error)?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *connection)
        .await
        .map_err(query_error)
}

/// Refuses a database whose schema is newer than this build's.
pub(crate) fn refuse_newer(found: Option<i64>, migrator: &Migrator) -> Result<(), StoreError> {
    let known = known_version(migrator);
    match found {
        Some(found) if found > known => Err(StoreError::TooNew { found, known }),
        _ => Ok(()),
    }
}

/// Turns a migration failure into something the user can act on.
pub(crate) fn migrate_error(error: MigrateError, migrator: &Migrator) -> StoreError {
    let known = known_version(migrator);
    match error {
        MigrateError::VersionMissing(found) | MigrateError::VersionTooNew(found, _) => {
            StoreError::TooNew {
                found: found.max(known + 1),
                known,
            }
        }
        MigrateError::VersionMismatch(version) => StoreError::Corrupt(format!(
            "schema migration {version} differs from the one this natter ships; \
             the database was changed by hand or by a modified build"
        )),
        MigrateError::Dirty(version) => StoreError::Corrupt(format!(
            "schema migration {version} failed part-way earlier; restore a backup"
        )),
        MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => {
            unavailable(error)
        }
        other => StoreError::Unavailable(format!("cannot prepare the schema: {other}")),
    }
}
