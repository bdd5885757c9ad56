//! Beside the pipeline — the job scheduler: runs plugins' scheduled jobs (reminders) when they fall
//! due, through [`Plugin::on_job`](crate::Plugin::on_job).
//!
//! Jobs live in the store, so they survive restarts; one that fell due while
//! natter was down runs at the next start. Taking a job leases it for
//! `[engine] job_lease_secs`, renewed while the job runs, and the job leaves
//! the store only once it is done: several natter processes sharing a
//! database never run one job at the same time, and a process killed holding
//! a job does not lose it — another process (or the next start) takes it
//! again when the lease runs out. A job therefore runs at least once; it runs
//! twice only if its process dies after delivering and before recording it
//! done, a window of one store write.
//!
//! The scheduler sleeps until the next job can be taken, wakes early when a
//! plugin schedules one, and looks again at least every [`MAX_IDLE`] for
//! jobs other processes added. It runs under the engine's task tracker, so
//! shutdown waits for the jobs in hand (up to the shutdown grace; a job
//! still running then is let go, to be taken again).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::{debug, error, info, instrument, warn};

use super::shared::Shared;
use crate::clock;
use crate::plugin::{Hook, JobContext, PluginError, PluginFailure};
use crate::store::{LeasedJob, ScheduledJob, StoreError};

/// Jobs taken from the store at once.
const BATCH: usize = 32;
/// Longest sleep between looks at the store.
const MAX_IDLE: Duration = Duration::from_secs(10);
/// Wait after the store failed before trying again.
const STORE_RETRY: Duration = Duration::from_secs(5);
/// A job whose platform is not running is tried again this much later.
const PLATFORM_RETRY_MS: i64 = 60_000;
/// A job of a plugin that is not enabled is kept and looked at again this much later.
const NO_PLUGIN_RETRY_MS: i64 = 3_600_000;

/// Names this process's leases `HOST:PID:STARTED#N`, so whoever reads the
/// store (an operator, a test) sees which process holds a job.
pub(crate) struct JobHolder {
    process: String,
    leases: AtomicU64,
}

impl JobHolder {
    /// The holder for this process, started at `now_unix_ms`.
    pub(crate) fn new(now_unix_ms: i64) -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "natter".to_owned());
        Self {
            process: format!("{host}:{}:{now_unix_ms}", std::process::id()),
            leases: AtomicU64::new(0),
        }
    }

    /// This process's name, without a lease number.
    pub(crate) fn process(&self) -> &str {
        &self.process
    }

    /// A name for the next lease.
    fn next(&self) -> String {
        let n = self.leases.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}#{n}", self.process)
    }
}

