//! What time it is, for everything that schedules: reminders and other jobs.
//!
//! The engine reads wall-clock time through a [`Clock`] so tests can drive it:
//! [`TokioClock`] follows tokio's clock, which a test can pause and advance,
//! while [`SystemClock`] (the default) is the machine's wall clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now_unix_ms(&self) -> i64;
}

/// The machine's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> i64 {
        unix_ms(SystemTime::now())
    }
}

/// Wall-clock time that advances with tokio's clock: paused and advanced with
/// it in tests (`tokio::time::pause`, `advance`, `start_paused`).
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    anchor_unix_ms: i64,
    anchor: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading the system time now, then advancing with tokio's clock.
    pub fn new() -> Self {
        Self::starting_at(unix_ms(SystemTime::now()))
    }

    /// A clock reading `unix_ms` now, then advancing with tokio's clock.
    pub fn starting_at(unix_ms: i64) -> Self {
        Self {
            anchor_unix_ms: unix_ms,
            anchor: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_unix_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.anchor.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.anchor_unix_ms.saturating_add(elapsed)
    }
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How long from `now_unix_ms` until `due_unix_ms` (zero if it has passed).
pub fn until(now_unix_ms: i64, due_unix_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(due_unix_ms.saturating_sub(now_unix_ms)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::starting_at(1_000);
        assert_eq!(clock.now_unix_ms(), 1_000);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now_unix_ms(), 91_000);
    }

    #[test]
    fn until_is_zero_for_the_past() {
        assert_eq!(until(5_000, 1_000), Duration::ZERO);
        assert_eq!(until(1_000, 3_500), Duration::from_millis(2_500));
    }
}
