//! Group admins from Telegram: [`ChatAdmins`] asks `getChatAdministrators`
//! for a group's creator and administrators, keeps the answer per chat for
//! `[telegram] admin_cache_secs`, and answers "is this user an admin here?".
//!
//! - **Single flight.** Concurrent questions about one chat share one
//!   request: a burst of commands costs one call, not one each.
//! - **Failures** (network, 400 "chat not found", 429, no answer within
//!   [`LOOKUP_TIMEOUT`]) count as "no admins by Telegram" until a short
//!   back-off ends (longer when Telegram says `retry_after`); they are logged
//!   at warn level once per chat per cache window, then at debug level.
//! - **Off** with a window of 0: nobody is an admin by Telegram, no calls.
//!
//! It keeps time on tokio's clock, so tests can pause and advance it. Who
//! asks, and when, is the caller's business (`run` asks only for group
//! messages the engine may answer); the `admins` of the settings and
//! anonymous admins are not this module's concern either.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use teloxide::prelude::Requester;
use teloxide::types::ChatId;
use teloxide::{Bot, RequestError};
use tokio::time::Instant;
use tracing::{Instrument, debug, instrument, warn};

/// Longest a message waits for a lookup; then its author counts as no admin.
pub(crate) const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long after a failed lookup the next one is tried (at most the cache window).
pub(crate) const FAILURE_BACKOFF: Duration = Duration::from_secs(30);
/// Past this many chats, finished entries are forgotten before a new one is added.
const PRUNE_ABOVE: usize = 4096;

/// The user ids of one chat's admins.
type Admins = Arc<HashSet<i64>>;
/// One chat's lookup, shared by everyone waiting for it.
type Flight = Shared<BoxFuture<'static, Admins>>;
/// What asks Telegram for one chat's admins.
type Fetch = Arc<dyn Fn(i64) -> BoxFuture<'static, Result<Admins, RequestError>> + Send + Sync>;

/// Telegram's admins of group chats, cached per chat. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ChatAdmins {
    inner: Arc<Inner>,
}

struct Inner {
    fetch: Fetch,
    window: Duration,
    chats: Mutex<HashMap<i64, Chat>>,
}

/// What is known of one chat.
#[derive(Default)]
struct Chat {
    state: State,
    /// When a failure of this chat's lookup was last logged at warn level.
    warned: Option<Instant>,
}

#[derive(Default)]
enum State {
    #[default]
    Unknown,
    Known {
        admins: Admins,
        until: Instant,
    },
    Failed {
        until: Instant,
    },
    Fetching(Flight),
}

impl State {
    /// The admins while this is still good at `now`: `None` when it is
    /// unknown, stale, or being fetched.
    fn current(&self, now: Instant) -> Option<Admins> {
        match self {
            Self::Known { admins, until } if now < *until => Some(Arc::clone(admins)),
            Self::Failed { until } if now < *until => Some(Admins::default()),
            _ => None,
        }
    }
}

impl ChatAdmins {
    /// Admins looked up through `bot`, each chat's kept for `window`
    /// (0: never looked up).
    pub(crate) fn new(bot: Bot, window: Duration) -> Self {
        let fetch: Fetch = Arc::new(move |chat| {
            let bot = bot.clone();
            async move {
                let members = bot.get_chat_administrators(ChatId(chat)).await?;
                Ok(Arc::new(
                    members
                        .into_iter()
                        .filter(|m| m.is_privileged())
                        .filter_map(|m| i64::try_from(m.user.id.0).ok())
                        .collect(),
                ))
            }
            .boxed()
        });
        Self::with_fetch(fetch, window)
    }

