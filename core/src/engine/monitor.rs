//! [`Monitor`]: what the engine is doing, for dashboards and health checks —
//! each attached platform's connection as its adapter reports it, replies
//! in flight, and per-minute counts of messages, replies and errors over
//! the last hour — read as one [`EngineStats`] by [`super::Engine::stats`].
//! Time is tokio's, so tests drive it on the paused clock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::message::Platform;
use crate::telemetry;

/// Minutes of activity kept.
pub const ACTIVITY_MINUTES: usize = 60;
const MINUTE: Duration = Duration::from_secs(60);

/// A platform's link to its service, as its adapter reports it through
/// [`crate::Inbox::set_connection`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Attached, and connecting (or reconnecting) to the service.
    Connecting,
    /// Connected: messages arrive and replies go out.
    Connected,
    /// Not connected, and why.
    Disconnected(String),
}

impl Connection {
    /// True when connected.
    pub fn is_connected(&self) -> bool {
        matches!(self, Connection::Connected)
    }
}

/// One attached platform's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformStatus {
    /// The platform.
    pub platform: Platform,
    /// Its connection.
    pub connection: Connection,
    /// When the connection last changed.
    pub since: SystemTime,
}

/// Counts of one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinuteActivity {
    /// Messages submitted.
    pub received: u64,
    /// Chat replies finished (whatever the outcome).
    pub replies: u64,
    /// Failures: models, deliveries, plugins.
    pub errors: u64,
}

/// A reading of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineStats {
    /// Each attached platform, by name.
    pub platforms: Vec<PlatformStatus>,
    /// Messages being handled now.
    pub in_flight: usize,
    /// Messages waiting in their conversation's line.
    pub queued: usize,
    /// Conversations with messages being handled or waiting.
    pub active_conversations: usize,
    /// The last [`ACTIVITY_MINUTES`] minutes, oldest first; the last entry is
    /// the minute under way.
    pub minutes: Vec<MinuteActivity>,
}

impl EngineStats {
    /// The status of `platform`, if it is attached.
    pub fn platform(&self, platform: Platform) -> Option<&PlatformStatus> {
        self.platforms.iter().find(|p| p.platform == platform)
    }

    /// The last complete minute (the one before the minute under way).
    pub fn last_minute(&self) -> MinuteActivity {
        let n = self.minutes.len();
        n.checked_sub(2)
            .and_then(|i| self.minutes.get(i))
            .copied()
            .unwrap_or_default()
    }

    /// Sums over the last hour.
    pub fn last_hour(&self) -> MinuteActivity {
        self.minutes
            .iter()
            .fold(MinuteActivity::default(), |sum, m| MinuteActivity {
                received: sum.received + m.received,
                replies: sum.replies + m.replies,
                errors: sum.errors + m.errors,
            })
    }
}

/// What happened, to be counted.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    Received,
    Replied,
    Failed,
}

/// The engine's readings, updated where things happen.
pub(crate) struct Monitor {
    start: Instant,
    in_flight: AtomicUsize,
    platforms: Mutex<BTreeMap<Platform, PlatformStatus>>,
    /// (minute number since `start`, counts), oldest first.
    minutes: Mutex<VecDeque<(u64, MinuteActivity)>>,
}

