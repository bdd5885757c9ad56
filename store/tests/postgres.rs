//! Postgres specifics: several natter processes on one database. Each test
//! runs in a schema of its own on the server `NATTER_TEST_POSTGRES_URL` names,
//! and says clearly that it was skipped when the variable is unset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;

use natter_core::store::{JobStore, ScheduledJob, Store};
use natter_core::{ChatMessage, ConversationKey, Platform, StoreError, Turn};
use natter_store::{SchemaState, StoreKind, check, connect, open, schema_version};

use common::pg_schema;

fn turn(n: usize) -> Turn {
    Turn::new(
        ChatMessage::user(format!("question {n}")),
        ChatMessage::assistant(format!("answer {n}")),
    )
}

#[tokio::test]
async fn two_processes_never_take_the_same_job() {
    let Some(schema) = pg_schema("jobs_once").await else {
        return;
    };
    let first = connect(&schema.settings).await.unwrap();
    let second = connect(&schema.settings).await.unwrap();
    const JOBS: usize = 400;
    for n in 0..JOBS {
        first
            .schedule_job(&ScheduledJob {
                id: 0,
                namespace: "remind".into(),
                owner: format!("user{}", n % 7),
                due_unix_ms: (n % 13) as i64,
                payload: serde_json::json!(n),
            })
            .await
            .unwrap();
    }
    // Several takers per pool, racing, in small batches, until nothing is due.
    let mut takers = Vec::new();
    for (pool, store) in [first.clone(), second.clone()].into_iter().enumerate() {
        for n in 0..4 {
            let store = store.clone();
            takers.push(tokio::spawn(async move {
                let holder = format!("pool{pool}-taker{n}");
                let mut taken = Vec::new();
                loop {
                    let batch = store
                        .lease_due_jobs(1_000, 60_000, &holder, 3)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        return taken;
                    }
                    for leased in batch {
                        assert!(store.finish_job(leased.job.id, &holder).await.unwrap());
                        taken.push(leased.job.id);
                    }
                }
            }));
        }
    }
    let mut all = Vec::new();
    let mut per_pool = [0usize; 2];
    for (i, taker) in takers.into_iter().enumerate() {
        let taken = taker.await.unwrap();
        per_pool[i / 4] += taken.len();
        all.extend(taken);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a job was handed out twice");
    assert_eq!(unique.len(), JOBS, "every job was handed out");
    assert!(
        per_pool.iter().all(|&n| n > 0),
        "both pools took jobs: {per_pool:?}"
    );
    assert_eq!(first.next_job_due().await.unwrap(), None);
    first.close().await;
    second.close().await;
}

#[tokio::test]
async fn two_processes_see_each_others_history() {
    let Some(schema) = pg_schema("shared_history").await else {
        return;
    };
    // As the binary opens it: no cache by default with Postgres.
    let first = open(&schema.settings).await.unwrap();
    let second = open(&schema.settings).await.unwrap();
    let key = ConversationKey::new(Platform::new("discord"), "channel/9");
    first.history.load_turns(&key, 10).await.unwrap();
    second.history.load_turns(&key, 10).await.unwrap();
    first.history.append_turn(&key, &turn(1)).await.unwrap();
    assert_eq!(
        second.history.load_turns(&key, 10).await.unwrap(),
        vec![turn(1)]
    );
    second.history.append_turn(&key, &turn(2)).await.unwrap();
    assert_eq!(
        first.history.load_turns(&key, 10).await.unwrap(),
        vec![turn(1), turn(2)]
    );
}

/// Processes waiting for the lock `name` at the server.
async fn lock_waiters(settings: &natter_store::StoreSettings, name: &str) -> i64 {
    let mut connection = sqlx::PgConnection::connect(settings.url.expose())
        .await
        .unwrap();
    // A 64-bit advisory key shows as its high half (classid) and low half (objid).
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
         AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)",
    )
    .bind(name)
    .fetch_one(&mut connection)
    .await
    .unwrap();
    let _ = connection.close().await;
    waiting
}

