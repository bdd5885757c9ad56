//! One path for every plugin failure: whichever hook fails — a filter, a
//! command, a message hook, a model hook, an after-reply hook or a scheduled
//! job — the engine makes one [`PluginFailure`] of it and hands it to one
//! [`PluginErrorHandler`], which logs it and decides what the user sees.
//!
//! The default, [`DefaultErrorHandler`], shows a usage error's text as it is,
//! the model's own sentence for a model failure the user has not seen yet, and
//! one short apology naming the plugin for anything unexpected. Replace it
//! with [`crate::EngineBuilder::on_plugin_error`], as poise's `on_error` is
//! replaced: a closure `Fn(&PluginFailure) -> Option<String>` will do, and can
//! fall back on [`PluginFailure::default_message`].

use std::fmt;

use tracing::{error, warn};

use super::error::PluginError;
use crate::message::ConversationKey;

/// The plugin hook that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hook {
    /// [`crate::Plugin::filter_input`].
    FilterInput,
    /// [`crate::Plugin::on_command`].
    Command,
    /// [`crate::Plugin::on_message`].
    Message,
    /// [`crate::Plugin::before_model`].
    BeforeModel,
    /// [`crate::Plugin::after_reply`].
    AfterReply,
    /// [`crate::Plugin::on_job`].
    Job,
    /// [`crate::Plugin::call_tool`] (the model gets the error as the result).
    Tool,
}

impl Hook {
    /// The hook's method name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::FilterInput => "filter_input",
            Hook::Command => "on_command",
            Hook::Message => "on_message",
            Hook::BeforeModel => "before_model",
            Hook::AfterReply => "after_reply",
            Hook::Job => "on_job",
            Hook::Tool => "call_tool",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plugin hook failed: who, where, what, and whether the user already saw
/// something from the plugin.
#[derive(Debug)]
#[non_exhaustive]
pub struct PluginFailure {
    /// The plugin's name.
    pub plugin: String,
    /// The hook that failed.
    pub hook: Hook,
    /// What went wrong.
    pub error: PluginError,
    /// The plugin had already shown the user something (a reply, a streamed
    /// answer with the model's own error notice) before it failed.
    pub user_told: bool,
    /// The conversation it happened in; `None` for scheduled jobs, which have
    /// no user to tell.
    pub conversation: Option<ConversationKey>,
}

impl PluginFailure {
    /// A failure of `plugin`'s `hook`.
    pub fn new(plugin: impl Into<String>, hook: Hook, error: PluginError) -> Self {
        Self {
            plugin: plugin.into(),
            hook,
            error,
            user_told: false,
            conversation: None,
        }
    }

    /// The same failure, in `conversation`.
    pub fn in_conversation(mut self, conversation: ConversationKey) -> Self {
        self.conversation = Some(conversation);
        self
    }

    /// The same failure, noting whether the user was already told something.
    pub fn user_told(mut self, told: bool) -> Self {
        self.user_told = told;
        self
    }

    /// What the default handler shows the user: a usage error's text; the
    /// model's sentence for a model failure not yet shown; "not connected" for
    /// a platform that is not running; one apology naming the plugin for a
    /// misconfiguration or anything unexpected; nothing for a stop, a blocked
    /// reply or a delivery failure (the platform would not take it anyway).
    pub fn default_message(&self) -> Option<String> {
        let plugin = &self.plugin;
        match &self.error {
            PluginError::Usage(text) => Some(text.clone()),
            PluginError::Stopped | PluginError::Blocked | PluginError::Delivery(_) => None,
            PluginError::PlatformUnavailable(platform) => {
                Some(format!("Sorry, {platform} is not connected right now."))
            }
            PluginError::Model(model) => (!self.user_told).then(|| model.user_message()),
            PluginError::Media(media) => (!self.user_told).then(|| media.user_message()),
            PluginError::Config { .. } => {
                Some(format!("Sorry, the {plugin} plugin is misconfigured."))
            }
            _ => Some(format!(
                "Sorry, something went wrong in the {plugin} plugin."
            )),
        }
    }

    /// Logs the failure at the level it deserves: expected outcomes (usage,
    /// stop, blocked) not at all, outside trouble (model, platform, delivery)
    /// as a warning, the plugin's own faults as an error.
    pub fn log(&self) {
        let (plugin, hook, conversation) = (&self.plugin, self.hook, &self.conversation);
        let conversation = conversation.as_ref().map(ToString::to_string);
        match &self.error {
            PluginError::Usage(_) | PluginError::Stopped | PluginError::Blocked => {}
            PluginError::Model(_)
            | PluginError::Media(_)
            | PluginError::Delivery(_)
            | PluginError::PlatformUnavailable(_) => {
                warn!(plugin, %hook, ?conversation, error = %self.error, "plugin failed");
            }
            _ => error!(plugin, %hook, ?conversation, error = %self.error, "plugin failed"),
        }
    }
}

/// Decides what a plugin failure shows the user, and logs it.
pub trait PluginErrorHandler: Send + Sync {
    /// Handles `failure`; returns the sentence to show the user, if any (not
    /// used for scheduled jobs, which have no user).
    fn handle(&self, failure: &PluginFailure) -> Option<String>;
}

impl<F> PluginErrorHandler for F
where
    F: Fn(&PluginFailure) -> Option<String> + Send + Sync,
{
    fn handle(&self, failure: &PluginFailure) -> Option<String> {
        self(failure)
    }
}

/// The handler the engine uses unless told otherwise: [`PluginFailure::log`]
/// and [`PluginFailure::default_message`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultErrorHandler;

impl PluginErrorHandler for DefaultErrorHandler {
    fn handle(&self, failure: &PluginFailure) -> Option<String> {
        failure.log();
        failure.default_message()
    }
}
