//! Stage 1, receive — how fast one person may send: `[limits]
//! user_messages_per_minute` per user and platform (GCRA, with `governor`).
//! A message over the limit is not queued; its author hears so at most once
//! a minute. Time is tokio's, so tests drive it on the paused clock.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::message::Incoming;

/// How often the limiter forgets users who went quiet.
const PRUNE_EVERY: u32 = 1024;
/// How often an author over the limit is told so.
const TELL_EVERY: Duration = Duration::from_secs(60);

/// Tokio's clock, for governor: nanoseconds since the limiter was made.
#[derive(Clone, Debug)]
struct TokioClock {
    start: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.start.elapsed())
    }
}

/// One GCRA state per author, on tokio's clock.
type Rates = RateLimiter<String, HashMapStateStore<String>, TokioClock, NoOpMiddleware<Nanos>>;

/// What the limiter says of a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rate {
    /// Within the limit.
    Allowed,
    /// Over it: drop it; `tell` when the author should hear so now.
    Exceeded {
        /// Say so (at most once a minute per author).
        tell: bool,
    },
}

/// Per-user message rates.
pub(crate) struct Limiter {
    rates: Option<Rates>,
    told: Mutex<HashMap<String, Instant>>,
    checks: AtomicU32,
}

impl Limiter {
    /// A limiter allowing `per_minute` messages per user (0: no limit).
    pub(crate) fn new(per_minute: u32) -> Self {
        let clock = TokioClock {
            start: Instant::now(),
        };
        Self {
            rates: NonZeroU32::new(per_minute)
                .map(|n| RateLimiter::hashmap_with_clock(Quota::per_minute(n), clock)),
            told: Mutex::new(HashMap::new()),
            checks: AtomicU32::new(0),
        }
    }

    /// Counts `message` against its author's rate.
    pub(crate) fn check(&self, message: &Incoming) -> Rate {
        let Some(rates) = &self.rates else {
            return Rate::Allowed;
        };
        let author = format!("{}:{}", message.key.platform(), message.author.id);
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            rates.retain_recent();
            let now = Instant::now();
            self.told
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, at| now.duration_since(*at) < TELL_EVERY);
        }
        if rates.check_key(&author).is_ok() {
            return Rate::Allowed;
        }
        let now = Instant::now();
        let mut told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        let tell = told
            .get(&author)
            .is_none_or(|at| now.duration_since(*at) >= TELL_EVERY);
        if tell {
            told.insert(author, now);
        }
        Rate::Exceeded { tell }
    }
}