    fn with_fetch(fetch: Fetch, window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                fetch,
                window,
                chats: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// True when lookups are on (`admin_cache_secs` is not 0).
    pub(crate) fn enabled(&self) -> bool {
        !self.inner.window.is_zero()
    }

    /// Whether `user` is an admin of `chat` by Telegram, when that is known
    /// without asking: `None` when a lookup is needed (or under way).
    pub(crate) fn known(&self, chat: i64, user: i64) -> Option<bool> {
        if !self.enabled() {
            return Some(false);
        }
        let now = Instant::now();
        let chats = self.inner.lock();
        let admins = chats.get(&chat)?.state.current(now)?;
        Some(admins.contains(&user))
    }

    /// Whether `user` is an admin of `chat` by Telegram: from the cache, or
    /// from a lookup shared with everyone asking about `chat` meanwhile.
    /// False when lookups are off or failed. Never waits much longer than
    /// [`LOOKUP_TIMEOUT`].
    #[instrument(name = "telegram_admins", skip(self))]
    pub(crate) async fn is_admin(&self, chat: i64, user: i64) -> bool {
        if !self.enabled() {
            return false;
        }
        let flight = {
            let now = Instant::now();
            let mut chats = self.inner.lock();
            if !chats.contains_key(&chat) && chats.len() >= PRUNE_ABOVE {
                chats.retain(|_, c| c.state.current(now).is_some() || c.is_fetching());
            }
            let entry = chats.entry(chat).or_default();
            if let Some(admins) = entry.state.current(now) {
                return admins.contains(&user);
            }
            match &entry.state {
                State::Fetching(flight) => flight.clone(),
                _ => {
                    let flight = self.start(chat);
                    entry.state = State::Fetching(flight.clone());
                    flight
                }
            }
        };
        flight.await.contains(&user)
    }

    /// Starts the lookup of `chat` in a task of its own (it finishes and is
    /// cached even when nobody waits for it any more).
    fn start(&self, chat: i64) -> Flight {
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(
            async move {
                let fetched = tokio::time::timeout(LOOKUP_TIMEOUT, (inner.fetch)(chat)).await;
                inner.settle(chat, fetched)
            }
            .in_current_span(),
        );
        // The task does not panic; were it cancelled, nobody is an admin.
        task.map(Result::unwrap_or_default).boxed().shared()
    }
}

impl Chat {
    fn is_fetching(&self) -> bool {
        matches!(self.state, State::Fetching(_))
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Chat>> {
        self.chats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records how the lookup of `chat` went; the admins to answer with.
    fn settle(
        &self,
        chat: i64,
        fetched: Result<Result<Admins, RequestError>, tokio::time::error::Elapsed>,
    ) -> Admins {
        let now = Instant::now();
        let mut chats = self.lock();
        let entry = chats.entry(chat).or_default();
        let (error, retry_after) = match fetched {
            Ok(Ok(admins)) => {
                debug!(chat, admins = admins.len(), "group admins looked up");
                entry.state = State::Known {
                    admins: Arc::clone(&admins),
                    until: later(now, self.window),
                };
                entry.warned = None;
                return admins;
            }
            Ok(Err(RequestError::RetryAfter(after))) => (
                format!("retry after {}s", after.seconds()),
                after.duration(),
            ),
            Ok(Err(error)) => (error.to_string(), Duration::ZERO),
            Err(_) => (
                format!("no answer within {}s", LOOKUP_TIMEOUT.as_secs()),
                Duration::ZERO,
            ),
        };
        let backoff = FAILURE_BACKOFF.min(self.window).max(retry_after);
        entry.state = State::Failed {
            until: later(now, backoff),
        };
        let quiet = entry.warned.is_some_and(|at| now < later(at, self.window));
        if quiet {
            debug!(chat, %error, "could not look up the group's admins, again");
        } else {
            entry.warned = Some(now);
            warn!(
                chat,
                %error,
                retry_in_secs = backoff.as_secs(),
                "could not look up the group's admins with getChatAdministrators; \
                 only [telegram] admins count as admins there until it works"
            );
        }
        Admins::default()
    }
}

/// `at + by`, or `at` should that not be representable.
fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use teloxide::ApiError;
    use teloxide::types::Seconds;

    use super::*;

    const CHAT: i64 = -100;
    const ADMIN: i64 = 7;
    const MEMBER: i64 = 8;
    const WINDOW: Duration = Duration::from_secs(600);

    /// What the fake Telegram answers next, and how many times it was asked.
    #[derive(Clone, Default)]
    struct Telegram {
        calls: Arc<AtomicUsize>,
        failures: Arc<Mutex<Vec<RequestError>>>,
        delay: Arc<Mutex<Duration>>,
    }

    impl Telegram {
        fn admins(&self, window: Duration) -> ChatAdmins {
            let telegram = self.clone();
            let fetch: Fetch = Arc::new(move |_chat| {
                let telegram = telegram.clone();
                async move {
                    telegram.calls.fetch_add(1, Ordering::SeqCst);
                    let delay = *telegram.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    match telegram.failures.lock().unwrap().pop() {
                        Some(error) => Err(error),
                        None => Ok(Arc::new(HashSet::from([ADMIN]))),
                    }
                }
                .boxed()
            });
            ChatAdmins::with_fetch(fetch, window)
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        fn fail_next(&self, error: RequestError) {
            self.failures.lock().unwrap().push(error);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn answers_from_the_cache_until_the_window_ends() {
        let telegram = Telegram::default();
        let admins = telegram.admins(WINDOW);
        assert_eq!(admins.known(CHAT, ADMIN), None, "nothing known yet");
        assert!(admins.is_admin(CHAT, ADMIN).await);
        assert!(!admins.is_admin(CHAT, MEMBER).await);
        assert_eq!(admins.known(CHAT, ADMIN), Some(true));
        assert_eq!(admins.known(CHAT, MEMBER), Some(false));
        assert_eq!(telegram.calls(), 1);

        tokio::time::advance(WINDOW - Duration::from_secs(1)).await;
        assert!(admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(telegram.calls(), 1, "asked again inside the window");

        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(admins.known(CHAT, ADMIN), None, "stale after the window");
        assert!(admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(telegram.calls(), 2, "not asked again after the window");
        assert!(admins.is_admin(-200, ADMIN).await, "each chat its own");
        assert_eq!(telegram.calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_questions_share_one_lookup() {
        let telegram = Telegram::default();
        *telegram.delay.lock().unwrap() = Duration::from_secs(1);
        let admins = telegram.admins(WINDOW);
        let asks = (0..10).map(|i| {
            let admins = admins.clone();
            async move {
                admins
                    .is_admin(CHAT, if i % 2 == 0 { ADMIN } else { MEMBER })
                    .await
            }
        });
        let answers = futures::future::join_all(asks).await;
        assert_eq!(telegram.calls(), 1, "one lookup for the burst");
        let expected: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
        assert_eq!(answers, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_means_no_admins_until_the_backoff_ends() {
        let telegram = Telegram::default();
        let admins = telegram.admins(WINDOW);
        telegram.fail_next(RequestError::Api(ApiError::ChatNotFound));
        assert!(
            !admins.is_admin(CHAT, ADMIN).await,
            "admin despite the failure"
        );
        assert_eq!(admins.known(CHAT, ADMIN), Some(false));
        tokio::time::advance(FAILURE_BACKOFF - Duration::from_secs(1)).await;
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(telegram.calls(), 1, "retried on every message");

        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            admins.is_admin(CHAT, ADMIN).await,
            "not retried after the back-off"
        );
        assert_eq!(telegram.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_lengthens_the_backoff() {
        let telegram = Telegram::default();
        let admins = telegram.admins(WINDOW);
        telegram.fail_next(RequestError::RetryAfter(Seconds::from_seconds(90)));
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        tokio::time::advance(Duration::from_secs(89)).await;
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(telegram.calls(), 1, "asked before retry_after");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(telegram.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_without_an_answer_gives_up_after_the_timeout() {
        let telegram = Telegram::default();
        *telegram.delay.lock().unwrap() = Duration::from_secs(3600);
        let admins = telegram.admins(WINDOW);
        let started = Instant::now();
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(started.elapsed(), LOOKUP_TIMEOUT);
        assert_eq!(admins.known(CHAT, ADMIN), Some(false), "not backing off");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_warned_about_once_per_window() {
        let telegram = Telegram::default();
        let window = Duration::from_secs(60);
        let admins = telegram.admins(window);
        let warned = || admins.inner.lock().get(&CHAT).and_then(|c| c.warned);
        let start = Instant::now();
        for _ in 0..3 {
            telegram.fail_next(RequestError::Api(ApiError::ChatNotFound));
        }
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(warned(), Some(start));
        tokio::time::advance(FAILURE_BACKOFF).await;
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(warned(), Some(start), "warned twice in one window");
        tokio::time::advance(FAILURE_BACKOFF).await;
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(
            warned(),
            Some(start + window),
            "not warned in the next window"
        );
        assert_eq!(telegram.calls(), 3);
        tokio::time::advance(FAILURE_BACKOFF).await;
        assert!(admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(warned(), None, "a success ends the episode");
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_of_zero_never_asks() {
        let telegram = Telegram::default();
        let admins = telegram.admins(Duration::ZERO);
        assert!(!admins.enabled());
        assert_eq!(admins.known(CHAT, ADMIN), Some(false));
        assert!(!admins.is_admin(CHAT, ADMIN).await);
        assert_eq!(telegram.calls(), 0);
    }
}
