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
//! ## 8. A tool, in a few lines
//!
//! A tool lets the model act when the user asks in words ("keep in mind that
//! I'm vegetarian"). Write its arguments as a struct — the doc comments are
//! what the model reads — declare it in [`Plugin::tools`], run it in
//! [`Plugin::call_tool`]; the text returned is the result the model sees.
//! The engine does the rest: the loop, permissions, confirmations, timeouts
//! (see [`crate::tool`] and `docs/tools.md`).
//!
//! ```
//! # use async_trait::async_trait;
//! # use natter_core::{Plugin, PluginContext, PluginError, ToolInvocation, ToolSpec};
//! # struct NotesPlugin;
//! /// Arguments of `notes_remember`.
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Remember {
//!     /// What to keep in mind, in a short sentence.
//!     text: String,
//! }
//!
//! #[async_trait]
//! impl Plugin for NotesPlugin {
//!     fn name(&self) -> &str {
//!         "notes"
//!     }
//!
//!     fn tools(&self) -> Vec<ToolSpec> {
//!         vec![ToolSpec::new::<Remember>("notes_remember", "Keep a note in mind").side_effect()]
//!     }
//!
//!     async fn call_tool(&self, cx: &mut PluginContext<'_>, call: ToolInvocation) -> Result<String, PluginError> {
//!         let args: Remember = call.args()?; // a mismatch tells the model what to fix
//!         cx.state().put("note", &args.text).await?;
//!         Ok(format!("Noted: {}", args.text))
//!     }
//! }
//! # #[cfg(feature = "test-utils")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use natter_core::test_utils::TestBot;
//!
//! let bot = TestBot::with_plugin(NotesPlugin);
//! bot.backend.call("notes_remember", r#"{"text":"vegetarian"}"#); // the model calls it…
//! bot.backend.reply("Got it.");                                   // …then answers
//! assert_eq!(bot.say("keep in mind I'm vegetarian").await, ["Got it."]);
//! # }
//! # #[cfg(not(feature = "test-utils"))]
//! # fn main() {}
//! ```
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
//!
//! # When a hook fails
//!
//! Every hook's error takes one path: the engine wraps it in a
//! [`PluginFailure`] (plugin, hook, error, whether the user was already told)
//! and hands it to one [`PluginErrorHandler`] — [`DefaultErrorHandler`] unless
//! the builder was given another — which logs it and decides what the user
//! sees. A [`PluginError::Usage`] is shown as it is, wherever it comes from.
//!
//! | module | owns |
//! |---|---|
//! | `error` | [`Flow`] and [`PluginError`], what hooks return |
//! | `failure` | [`PluginFailure`], [`Hook`], [`PluginErrorHandler`] |
//! | `context` | [`PluginContext`], a hook's reach while handling a message |
//! | `job` | [`JobContext`], a scheduled job's reach |
//! | `state` | [`PluginState`], the plugin's namespaced key/value state |

mod context;
mod error;
mod failure;
mod job;
mod registered;
mod state;

pub use context::PluginContext;
pub use error::{Flow, PluginError};
pub use failure::{DefaultErrorHandler, Hook, PluginErrorHandler, PluginFailure};
pub use job::JobContext;
pub(crate) use registered::Registered;
pub use state::PluginState;

use std::sync::Arc;

use async_trait::async_trait;

use crate::chat::ChatRequest;
use crate::command::{Command, CommandSpec};
use crate::delivery::OutputFilter;
use crate::message::Incoming;
use crate::store::ScheduledJob;
use crate::tool::{ToolInvocation, ToolSpec};

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

    /// The tools this plugin offers the model (see [`crate::tool`]). Asked
    /// at every chat turn, so the list may change while natter runs.
    fn tools(&self) -> Vec<ToolSpec> {
        Vec::new()
    }

    /// Runs one of [`Plugin::tools`] for the model, with the context of the
    /// message that led to it (the same reach as a command). What it returns
    /// is the result the model reads; an error is reported to the model as
    /// the result, and a [`PluginError::Usage`] tells it what to correct.
    async fn call_tool(
        &self,
        _cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        Err(PluginError::internal(format!(
            "{} declares the tool {} but does not run it",
            self.name(),
            call.name
        )))
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
