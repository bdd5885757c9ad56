//! [`JobContext`]: what a plugin may touch while it runs a scheduled job —
//! no message and no user, but its settings and state, the model, and every
//! running platform to post into.

use serde::de::DeserializeOwned;

use super::error::PluginError;
use super::registered::Registered;
use super::state::PluginState;
use crate::backend::ModelBackend;
use crate::message::{Author, ChannelRef, MessageId};
use crate::services::Services;

/// What a plugin may touch while it runs a scheduled job ([`Plugin::on_job`]).
pub struct JobContext<'a> {
    services: &'a Services,
    plugin: &'a Registered,
    /// Users mentioned with [`JobContext::mention`]; posts notify them.
    notify: Vec<String>,
}

impl<'a> JobContext<'a> {
    pub(crate) fn new(services: &'a Services, plugin: &'a Registered) -> Self {
        Self {
            services,
            plugin,
            notify: Vec::new(),
        }
    }

    /// The engine's clock, as [`PluginContext::now_unix_ms`].
    pub fn now_unix_ms(&self) -> i64 {
        self.services.clock.now_unix_ms()
    }

    /// This plugin's settings section, deserialised into `T`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        self.plugin.config()
    }

    /// This plugin's own key/value state.
    pub fn state(&self) -> PluginState<'_> {
        self.plugin.state(self.services.stores.state.as_ref())
    }

    /// The language model.
    pub fn model(&self) -> &dyn ModelBackend {
        self.services.models.default_model().backend.as_ref()
    }

    /// Markup mentioning `author` in `channel`'s platform. Later posts from
    /// this job notify them (where the platform needs that spelled out).
    pub fn mention(&mut self, channel: &ChannelRef, author: &Author) -> String {
        self.notify.push(author.id.clone());
        match self.services.courier_for(channel.platform) {
            Some(courier) => courier.mention(&author.id, &author.display_name),
            None => format!("@{}", author.display_name),
        }
    }

    /// Posts `markdown` into `to`; [`PluginError::PlatformUnavailable`] when
    /// that platform is not running in this process.
    pub async fn post(&self, to: &ChannelRef, markdown: &str) -> Result<(), PluginError> {
        self.post_reply(to, None, markdown).await
    }

    /// Posts `markdown` into `to` as a reply to message `reply_to` (where the
    /// platform still has it).
    pub async fn post_reply(
        &self,
        to: &ChannelRef,
        reply_to: Option<&MessageId>,
        markdown: &str,
    ) -> Result<(), PluginError> {
        let courier = self
            .services
            .courier_for(to.platform)
            .ok_or(PluginError::PlatformUnavailable(to.platform))?;
        courier
            .send_notice(to, markdown, reply_to, &self.notify)
            .await?;
        Ok(())
    }
}