impl Default for Monitor {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            platforms: Mutex::new(BTreeMap::new()),
            minutes: Mutex::new(VecDeque::with_capacity(ACTIVITY_MINUTES + 1)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Monitor {
    fn minute(&self) -> u64 {
        (self.start.elapsed().as_secs()) / MINUTE.as_secs()
    }

    /// Counts `event` in the minute under way.
    pub(crate) fn count(&self, event: Event) {
        let now = self.minute();
        let mut minutes = lock(&self.minutes);
        if minutes.back().is_none_or(|(minute, _)| *minute != now) {
            minutes.push_back((now, MinuteActivity::default()));
        }
        while minutes
            .front()
            .is_some_and(|(minute, _)| now - minute >= ACTIVITY_MINUTES as u64)
        {
            minutes.pop_front();
        }
        if let Some((_, counts)) = minutes.back_mut() {
            match event {
                Event::Received => counts.received += 1,
                Event::Replied => counts.replies += 1,
                Event::Failed => counts.errors += 1,
            }
        }
    }

    /// The last hour, one entry per minute, oldest first.
    fn activity(&self) -> Vec<MinuteActivity> {
        let now = self.minute();
        let minutes = lock(&self.minutes);
        // Minutes before the engine started count as quiet ones.
        (0..ACTIVITY_MINUTES as u64)
            .rev()
            .map(|ago| {
                now.checked_sub(ago)
                    .and_then(|minute| minutes.iter().find(|(m, _)| *m == minute))
                    .map(|(_, counts)| *counts)
                    .unwrap_or_default()
            })
            .collect()
    }

    /// A message starts being handled; the returned guard ends it.
    pub(crate) fn handling(&self) -> Handling<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        telemetry::in_flight(now);
        Handling(self)
    }

    /// `platform` is attached, or its adapter reports a new `connection`.
    pub(crate) fn set_connection(&self, platform: Platform, connection: Connection) {
        let mut platforms = lock(&self.platforms);
        let changed = platforms
            .get(&platform)
            .is_none_or(|status| status.connection != connection);
        if changed {
            platforms.insert(
                platform,
                PlatformStatus {
                    platform,
                    connection,
                    since: SystemTime::now(),
                },
            );
        }
    }

    /// The reading, with the lanes' counts filled in by the caller.
    pub(crate) fn stats(&self, queued: usize, active_conversations: usize) -> EngineStats {
        EngineStats {
            platforms: lock(&self.platforms).values().cloned().collect(),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            queued,
            active_conversations,
            minutes: self.activity(),
        }
    }
}

/// A message being handled; dropping it ends the handling.
pub(crate) struct Handling<'a>(&'a Monitor);

impl Drop for Handling<'_> {
    fn drop(&mut self) {
        let now = self.0.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        telemetry::in_flight(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_fall_into_their_minute_and_age_out_after_an_hour() {
        let monitor = Monitor::default();
        monitor.count(Event::Received);
        monitor.count(Event::Replied);
        tokio::time::advance(MINUTE).await;
        monitor.count(Event::Received);
        monitor.count(Event::Failed);
        let stats = monitor.stats(0, 0);
        assert_eq!(stats.minutes.len(), ACTIVITY_MINUTES);
        assert_eq!(
            stats.last_minute(),
            MinuteActivity {
                received: 1,
                replies: 1,
                errors: 0
            }
        );
        assert_eq!(stats.last_hour().received, 2);
        assert_eq!(stats.last_hour().errors, 1);
        tokio::time::advance(MINUTE * ACTIVITY_MINUTES as u32).await;
        monitor.count(Event::Received);
        let stats = monitor.stats(0, 0);
        assert_eq!(
            stats.last_hour().received,
            1,
            "an hour later, only the new one"
        );
        assert_eq!(stats.last_hour().errors, 0);
    }

    #[test]
    fn in_flight_follows_the_guards_and_connections_keep_their_since() {
        let monitor = Monitor::default();
        let one = monitor.handling();
        let two = monitor.handling();
        assert_eq!(monitor.stats(0, 0).in_flight, 2);
        drop(one);
        assert_eq!(monitor.stats(0, 0).in_flight, 1);
        drop(two);
        assert_eq!(monitor.stats(0, 0).in_flight, 0);

        let web = Platform::new("web");
        monitor.set_connection(web, Connection::Connecting);
        let since = monitor.stats(0, 0).platforms[0].since;
        monitor.set_connection(web, Connection::Connecting);
        assert_eq!(
            monitor.stats(0, 0).platforms[0].since,
            since,
            "no change, same since"
        );
        monitor.set_connection(web, Connection::Disconnected("gone".into()));
        let stats = monitor.stats(0, 0);
        assert_eq!(
            stats.platform(web).map(|p| &p.connection),
            Some(&Connection::Disconnected("gone".into()))
        );
    }
}
