//! The [`Moderator`] trait: a provider's moderation service, apart from chat.
//!
//! Moderation is not something every model offers — OpenAI's API has
//! `POST /moderations`, a local GGUF model has nothing of the kind — so it is
//! its own small trait rather than a method every [`crate::ModelBackend`]
//! must stub out. The OpenAI backend implements both; the moderation plugin
//! is handed a moderator when one exists.

use async_trait::async_trait;

use crate::backend::ModelError;

/// What a provider's moderation service made of a text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moderation {
    /// The text breaks the provider's policies.
    pub flagged: bool,
    /// The policy categories it was flagged for (e.g. `harassment`).
    pub categories: Vec<String>,
}

/// A provider's moderation service.
#[async_trait]
pub trait Moderator: Send + Sync {
    /// Asks the service about `text`.
    async fn moderate(&self, text: &str) -> Result<Moderation, ModelError>;
}
