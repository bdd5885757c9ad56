//! Plugins: how natter gains capabilities without touching the engine.
//!
//! A plugin is a type implementing [`Plugin`]. It may claim `/commands`, look at
//! messages before the model does (and take them over), and adjust the request
//! sent to the model. Everything it may touch comes through [`PluginContext`]:
//! the triggering message, the model, the conversation's persona and history,
//! its own settings section, its own namespaced state, and a reply handle.
//!
//! # Walkthrough: the example plugin
//!
//! `plugins/example` (crate `natter-plugin-example`) is a complete plugin in one
//! file — `/remember` notes that the model keeps in mind — written to be copied.
//! Here it is, shortened, part by part; the crate has the full version with
//! limits, `/forget` and its tests.
//!
//! ```
//! use async_trait::async_trait;
//! use natter_core::{ChatRequest, Command, CommandSpec, Plugin, PluginContext, PluginError, Role};
//! use serde::{Deserialize, Serialize};
//!
//! // 1. Settings: the plugin's `[plugins.notes]` section. `deny_unknown_fields`
//! //    turns a typo into an error; `default` makes every key optional.
//! //    No `enabled`: the natter binary reads that switch and hands the plugin the rest.
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! #[serde(deny_unknown_fields, default)]
//! pub struct NotesSettings {
//!     pub max_notes: usize,
//! }
//!
//! impl Default for NotesSettings {
//!     fn default() -> Self {
//!         Self { max_notes: 20 }
//!     }
//! }
//!
//! // 2. The plugin: built from its settings; everything else arrives per message.
//! pub struct NotesPlugin {
//!     settings: NotesSettings,
//! }
//!
//! impl NotesPlugin {
//!     pub fn new(settings: NotesSettings) -> Self {
//!         Self { settings }
//!     }
//!
//!     // 4. State: keys live in the plugin's own namespace of the store (they
//!     //    survive restarts); values are any serde type. The conversation key
//!     //    makes the notes per conversation.
//!     fn key(cx: &PluginContext<'_>) -> String {
//!         format!("notes/{}", cx.message().key)
//!     }
//! }
//!
//! #[async_trait]
//! impl Plugin for NotesPlugin {
//!     // The name is also the settings section and the store namespace.
//!     fn name(&self) -> &str {
//!         "notes"
//!     }
//!
//!     // 3. Commands, with the one-line description `/help` shows.
//!     fn commands(&self) -> Vec<CommandSpec> {
//!         vec![
//!             CommandSpec::new("remember", "Keep a note in mind").usage("<text>"),
//!             CommandSpec::new("notes", "List the notes"),
//!         ]
//!     }
//!
//!     // Called only with one of the commands above; `cmd.args` is the rest of
//!     // the line, trimmed.
//!     async fn on_command(&self, cx: &mut PluginContext<'_>, cmd: Command) -> Result<(), PluginError> {
//!         let mut notes: Vec<String> = cx.state().get(&Self::key(cx)).await?.unwrap_or_default();
//!         if cmd.name == "notes" {
//!             return cx.reply(&notes.join("\n")).await;
//!         }
//!         if cmd.args.is_empty() {
//!             // A Usage error is shown to the user as is; other errors are
//!             // logged and the user gets one short sentence.
//!             return Err(PluginError::usage("Usage: /remember <text>"));
//!         }
//!         if notes.len() >= self.settings.max_notes {
//!             return Err(PluginError::usage("Too many notes."));
//!         }
//!         notes.push(cmd.args);
//!         cx.state().put(&Self::key(cx), &notes).await?;
//!         cx.reply("Noted.").await
//!     }
//!
//!     // 5. A model hook: the notes go into the system prompt of ordinary chat turns.
//!     async fn before_model(&self, cx: &mut PluginContext<'_>, request: &mut ChatRequest) -> Result<(), PluginError> {
//!         let notes: Vec<String> = cx.state().get(&Self::key(cx)).await?.unwrap_or_default();
//!         if let Some(system) = request.messages.iter_mut().find(|m| m.role == Role::System) {
//!             for note in notes {
//!                 system.content.push_str(&format!("\n- {note}"));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! ## 6. Testing it
//!
//! With the `test-utils` feature, `TestBot` wires a plugin to a real engine, a
//! scripted model (`bot.backend`: queue replies with `reply`, inspect what the
//! model was sent with `requests` / `last_request`) and a recording platform.
//! `bot.say(text)` sends a private message and returns what the bot answered;
//! `bot.group(..)` + `bot.send(..)` do the same in a group chat.
//!
//! ```
//! # use async_trait::async_trait;
//! # use natter_core::{ChatRequest, Command, CommandSpec, Plugin, PluginContext, PluginError, Role};
//! # struct NotesPlugin;
//! # #[async_trait]
//! # impl Plugin for NotesPlugin {
//! #     fn name(&self) -> &str { "notes" }
//! #     fn commands(&self) -> Vec<CommandSpec> { vec![CommandSpec::new("remember", "Keep a note")] }
//! #     async fn on_command(&self, cx: &mut PluginContext<'_>, cmd: Command) -> Result<(), PluginError> {
//! #         cx.state().put("note", &cmd.args).await?;
//! #         cx.reply("Noted.").await
//! #     }
//! #     async fn before_model(&self, cx: &mut PluginContext<'_>, request: &mut ChatRequest) -> Result<(), PluginError> {
//! #         let note: Option<String> = cx.state().get("note").await?;
//! #         if let (Some(note), Some(system)) = (note, request.messages.first_mut()) {
//! #             system.content.push_str(&format!("\n- {note}"));
//! #         }
//! #         Ok(())
//! #     }
//! # }
//! # #[cfg(feature = "test-utils")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use natter_core::test_utils::TestBot;
//!
//! let bot = TestBot::with_plugin(NotesPlugin);
//! assert_eq!(bot.say("/remember I'm vegetarian").await, ["Noted."]);
//!
//! bot.backend.reply("How about a mushroom risotto?");
//! assert_eq!(bot.say("what should I cook?").await, ["How about a mushroom risotto?"]);
//! let system = &bot.backend.last_request().messages[0];
//! assert!(system.content.ends_with("- I'm vegetarian"));
//! # }
//! # #[cfg(not(feature = "test-utils"))]
//! # fn main() {}
//! ```
//!
//! ## 7. Registering it
//!
//! [`crate::EngineBuilder::plugin`] takes the plugin and its settings section
//! (`serde_json::Value::Null` for none, which [`PluginContext::config`] reads);
//! the natter binary does this for every enabled built-in plugin, and your own
//! binary can add yours with `natter::App::plugin`.
//!
//! # What else a plugin can do
//!
//! - [`Plugin::on_message`] sees every addressed message that is not a command;
//!   return [`Flow::Handled`] to take it over (the tutor plugin reads answers
//!   this way), [`Flow::Continue`] to let the model answer.
//! - [`PluginContext::reply_with_model`] streams a model reply into the chat like
//!   any other (split, paced, `/stop`-able); [`PluginContext::ask_model`] gets a
//!   whole answer without showing it (grading, extracting JSON).
//! - [`PluginContext::one_shot`] builds a request from a system prompt and one
//!   user message; [`PluginContext::prompt`] builds one with the persona and the
//!   conversation's history, as a chat turn would.
//! - Plugin replies do not enter the chat history unless the plugin calls
//!   [`PluginContext::remember`].
//! - [`PluginContext::schedule`] stores a job for later (reminders); when it
//!   falls due the engine calls [`Plugin::on_job`] once, with a [`JobContext`]
//!   that can post into any channel of a running platform.
//! - [`Plugin::after_reply`] sees a chat turn's reply once it was delivered,
//!   e.g. to hand the conversation to a person when the model could not help.
//! - [`PluginContext::post`] posts into another channel, even on another
//!   platform (a support team's chat).
//! - [`Plugin::filter_input`] sees and may rewrite or refuse every addressed
//!   message, commands included, before anything else does;
//!   [`Plugin::output_filter`] screens everything natter shows, streamed edits
//!   included (see [`crate::delivery::screen`]).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::backend::{ModelBackend, ModelError};
use crate::chat::{ChatMessage, ChatRequest};
use crate::command::{Command, CommandSpec};
use crate::delivery::{Courier, OutputFilter, StreamEnd};
use crate::engine::Shared;
use crate::message::{Author, ChannelRef, Incoming, MessageId};
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
    /// The platform to post to is not running in this process (a job for it
    /// is tried again later).
    #[error("{0} is not running here")]
    PlatformUnavailable(crate::message::Platform),
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

    /// Sees the reply of an ordinary chat turn once it was delivered in full
    /// and stored (not a stopped, failed or blocked one), e.g. to act on what
    /// the model said. `reply` is the text as shown.
    async fn after_reply(
        &self,
        _cx: &mut PluginContext<'_>,
        _reply: &str,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    /// Screens every addressed message, commands included, before commands,
    /// other hooks or the model see it. Rewrite `text` to change what they see
    /// (and what history keeps); reply and return [`Flow::Handled`] to refuse it.
    async fn filter_input(
        &self,
        _cx: &mut PluginContext<'_>,
        _text: &mut String,
    ) -> Result<Flow, PluginError> {
        Ok(Flow::Continue)
    }

    /// A filter every text natter shows goes through, streamed edits included.
    /// Asked once, when the engine is built.
    fn output_filter(&self) -> Option<Arc<dyn OutputFilter>> {
        None
    }

    /// Runs a job this plugin scheduled with [`PluginContext::schedule`], once,
    /// when it falls due (or at the next start, if natter was down then). The
    /// job has already left the store: it is never run twice. Returning
    /// [`PluginError::PlatformUnavailable`] (as [`JobContext::post`] does when
    /// the platform is not running) puts it back to be tried a minute later.
    async fn on_job(&self, _cx: &mut JobContext<'_>, job: ScheduledJob) -> Result<(), PluginError> {
        tracing::warn!(
            plugin = self.name(),
            id = job.id,
            "a scheduled job fell due but the plugin has no on_job; dropped"
        );
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
        self.plugin.config()
    }

    /// This plugin's own key/value state, kept by the store.
    pub fn state(&self) -> PluginState<'_> {
        self.plugin.state(self.shared)
    }

    /// The engine's clock: milliseconds since the Unix epoch. Use it rather
    /// than the system time, so tests on tokio's paused clock can drive it.
    pub fn now_unix_ms(&self) -> i64 {
        self.shared.clock.now_unix_ms()
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
            .shared
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
            StreamEnd::Blocked => Err(PluginError::Blocked),
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
    /// later turns (e.g. a generated piece the user wants to discuss). In group
    /// chats the user's part is named after the message's author, like the
    /// turns of ordinary chat.
    pub async fn remember(&self, user: &str, reply: &str) -> Result<(), PluginError> {
        let turn = Turn {
            user: Shared::user_message(self.incoming, user),
            assistant: ChatMessage::assistant(reply),
        };
        Ok(self
            .shared
            .store
            .append_turn(&self.incoming.key, &turn)
            .await?)
    }

    /// Schedules a job for this plugin, owned by `owner` (e.g. a user); returns
    /// its id. [`Plugin::on_job`] runs it when `due_unix_ms` comes.
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
        let id = self.shared.store.schedule_job(&job).await?;
        self.shared.job_added.notify_one();
        Ok(id)
    }

    /// This plugin's pending jobs owned by `owner`, earliest first.
    pub async fn scheduled(&self, owner: &str) -> Result<Vec<ScheduledJob>, PluginError> {
        Ok(self
            .shared
            .store
            .list_jobs(&self.plugin.name, owner)
            .await?)
    }

    /// Cancels a pending job of `owner`; false if there is none with that id.
    pub async fn cancel_scheduled(&self, owner: &str, id: i64) -> Result<bool, PluginError> {
        Ok(self
            .shared
            .store
            .cancel_job(&self.plugin.name, owner, id)
            .await?)
    }
}

