//! [`Live`]: a setting that a reload replaces while messages are being
//! handled. Readers take the value in force as they start and keep it to the
//! end of what they do, so one message never sees half of old settings and
//! half of new ones.

use std::sync::{Arc, PoisonError, RwLock};

/// A value replaced as a whole, read as a whole.
#[derive(Debug, Default)]
pub struct Live<T> {
    value: RwLock<Arc<T>>,
}

impl<T> Live<T> {
    /// Starts with `value`.
    pub fn new(value: T) -> Self {
        Self {
            value: RwLock::new(Arc::new(value)),
        }
    }

    /// The value in force now.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.value.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `value` in force for every read from now on.
    pub fn set(&self, value: T) {
        *self.value.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_what_it_took_while_new_readers_see_the_new_value() {
        let live = Live::new(1);
        let taken = live.get();
        live.set(2);
        assert_eq!(*taken, 1);
        assert_eq!(*live.get(), 2);
    }
}
