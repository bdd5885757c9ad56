//! [`Pacer`]: keeps sends and edits inside a platform's rate limits.
//!
//! Limits are sliding windows ("at most N in any P"), the way Telegram and
//! Discord document them, checked per chat, additionally per group chat, and
//! across the whole bot. A platform's `retry_after` holds a chat until then.
//! Time comes from `tokio::time`, so tests run it on a paused clock.
//!
//! Streaming edits are optional and finals are not, so edits leave headroom:
//! a partial edit only goes out while each window keeps a few operations
//! spare ([`headroom`]). A reply streaming for minutes into a busy group can
//! then never use up the budget its final text needs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::outbox::{PlatformLimits, Rate};

/// Chats idle this long lose their pacing state (once no window can still count them).
const PRUNE_EVERY: u32 = 512;

/// Operations optional ones leave unused in each window of `rate`: about a
/// tenth of it, at least one once a window allows three or more.
pub fn headroom(rate: &Rate) -> u32 {
    match rate.count {
        0..=2 => 0,
        3..=19 => 1,
        n => n / 10,
    }
}

/// Whether an operation must happen or may be skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Sends and final edits: may use the whole budget.
    Required,
    /// Streaming edits: leave headroom for what is required.
    Optional,
}

/// The chat an operation counts against, as the platform's rate limits see it:
/// its pacing key ([`crate::Outbox::pacing_key`]) and whether it is a group
/// (group limits apply on top of per-chat ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaceKey<'a> {
    /// The chat's pacing key.
    pub chat: &'a str,
    /// True for group chats.
    pub group: bool,
}

impl<'a> PaceKey<'a> {
    /// A private chat.
    pub fn private(chat: &'a str) -> Self {
        Self { chat, group: false }
    }

    /// A group chat.
    pub fn group(chat: &'a str) -> Self {
        Self { chat, group: true }
    }
}

/// Rate limiter shared by every reply going through one platform.
#[derive(Debug)]
pub struct Pacer {
    per_chat: Vec<Rate>,
    per_group: Vec<Rate>,
    global: Vec<Rate>,
    longest_window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    global: Windows,
    chats: HashMap<String, ChatPace>,
    ops_since_prune: u32,
}

#[derive(Debug)]
struct ChatPace {
    windows: Windows,
    held_until: Option<Instant>,
    last_used: Instant,
}

/// One deque of recent timestamps per rate.
#[derive(Debug, Default)]
struct Windows(Vec<VecDeque<Instant>>);

impl Windows {
    fn new(rates: usize) -> Self {
        Self((0..rates).map(|_| VecDeque::new()).collect())
    }

    /// When the next operation may happen under `rates`, or `None` for now.
    /// An optional operation (`Priority::Optional`) must leave each window's
    /// [`headroom`] unused.
    fn next_free(&mut self, rates: &[Rate], now: Instant, priority: Priority) -> Option<Instant> {
        let mut wait: Option<Instant> = None;
        for (stamps, rate) in self.0.iter_mut().zip(rates) {
            while stamps.front().is_some_and(|&t| t + rate.per <= now) {
                stamps.pop_front();
            }
            let spare = match priority {
                Priority::Required => 0,
                Priority::Optional => headroom(rate),
            };
            let allowed = (rate.count.saturating_sub(spare) as usize).max(1);
            if stamps.len() >= allowed {
                // The stamp whose expiry brings the count below `allowed`.
                let free_at = stamps[stamps.len() - allowed] + rate.per;
                wait = Some(wait.map_or(free_at, |w| w.max(free_at)));
            }
        }
        wait
    }

    fn record(&mut self, now: Instant) {
        for stamps in &mut self.0 {
            stamps.push_back(now);
        }
    }
}