impl Registered {
    fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_value(self.config.clone()).map_err(|e| PluginError::Config {
            plugin: self.name.clone(),
            reason: e.to_string(),
        })
    }

    fn state<'s>(&'s self, shared: &'s Shared) -> PluginState<'s> {
        PluginState {
            store: shared.store.as_ref(),
            namespace: &self.name,
        }
    }
}

/// What a plugin may touch while it runs a scheduled job ([`Plugin::on_job`]).
pub struct JobContext<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) plugin: &'a Registered,
    /// Users mentioned with [`JobContext::mention`]; posts notify them.
    pub(crate) notify: Vec<String>,
}

impl JobContext<'_> {
    /// The engine's clock, as [`PluginContext::now_unix_ms`].
    pub fn now_unix_ms(&self) -> i64 {
        self.shared.clock.now_unix_ms()
    }

    /// This plugin's settings section, deserialised into `T`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        self.plugin.config()
    }

    /// This plugin's own key/value state.
    pub fn state(&self) -> PluginState<'_> {
        self.plugin.state(self.shared)
    }

    /// The language model.
    pub fn model(&self) -> &dyn ModelBackend {
        self.shared.backend.as_ref()
    }

    /// Markup mentioning `author` in `channel`'s platform. Later posts from
    /// this job notify them (where the platform needs that spelled out).
    pub fn mention(&mut self, channel: &ChannelRef, author: &Author) -> String {
        self.notify.push(author.id.clone());
        match self.shared.courier_for(channel.platform) {
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
            .shared
            .courier_for(to.platform)
            .ok_or(PluginError::PlatformUnavailable(to.platform))?;
        courier
            .send_notice(to, markdown, reply_to, &self.notify)
            .await?;
        Ok(())
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