/// Runs due jobs until the engine shuts down.
pub(crate) async fn run(shared: Arc<Shared>) {
    debug!(holder = %shared.job_holder.process(), "job scheduler started");
    loop {
        let wait = match tick(&shared).await {
            Ok(Some(wait)) => wait,
            Ok(None) => continue,
            Err(error) => {
                warn!(%error, "could not read scheduled jobs; retrying");
                STORE_RETRY
            }
        };
        tokio::select! {
            () = shared.scheduler_stop.cancelled() => break,
            () = shared.services.job_added.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    debug!("job scheduler stopped");
}

/// The lease a job is taken for, in milliseconds.
fn lease_ms(shared: &Shared) -> i64 {
    i64::try_from(shared.settings.job_lease_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Runs what is due; returns how long to sleep, or `None` to look again at once.
async fn tick(shared: &Shared) -> Result<Option<Duration>, StoreError> {
    if shared.scheduler_stop.is_cancelled() {
        return Ok(Some(MAX_IDLE));
    }
    let (clock, jobs) = (&shared.services.clock, &shared.services.stores.jobs);
    let now = clock.now_unix_ms();
    let holder = shared.job_holder.next();
    let until = now.saturating_add(lease_ms(shared));
    let due = jobs.lease_due_jobs(now, until, &holder, BATCH).await?;
    let full = due.len() == BATCH;
    futures::future::join_all(due.into_iter().map(|job| run_job(shared, job))).await;
    if full {
        return Ok(None);
    }
    let now = clock.now_unix_ms();
    Ok(Some(match jobs.next_job_due().await? {
        Some(due) => clock::until(now, due).min(MAX_IDLE),
        None => MAX_IDLE,
    }))
}

/// What became of a job.
enum Outcome {
    /// Done (or failed for good): it leaves the store.
    Finished,
    /// Not run now: due again this many milliseconds from now.
    Later(i64),
    /// Shutdown came before it was done: let go, due at once.
    Abandoned,
}

#[instrument(name = "job", skip_all, fields(plugin = %leased.job.namespace, id = leased.job.id, attempt = leased.attempt))]
async fn run_job(shared: &Shared, leased: LeasedJob) {
    if leased.attempt > 1 {
        info!("taking a job again: it was let go, or an earlier holder's lease ran out");
    }
    let outcome = tokio::select! {
        outcome = run_plugin(shared, leased.job.clone()) => outcome,
        never = keep_leased(shared, &leased) => match never {},
        () = shared.shutdown.cancelled() => Outcome::Abandoned,
    };
    let (id, holder) = (leased.job.id, leased.holder.as_str());
    let jobs = &shared.services.stores.jobs;
    let now = shared.services.clock.now_unix_ms();
    let kept = match outcome {
        Outcome::Finished => jobs.finish_job(id, holder).await,
        Outcome::Later(delay_ms) => {
            jobs.release_job(id, holder, now.saturating_add(delay_ms))
                .await
        }
        Outcome::Abandoned => {
            info!("shutting down with a job in hand; it will run again");
            jobs.release_job(id, holder, now).await
        }
    };
    match kept {
        Ok(true) => {}
        Ok(false) => warn!(
            "the job's lease ran out before it was done: it was cancelled, or another \
             process took it and may run it too"
        ),
        Err(error) => error!(
            %error,
            "could not record what became of a job; it will be taken again when its lease runs out"
        ),
    }
}

/// Renews `leased`'s lease every third of its length, for as long as the job
/// runs (the caller drops this when the job ends; it never ends by itself).
async fn keep_leased(shared: &Shared, leased: &LeasedJob) -> Infallible {
    let lease = lease_ms(shared);
    let every = Duration::from_millis(u64::try_from(lease / 3).unwrap_or(1).max(1));
    let mut lost = false;
    loop {
        tokio::time::sleep(every).await;
        let until = shared.services.clock.now_unix_ms().saturating_add(lease);
        let renewed = shared
            .services
            .stores
            .jobs
            .renew_job_lease(leased.job.id, &leased.holder, until)
            .await;
        match renewed {
            Ok(true) => lost = false,
            Ok(false) if !lost => {
                lost = true;
                warn!("lost the lease of a job still running; another process may run it too");
            }
            Ok(false) => {}
            Err(error) => warn!(%error, "could not renew a job's lease"),
        }
    }
}

/// Hands `job` to its plugin.
async fn run_plugin(shared: &Shared, job: ScheduledJob) -> Outcome {
    let Some(registered) = shared.plugins.iter().find(|p| p.name == job.namespace) else {
        warn!("a job fell due for a plugin that is not enabled; kept for later");
        return Outcome::Later(NO_PLUGIN_RETRY_MS);
    };
    let mut cx = JobContext::new(&shared.services, registered);
    match registered.plugin.on_job(&mut cx, job).await {
        Ok(()) => {
            debug!("job done");
            Outcome::Finished
        }
        Err(PluginError::PlatformUnavailable(platform)) => {
            info!(%platform, "the job's platform is not running; trying again later");
            Outcome::Later(PLATFORM_RETRY_MS)
        }
        Err(error) => {
            // No user to tell: whatever the handler would say goes nowhere.
            let failure = PluginFailure::new(registered.name.clone(), Hook::Job, error);
            let _ = shared.on_error.handle(&failure);
            warn!("scheduled job failed; dropped");
            Outcome::Finished
        }
    }
}
