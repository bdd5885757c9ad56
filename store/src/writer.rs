//! The SQLite writer: one task owns the one connection that writes, and
//! commits whatever writes are waiting together, in one transaction (group
//! commit). A write still returns only once its transaction is committed, but
//! a busy bot pays for one commit per batch instead of one per statement, and
//! writers never sleep in SQLite's busy handler waiting for each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Connection, Executor, Sqlite};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Writes committed together at most.
const MAX_BATCH: usize = 256;
/// Rows in one merged insert at most (SQLite allows 32,766 parameters).
const MAX_MERGED_ROWS: usize = 64;
/// Writes between two checkpoints (SQLite's own default is about 1,000 pages).
const CHECKPOINT_EVERY: usize = 2_000;
/// Writes waiting for the writer at most; callers wait for room beyond that.
const QUEUE: usize = 4_096;

/// One bound parameter, owned, so a write can be sent to the writer task and
/// run again on its own if its batch fails.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    /// Text.
    Text(String),
    /// Text or NULL.
    MaybeText(Option<String>),
    /// A 64-bit integer.
    Int(i64),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<Option<&str>> for Arg {
    fn from(text: Option<&str>) -> Self {
        Arg::MaybeText(text.map(str::to_owned))
    }
}

impl From<Option<String>> for Arg {
    fn from(text: Option<String>) -> Self {
        Arg::MaybeText(text)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

/// Binds `args` to `query`, for whichever database `query` is for.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::writer::Arg::Text(text) => query.bind(text.clone()),
                $crate::writer::Arg::MaybeText(text) => query.bind(text.clone()),
                $crate::writer::Arg::Int(n) => query.bind(*n),
            };
        }
        query
    }};
}
pub(crate) use bind_all;

/// What a write gave back.
pub(crate) enum Output {
    /// Rows changed.
    Affected(u64),
    /// Rows returned (`RETURNING`).
    Rows(Vec<SqliteRow>),
}

struct Job {
    sql: &'static str,
    args: Vec<Arg>,
    /// For a plain `INSERT … VALUES (…)` of one row: the table. Such inserts
    /// queued together are sent as one multi-row statement.
    merge: Option<&'static str>,
    /// Fetch the rows it returns rather than count the rows it changes.
    fetch: bool,
    reply: oneshot::Sender<Result<Output, sqlx::Error>>,
}

enum Message {
    Write(Job),
    /// Finish the writes before this, close the connection, stop.
    Close(oneshot::Sender<()>),
}

/// The handle writes are sent through; the task ends when the last is dropped
/// or [`Writer::close`] is called.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Message>,
}

impl Writer {
    /// Starts the writer task on `connection` (whose automatic checkpoints
    /// are off); checkpoints run on a connection of `readers` instead.
    pub(crate) fn spawn(connection: SqliteConnection, readers: SqlitePool) -> Self {
        let (jobs, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(connection, receiver, Checkpointer::new(readers)));
        Self { jobs }
    }

    /// Lets the writes already sent finish, then closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    async fn submit(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
        fetch: bool,
        merge: Option<&'static str>,
    ) -> Result<Output, sqlx::Error> {
        let (reply, result) = oneshot::channel();
        let job = Job {
            sql,
            args,
            merge,
            fetch,
            reply,
        };
        self.jobs
            .send(Message::Write(job))
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        result.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Runs a statement; returns the rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<u64, sqlx::Error> {
        match self.submit(sql, args, false, None).await? {
            Output::Affected(n) => Ok(n),
            Output::Rows(rows) => Ok(rows.len() as u64),
        }
    }

    /// Inserts one row into `table` with `sql`, a plain `INSERT … VALUES (…)`
    /// that may be merged with other such inserts into `table`.
    pub(crate) async fn insert(
        &self,
        table: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<(), sqlx::Error> {
        self.submit(sql, args, false, Some(table)).await.map(drop)
    }

    /// Runs a statement; returns the rows it gave back.
    pub(crate) async fn fetch_all(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        match self.submit(sql, args, true, None).await? {
            Output::Rows(rows) => Ok(rows),
            Output::Affected(_) => Ok(Vec::new()),
        }
    }
}

async fn run_one(connection: &mut SqliteConnection, job: &Job) -> Result<Output, sqlx::Error> {
    let query = bind_all!(sqlx::query::<Sqlite>(job.sql), &job.args);
    if job.fetch {
        query.fetch_all(&mut *connection).await.map(Output::Rows)
    } else {
        query
            .execute(&mut *connection)
            .await
            .map(|done| Output::Affected(done.rows_affected()))
    }
}

/// Inserts the rows of `jobs` (inserts into one table) with one statement.
async fn run_merged(connection: &mut SqliteConnection, jobs: &[&Job]) -> Result<(), sqlx::Error> {
    let Some(first) = jobs.first() else {
        return Ok(());
    };
    let head = match first.sql.find(" VALUES ") {
        Some(at) => &first.sql[..at + " VALUES ".len()],
        None => return Err(sqlx::Error::Protocol("not a plain INSERT".into())),
    };
    let row = format!("({})", vec!["?"; first.args.len()].join(", "));
    let sql = format!("{head}{}", vec![row; jobs.len()].join(", "));
    let mut query = sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(sql));
    for job in jobs {
        query = bind_all!(query, &job.args);
    }
    query.execute(&mut *connection).await.map(drop)
}

