//! Per-message decisions: `/stop` at once, everything else in order through
//! the conversation's lane — ignore, built-in command, plugin command, plugin
//! message hook, or a chat turn with the model.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, instrument, warn};

use super::lanes::Pushed;
use super::{Shared, builtin, turn};
use crate::command::Command;
use crate::delivery::Courier;
use crate::message::{ConversationKey, Incoming};
use crate::plugin::{Flow, PluginContext, PluginError, Registered};

/// A message waiting in its conversation's lane.
pub(crate) struct Job {
    message: Incoming,
    courier: Arc<Courier>,
    /// Dropped when handling ends, which resolves the submitter's receipt.
    _done: oneshot::Sender<()>,
}

/// Queues `message` in its conversation's lane; `/stop` is handled at once.
pub(crate) fn submit(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    done: oneshot::Sender<()>,
) {
    if should_answer(shared, &message)
        && Command::parse(&message.text).is_some_and(|cmd| cmd.name == "stop")
    {
        let stopped = shared.lanes.cancel(&message.key);
        let courier = Arc::clone(courier);
        shared.tasks.spawn(async move {
            let text = if stopped {
                "Stopped."
            } else {
                "Nothing to stop."
            };
            if let Err(error) = courier
                .send_text(&message.channel, text, Some(&message.id))
                .await
            {
                warn!(key = %message.key, %error, "could not confirm /stop");
            }
            drop(done);
        });
        return;
    }
    let key = message.key.clone();
    let job = Job {
        message,
        courier: Arc::clone(courier),
        _done: done,
    };
    if let Pushed::StartWorker = shared.lanes.push(&key, job) {
        let worker_shared = Arc::clone(shared);
        shared.tasks.spawn(run_lane(worker_shared, key));
    }
}

/// Handles one conversation's queued messages in order, then ends.
async fn run_lane(shared: Arc<Shared>, key: ConversationKey) {
    while let Some((job, cancel)) = shared.lanes.next(&key, &shared.shutdown) {
        let permit = tokio::select! {
            permit = shared.parallel.acquire() => permit.ok(),
            () = cancel.cancelled() => None,
        };
        if permit.is_some() {
            handle(&shared, &job.courier, &job.message, &cancel).await;
        }
    }
}

fn should_answer(shared: &Shared, message: &Incoming) -> bool {
    message.is_addressed() && (!message.author.is_bot || shared.settings.answer_bots)
}

/// True when the author may change settings here: anyone in a private chat,
/// admins in groups.
pub(crate) fn may_administer(message: &Incoming) -> bool {
    message.channel.is_private() || message.author.is_admin
}

#[instrument(name = "message", skip_all, fields(key = %message.key, id = %message.id))]
async fn handle(
    shared: &Shared,
    courier: &Courier,
    message: &Incoming,
    cancel: &CancellationToken,
) {
    if !should_answer(shared, message) {
        debug!(
            bot = message.author.is_bot,
            addressed = ?message.addressed,
            "not answering"
        );
        return;
    }
    let screened;
    let message = match filter_input(shared, courier, message, cancel).await {
        Screening::Refused => return,
        Screening::Unchanged => message,
        Screening::Rewritten(text) => {
            screened = Incoming {
                text,
                ..message.clone()
            };
            &screened
        }
    };
    match Command::parse(&message.text) {
        Some(command) => run_command(shared, courier, message, cancel, command).await,
        None => {
            for registered in &shared.plugins {
                let mut cx = context(shared, courier, message, registered, cancel);
                match registered.plugin.on_message(&mut cx, message).await {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Handled) => return,
                    Err(error) => {
                        let told = cx.user_told;
                        report(courier, message, &registered.name, error, told).await;
                        return;
                    }
                }
            }
            turn::chat(shared, courier, message, cancel).await;
        }
    }
}

/// What the plugins' input filters made of a message.
enum Screening {
    /// Go on with the message as it is.
    Unchanged,
    /// Go on with this text instead.
    Rewritten(String),
    /// A filter refused it (and told the user); stop here.
    Refused,
}

