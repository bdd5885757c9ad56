//! [`PluginContext`]: what a plugin may touch while it handles one message —
//! the message, the model, the conversation's persona and history, its own
//! settings and state, the platforms, and a reply handle.

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::error::PluginError;
use super::registered::Registered;
use super::state::PluginState;
use crate::backend::{ModelBackend, estimate_tokens};
use crate::chat::{ChatMessage, ChatRequest, ImagePart, Usage};
use crate::delivery::{Courier, StreamEnd};
use crate::media::GeneratedImage;
use crate::media::intake::look;
use crate::message::{Author, ChannelRef, Incoming};
use crate::models::NamedModel;
use crate::persona::Persona;
use crate::services::{Services, user_message};
use crate::store::{ScheduledJob, Turn};

/// What a plugin may touch while it handles one message.
pub struct PluginContext<'a> {
    services: &'a Services,
    model: &'a NamedModel,
    courier: &'a Courier,
    incoming: &'a Incoming,
    plugin: &'a Registered,
    cancel: &'a CancellationToken,
    user_told: bool,
}

impl<'a> PluginContext<'a> {
    pub(crate) fn new(
        services: &'a Services,
        courier: &'a Courier,
        incoming: &'a Incoming,
        plugin: &'a Registered,
        cancel: &'a CancellationToken,
        model: &'a NamedModel,
    ) -> Self {
        Self {
            services,
            model,
            courier,
            incoming,
            plugin,
            cancel,
            user_told: false,
        }
    }

    /// True once the plugin showed the user something in this context.
    pub(crate) fn user_told(&self) -> bool {
        self.user_told
    }