/// Returns once some process waits for the lock `name` at the server.
async fn wait_until_waiting(settings: &natter_store::StoreSettings, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while lock_waiters(settings, name).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never waited");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_lock_keeps_a_second_process_waiting_until_the_first_lets_go() {
    let Some(schema) = pg_schema("locks").await else {
        return;
    };
    let first = open(&schema.settings).await.unwrap();
    let second = open(&schema.settings).await.unwrap();
    assert!(first.locks.shared() && second.locks.shared());
    // Advisory locks are per database, not per schema: a name of this test's own.
    let name = format!("{}:conversation", schema.name);
    let held = first.locks.lock(&name).await.unwrap();
    assert!(
        second.locks.try_lock(&name).await.unwrap().is_none(),
        "held by the first"
    );
    let other = second
        .locks
        .try_lock(&format!("{name}:other"))
        .await
        .unwrap();
    assert!(other.is_some(), "another name is free");
    drop(other);

    let waiter = tokio::spawn({
        let locks = Arc::clone(&second.locks);
        let name = name.clone();
        async move { locks.lock(&name).await.unwrap() }
    });
    // The second process is seen waiting at the server.
    wait_until_waiting(&schema.settings, &name).await;
    assert!(!waiter.is_finished());
    drop(held);
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter got the lock once the first let go")
        .unwrap();
    drop(got);
    let again = tokio::time::timeout(Duration::from_secs(10), first.locks.lock(&name))
        .await
        .expect("let go again");
    drop(again.unwrap());
}

#[tokio::test]
async fn a_lock_wait_given_up_leaves_nothing_held() {
    let Some(schema) = pg_schema("lock_cancel").await else {
        return;
    };
    let first = open(&schema.settings).await.unwrap();
    let second = open(&schema.settings).await.unwrap();
    let name = format!("{}:conversation", schema.name);
    let held = first.locks.lock(&name).await.unwrap();
    let waiter = tokio::spawn({
        let locks = Arc::clone(&second.locks);
        let name = name.clone();
        async move { locks.lock(&name).await.map(drop) }
    });
    wait_until_waiting(&schema.settings, &name).await;
    // The wait is given up (a /stop): its connection is closed, so the
    // server never grants it a lock nobody would let go.
    waiter.abort();
    let _ = waiter.await;
    drop(held);
    let again = tokio::time::timeout(Duration::from_secs(10), first.locks.lock(&name))
        .await
        .expect("nothing left holding the lock");
    drop(again.unwrap());
}

#[tokio::test]
async fn many_processes_starting_together_migrate_once() {
    let Some(schema) = pg_schema("migrate_together").await else {
        return;
    };
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let settings = schema.settings.clone();
            tokio::spawn(async move { connect(&settings).await })
        })
        .collect();
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for handle in opening {
        stores.push(Arc::new(handle.await.unwrap().unwrap()));
    }
    let report = check(&schema.settings).await.unwrap();
    assert_eq!(report.kind, StoreKind::Postgres);
    assert_eq!(report.schema, SchemaState::UpToDate(schema_version()));
}

#[tokio::test]
async fn a_schema_from_a_newer_natter_is_refused() {
    let Some(schema) = pg_schema("too_new").await else {
        return;
    };
    let store = connect(&schema.settings).await.unwrap();
    store.close().await;
    // What a newer natter's migration would leave behind.
    let pool = sqlx::PgPool::connect(schema.settings.url.expose())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'a feature of the future', true, '\\x00'::bytea, 0)",
    )
    .bind(schema_version() + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let error = open(&schema.settings).await.expect_err("refused");
    assert!(
        matches!(error, StoreError::TooNew { found, known } if found == schema_version() + 1 && known == schema_version()),
        "{error:?}"
    );
    assert!(matches!(
        check(&schema.settings).await,
        Err(StoreError::TooNew { .. })
    ));
}

#[tokio::test]
async fn opening_a_closed_port_says_refused_at_once_not_pool_timed_out() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = natter_store::StoreSettings::with_url(format!(
        "postgres://natter:hunter2@127.0.0.1:{port}/natter"
    ));
    let error = open(&settings).await.expect_err("nothing listens there");
    let text = error.to_string();
    assert!(text.contains("refused"), "{text}");
    assert!(
        !text.contains("timed out") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_the_password_stays_hidden() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = natter_store::StoreSettings::with_url(format!(
        "postgres://natter:hunter2@127.0.0.1:{port}/natter"
    ));
    let error = check(&settings).await.expect_err("unreachable");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!settings.describe().contains("hunter2"));
}
