//! SQLite specifics: data survives reopening, the file is tuned (WAL, busy
//! timeout, synchronous NORMAL), the window reads by index, a newer natter's
//! database is refused, and `check` reports without creating anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::borrow::Cow;

use natter_core::store::{HistoryStore, JobStore, ScheduledJob, StateStore};
use natter_core::{ChatMessage, ConversationKey, Platform, StoreError, Turn};
use natter_store::{SchemaState, StoreKind, check, connect, open, schema_version};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use common::SqliteFile;

fn key(n: usize) -> ConversationKey {
    ConversationKey::new(Platform::new("telegram"), format!("chat/{n}"))
}

fn turn(n: usize) -> Turn {
    Turn::new(
        ChatMessage::user(format!("question {n}")),
        ChatMessage::assistant(format!("answer {n}")),
    )
}

/// A plain connection to the file, beside natter's.
async fn raw(file: &SqliteFile) -> SqlitePool {
    SqlitePool::connect_with(SqliteConnectOptions::new().filename(file.path()))
        .await
        .unwrap()
}

#[tokio::test]
async fn everything_survives_reopening() {
    let file = SqliteFile::new();
    let store = open(&file.settings).await.unwrap();
    for n in 0..3 {
        store.history.append_turn(&key(1), &turn(n)).await.unwrap();
    }
    store
        .history
        .set_persona_override("telegram/channel/1", Some("pirate"))
        .await
        .unwrap();
    store
        .state
        .plugin_put("tutor", "alice", &serde_json::json!({"level": 2}))
        .await
        .unwrap();
    let job = store
        .jobs
        .schedule_job(&ScheduledJob {
            id: 0,
            namespace: "remind".into(),
            owner: "alice".into(),
            due_unix_ms: 5,
            payload: serde_json::json!("tea"),
        })
        .await
        .unwrap();
    drop(store);

    let again = open(&file.settings).await.unwrap();
    assert_eq!(
        again.history.load_turns(&key(1), 10).await.unwrap(),
        (0..3).map(turn).collect::<Vec<_>>()
    );
    assert_eq!(
        again
            .history
            .persona_override("telegram/channel/1")
            .await
            .unwrap()
            .as_deref(),
        Some("pirate")
    );
    assert_eq!(
        again.state.plugin_get("tutor", "alice").await.unwrap(),
        Some(serde_json::json!({"level": 2}))
    );
    let due = again
        .jobs
        .lease_due_jobs(10, 1_000, "after-restart", 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|l| l.job.id).collect::<Vec<_>>(), vec![job]);
}

#[tokio::test]
async fn the_file_and_its_directory_are_created_and_tuned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/natter.db");
    let settings = natter_store::StoreSettings {
        busy_timeout_ms: 1_234,
        ..natter_store::StoreSettings::with_url(format!("sqlite://{}", path.display()))
    };
    let store = connect(&settings).await.unwrap();
    assert!(path.exists());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&raw_at(&path).await)
        .await
        .unwrap();
    assert_eq!(mode, "wal", "the file is in WAL mode");
    // Per-connection settings, read through natter's own pool.
    let tuning = store
        .sqlite_tuning()
        .await
        .unwrap()
        .expect("a SQLite store");
    assert_eq!(tuning.journal_mode, "wal");
    assert_eq!(tuning.synchronous, 1, "synchronous = NORMAL");
    assert_eq!(
        tuning.busy_timeout_ms, 1_234,
        "busy timeout from the settings"
    );
    store.close().await;
}

