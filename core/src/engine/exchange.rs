//! [`Exchange`]: one message on its way through the pipeline — the message
//! (as screening left it), the courier its answer goes through, the token
//! `/stop` cancels — with the helpers every stage uses to answer, to hand a
//! plugin its context, and to report a plugin's failure. Stages take an
//! `Exchange` and never call back into the stage that called them.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::shared::Shared;
use crate::delivery::Courier;
use crate::message::Incoming;
use crate::models::NamedModel;
use crate::plugin::{Hook, PluginContext, PluginError, PluginFailure, Registered};

/// One message being handled, and where its answer goes.
pub(crate) struct Exchange<'a> {
    pub(crate) engine: &'a Arc<Shared>,
    pub(crate) courier: &'a Courier,
    pub(crate) message: Incoming,
    pub(crate) cancel: &'a CancellationToken,
    /// The model this conversation answers with (resolved as handling starts).
    pub(crate) model: NamedModel,
}

impl Exchange<'_> {
    /// The context `registered`'s hooks get for this message.
    pub(crate) fn plugin<'p>(&'p self, registered: &'p Registered) -> PluginContext<'p> {
        PluginContext::new(
            &self.engine.services,
            self.courier,
            &self.message,
            registered,
            self.cancel,
            &self.model,
        )
    }

    /// Sends a short answer, logging (not propagating) a delivery failure.
    pub(crate) async fn send(&self, text: &str) {
        if let Err(error) = self
            .courier
            .send_text(&self.message.channel, text, Some(&self.message.id))
            .await
        {
            warn!(%error, "could not deliver a reply");
        }
    }

    /// Hands a failed hook of `registered` to the engine's failure handler
    /// and shows the user what it decides.
    pub(crate) async fn fail(
        &self,
        registered: &Registered,
        hook: Hook,
        error: PluginError,
        user_told: bool,
    ) {
        self.engine.monitor.count(super::monitor::Event::Failed);
        let failure = PluginFailure::new(registered.name.clone(), hook, error)
            .in_conversation(self.message.key.clone())
            .user_told(user_told);
        if let Some(text) = self.engine.on_error.handle(&failure) {
            self.send(&text).await;
        }
    }
}
