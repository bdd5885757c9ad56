//! Shared by the store tests: a fresh SQLite file, and a fresh Postgres schema
//! per test (dropped afterwards) when `NATTER_TEST_POSTGRES_URL` is set
//! (without it: skipped, or failed under `CI=true`; see natter-test-support's
//! `optional`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use natter_store::StoreSettings;
use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;

use natter_test_support::optional::POSTGRES_ENV;

/// A SQLite file in a temporary directory, removed with it.
pub struct SqliteFile {
    pub dir: tempfile::TempDir,
    pub settings: StoreSettings,
}

impl SqliteFile {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.db");
        let settings = StoreSettings::with_url(format!("sqlite://{}", path.display()));
        Self { dir, settings }
    }

    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("natter.db")
    }
}

/// A schema of its own on the test Postgres server, dropped on drop.
pub struct PgSchema {
    base: String,
    pub name: String,
    pub settings: StoreSettings,
}

/// A fresh schema for `test`, or `None` (and a clear note on stderr) when no
/// Postgres server is configured; under `CI=true` that fails the test instead.
pub async fn pg_schema(test: &str) -> Option<PgSchema> {
    let base = natter_test_support::optional::postgres_url(test)?;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "natter_test_{}_{}_{}",
        test.to_ascii_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but Postgres is unreachable: {e}"));
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .await
        .unwrap();
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    let settings = StoreSettings::with_url(format!("{base}{separator}options[search_path]={name}"));
    Some(PgSchema {
        base,
        name,
        settings,
    })
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let base = self.base.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside the test's runtime: do the async clean-up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&base)
                    .await
                    .unwrap();
                admin.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
                admin.close().await;
            });
        });
        let _ = cleanup.join();
    }
}
