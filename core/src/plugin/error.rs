//! What a plugin hook returns: [`Flow`] (go on or stop) and [`PluginError`]
//! (what went wrong, in variants the engine's failure handler acts on).

use crate::backend::ModelError;
use crate::media::MediaError;
use crate::message::Platform;
use crate::outbox::DeliveryError;
use crate::store::StoreError;

/// Whether the engine should go on handling a message after a plugin saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Let later plugins and the model see it.
    Continue,
    /// The plugin answered; stop here.
    Handled,
}

/// Why a plugin could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The user asked for something wrong; the text is shown to them as is.
    #[error("{0}")]
    Usage(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A transcription or image service failed.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The platform would not take the reply.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The plugin's settings section is invalid.
    #[error("invalid settings in [plugins.{plugin}]: {reason}")]
    Config {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        reason: String,
    },
    /// The user stopped the reply (`/stop`) or natter is shutting down.
    #[error("stopped")]
    Stopped,
    /// The platform to post to is not running in this process (a job for it
    /// is tried again later).
    #[error("{0} is not running here")]
    PlatformUnavailable(Platform),
    /// An output filter blocked the reply; the user was shown its notice.
    #[error("the reply was blocked by an output filter")]
    Blocked,
    /// Anything else; logged, and the user gets a generic apology.
    #[error("{0}")]
    Internal(String),
}

impl PluginError {
    /// An error whose text the user should see, e.g. a usage hint.
    pub fn usage(text: impl Into<String>) -> Self {
        Self::Usage(text.into())
    }

    /// An unexpected failure: logged with the plugin's name, and the user gets a
    /// generic apology. Wraps any error a plugin's own code or crates return,
    /// e.g. `template.render(..).map_err(PluginError::internal)?`.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}
