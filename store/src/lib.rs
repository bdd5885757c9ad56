//! # natter-store — history that survives restarts
//!
//! natter-core's store traits ([`natter_core::Store`]) on a database: SQLite by default (one file, nothing to run), Postgres when several
//! natter processes share one database (Discord shards, Telegram webhook
//! replicas), or natter-core's in-memory store for `url = "memory"`.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[store]` section, [`StoreSettings`]; the URL as a secret, shown redacted |
//! | `open` | [`open`] (connect, migrate, cache) and [`check`] for `natter check` |
//! | `schema` | embedded migrations and the refusal of a newer natter's database |
//! | `sql` | [`SqlStore`]: the store traits on SQLite and Postgres |
//! | `writer` | SQLite's one writer, committing waiting writes together |
//! | `locks` | [`PgLocks`]: locks shared by the processes on one Postgres database |
//! | `rows` | rows ⇄ natter-core values |
//! | `error` | sqlx errors as [`StoreError`](natter_core::StoreError) |
//!
//! ```no_run
//! # async fn run() -> Result<(), natter_core::StoreError> {
//! let settings = natter_store::StoreSettings::default(); // sqlite://natter.db
//! let store = natter_store::open(&settings).await?;
//! # let _ = store; Ok(()) }
//! ```

mod error;
mod locks;
mod open;
mod rows;
mod schema;
pub mod settings;
mod sql;
mod writer;

pub use locks::PgLocks;
pub use open::{SchemaState, StoreCheck, check, connect, open, postgres_locks};
pub use schema::schema_version;
pub use settings::{StoreKind, StoreSettings, StoreUrl};
pub use sql::{SqlStore, SqliteTuning};
