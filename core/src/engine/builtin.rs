//! Stage 3, route — the built-in commands every natter bot has: `/help`,
//! `/reset`, `/persona`, `/model`, `/trigger` (in `trigger_command`),
//! `/usage` (in `usage`), and (answered as they arrive, ahead of the queue,
//! by `intake`) `/stop`, `/yes`, `/no`. In groups, `[groups] admin_only`
//! says which of them only admins may use to change something.

use tracing::error;

use super::exchange::Exchange;
use super::shared::Shared;
use crate::command::{Command, CommandSpec};
use crate::message::Incoming;
use crate::place::Place;

/// The built-in commands, as `/help` lists them.
pub(crate) fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("help", "List the commands"),
        CommandSpec::new("reset", "Forget this conversation's history"),
        CommandSpec::new("persona", "Show or switch the persona").usage("[name|reset] [server]"),
        CommandSpec::new("model", "Show or switch the model").usage("[name|reset]"),
        CommandSpec::new("trigger", "Show or set when I answer in this group")
            .usage("[mention|all|keywords WORDS|cooldown SECS|bots on|off|reset] [server]"),
        CommandSpec::new("usage", "Tokens (and cost) used today and this month")
            .usage("[here|top]"),
        CommandSpec::new("stop", "Stop the reply being written"),
        CommandSpec::new("yes", "Allow what I asked to do"),
        CommandSpec::new("no", "Refuse what I asked to do"),
    ]
}

pub(crate) fn is_builtin(name: &str) -> bool {
    specs().iter().any(|spec| spec.name == name)
}

/// Every command: built-ins, then plugins' (for `/help` and platform menus).
pub(crate) fn all(shared: &Shared) -> Vec<CommandSpec> {
    let mut all = specs();
    for registered in &shared.plugins {
        all.extend(registered.plugin.commands());
    }
    all
}

/// Runs built-in `command` and answers it.
pub(crate) async fn run(exchange: &Exchange<'_>, command: Command) {
    let (shared, message) = (exchange.engine, &exchange.message);
    let changes = command.name == "reset" || !command.args.trim().is_empty();
    if !shared.may_use(message, &command.name, changes) {
        let text = match command.name.as_str() {
            "persona" => "Only admins can change the persona in group chats.".to_owned(),
            "model" => "Only admins can change the model in group chats.".to_owned(),
            "trigger" => "Only admins can change when I answer in group chats.".to_owned(),
            name => format!("Only admins can use /{name} in group chats."),
        };
        exchange.send(&text).await;
        return;
    }
    let text = match command.name.as_str() {
        "help" => help(shared),
        "reset" => reset(shared, message).await,
        "persona" => persona(shared, message, &command).await,
        "model" => model(exchange, &command).await,
        "trigger" => super::trigger_command::run(shared, message, &command.args).await,
        "usage" => super::usage::report(&shared.services, message, &command.args).await,
        // `intake` answers the others before they reach a queue.
        other => format!("/{other} is answered as it arrives."),
    };
    exchange.send(&text).await;
}

fn help(shared: &Shared) -> String {
    let mut text = String::from("Commands:\n");
    for spec in all(shared) {
        text.push_str(&spec.help_line());
        text.push('\n');
    }
    text.push_str("\nIn group chats, mention me or reply to one of my messages.");
    text
}

async fn reset(shared: &Shared, message: &Incoming) -> String {
    // A summary of the old history being written must not be saved after.
    shared.summaries.stop(&message.key).await;
    match shared
        .services
        .stores
        .history
        .clear_history(&message.key)
        .await
    {
        Ok(()) => "History cleared. Let's start fresh.".into(),
        Err(e) => {
            error!(error = %e, "could not clear history");
            "Sorry, I couldn't clear the history. Please try again.".into()
        }
    }
}

/// `/model`: the model in force here and the others; `/model NAME` and
/// `/model reset` change this conversation's (admins only in groups).
async fn model(exchange: &Exchange<'_>, command: &Command) -> String {
    let services = &exchange.engine.services;
    let message = &exchange.message;
    let available = services.models.names().join(", ");
    let arg = command.args.trim();
    if arg.is_empty() {
        let model = &exchange.model;
        return format!(
            "Model: {} ({} via {}).\nAvailable: {available}.\n\
             /model NAME switches this conversation; /model reset returns to the default.",
            model.name, model.capabilities.model, model.capabilities.backend
        );
    }
    let choice = if arg.eq_ignore_ascii_case("reset") {
        None
    } else if services.models.get(arg).is_some() {
        Some(arg)
    } else {
        return format!("There is no model called {arg}. Available: {available}.");
    };
    let scope = message.key.to_string();
    if let Err(e) = services
        .stores
        .history
        .set_model_override(&scope, choice)
        .await
    {
        error!(error = %e, "could not save the model choice");
        return "Sorry, I couldn't change the model. Please try again.".into();
    }
    match choice {
        Some(name) => format!("This conversation now answers with {name}."),
        None => {
            let model = services.model_for(message).await;
            format!("Model reset to {}.", model.name)
        }
    }
}

async fn persona(shared: &Shared, message: &Incoming, command: &Command) -> String {
    let services = &shared.services;
    let personas = services.personas.get();
    let available = personas
        .iter()
        .map(|(name, _)| name)
        .collect::<Vec<_>>()
        .join(", ");
    let arg = command.args.trim();
    if arg.is_empty() {
        return match services.resolve_persona(message).await {
            Ok((name, persona)) => {
                let about = persona.description.unwrap_or(persona.system);
                format!(
                    "Persona: {name} — {about}\nAvailable: {available}.\n\
                     /persona NAME switches; /persona reset returns to the default."
                )
            }
            Err(e) => {
                error!(error = %e, "could not look up the persona");
                "Sorry, I couldn't look up the persona. Please try again.".into()
            }
        };
    }
    let (arg, server_wide, place) = Place::to_set(&message.channel, arg);
    let Some(scope) = place.as_ref().map(Place::scope) else {
        return "This chat is not part of a server: /persona NAME sets it for this chat.".into();
    };
    let choice = if arg.eq_ignore_ascii_case("reset") {
        None
    } else if personas.get(arg).is_some() {
        Some(arg)
    } else {
        return format!("There is no persona called {arg}. Available: {available}.");
    };
    // The newest choice wins: one made for this conversation alone (on a
    // dashboard) gives way to this one.
    let history = &services.stores.history;
    let saved = match history.set_persona_override(&scope, choice).await {
        Ok(()) => {
            history
                .set_persona_override(&message.key.to_string(), None)
                .await
        }
        error => error,
    };
    if let Err(e) = saved {
        error!(error = %e, "could not save the persona");
        return "Sorry, I couldn't change the persona. Please try again.".into();
    }
    match choice {
        Some(name) if server_wide => format!("Persona is now {name} across this server."),
        Some(name) => format!("Persona is now {name}."),
        None => match services.resolve_persona(message).await {
            Ok((name, _)) => format!("Persona reset to {name}."),
            Err(_) => "Persona reset.".into(),
        },
    }
}
