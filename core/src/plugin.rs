//! Plugins: how natter gains capabilities without touching the engine.
//!
//! A plugin is a type implementing [`Plugin`]. It may claim `/commands`, look at
//! messages before the model does (and take them over), and adjust the request
//! sent to the model. Everything it may touch comes through [`PluginContext`]:
//! the triggering message, the model, the conversation's persona and history,
//! its own settings section, its own namespaced state, and a reply handle.
//!
//! ## A plugin in one file
//!
//! ```
//! use async_trait::async_trait;
//! use natter_core::{Command, CommandSpec, Plugin, PluginContext, PluginError};
//!
//! /// `/echo text` repeats the text.
//! struct Echo;
//!
//! #[async_trait]
//! impl Plugin for Echo {
//!     fn name(&self) -> &str {
//!         "echo"
//!     }
//!
//!     fn commands(&self) -> Vec<CommandSpec> {
//!         vec![CommandSpec::new("echo", "Repeat what you say").usage("<text>")]
//!     }
//!
//!     async fn on_command(
//!         &self,
//!         cx: &mut PluginContext<'_>,
//!         cmd: Command,
//!     ) -> Result<(), PluginError> {
//!         if cmd.args.is_empty() {
//!             return Err(PluginError::usage("Usage: /echo <text>"));
//!         }
//!         cx.reply(&cmd.args).await
//!     }
//! }
//! ```
//!
//! Register it with [`crate::EngineBuilder::plugin`] (or `natter::App::plugin`),
//! and test it with the `test-utils` feature's `TestBot` in a few lines.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::backend::{ModelBackend, ModelError};
use crate::chat::{ChatMessage, ChatRequest};
use crate::command::{Command, CommandSpec};
use crate::delivery::{Courier, StreamEnd};
use crate::engine::Shared;
use crate::message::Incoming;
use crate::outbox::DeliveryError;
use crate::persona::Persona;
use crate::store::{ConversationStore, ScheduledJob, StoreError, Turn};

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
    /// Anything else; logged, and the user gets a generic apology.
    #[error("{0}")]
    Internal(String),
}

impl PluginError {
    /// An error whose text the user should see, e.g. a usage hint.
    pub fn usage(text: impl Into<String>) -> Self {
        Self::Usage(text.into())
    }
}

/// A capability natter can be extended with.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// A short lowercase name; also its settings section (`[plugins.NAME]`) and
    /// its store namespace.
    fn name(&self) -> &str;

    /// The commands this plugin answers; shown by `/help`.
    fn commands(&self) -> Vec<CommandSpec> {
        Vec::new()
    }

    /// Runs one of [`Plugin::commands`].
    async fn on_command(
        &self,
        _cx: &mut PluginContext<'_>,
        _cmd: Command,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    /// Sees every addressed message that is not a command, before the model.
    async fn on_message(
        &self,
        _cx: &mut PluginContext<'_>,
        _msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        Ok(Flow::Continue)
    }

    /// Adjusts the request of an ordinary chat turn before it goes to the model.
    async fn before_model(
        &self,
        _cx: &mut PluginContext<'_>,
        _request: &mut ChatRequest,
    ) -> Result<(), PluginError> {
        Ok(())
    }
}

/// A plugin with its settings section, as the engine holds it.
pub(crate) struct Registered {
    pub(crate) plugin: Arc<dyn Plugin>,
    pub(crate) name: String,
    pub(crate) config: serde_json::Value,
}

/// What a plugin may touch while it handles one message.
pub struct PluginContext<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) courier: &'a Courier,
    pub(crate) incoming: &'a Incoming,
    pub(crate) plugin: &'a Registered,
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) user_told: bool,
}

