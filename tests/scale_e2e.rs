//! End to end: several natter processes on one Postgres database, as a
//! community that outgrew one process runs them — Telegram in webhook mode,
//! each process behind the same bot, updates spread between them as a load
//! balancer would. Two real `natter` binaries, the fake Bot API, a fake
//! OpenAI server and the test Postgres server (`NATTER_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::time::Duration;

use natter_test_support::openai::FakeOpenAi;
use natter_test_support::telegram::{FakeTelegram, TOKEN, updates};
use serde_json::Value;
use sqlx::PgPool;
use tokio::process::Child;

/// The secret both instances share, as replicas behind one URL do.
const SECRET: &str = "replica-secret";
/// Long enough for a slow CI machine, short enough to fail a hung test.
const WITHIN: Duration = Duration::from_secs(60);

/// A schema of its own on the test server, dropped at the end.
struct Database {
    admin: PgPool,
    schema: String,
    url: String,
}

impl Database {
    async fn new(test: &str) -> Option<Self> {
        let base = natter_test_support::optional::postgres_url(test)?;
        let schema = format!("natter_scale_{test}_{}", std::process::id());
        let admin = PgPool::connect(&base).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&admin)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options[search_path]={schema}");
        Some(Self { admin, schema, url })
    }

    /// Processes waiting at the server for the lock called `name`.
    async fn waiting_for(&self, name: &str) -> i64 {
        // A 64-bit advisory key shows as its high half (classid) and low half (objid).
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)",
        )
        .bind(name)
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }

    /// Who holds each scheduled job (`HOST:PID:STARTED#N`), if anyone.
    async fn job_holders(&self) -> Vec<Option<String>> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT leased_by FROM {}.scheduled_jobs ORDER BY id",
            self.schema
        )))
        .fetch_all(&self.admin)
        .await
        .unwrap()
    }

    async fn drop_schema(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}

/// One natter process answering Telegram by webhook on a port of its own.
struct Instance {
    child: Child,
    hook: String,
    _config: tempfile::NamedTempFile,
}

impl Instance {
    async fn start(telegram: &FakeTelegram, openai: &FakeOpenAi, db: &Database) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let hook = format!("http://127.0.0.1:{port}/telegram");
        let mut config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        write!(
            config,
            "[store]\nurl = \"{db}\"\n\n\
             [engine]\njob_lease_secs = 2\n\n\
             [model]\nbackend = \"openai\"\nmax_tokens = 64\n\n\
             [model.openai]\nbase_url = \"{openai}\"\nmodel = \"gpt-4o-mini\"\nmax_retries = 0\n\n\
             [telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api}\"\nstreaming = false\n\
             webhook_url = \"{hook}\"\nwebhook_listen = \"127.0.0.1:{port}\"\n\
             webhook_secret = \"{SECRET}\"\n\n\
             [telegram.rate]\nchat = 0\ngroup = 0\nglobal = 0\n\n\
             [plugins.remind]\nenabled = true\n",
            db = db.url,
            openai = openai.base_url(),
            api = telegram.api_url(),
        )
        .unwrap();
        let child = common::spawn(config.path(), &[], "warn");
        // Listening once it has registered its webhook (it binds first).
        let registered = hook.clone();
        telegram
            .wait_for(WITHIN, |calls| {
                calls.iter().any(|call| {
                    call.method == "setwebhook" && call.params["url"].as_str() == Some(&registered)
                })
            })
            .await;
        Self {
            child,
            hook,
            _config: config,
        }
    }

    fn pid(&mut self) -> u32 {
        self.child.id().unwrap()
    }

    async fn deliver(&self, telegram: &FakeTelegram, update: Value) {
        let status = telegram
            .deliver_webhook_to(&self.hook, update, Some(SECRET.to_owned()))
            .await;
        assert_eq!(status, 200, "the webhook took the update");
    }
}

fn message(n: i64, chat: i64, text: &str) -> Value {
    updates::text(
        n,
        updates::private_chat(chat, "Alice"),
        updates::user(chat, "Alice"),
        text,
    )
}

/// The texts of `sendMessage` calls that Telegram accepted, in order.
fn sent(telegram: &FakeTelegram, containing: &str) -> Vec<String> {
    telegram
        .calls_to("sendMessage")
        .iter()
        .filter(|call| call.ok())
        .filter_map(|call| call.text().map(str::to_owned))
        .filter(|text| text.contains(containing))
        .collect()
}

