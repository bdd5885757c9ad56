//! End to end: history that survives restarts, crashes and several processes —
//! the real `natter` binary on SQLite and Postgres, against a fake OpenAI server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::time::Duration;

mod common;

use natter_test_support::openai::FakeOpenAi;
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;

fn config(fake: &FakeOpenAi, store_url: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        "[store]\nurl = \"{store_url}\"\n\n[model]\nbackend = \"openai\"\nmax_tokens = 64\n\n\
         [model.openai]\nbase_url = \"{}\"\nmodel = \"gpt-4o-mini\"\nmax_retries = 0\n",
        fake.base_url()
    )
    .unwrap();
    file
}

fn spawn(config: &Path) -> Child {
    common::spawn(config, &[], "warn")
}

async fn run_to_end(config: &Path, input: &str) -> String {
    let run = common::run(config, &[], input, "warn").await;
    assert!(run.success, "{}", run.stderr);
    run.stdout
}

#[tokio::test]
async fn history_survives_a_restart_on_sqlite() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/natter.db", dir.path().display());
    let config = config(&fake, &url);
    assert_eq!(
        run_to_end(config.path(), "hello\nsecond\n").await,
        "echo: hello\necho: second\n"
    );
    assert_eq!(run_to_end(config.path(), "third\n").await, "echo: third\n");
    assert_eq!(fake.user_messages(2), ["hello", "second", "third"]);
    let roles: Vec<String> = fake.messages(2).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user", "assistant", "user"]
    );
}

#[tokio::test]
async fn sigkill_mid_generation_never_leaves_a_half_turn() {
    let fake = FakeOpenAi::start().await;
    fake.set_chunk_delay(Duration::from_millis(3));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("natter.db");
    let config = config(&fake, &format!("sqlite://{}", db.display()));
    let mut delivered: Vec<String> = Vec::new();
    for run in 0..20u64 {
        let mut child = spawn(config.path());
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let words = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
        for n in 0..4 {
            stdin
                .write_all(format!("run {run} message {n} {words}\n").as_bytes())
                .await
                .unwrap();
        }
        // Kill at a different moment each run: during the first reply, between
        // replies, or while the store commits.
        let before = fake.requests().len();
        fake.wait_for_requests(before + 1).await;
        tokio::time::sleep(Duration::from_millis(run * 7)).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        while let Ok(Some(line)) = stdout.next_line().await {
            delivered.push(line);
        }
    }

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let rows = sqlx::query("SELECT * FROM turns")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut stored = Vec::new();
    for row in &rows {
        let columns: Vec<String> = (0..row.len())
            .filter_map(|i| row.try_get::<String, _>(i).ok())
            .collect();
        let reply = columns
            .iter()
            .find(|c| c.contains("echo: run "))
            .cloned()
            .unwrap_or_else(|| panic!("a turn without a complete reply: {columns:?}"));
        stored.push(reply);
    }
    for reply in &stored {
        // Every stored reply is whole (the fake's full echo) and was delivered.
        assert!(
            reply.ends_with("iota kappa"),
            "half reply stored: {reply:?}"
        );
        assert!(
            delivered.iter().any(|d| reply.contains(d.as_str())),
            "stored but never shown: {reply}"
        );
    }
    // A delivered reply may be missing only if natter died before committing it:
    // at most the last reply of each run.
    let whole_delivered = delivered
        .iter()
        .filter(|d| d.ends_with("iota kappa"))
        .count();
    assert!(
        stored.len() + 20 >= whole_delivered,
        "{} stored, {whole_delivered} delivered",
        stored.len()
    );
    assert!(
        !stored.is_empty(),
        "some turns were committed across 20 runs"
    );
}

#[tokio::test]
async fn two_processes_on_one_postgres_share_history() {
    let Some(base) =
        natter_test_support::optional::postgres_url("two_processes_on_one_postgres_share_history")
    else {
        return;
    };
    let schema = format!("natter_e2e_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");

    let fake = FakeOpenAi::start().await;
    let config = config(&fake, &url);
    let mut first = spawn(config.path());
    let mut first_in = first.stdin.take().unwrap();
    let mut first_out = BufReader::new(first.stdout.take().unwrap()).lines();
    first_in.write_all(b"one\ntwo\n").await.unwrap();
    assert_eq!(first_out.next_line().await.unwrap().unwrap(), "echo: one");
    // The second reply means the first turn was committed before it.
    assert_eq!(first_out.next_line().await.unwrap().unwrap(), "echo: two");

    let second = run_to_end(config.path(), "three\n").await;
    assert_eq!(second, "echo: three\n");
    let seen_by_second = fake.user_messages(2);
    assert_eq!(
        seen_by_second[0], "one",
        "the second process saw the first's history"
    );

    first_in.write_all(b"four\n").await.unwrap();
    assert_eq!(first_out.next_line().await.unwrap().unwrap(), "echo: four");
    assert!(
        fake.user_messages(3).contains(&"three".to_owned()),
        "the first process saw the second's turn: {:?}",
        fake.user_messages(3)
    );
    drop(first_in);
    first.wait().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}