/// Runs every plugin's [`Plugin::filter_input`](crate::Plugin::filter_input) in order.
async fn filter_input(
    shared: &Shared,
    courier: &Courier,
    message: &Incoming,
    cancel: &CancellationToken,
) -> Screening {
    let mut text = message.text.clone();
    for registered in &shared.plugins {
        let mut cx = context(shared, courier, message, registered, cancel);
        match registered.plugin.filter_input(&mut cx, &mut text).await {
            Ok(Flow::Continue) => {}
            Ok(Flow::Handled) => {
                debug!(plugin = %registered.name, "input refused by a filter");
                return Screening::Refused;
            }
            Err(error) => {
                let told = cx.user_told;
                report(courier, message, &registered.name, error, told).await;
                return Screening::Refused;
            }
        }
    }
    if text == message.text {
        Screening::Unchanged
    } else {
        Screening::Rewritten(text)
    }
}

async fn run_command(
    shared: &Shared,
    courier: &Courier,
    message: &Incoming,
    cancel: &CancellationToken,
    command: Command,
) {
    if builtin::is_builtin(&command.name) {
        builtin::run(shared, courier, message, command).await;
        return;
    }
    let owner = shared
        .plugin_commands
        .get(&command.name)
        .and_then(|(index, spec)| Some((shared.plugins.get(*index)?, spec)));
    let Some((registered, spec)) = owner else {
        let text = format!("Unknown command /{} — try /help.", command.name);
        send(courier, message, &text).await;
        return;
    };
    if spec.admin_only && !may_administer(message) {
        let text = format!("Only admins can use /{} in group chats.", spec.name);
        send(courier, message, &text).await;
        return;
    }
    let mut cx = context(shared, courier, message, registered, cancel);
    if let Err(error) = registered.plugin.on_command(&mut cx, command).await {
        let told = cx.user_told;
        report(courier, message, &registered.name, error, told).await;
    }
}

/// The context a plugin hook gets for `message`.
pub(crate) fn context<'a>(
    shared: &'a Shared,
    courier: &'a Courier,
    message: &'a Incoming,
    registered: &'a Registered,
    cancel: &'a CancellationToken,
) -> PluginContext<'a> {
    PluginContext {
        shared,
        courier,
        incoming: message,
        plugin: registered,
        cancel,
        user_told: false,
    }
}

/// Sends a short reply, logging (not propagating) a delivery failure.
pub(crate) async fn send(courier: &Courier, message: &Incoming, text: &str) {
    if let Err(error) = courier
        .send_text(&message.channel, text, Some(&message.id))
        .await
    {
        warn!(%error, "could not deliver a reply");
    }
}

/// Tells the user, in one sentence, that a plugin failed; logs the cause.
async fn report(
    courier: &Courier,
    message: &Incoming,
    plugin: &str,
    error: PluginError,
    user_told: bool,
) {
    let text = match &error {
        PluginError::Usage(text) => Some(text.clone()),
        PluginError::Stopped | PluginError::Blocked => None,
        PluginError::PlatformUnavailable(platform) => {
            warn!(plugin, %platform, "plugin posted to a platform that is not running");
            Some(format!("Sorry, {platform} is not connected right now."))
        }
        PluginError::Model(model) => {
            warn!(plugin, error = %model, "model failed in plugin");
            (!user_told).then(|| model.user_message())
        }
        PluginError::Delivery(delivery) => {
            warn!(plugin, error = %delivery, "delivery failed in plugin");
            None
        }
        PluginError::Config { .. } => {
            error!(plugin, %error, "plugin misconfigured");
            Some(format!("Sorry, the {plugin} plugin is misconfigured."))
        }
        _ => {
            error!(plugin, %error, "plugin failed");
            Some(format!(
                "Sorry, something went wrong in the {plugin} plugin."
            ))
        }
    };
    if let Some(text) = text {
        send(courier, message, &text).await;
    }
}