/// Runs `batch` in order; consecutive mergeable inserts (up to the next other
/// write) are grouped per table, keeping their order within the table.
async fn run_all(connection: &mut SqliteConnection, batch: &[Job]) -> Option<Vec<Output>> {
    let mut outputs: Vec<Option<Output>> = batch.iter().map(|_| None).collect();
    let mut start = 0;
    while start < batch.len() {
        if batch[start].merge.is_none() {
            outputs[start] = Some(run_one(connection, &batch[start]).await.ok()?);
            start += 1;
            continue;
        }
        let end = batch[start..]
            .iter()
            .position(|job| job.merge.is_none())
            .map_or(batch.len(), |offset| start + offset);
        let mut tables: Vec<&str> = Vec::new();
        for job in &batch[start..end] {
            if let Some(table) = job.merge
                && !tables.contains(&table)
            {
                tables.push(table);
            }
        }
        for table in tables {
            let jobs: Vec<&Job> = batch[start..end]
                .iter()
                .filter(|job| job.merge == Some(table))
                .collect();
            for chunk in jobs.chunks(MAX_MERGED_ROWS) {
                run_merged(connection, chunk).await.ok()?;
            }
        }
        for output in &mut outputs[start..end] {
            *output = Some(Output::Affected(1));
        }
        start = end;
    }
    outputs.into_iter().collect()
}

/// Runs `batch` in one transaction; `None` if the transaction as a whole failed.
async fn run_batch(connection: &mut SqliteConnection, batch: &[Job]) -> Option<Vec<Output>> {
    connection.execute("BEGIN IMMEDIATE").await.ok()?;
    let Some(outputs) = run_all(connection, batch).await else {
        let _ = connection.execute("ROLLBACK").await;
        return None;
    };
    match connection.execute("COMMIT").await {
        Ok(_) => Some(outputs),
        Err(error) => {
            warn!(%error, "a batch of writes did not commit; retrying them one by one");
            let _ = connection.execute("ROLLBACK").await;
            None
        }
    }
}

/// Folds the write-ahead log back into the database file off the write path:
/// a checkpoint waits for the disk, and the writer should not.
struct Checkpointer {
    readers: SqlitePool,
    writes_since: usize,
    running: Arc<AtomicBool>,
}

impl Checkpointer {
    fn new(readers: SqlitePool) -> Self {
        Self {
            readers,
            writes_since: 0,
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Counts `writes`; every `CHECKPOINT_EVERY`, starts a passive checkpoint
    /// unless one is still running.
    fn wrote(&mut self, writes: usize) {
        self.writes_since += writes;
        if self.writes_since < CHECKPOINT_EVERY || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.writes_since = 0;
        let readers = self.readers.clone();
        let running = Arc::clone(&self.running);
        tokio::spawn(async move {
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&readers)
                .await
            {
                warn!(%error, "could not checkpoint the write-ahead log");
            }
            running.store(false, Ordering::Release);
        });
    }
}

async fn run(
    mut connection: SqliteConnection,
    mut messages: mpsc::Receiver<Message>,
    mut checkpointer: Checkpointer,
) {
    let mut received = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while messages.recv_many(&mut received, MAX_BATCH).await > 0 {
        let mut close = None;
        for message in received.drain(..) {
            match message {
                Message::Write(job) if close.is_none() => batch.push(job),
                Message::Write(_) => {} // after close: dropped, the caller sees an error
                Message::Close(done) => close = Some(done),
            }
        }
        checkpointer.wrote(batch.len());
        write(&mut connection, &mut batch).await;
        if let Some(done) = close {
            let _ = connection.close().await;
            let _ = done.send(());
            return;
        }
    }
    let _ = connection.close().await;
}

/// Commits `batch` and answers each write.
async fn write(connection: &mut SqliteConnection, batch: &mut Vec<Job>) {
    let outputs = if batch.len() > 1 {
        run_batch(connection, batch).await
    } else {
        None
    };
    match outputs {
        Some(outputs) => {
            for (job, output) in batch.drain(..).zip(outputs) {
                let _ = job.reply.send(Ok(output));
            }
        }
        // Alone, or its batch failed: each write on its own, with its own result.
        None => {
            for job in batch.drain(..) {
                let result = run_one(connection, &job).await;
                let _ = job.reply.send(result);
            }
        }
    }
}
