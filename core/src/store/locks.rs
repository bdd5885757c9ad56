//! Named locks shared by every natter process on one database: what keeps a
//! conversation's turns in order when several processes answer it (Telegram
//! webhook replicas behind one URL), and what lets only one process long-poll
//! a bot token.
//!
//! Within one process the engine's lanes already handle a conversation's
//! messages one at a time, so a database only one process uses (SQLite,
//! memory) needs nothing more: [`NoLocks`] grants every lock at once.
//! `natter-store` implements [`Locks`] on Postgres with advisory locks.

use async_trait::async_trait;

use super::StoreError;
use crate::message::ConversationKey;

/// Locks by name, held until their [`LockGuard`] is dropped.
#[async_trait]
pub trait Locks: Send + Sync {
    /// Waits until this process holds the lock called `name`.
    async fn lock(&self, name: &str) -> Result<LockGuard, StoreError>;

    /// The lock called `name` if nobody holds it, `None` if somebody does.
    async fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError>;

    /// True when the locks reach other processes (a shared database), false
    /// when they only stand for this one.
    fn shared(&self) -> bool;
}

/// A held lock; dropping it lets go.
#[must_use = "the lock is let go when the guard is dropped"]
pub struct LockGuard {
    _held: Option<Box<dyn Send>>,
}

impl LockGuard {
    /// A guard that lets go by dropping `held` (whatever releases the lock
    /// when dropped: a connection, a permit).
    pub fn new(held: impl Send + 'static) -> Self {
        Self {
            _held: Some(Box::new(held)),
        }
    }

    /// A guard with nothing to let go.
    pub fn granted() -> Self {
        Self { _held: None }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

/// The locks of a database only this process uses: every lock is granted at
/// once, because there is nobody else to keep out.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLocks;

#[async_trait]
impl Locks for NoLocks {
    async fn lock(&self, _name: &str) -> Result<LockGuard, StoreError> {
        Ok(LockGuard::granted())
    }

    async fn try_lock(&self, _name: &str) -> Result<Option<LockGuard>, StoreError> {
        Ok(Some(LockGuard::granted()))
    }

    fn shared(&self) -> bool {
        false
    }
}

/// The name of the lock held while one of `key`'s turns runs.
pub fn conversation_lock(key: &ConversationKey) -> String {
    format!("natter:conversation:{key}")
}
