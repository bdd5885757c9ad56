//! [`Services`]: what the engine's stages and plugins both reach — the model,
//! the stores, the personas, the attached platforms and the clock — and the
//! two things built from them that both need: the persona in force for a
//! channel and the prompt of a chat turn.
//!
//! It sits below both the engine and the plugin contexts, so neither has to
//! reach into the other: the engine owns one `Services` and hands plugins a
//! view of it through [`crate::PluginContext`] and [`crate::JobContext`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use tracing::warn;

use crate::backend::{Capabilities, ModelBackend};
use crate::chat::{ChatMessage, ChatRequest};
use crate::clock::Clock;
use crate::delivery::Courier;
use crate::history::{self, Window};
use crate::message::{ChannelRef, Incoming, Platform};
use crate::persona::{Persona, Personas};
use crate::plugin::PluginError;
use crate::settings::ModelDefaults;
use crate::store::{StoreError, Stores};

/// The shared reach of the engine and its plugins.
pub(crate) struct Services {
    pub(crate) backend: Arc<dyn ModelBackend>,
    /// Read once: the context window and names do not change while running.
    pub(crate) capabilities: Capabilities,
    pub(crate) stores: Stores,
    pub(crate) personas: Personas,
    pub(crate) defaults: ModelDefaults,
    /// Most turns loaded from the store for one prompt.
    pub(crate) max_history_turns: usize,
    pub(crate) clock: Arc<dyn Clock>,
    /// The courier of each attached platform, for posts across channels and jobs.
    couriers: RwLock<HashMap<Platform, Arc<Courier>>>,
    /// Wakes the job scheduler when a job is added.
    pub(crate) job_added: Notify,
}

impl Services {
    pub(crate) fn new(
        backend: Arc<dyn ModelBackend>,
        stores: Stores,
        personas: Personas,
        defaults: ModelDefaults,
        max_history_turns: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            capabilities: backend.capabilities(),
            backend,
            stores,
            personas,
            defaults,
            max_history_turns,
            clock,
            couriers: RwLock::new(HashMap::new()),
            job_added: Notify::new(),
        }
    }

    /// Makes `courier` the way to reach `platform`.
    pub(crate) fn attach(&self, platform: Platform, courier: Arc<Courier>) {
        match self.couriers.write() {
            Ok(mut couriers) => couriers.insert(platform, courier),
            Err(poisoned) => poisoned.into_inner().insert(platform, courier),
        };
    }

    /// The courier of `platform`, if it is attached.
    pub(crate) fn courier_for(&self, platform: Platform) -> Option<Arc<Courier>> {
        match self.couriers.read() {
            Ok(couriers) => couriers.get(&platform).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&platform).cloned(),
        }
    }

    /// The persona in force in `channel`: a run-time override of its thread,
    /// channel or server, else the settings' assignment, else the default.
    pub(crate) async fn resolve_persona(
        &self,
        channel: &ChannelRef,
    ) -> Result<(String, Persona), StoreError> {
        let scopes = channel.scopes();
        for scope in &scopes {
            if let Some(name) = self.stores.history.persona_override(scope).await? {
                match self.personas.get(&name) {
                    Some(persona) => return Ok((name, persona.clone())),
                    None => warn!(scope, name, "stored persona no longer exists; ignoring it"),
                }
            }
        }
        let name = self.personas.configured_for(&scopes);
        let persona = self
            .personas
            .get(name)
            .cloned()
            .unwrap_or_else(|| Persona::new("You are a helpful assistant."));
        Ok((name.to_owned(), persona))
    }

    /// The request a chat turn sends for `text` in `message`'s conversation:
    /// the persona, as much history as fits, and `text` as the new message.
    /// `reserved` tokens are kept free besides the reply's (the tools'
    /// definitions, which go with the request).
    pub(crate) async fn prompt_for(
        &self,
        message: &Incoming,
        text: &str,
        reserved: usize,
    ) -> Result<(ChatRequest, Window), PluginError> {
        let (_, persona) = self.resolve_persona(&message.channel).await?;
        let turns = self
            .stores
            .history
            .load_turns(&message.key, self.max_history_turns)
            .await?;
        let params = self.defaults.params_for(&persona);
        let reply_budget = params.max_tokens.unwrap_or(self.defaults.max_tokens) as usize;
        let reply_budget = reply_budget.saturating_add(reserved);
        let mut window = history::fit(
            self.backend.as_ref(),
            self.capabilities.context_window,
            ChatMessage::system(persona.system),
            &turns,
            user_message(message, text),
            reply_budget,
        )?;
        let request = ChatRequest {
            messages: std::mem::take(&mut window.messages),
            params,
            conversation: Some(message.key.clone()),
            ..ChatRequest::default()
        };
        Ok((request, window))
    }
}

/// The user message as history stores it: named in group chats.
pub(crate) fn user_message(message: &Incoming, text: &str) -> ChatMessage {
    let user = ChatMessage::user(text);
    if message.channel.is_private() {
        user
    } else {
        user.with_name(message.author.display_name.clone())
    }
}