#[tokio::test]
async fn one_chat_alternating_between_two_processes_is_answered_in_order() {
    let Some(db) = Database::new("order").await else {
        return;
    };
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let a = Instance::start(&telegram, &openai, &db).await;
    let b = Instance::start(&telegram, &openai, &db).await;
    let chat = 4_242;

    // The first message is with the model at A when the second reaches B.
    openai.hold_replies();
    a.deliver(&telegram, message(1, chat, "first")).await;
    openai.wait_for_requests(1).await;
    b.deliver(&telegram, message(2, chat, "second")).await;
    let lock = format!("natter:conversation:telegram:chat/{chat}");
    let deadline = tokio::time::Instant::now() + WITHIN;
    while db.waiting_for(&lock).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never waited for A's turn"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        openai.requests().len(),
        1,
        "B did not ask the model meanwhile"
    );
    // The third comes back to A, behind the first there.
    a.deliver(&telegram, message(3, chat, "third")).await;
    openai.release_replies();

    telegram
        .wait_for(WITHIN, |calls| {
            calls
                .iter()
                .filter(|c| c.method == "sendmessage" && c.ok())
                .count()
                >= 3
        })
        .await;
    assert_eq!(
        sent(&telegram, "echo:"),
        ["echo: first", "echo: second", "echo: third"],
        "answered once each, in order"
    );
    assert_eq!(
        openai.user_messages(1),
        ["first", "second"],
        "B saw A's turn"
    );
    assert_eq!(
        openai.user_messages(2),
        ["first", "second", "third"],
        "A saw B's turn"
    );
    assert_eq!(openai.requests().len(), 3, "nothing answered twice");
    drop((a, b));
    db.drop_schema().await;
}

#[tokio::test]
async fn a_reminder_held_by_a_process_killed_outright_is_delivered_once_by_the_other() {
    let Some(db) = Database::new("kill").await else {
        return;
    };
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let mut instances = [
        Instance::start(&telegram, &openai, &db).await,
        Instance::start(&telegram, &openai, &db).await,
    ];
    let chat = 77;

    // Whichever process takes the reminder, its delivery never gets through.
    telegram.hold_sends("reminder: tea");
    instances[0]
        .deliver(&telegram, message(1, chat, "/remind 1s tea"))
        .await;
    telegram.wait_held(1, WITHIN).await;
    let holders = db.job_holders().await;
    assert_eq!(holders.len(), 1, "one job: {holders:?}");
    let holder = holders[0].clone().expect("the job is held while it runs");
    // HOST:PID:STARTED#N
    let pid: u32 = holder.rsplit(':').nth(1).unwrap().parse().unwrap();
    let (killed, survivor) = if instances[0].pid() == pid {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(
        instances[killed].pid(),
        pid,
        "held by one of ours: {holder}"
    );
    instances[killed].child.start_kill().unwrap(); // SIGKILL: no goodbye
    instances[killed].child.wait().await.unwrap();
    telegram.stop_holding();

    // The survivor takes it once the dead process's lease runs out.
    telegram
        .wait_for(WITHIN, |calls| {
            calls.iter().any(|call| {
                call.method == "sendmessage"
                    && call.ok()
                    && call.text().is_some_and(|t| t.contains("reminder: tea"))
            })
        })
        .await;
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !db.job_holders().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job was never recorded done"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        sent(&telegram, "reminder: tea").len(),
        1,
        "delivered once, by process {}",
        instances[survivor].pid()
    );
    drop(instances);
    db.drop_schema().await;
}

#[tokio::test]
async fn a_second_long_poller_of_one_bot_on_one_database_is_refused_and_check_says_so() {
    let Some(db) = Database::new("pollers").await else {
        return;
    };
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let mut config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        config,
        "[store]\nurl = \"{db}\"\n\n[model]\nbackend = \"openai\"\n\n\
         [model.openai]\nbase_url = \"{openai}\"\nmodel = \"gpt-4o-mini\"\nmax_retries = 0\n\n\
         [telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api}\"\n",
        db = db.url,
        openai = openai.base_url(),
        api = telegram.api_url(),
    )
    .unwrap();

    let check = common::run(config.path(), &["check"], "", "warn").await;
    assert!(check.success, "{}", check.stderr);
    assert!(
        check.stdout.contains("telegram:  long polling"),
        "{}",
        check.stdout
    );

    let first = common::spawn(config.path(), &[], "warn");
    telegram
        .wait_for(WITHIN, |calls| {
            calls.iter().any(|call| call.method == "getupdates")
        })
        .await;
    let check = common::run(config.path(), &["check"], "", "warn").await;
    assert!(!check.success, "check fails: {}", check.stdout);
    assert!(
        check.stderr.contains("already long-polling this bot")
            && check.stderr.contains("webhook_url"),
        "{}",
        check.stderr
    );
    let second = common::run(config.path(), &[], "", "warn").await;
    assert!(!second.success, "the second poller does not start");
    assert!(
        second.stderr.contains("already long-polling this bot"),
        "{}",
        second.stderr
    );
    drop(first);
    db.drop_schema().await;
}
