//! Asking the model provider's moderation service (OpenAI's `POST
//! /moderations`) about a message, and what to make of its answer — or of
//! its silence.

use std::sync::atomic::{AtomicBool, Ordering};

use natter_core::ModelBackend;
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

/// Asks the backend's moderation service; remembers whether it has one.
#[derive(Debug)]
pub(crate) struct ProviderCheck {
    on_error: OnCheckError,
    /// Set once the "no moderation service" warning was logged.
    warned_missing: AtomicBool,
}

impl ProviderCheck {
    pub(crate) fn new(on_error: OnCheckError) -> Self {
        Self {
            on_error,
            warned_missing: AtomicBool::new(false),
        }
    }

    /// Asks `model`'s moderation service about `text`.
    pub(crate) async fn check(&self, model: &dyn ModelBackend, text: &str) -> Verdict {
        match model.moderate(text).await {
            Ok(Some(moderation)) if moderation.flagged => {
                info!(categories = ?moderation.categories, "message flagged by the moderation service");
                Verdict::Flagged
            }
            Ok(Some(_)) => Verdict::Pass,
            Ok(None) => {
                if !self.warned_missing.swap(true, Ordering::Relaxed) {
                    let backend = model.capabilities().backend;
                    warn!(
                        %backend,
                        "openai_moderation is on but this model backend has no moderation service; \
                         messages are not checked by it"
                    );
                }
                Verdict::Pass
            }
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
    use natter_core::test_utils::ScriptedBackend;

    use super::*;

    #[tokio::test]
    async fn a_backend_without_a_service_passes_even_when_failing_closed() {
        let check = ProviderCheck::new(OnCheckError::Refuse);
        let backend = ScriptedBackend::new();
        assert_eq!(check.check(&backend, "anything").await, Verdict::Pass);
        assert!(check.warned_missing.load(Ordering::Relaxed), "warned");
        assert_eq!(check.check(&backend, "again").await, Verdict::Pass);
    }
}
