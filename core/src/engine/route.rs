//! Stage 3, route: a message goes to exactly one handler — a built-in
//! command, a plugin's command, a plugin's message hook that takes it over,
//! or (when nothing took it) a chat turn with the model.

use super::exchange::Exchange;
use super::{builtin, chat};
use crate::command::Command;
use crate::plugin::{Flow, Hook};

/// Sends `exchange` to the one handler it is for.
pub(crate) async fn route(exchange: &Exchange<'_>) {
    match Command::parse(&exchange.message.text) {
        Some(command) if builtin::is_builtin(&command.name) => {
            builtin::run(exchange, command).await;
        }
        Some(command) => plugin_command(exchange, command).await,
        None => {
            if offer_to_plugins(exchange).await == Flow::Continue {
                chat::turn(exchange).await;
            }
        }
    }
}

/// Runs a plugin's command, checking it exists and who may run it.
async fn plugin_command(exchange: &Exchange<'_>, command: Command) {
    let engine = exchange.engine;
    let owner = engine
        .plugin_commands
        .get(&command.name)
        .and_then(|(index, spec)| Some((engine.plugins.get(*index)?, spec)));
    let Some((registered, spec)) = owner else {
        let text = format!("Unknown command /{} — try /help.", command.name);
        exchange.send(&text).await;
        return;
    };
    let admin_only = spec.admin_only || engine.groups.get().is_admin_only(&spec.name);
    if admin_only && !exchange.message.may_administer() {
        let text = format!("Only admins can use /{} in group chats.", spec.name);
        exchange.send(&text).await;
        return;
    }
    let mut cx = exchange.plugin(registered);
    let outcome = registered.plugin.on_command(&mut cx, command).await;
    let told = cx.user_told();
    if let Err(error) = outcome {
        exchange.fail(registered, Hook::Command, error, told).await;
    }
}

/// Offers a plain message to every plugin's [`crate::Plugin::on_message`]
/// in order; `Handled` when one took it over (or failed on it).
async fn offer_to_plugins(exchange: &Exchange<'_>) -> Flow {
    for registered in &exchange.engine.plugins {
        let mut cx = exchange.plugin(registered);
        let outcome = registered
            .plugin
            .on_message(&mut cx, &exchange.message)
            .await;
        let told = cx.user_told();
        match outcome {
            Ok(Flow::Continue) => {}
            Ok(Flow::Handled) => return Flow::Handled,
            Err(error) => {
                exchange.fail(registered, Hook::Message, error, told).await;
                return Flow::Handled;
            }
        }
    }
    Flow::Continue
}
