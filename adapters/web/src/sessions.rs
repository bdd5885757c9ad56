//! [`Sessions`]: browsers that logged in with the token. Each holds its
//! anti-forgery (CSRF) token and its own chat conversation. Kept in memory:
//! a restart logs everyone out, which is the safe direction. Bounded: the
//! oldest idle session goes first when the cap is reached.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Sessions kept at most.
const MAX_SESSIONS: usize = 1_000;
/// A session unused this long is forgotten.
const IDLE_LIMIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// An unguessable identifier: 244 random bits from the system's generator,
/// as 64 hex digits.
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// One logged-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// What every form and POST of this session must carry.
    pub csrf: String,
    /// The chat conversation of this browser (its scope's id part).
    pub conversation: String,
    last_seen: Instant,
}

/// Every logged-in browser, by session id (the cookie's value).
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a session; returns its id.
    pub fn create(&self) -> String {
        let id = random_token();
        let session = Session {
            csrf: random_token(),
            // Not the session id: conversations are listed on the dashboard.
            conversation: uuid::Uuid::new_v4().simple().to_string(),
            last_seen: Instant::now(),
        };
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.last_seen.elapsed() < IDLE_LIMIT);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), session);
        id
    }

    /// The session `id`, if it is live (and marks it used).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(id)?;
        if session.last_seen.elapsed() >= IDLE_LIMIT {
            sessions.remove(id);
            return None;
        }
        session.last_seen = Instant::now();
        Some(session.clone())
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sessions_are_distinct_and_expire_when_idle() {
        let sessions = Sessions::default();
        let a = sessions.create();
        let b = sessions.create();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let (sa, sb) = (sessions.get(&a).unwrap(), sessions.get(&b).unwrap());
        assert_ne!(sa.csrf, sb.csrf);
        assert_ne!(sa.conversation, sb.conversation);
        assert!(!a.contains(&sa.conversation));
        tokio::time::advance(IDLE_LIMIT).await;
        assert!(sessions.get(&a).is_none());
        sessions.remove(&b);
        assert!(sessions.get(&b).is_none());
    }
}