    /// The message being handled.
    pub fn message(&self) -> &'a Incoming {
        self.incoming
    }

    /// The language model this conversation answers with.
    pub fn model(&self) -> &dyn ModelBackend {
        self.model.backend.as_ref()
    }

    /// This plugin's settings section, deserialised into `T`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        self.plugin.config()
    }

    /// This plugin's own key/value state, kept by the store.
    pub fn state(&self) -> PluginState<'_> {
        self.plugin.state(self.services.stores.state.as_ref())
    }

    /// The engine's clock: milliseconds since the Unix epoch. Use it rather
    /// than the system time, so tests on tokio's paused clock can drive it.
    pub fn now_unix_ms(&self) -> i64 {
        self.services.clock.now_unix_ms()
    }

    /// Markup mentioning `author` on this message's platform (it does not
    /// notify them).
    pub fn mention(&self, author: &Author) -> String {
        self.courier.mention(&author.id, &author.display_name)
    }

    /// Posts `markdown` into `to`, which may be on another running platform
    /// than this message (e.g. a support team's group).
    pub async fn post(&self, to: &ChannelRef, markdown: &str) -> Result<(), PluginError> {
        let courier = self
            .services
            .courier_for(to.platform)
            .ok_or(PluginError::PlatformUnavailable(to.platform))?;
        courier.send_text(to, markdown, None).await?;
        Ok(())
    }

    /// Cancelled by `/stop` in this conversation, or at shutdown.
    pub fn cancellation(&self) -> &CancellationToken {
        self.cancel
    }

    /// The conversation's stored turns, oldest first (as many as the engine loads).
    pub async fn history(&self) -> Result<Vec<Turn>, PluginError> {
        Ok(self
            .services
            .stores
            .history
            .load_turns(&self.incoming.key, self.services.max_history_turns)
            .await?)
    }

    /// The persona in force here: its name and definition.
    pub async fn persona(&self) -> Result<(String, Persona), PluginError> {
        Ok(self.services.resolve_persona(self.incoming).await?)
    }

    /// The request an ordinary chat turn would send for `text`: persona (and
    /// the conversation's rolling summary), the history that fits, and
    /// `text` as the new user message.
    pub async fn prompt(&self, text: &str) -> Result<ChatRequest, PluginError> {
        let prompt = self
            .services
            .prompt_for(self.incoming, text, &[], 0, self.model)
            .await?;
        Ok(prompt.request)
    }

    /// Whether the conversation's model can see pictures.
    pub fn can_see(&self) -> bool {
        self.model.capabilities.vision
    }

    /// The message's pictures, fetched and prepared for the model (within
    /// `[vision]`'s limits), with the sentence about any it is not given —
    /// no pictures at all when the model cannot see. Attach them to a
    /// request's user message with [`ChatMessage::with_images`].
    pub async fn pictures(&self) -> (Vec<ImagePart>, Option<String>) {
        let sight = look(self.services, self.courier, self.incoming, self.model).await;
        (sight.images, sight.note)
    }

    /// A picture of `prompt` from the image service (`[image_generation]`),
    /// within the author's budget and counted in the usage ledger. Fails
    /// with a sentence for the user when no image service is set up.
    pub async fn generate_image(&self, prompt: &str) -> Result<GeneratedImage, PluginError> {
        let Some(generator) = self.services.media.generator.clone() else {
            return Err(PluginError::usage(
                "I can't make pictures here: no image service is set up.",
            ));
        };
        self.within_budget().await?;
        let image = tokio::select! {
            () = self.cancel.cancelled() => return Err(PluginError::Stopped),
            image = generator.generate(prompt) => image?,
        };
        self.services
            .record_media_usage(self.incoming, "images", generator.model(), 0, 1)
            .await;
        Ok(image)
    }

    /// Replies with `image` and `caption` (Markdown) under it.
    pub async fn reply_image(
        &mut self,
        image: GeneratedImage,
        caption: &str,
    ) -> Result<(), PluginError> {
        self.user_told = true;
        self.courier
            .send_image(
                &self.incoming.channel,
                image.bytes,
                &image.mime,
                caption,
                Some(&self.incoming.id),
            )
            .await?;
        Ok(())
    }

    /// A request with just `system` and `user`, using the persona's sampling settings.
    pub async fn one_shot(&self, system: &str, user: &str) -> Result<ChatRequest, PluginError> {
        let (_, persona) = self.persona().await?;
        Ok(ChatRequest {
            messages: vec![ChatMessage::system(system), ChatMessage::user(user)],
            params: self.services.defaults.params_for(&persona),
            conversation: Some(self.incoming.key.clone()),
            ..ChatRequest::default()
        })
    }

    /// Replies with `markdown`, split as the platform needs.
    pub async fn reply(&mut self, markdown: &str) -> Result<(), PluginError> {
        self.user_told = true;
        self.courier
            .send_text(&self.incoming.channel, markdown, Some(&self.incoming.id))
            .await?;
        Ok(())
    }

    /// Refuses when the author or chat has spent its budget (`[budget]`);
    /// every model call of a plugin goes through it.
    async fn within_budget(&self) -> Result<(), PluginError> {
        match self.services.over_budget(self.incoming).await? {
            Some(refusal) => Err(PluginError::Usage(refusal)),
            None => Ok(()),
        }
    }

    /// Records a model call's usage (estimated from the texts when the
    /// backend reports none).
    async fn record(&self, request: &ChatRequest, usage: Option<Usage>, reply: &str) {
        let usage = usage.unwrap_or_else(|| Usage {
            prompt_tokens: u32::try_from(self.model.backend.count_tokens(&request.messages))
                .unwrap_or(u32::MAX),
            completion_tokens: u32::try_from(estimate_tokens(reply)).unwrap_or(u32::MAX),
        });
        self.services
            .record_usage(self.incoming, self.model, usage)
            .await;
    }

    /// Streams the model's answer to `request` into the chat like any reply and
    /// returns its text. On failure the user has already been told.
    pub async fn reply_with_model(&mut self, request: ChatRequest) -> Result<String, PluginError> {
        self.within_budget().await?;
        let asked = request.clone();
        let stream = tokio::select! {
            () = self.cancel.cancelled() => return Err(PluginError::Stopped),
            stream = self.model.backend.stream(request) => stream?,
        };
        self.user_told = true;
        let streamed = self
            .courier
            .stream_reply(
                &self.incoming.channel,
                Some(&self.incoming.id),
                stream,
                self.cancel,
            )
            .await;
        match streamed.end {
            StreamEnd::Completed(completion) => {
                self.record(&asked, completion.usage, &streamed.text).await;
                Ok(streamed.text)
            }
            StreamEnd::Cancelled => Err(PluginError::Stopped),
            StreamEnd::ModelFailed(error) => Err(error.into()),
            StreamEnd::DeliveryFailed(error) => Err(error.into()),
            StreamEnd::Blocked => Err(PluginError::Blocked),
        }
    }

    /// Asks the model for a whole answer without showing it (for grading,
    /// classifying, extracting). Cancelled by `/stop`.
    pub async fn ask_model(&self, request: ChatRequest) -> Result<String, PluginError> {
        self.within_budget().await?;
        let response = tokio::select! {
            () = self.cancel.cancelled() => return Err(PluginError::Stopped),
            response = self.model.backend.complete(request.clone()) => response?,
        };
        self.record(&request, response.completion.usage, &response.text)
            .await;
        Ok(response.text)
    }

    /// Adds an exchange to the conversation's history, so the model sees it in
    /// later turns (e.g. a generated piece the user wants to discuss). In group
    /// chats the user's part is named after the message's author, like the
    /// turns of ordinary chat.
    pub async fn remember(&self, user: &str, reply: &str) -> Result<(), PluginError> {
        let turn = Turn::new(
            user_message(self.incoming, user),
            ChatMessage::assistant(reply),
        );
        Ok(self
            .services
            .stores
            .history
            .append_turn(&self.incoming.key, &turn)
            .await?)
    }

    /// Schedules a job for this plugin, owned by `owner` (e.g. a user); returns
    /// its id. [`crate::Plugin::on_job`] runs it when `due_unix_ms` comes.
    pub async fn schedule(
        &self,
        owner: &str,
        due_unix_ms: i64,
        payload: serde_json::Value,
    ) -> Result<i64, PluginError> {
        let job = ScheduledJob {
            id: 0,
            namespace: self.plugin.name.clone(),
            owner: owner.to_owned(),
            due_unix_ms,
            payload,
        };
        let id = self.services.stores.jobs.schedule_job(&job).await?;
        self.services.job_added.notify_one();
        Ok(id)
    }

    /// This plugin's pending jobs owned by `owner`, earliest first.
    pub async fn scheduled(&self, owner: &str) -> Result<Vec<ScheduledJob>, PluginError> {
        Ok(self
            .services
            .stores
            .jobs
            .list_jobs(&self.plugin.name, owner)
            .await?)
    }

    /// Cancels a pending job of `owner`; false if there is none with that id.
    pub async fn cancel_scheduled(&self, owner: &str, id: i64) -> Result<bool, PluginError> {
        Ok(self
            .services
            .stores
            .jobs
            .cancel_job(&self.plugin.name, owner, id)
            .await?)
    }
}
