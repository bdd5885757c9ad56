//! [`Pictures`]: the pictures people send from the web chat, kept in memory
//! until the engine fetches them ([`natter_core::Outbox::download`]) —
//! bounded in count and bytes, oldest dropped first. History keeps its own
//! small copy, so nothing here needs to outlive the process.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use lru::LruCache;

/// Prefix of the attachment references the web chat makes.
pub(crate) const REFERENCE_PREFIX: &str = "web-picture:";
/// Most pictures kept at once.
const MAX_KEPT: usize = 64;
/// Most bytes kept at once.
const MAX_KEPT_BYTES: usize = 64 * 1024 * 1024;

/// One kept picture.
struct Kept {
    bytes: Vec<u8>,
}

/// The pictures sent from browsers, by reference.
pub struct Pictures {
    kept: Mutex<(LruCache<String, Kept>, usize)>,
    next: AtomicU64,
}

impl Default for Pictures {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(MAX_KEPT).unwrap_or(NonZeroUsize::MIN);
        Self {
            kept: Mutex::new((LruCache::new(capacity), 0)),
            next: AtomicU64::new(1),
        }
    }
}

impl Pictures {
    /// Keeps `bytes`; returns the attachment reference that fetches them.
    pub(crate) fn keep(&self, bytes: Vec<u8>) -> String {
        let reference = format!(
            "{REFERENCE_PREFIX}{}",
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let mut guard = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (kept, total) = &mut *guard;
        *total += bytes.len();
        if let Some((_, evicted)) = kept.push(reference.clone(), Kept { bytes }) {
            *total -= evicted.bytes.len();
        }
        while *total > MAX_KEPT_BYTES && kept.len() > 1 {
            match kept.pop_lru() {
                Some((_, evicted)) => *total -= evicted.bytes.len(),
                None => break,
            }
        }
        reference
    }

    /// The bytes of `reference`, if still kept.
    pub(crate) fn get(&self, reference: &str) -> Option<Vec<u8>> {
        let mut guard = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0.get(reference).map(|kept| kept.bytes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_kept_by_reference_and_the_oldest_go_first() {
        let pictures = Pictures::default();
        let first = pictures.keep(vec![1, 2, 3]);
        assert!(first.starts_with(REFERENCE_PREFIX));
        assert_eq!(pictures.get(&first), Some(vec![1, 2, 3]));
        for _ in 0..MAX_KEPT {
            pictures.keep(vec![0]);
        }
        assert_eq!(pictures.get(&first), None, "the oldest made room");
        assert_eq!(pictures.get("web-picture:nope"), None);
    }
}