impl<'a> PluginContext<'a> {
    /// The message being handled.
    pub fn message(&self) -> &'a Incoming {
        self.incoming
    }

    /// The language model.
    pub fn model(&self) -> &dyn ModelBackend {
        self.shared.backend.as_ref()
    }

    /// This plugin's settings section, deserialised into `T`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_value(self.plugin.config.clone()).map_err(|e| PluginError::Config {
            plugin: self.plugin.name.clone(),
            reason: e.to_string(),
        })
    }

    /// This plugin's own key/value state, kept by the store.
    pub fn state(&self) -> PluginState<'_> {
        PluginState {
            store: self.shared.store.as_ref(),
            namespace: &self.plugin.name,
        }
    }

    /// Cancelled by `/stop` in this conversation, or at shutdown.
    pub fn cancellation(&self) -> &CancellationToken {
        self.cancel
    }

    /// The conversation's stored turns, oldest first (as many as the engine loads).
    pub async fn history(&self) -> Result<Vec<Turn>, PluginError> {
        Ok(self
            .shared
            .store
            .load_turns(&self.incoming.key, self.shared.settings.max_history_turns)
            .await?)
    }

    /// The persona in force here: its name and definition.
    pub async fn persona(&self) -> Result<(String, Persona), PluginError> {
        Ok(self.shared.resolve_persona(self.incoming).await?)
    }

    /// The request an ordinary chat turn would send for `text`: persona, the
    /// history that fits, and `text` as the new user message.
    pub async fn prompt(&self, text: &str) -> Result<ChatRequest, PluginError> {
        let (request, _) = self.shared.prompt_for(self.incoming, text).await?;
        Ok(request)
    }

    /// A request with just `system` and `user`, using the persona's sampling settings.
    pub async fn one_shot(&self, system: &str, user: &str) -> Result<ChatRequest, PluginError> {
        let (_, persona) = self.persona().await?;
        Ok(ChatRequest {
            messages: vec![ChatMessage::system(system), ChatMessage::user(user)],
            params: self.shared.defaults.params_for(&persona),
            conversation: Some(self.incoming.key.clone()),
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

    /// Streams the model's answer to `request` into the chat like any reply and
    /// returns its text. On failure the user has already been told.
    pub async fn reply_with_model(&mut self, request: ChatRequest) -> Result<String, PluginError> {
        let stream = tokio::select! {
            () = self.cancel.cancelled() => return Err(PluginError::Stopped),
            stream = self.shared.backend.stream(request) => stream,
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => return Err(error.into()),
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
            StreamEnd::Completed(_) => Ok(streamed.text),
            StreamEnd::Cancelled => Err(PluginError::Stopped),
            StreamEnd::ModelFailed(error) => Err(error.into()),
            StreamEnd::DeliveryFailed(error) => Err(error.into()),
        }
    }

    /// Asks the model for a whole answer without showing it (for grading,
    /// classifying, extracting). Cancelled by `/stop`.
    pub async fn ask_model(&self, request: ChatRequest) -> Result<String, PluginError> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(PluginError::Stopped),
            response = self.shared.backend.complete(request) => Ok(response?.text),
        }
    }

    /// Adds an exchange to the conversation's history, so the model sees it in
    /// later turns (e.g. a generated piece the user wants to discuss).
    pub async fn remember(&self, user: &str, reply: &str) -> Result<(), PluginError> {
        let turn = Turn {
            user: ChatMessage::user(user),
            assistant: ChatMessage::assistant(reply),
        };
        Ok(self
            .shared
            .store
            .append_turn(&self.incoming.key, &turn)
            .await?)
    }

    /// Schedules a job for this plugin; returns its id.
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
        Ok(self.shared.store.schedule_job(&job).await?)
    }
}

/// A plugin's namespaced key/value state.
pub struct PluginState<'a> {
    store: &'a dyn ConversationStore,
    namespace: &'a str,
}

impl PluginState<'_> {
    /// The value at `key`, if any.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        match self.store.plugin_get(self.namespace, key).await? {
            None => Ok(None),
            Some(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{}/{key}: {e}", self.namespace)).into()),
        }
    }

    /// Sets `key` to `value`.
    pub async fn put<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<(), PluginError> {
        let value = serde_json::to_value(value)
            .map_err(|e| PluginError::Internal(format!("cannot store {key}: {e}")))?;
        Ok(self.store.plugin_put(self.namespace, key, &value).await?)
    }

    /// Removes `key`; true if it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, PluginError> {
        Ok(self.store.plugin_delete(self.namespace, key).await?)
    }

    /// Keys starting with `prefix` and their values.
    pub async fn list<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, PluginError> {
        self.store
            .plugin_list(self.namespace, prefix)
            .await?
            .into_iter()
            .map(|(key, value)| {
                serde_json::from_value(value)
                    .map(|v| (key.clone(), v))
                    .map_err(|e| {
                        StoreError::Corrupt(format!("{}/{key}: {e}", self.namespace)).into()
                    })
            })
            .collect()
    }
}
