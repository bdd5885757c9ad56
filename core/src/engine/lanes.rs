//! Per-conversation lanes: each conversation's messages are handled one at a
//! time, in arrival order, by a task that exists only while the conversation
//! has work — so memory does not grow with the number of conversations seen.
//! A lane holds at most `max_queue` waiting messages: a flood is refused, not
//! queued for hours.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::message::ConversationKey;
use crate::telemetry;

/// The queues of conversations that have work.
pub(crate) struct Lanes<J> {
    lanes: Mutex<HashMap<ConversationKey, Lane<J>>>,
    /// Jobs waiting in all queues (changed with the lock held).
    waiting: AtomicUsize,
}

impl<J> Default for Lanes<J> {
    fn default() -> Self {
        Self {
            lanes: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
        }
    }
}

struct Lane<J> {
    queue: VecDeque<J>,
    /// The job being handled: its cancellation and who it belongs to.
    in_flight: Option<(CancellationToken, String)>,
    /// The lane refused a job since its queue was last empty.
    refused: bool,
}

impl<J> Lane<J> {
    fn new(job: J) -> Self {
        Self {
            queue: VecDeque::from([job]),
            in_flight: None,
            refused: false,
        }
    }
}

/// What [`Lanes::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// Nothing was being handled.
    Nothing,
    /// The job in flight was cancelled.
    Stopped,
    /// A job is in flight, but the asker may not cancel it.
    NotAllowed,
}

/// What [`Lanes::push`] tells the caller to do.
pub(crate) enum Pushed<J> {
    /// A worker already runs for this conversation; it will get to the job.
    Queued,
    /// No worker runs: start one.
    StartWorker,
    /// The lane is full: the job is handed back. `first` is true for the
    /// first refusal since the lane last had room (say so once, not each time).
    Full {
        /// The job refused.
        job: J,
        /// First refusal since the queue was last empty.
        first: bool,
    },
}

impl<J> Lanes<J> {
    fn lock(&self) -> MutexGuard<'_, HashMap<ConversationKey, Lane<J>>> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `added` to the jobs waiting and takes away `removed`.
    fn count_waiting(&self, added: usize, removed: usize) {
        let now = if added >= removed {
            self.waiting.fetch_add(added - removed, Ordering::SeqCst) + (added - removed)
        } else {
            self.waiting.fetch_sub(removed - added, Ordering::SeqCst) - (removed - added)
        };
        telemetry::queue_depth(now);
    }

    /// Jobs waiting in all queues (not the ones being handled).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Queues `job` for `key`, unless `max_queue` jobs already wait there.
    pub(crate) fn push(&self, key: &ConversationKey, job: J, max_queue: usize) -> Pushed<J> {
        let mut lanes = self.lock();
        match lanes.get_mut(key) {
            Some(lane) if lane.queue.len() >= max_queue => {
                let first = !lane.refused;
                lane.refused = true;
                Pushed::Full { job, first }
            }
            Some(lane) => {
                lane.queue.push_back(job);
                self.count_waiting(1, 0);
                Pushed::Queued
            }
            None => {
                lanes.insert(key.clone(), Lane::new(job));
                self.count_waiting(1, 0);
                Pushed::StartWorker
            }
        }
    }

    /// Takes the waiting jobs of `key` that `select` picks out of the queue;
    /// returns how many (dropping them ends their handling).
    pub(crate) fn drop_waiting(&self, key: &ConversationKey, select: impl Fn(&J) -> bool) -> usize {
        let mut lanes = self.lock();
        let Some(lane) = lanes.get_mut(key) else {
            return 0;
        };
        let before = lane.queue.len();
        lane.queue.retain(|job| !select(job));
        let dropped = before - lane.queue.len();
        self.count_waiting(0, dropped);
        dropped
    }

    /// The worker's next job with a fresh cancellation token (already
    /// cancelled once `shutdown` is), or `None` — and the lane is gone — when
    /// the queue is empty. Tokens are independent rather than children of
    /// `shutdown`, so lanes never contend on one token tree. `owner` names
    /// whom a job belongs to, for [`Lanes::cancel`].
    pub(crate) fn next(
        &self,
        key: &ConversationKey,
        shutdown: &CancellationToken,
        owner: impl Fn(&J) -> String,
    ) -> Option<(J, CancellationToken)> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(key)?;
        match lane.queue.pop_front() {
            Some(job) => {
                self.count_waiting(0, 1);
                // A flood is over once its backlog is worked through.
                if lane.queue.is_empty() {
                    lane.refused = false;
                }
                let token = CancellationToken::new();
                if shutdown.is_cancelled() {
                    token.cancel();
                }
                lane.in_flight = Some((token.clone(), owner(&job)));
                Some((job, token))
            }
            None => {
                lanes.remove(key);
                None
            }
        }
    }

    /// Cancels the job in flight for `key` if `allowed` says its owner's
    /// job may be cancelled.
    pub(crate) fn cancel(
        &self,
        key: &ConversationKey,
        allowed: impl Fn(&str) -> bool,
    ) -> Cancelled {
        let lanes = self.lock();
        match lanes.get(key).and_then(|lane| lane.in_flight.as_ref()) {
            Some((token, owner)) if !token.is_cancelled() => {
                if !allowed(owner) {
                    return Cancelled::NotAllowed;
                }
                token.cancel();
                Cancelled::Stopped
            }
            _ => Cancelled::Nothing,
        }
    }

    /// Takes every waiting job out of every lane, each lane's in order
    /// (shutdown: what has not started is kept for the next start).
    pub(crate) fn drain_waiting(&self) -> Vec<J> {
        let mut lanes = self.lock();
        lanes
            .values_mut()
            .flat_map(|lane| lane.queue.drain(..))
            .collect()
    }

    /// Cancels every job in flight (shutdown).
    pub(crate) fn cancel_all(&self) {
        for lane in self.lock().values() {
            if let Some((token, _)) = &lane.in_flight {
                token.cancel();
            }
        }
    }

    /// Conversations with a worker right now.
    pub(crate) fn active(&self) -> usize {
        self.lock().len()
    }
}
