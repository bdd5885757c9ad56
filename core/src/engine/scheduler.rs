//! Beside the pipeline — the job scheduler: runs plugins' scheduled jobs (reminders) when they fall
//! due, through [`Plugin::on_job`](crate::Plugin::on_job).
//!
//! Jobs live in the store, so they survive restarts; one that fell due while
//! natter was down runs at the next start. The store hands each job out once
//! (`take_due_jobs` removes it), even to several natter processes sharing a
//! database, so a job never runs twice. The scheduler sleeps until the next
//! job is due, wakes early when a plugin schedules one, and looks again at
//! least every [`MAX_IDLE`] for jobs other processes added.

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error, info, instrument, warn};

use super::shared::Shared;
use crate::clock;
use crate::plugin::{Hook, JobContext, PluginError, PluginFailure};
use crate::store::{ScheduledJob, StoreError};

/// Jobs taken from the store at once.
const BATCH: usize = 32;
/// Longest sleep between looks at the store.
const MAX_IDLE: Duration = Duration::from_secs(30);
/// Wait after the store failed before trying again.
const STORE_RETRY: Duration = Duration::from_secs(5);
/// A job whose platform is not running is tried again this much later.
const PLATFORM_RETRY_MS: i64 = 60_000;
/// A job of a plugin that is not enabled is kept and looked at again this much later.
const NO_PLUGIN_RETRY_MS: i64 = 3_600_000;

/// Runs due jobs until the engine shuts down.
pub(crate) async fn run(shared: Arc<Shared>) {
    debug!("job scheduler started");
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

/// Runs what is due; returns how long to sleep, or `None` to look again at once.
async fn tick(shared: &Shared) -> Result<Option<Duration>, StoreError> {
    let (clock, jobs) = (&shared.services.clock, &shared.services.stores.jobs);
    let now = clock.now_unix_ms();
    let due = jobs.take_due_jobs(now, BATCH).await?;
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

#[instrument(name = "job", skip_all, fields(plugin = %job.namespace, id = job.id))]
async fn run_job(shared: &Shared, job: ScheduledJob) {
    let Some(registered) = shared.plugins.iter().find(|p| p.name == job.namespace) else {
        warn!("a job fell due for a plugin that is not enabled; kept for later");
        put_back(shared, job, NO_PLUGIN_RETRY_MS).await;
        return;
    };
    let mut cx = JobContext::new(&shared.services, registered);
    match registered.plugin.on_job(&mut cx, job.clone()).await {
        Ok(()) => debug!("job done"),
        Err(PluginError::PlatformUnavailable(platform)) => {
            info!(%platform, "the job's platform is not running; trying again later");
            put_back(shared, job, PLATFORM_RETRY_MS).await;
        }
        Err(error) => {
            // No user to tell: whatever the handler would say goes nowhere.
            let failure = PluginFailure::new(registered.name.clone(), Hook::Job, error);
            let _ = shared.on_error.handle(&failure);
            warn!("scheduled job failed; dropped");
        }
    }
}

/// Stores `job` again, due `delay_ms` from now.
async fn put_back(shared: &Shared, job: ScheduledJob, delay_ms: i64) {
    let job = ScheduledJob {
        due_unix_ms: shared.services.clock.now_unix_ms().saturating_add(delay_ms),
        ..job
    };
    if let Err(error) = shared.services.stores.jobs.schedule_job(&job).await {
        error!(%error, "could not put a job back; it is lost");
    }
}
