//! What is configured: the personas (and which is the default) and the
//! plugins, each with the commands it answers and the tools it offers.

use axum::extract::State;
use axum::response::Response;
use natter_core::{Effect, Permission};
use serde::Serialize;

use crate::auth::Authed;
use crate::pages;
use crate::state::Web;

#[derive(Serialize)]
struct PersonaRow {
    name: String,
    description: String,
    system: String,
    model: String,
    temperature: String,
    default: bool,
}

#[derive(Serialize)]
struct CommandRow {
    name: String,
    usage: String,
    description: String,
    admin_only: bool,
}

#[derive(Serialize)]
struct ToolRow {
    name: String,
    description: String,
    effect: &'static str,
    permission: &'static str,
}

#[derive(Serialize)]
struct PluginRow {
    name: String,
    commands: Vec<CommandRow>,
    tools: Vec<ToolRow>,
}

/// The setup page.
pub(super) async fn page(State(web): State<Web>, authed: Authed) -> Response {
    let personas = web.engine.personas();
    let personas: Vec<PersonaRow> = personas
        .iter()
        .map(|(name, persona)| PersonaRow {
            name: name.to_owned(),
            description: persona.description.clone().unwrap_or_default(),
            system: persona.system.clone(),
            model: persona.model.clone().unwrap_or_default(),
            temperature: persona
                .temperature
                .map(|t| t.to_string())
                .unwrap_or_default(),
            default: name == personas.default_name(),
        })
        .collect();
    let registered = web.engine.plugins();
    let builtins: Vec<CommandRow> = web
        .engine
        .commands()
        .into_iter()
        .filter(|c| {
            !registered
                .iter()
                .any(|p| p.commands.iter().any(|pc| pc.name == c.name))
        })
        .map(|c| CommandRow {
            name: c.name,
            usage: c.usage,
            description: c.description,
            admin_only: c.admin_only,
        })
        .collect();
    let plugins: Vec<PluginRow> = registered
        .into_iter()
        .map(|plugin| PluginRow {
            name: plugin.name,
            commands: plugin
                .commands
                .into_iter()
                .map(|c| CommandRow {
                    name: c.name,
                    usage: c.usage,
                    description: c.description,
                    admin_only: c.admin_only,
                })
                .collect(),
            tools: plugin
                .tools
                .into_iter()
                .map(|t| ToolRow {
                    name: t.definition.name,
                    description: t.definition.description,
                    effect: match t.effect {
                        Effect::ReadOnly => "read-only",
                        Effect::SideEffect => "side effect",
                    },
                    permission: match t.permission {
                        Permission::Everyone => "everyone",
                        Permission::Admins => "admins",
                        Permission::Confirm => "asks first",
                    },
                })
                .collect(),
        })
        .collect();
    pages::page(
        &web,
        "setup.html",
        minijinja::context! {
            section => "setup",
            csrf => authed.session.csrf,
            personas => minijinja::Value::from(minijinja::value::Serde(personas)),
            plugins => minijinja::Value::from(minijinja::value::Serde(plugins)),
            builtins => minijinja::Value::from(minijinja::value::Serde(builtins)),
        },
    )
}
