//! Asking the model provider's moderation service (OpenAI's `POST
//! /moderations`) about a message, and what to make of its answer — or of
//! its silence.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use natter_core::Moderator;
use tracing::{info, warn};

use crate::settings::OnCheckError;

/// What the moderation service made of a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let it through.
    Pass,
    /// Flagged: refuse it.
    Flagged,
    /// The service failed and the settings say to fail closed: refuse it.
    Unavailable,
}

/// Asks the provider's moderation service, when natter was given one.
pub(crate) struct ProviderCheck {
    moderator: Option<Arc<dyn Moderator>>,
    on_error: OnCheckError,
    /// Set once the "no moderation service" warning was logged.
    warned_missing: AtomicBool,
}

impl std::fmt::Debug for ProviderCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCheck")
            .field("moderator", &self.moderator.is_some())
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

impl ProviderCheck {
    pub(crate) fn new(on_error: OnCheckError) -> Self {
        Self {
            moderator: None,
            on_error,
            warned_missing: AtomicBool::new(false),
        }
    }

    /// Checks with `moderator` from now on.
    pub(crate) fn set_moderator(&mut self, moderator: Arc<dyn Moderator>) {
        self.moderator = Some(moderator);
    }

    /// Asks the moderation service about `text`.
    pub(crate) async fn check(&self, text: &str) -> Verdict {
        let Some(moderator) = &self.moderator else {
            if !self.warned_missing.swap(true, Ordering::Relaxed) {
                warn!(
                    "openai_moderation is on but the model backend has no moderation service; \
                     messages are not checked by it"
                );
            }
            return Verdict::Pass;
        };
        match moderator.moderate(text).await {
            Ok(moderation) if moderation.flagged => {
                info!(categories = ?moderation.categories, "message flagged by the moderation service");
                Verdict::Flagged
            }
            Ok(_) => Verdict::Pass,
            Err(error) => match self.on_error {
                OnCheckError::Allow => {
                    warn!(%error, "the moderation service failed; letting the message through (on_check_error = \"allow\")");
                    Verdict::Pass
                }
                OnCheckError::Refuse => {
                    warn!(%error, "the moderation service failed; refusing the message (on_check_error = \"refuse\")");
                    Verdict::Unavailable
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_service_passes_even_when_failing_closed() {
        let check = ProviderCheck::new(OnCheckError::Refuse);
        assert_eq!(check.check("anything").await, Verdict::Pass);
        assert!(check.warned_missing.load(Ordering::Relaxed), "warned");
        assert_eq!(check.check("again").await, Verdict::Pass);
    }
}