async fn raw_at(path: &std::path::Path) -> SqlitePool {
    SqlitePool::connect_with(SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_window_reads_only_the_newest_rows_by_index() {
    let file = SqliteFile::new();
    let store = connect(&file.settings).await.unwrap();
    for n in 0..50 {
        store.append_turn(&key(n % 5), &turn(n)).await.unwrap();
    }
    assert_eq!(
        store.load_turns(&key(2), 3).await.unwrap(),
        vec![turn(37), turn(42), turn(47)]
    );
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT user_role, user_name, user_content, \
         assistant_role, assistant_name, assistant_content \
         FROM turns WHERE platform = $1 AND scope = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind("telegram")
    .bind("chat/2")
    .bind(3_i64)
    .fetch_all(&raw(&file).await)
    .await
    .unwrap();
    let plan: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
    assert!(
        plan.iter()
            .any(|step| step.contains("turns_by_conversation")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|step| step.contains("TEMP B-TREE")),
        "no sort: {plan:?}"
    );
    store.close().await;
}

/// Migrates `file` as a natter with one more migration than this one would.
async fn migrate_as_newer_natter(file: &SqliteFile) {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::new()
                .filename(file.path())
                .create_if_missing(true),
        )
        .await
        .unwrap();
    let mut migrations: Vec<Migration> = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let ours = Migrator::new(dir).await.unwrap();
    migrations.extend(ours.iter().cloned());
    let newer = schema_version() + 1;
    migrations.push(Migration::new(
        newer,
        Cow::Borrowed("a feature of the future"),
        MigrationType::Simple,
        sqlx::SqlStr::from_static("CREATE TABLE from_the_future (id INTEGER)"),
        false,
    ));
    Migrator::with_migrations(migrations)
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_database_from_a_newer_natter_is_refused() {
    let file = SqliteFile::new();
    migrate_as_newer_natter(&file).await;
    let error = open(&file.settings).await.expect_err("refused");
    let known = schema_version();
    assert!(
        matches!(error, StoreError::TooNew { found, known: k } if found == known + 1 && k == known),
        "{error:?}"
    );
    assert!(error.to_string().contains("newer natter"), "{error}");
    let checked = check(&file.settings).await.expect_err("check refuses too");
    assert!(matches!(checked, StoreError::TooNew { .. }), "{checked:?}");
}

#[tokio::test]
async fn check_reports_without_creating_anything() {
    let file = SqliteFile::new();
    let report = check(&file.settings).await.unwrap();
    assert_eq!(report.kind, StoreKind::Sqlite);
    assert_eq!(report.schema, SchemaState::WillBeCreated);
    assert!(!file.path().exists(), "check must not create the file");
    assert!(report.to_string().contains("will be created"), "{report}");

    connect(&file.settings).await.unwrap().close().await;
    let report = check(&file.settings).await.unwrap();
    assert_eq!(report.schema, SchemaState::UpToDate(schema_version()));
    assert!(
        report.to_string().starts_with("SQLite sqlite://"),
        "{report}"
    );
}

#[tokio::test]
async fn check_reports_an_unopenable_file() {
    let file = SqliteFile::new();
    std::fs::write(
        file.path(),
        b"this is not a database, just text that is long enough",
    )
    .unwrap();
    let error = check(&file.settings).await.expect_err("not a database");
    assert!(
        matches!(error, StoreError::Query(_) | StoreError::Unavailable(_)),
        "{error:?}"
    );
    assert!(open(&file.settings).await.is_err());
}

#[tokio::test]
async fn an_unknown_scheme_is_refused_clearly() {
    let settings = natter_store::StoreSettings::with_url("mongodb://u:pw@h/db");
    let error = open(&settings).await.expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("mongodb://u:[redacted]@h/db"), "{text}");
    assert!(!text.contains("pw@"), "{text}");
}

#[tokio::test]
async fn concurrent_writes_are_all_committed_in_order() {
    let file = SqliteFile::new();
    let store = connect(&file.settings).await.unwrap();
    let writers: Vec<_> = (0..32)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..50 {
                    store.append_turn(&key(t), &turn(n)).await.unwrap();
                    store
                        .plugin_put("count", &format!("task{t}"), &serde_json::json!(n))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    for t in 0..32 {
        assert_eq!(
            store.load_turns(&key(t), 100).await.unwrap(),
            (0..50).map(turn).collect::<Vec<_>>(),
            "conversation {t}"
        );
    }
    assert_eq!(store.plugin_list("count", "task").await.unwrap().len(), 32);
    store.close().await;
    // Closed: the file is consistent for the next process.
    let again = connect(&file.settings).await.unwrap();
    assert_eq!(again.load_turns(&key(31), 1).await.unwrap(), vec![turn(49)]);
}

#[tokio::test]
async fn two_stores_on_one_file_never_take_the_same_job() {
    let file = SqliteFile::new();
    let first = connect(&file.settings).await.unwrap();
    let second = connect(&file.settings).await.unwrap();
    for n in 0..200 {
        first
            .schedule_job(&ScheduledJob {
                id: 0,
                namespace: "remind".into(),
                owner: "alice".into(),
                due_unix_ms: n % 9,
                payload: serde_json::json!(n),
            })
            .await
            .unwrap();
    }
    let takers: Vec<_> = [first.clone(), second.clone(), first.clone(), second.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            tokio::spawn(async move {
                let holder = format!("taker{n}");
                let mut taken = Vec::new();
                loop {
                    let batch = store.lease_due_jobs(100, 60_000, &holder, 2).await.unwrap();
                    if batch.is_empty() {
                        return taken;
                    }
                    taken.extend(batch.into_iter().map(|leased| leased.job.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for taker in takers {
        all.extend(taker.await.unwrap());
    }
    let unique: std::collections::HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a job was handed out twice");
    assert_eq!(unique.len(), 200);
}