impl Pacer {
    /// A pacer enforcing `limits`.
    pub fn new(limits: &PlatformLimits) -> Self {
        let longest_window = limits
            .per_chat
            .iter()
            .chain(&limits.per_group)
            .chain(&limits.global)
            .map(|r| r.per)
            .max()
            .unwrap_or_default();
        Self {
            per_chat: limits.per_chat.clone(),
            per_group: limits.per_group.clone(),
            global: limits.global.clone(),
            longest_window,
            state: Mutex::new(State {
                global: Windows::new(limits.global.len()),
                ..State::default()
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until one more send or edit in `to` is allowed, and counts it.
    ///
    /// Cancel-safe: an operation is only counted when the future completes.
    pub async fn acquire(&self, to: PaceKey<'_>) {
        self.acquire_as(to, Priority::Required).await;
    }

    /// [`Pacer::acquire`] for an operation of `priority`.
    pub async fn acquire_as(&self, to: PaceKey<'_>, priority: Priority) {
        while let Some(at) = self.try_acquire_as(to, Instant::now(), priority) {
            tokio::time::sleep_until(at).await;
        }
    }

    /// Counts an operation in `to` now if allowed; otherwise returns when to try again.
    pub fn try_acquire(&self, to: PaceKey<'_>, now: Instant) -> Option<Instant> {
        self.try_acquire_as(to, now, Priority::Required)
    }

    /// [`Pacer::try_acquire`] for an operation of `priority`.
    pub fn try_acquire_as(
        &self,
        to: PaceKey<'_>,
        now: Instant,
        priority: Priority,
    ) -> Option<Instant> {
        let mut state = self.state();
        state.ops_since_prune += 1;
        if state.ops_since_prune >= PRUNE_EVERY {
            state.ops_since_prune = 0;
            self.prune(&mut state, now);
        }
        let chat_rates = self.chat_rates(to);
        let mut wait = state.global.next_free(&self.global, now, priority);
        let chat = state
            .chats
            .entry(to.chat.to_owned())
            .or_insert_with(|| ChatPace {
                windows: Windows::new(chat_rates.len()),
                held_until: None,
                last_used: now,
            });
        if chat.windows.0.len() != chat_rates.len() {
            chat.windows = Windows::new(chat_rates.len());
        }
        let chat_wait = chat.windows.next_free(&chat_rates, now, priority);
        let held = chat.held_until.filter(|&h| h > now);
        for candidate in [chat_wait, held].into_iter().flatten() {
            wait = Some(wait.map_or(candidate, |w| w.max(candidate)));
        }
        if wait.is_some() {
            return wait;
        }
        chat.windows.record(now);
        chat.last_used = now;
        chat.held_until = None;
        state.global.record(now);
        None
    }

    /// Holds `to` for `duration` (the platform said retry after it).
    pub fn hold(&self, to: PaceKey<'_>, duration: Duration) {
        let until = Instant::now() + duration;
        let chat_rates = self.chat_rates(to).len();
        let mut state = self.state();
        let chat = state
            .chats
            .entry(to.chat.to_owned())
            .or_insert_with(|| ChatPace {
                windows: Windows::new(chat_rates),
                held_until: None,
                last_used: until,
            });
        chat.held_until = Some(chat.held_until.map_or(until, |h| h.max(until)));
        chat.last_used = chat.last_used.max(until);
    }

    /// Chats whose pacing state the pacer currently holds (memory stays bounded).
    pub fn tracked_chats(&self) -> usize {
        self.state().chats.len()
    }

    fn chat_rates(&self, to: PaceKey<'_>) -> Vec<Rate> {
        if !to.group {
            self.per_chat.clone()
        } else {
            self.per_chat
                .iter()
                .chain(&self.per_group)
                .copied()
                .collect()
        }
    }

    fn prune(&self, state: &mut State, now: Instant) {
        let keep_for = self.longest_window;
        state.chats.retain(|_, chat| {
            chat.last_used + keep_for > now || chat.held_until.is_some_and(|h| h > now)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_chat: Vec<Rate>, global: Vec<Rate>) -> PlatformLimits {
        PlatformLimits {
            per_chat,
            global,
            ..PlatformLimits::unlimited()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn per_chat_window_spaces_operations() {
        let pacer = Pacer::new(&limits(vec![Rate::new(1, Duration::from_secs(1))], vec![]));
        let chat = PaceKey::private("1");
        let start = Instant::now();
        for _ in 0..3 {
            pacer.acquire(chat).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn chats_are_independent_but_share_the_global_budget() {
        let pacer = Pacer::new(&limits(
            vec![Rate::new(1, Duration::from_secs(1))],
            vec![Rate::new(2, Duration::from_secs(1))],
        ));
        let start = Instant::now();
        for id in ["a", "b", "c"] {
            pacer.acquire(PaceKey::private(id)).await;
        }
        // Two fit in the first second globally; the third waits for the window.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn group_limits_apply_only_to_groups() {
        let pacer = Pacer::new(&PlatformLimits {
            per_group: vec![Rate::new(2, Duration::from_secs(60))],
            ..PlatformLimits::unlimited()
        });
        let private = PaceKey::private("p");
        let group = PaceKey::group("g");
        let start = Instant::now();
        for _ in 0..5 {
            pacer.acquire(private).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..3 {
            pacer.acquire(group).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn optional_operations_leave_headroom_for_required_ones() {
        let pacer = Pacer::new(&PlatformLimits {
            per_group: vec![Rate::new(20, Duration::from_secs(60))],
            ..PlatformLimits::unlimited()
        });
        let group = PaceKey::group("g");
        let start = Instant::now();
        for _ in 0..18 {
            pacer.acquire_as(group, Priority::Optional).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        let now = Instant::now();
        assert_eq!(
            pacer.try_acquire_as(group, now, Priority::Optional),
            Some(start + Duration::from_secs(60)),
            "the 19th edit waits"
        );
        // The final text still has two slots.
        assert_eq!(pacer.try_acquire(group, now), None);
        assert_eq!(pacer.try_acquire(group, now), None);
        assert!(pacer.try_acquire(group, now).is_some());
    }

    #[test]
    fn headroom_is_about_a_tenth() {
        let rate = |count| Rate::new(count, Duration::from_secs(1));
        assert_eq!(headroom(&rate(1)), 0);
        assert_eq!(headroom(&rate(5)), 1);
        assert_eq!(headroom(&rate(20)), 2);
        assert_eq!(headroom(&rate(30)), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn hold_delays_the_next_operation() {
        let pacer = Pacer::new(&PlatformLimits::unlimited());
        let chat = PaceKey::private("1");
        pacer.hold(chat, Duration::from_secs(7));
        let start = Instant::now();
        pacer.acquire(chat).await;
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_chats_are_forgotten() {
        let pacer = Pacer::new(&limits(vec![Rate::new(1, Duration::from_secs(1))], vec![]));
        for id in 0..PRUNE_EVERY {
            pacer.acquire(PaceKey::private(&id.to_string())).await;
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for _ in 0..PRUNE_EVERY {
            pacer.acquire(PaceKey::private("x")).await;
        }
        assert!(pacer.tracked_chats() <= 2, "{}", pacer.tracked_chats());
    }
}
