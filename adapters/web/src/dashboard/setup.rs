//! What is configured: the personas (and which is the default) and the
//! plugins, each with the commands it answers and the tools it offers — and
//! a button that reads the settings file again (`Engine::request_reload`).

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use natter_core::{Effect, Permission};
use serde::{Deserialize, Serialize};
use tracing::info;

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

/// A place's trigger rule, each part blank where it falls back.
#[derive(Serialize)]
struct TriggerRow {
    place: String,
    origin: &'static str,
    answer: String,
    keywords: String,
    cooldown: String,
    bots: String,
}

impl TriggerRow {
    fn new(place: String, origin: &'static str, rule: &natter_core::TriggerRule) -> Self {
        Self {
            place,
            origin,
            answer: rule.answer.map(|a| a.to_string()).unwrap_or_default(),
            keywords: rule
                .keywords
                .as_ref()
                .map(|k| k.join(", "))
                .unwrap_or_default(),
            cooldown: rule
                .cooldown_secs
                .map(|secs| format!("{secs} s"))
                .unwrap_or_default(),
            bots: rule
                .answer_bots
                .map(|on| if on { "yes" } else { "no" }.to_owned())
                .unwrap_or_default(),
        }
    }
}

/// The trigger rules: the default, settings' places, then `/trigger`'s.
fn trigger_rows(web: &Web) -> Vec<TriggerRow> {
    let (triggers, set_in_chat) = web.engine.trigger_rules();
    let settings = triggers.settings();
    let mut everywhere = settings.default_rule();
    everywhere.answer = Some(everywhere.answer.unwrap_or_default());
    everywhere.cooldown_secs = Some(everywhere.cooldown_secs.unwrap_or(0));
    let mut rows = vec![TriggerRow::new(
        "everywhere".to_owned(),
        "settings",
        &everywhere,
    )];
    rows.extend(
        settings
            .places
            .iter()
            .map(|(place, rule)| TriggerRow::new(place.clone(), "settings", rule)),
    );
    rows.extend(
        set_in_chat
            .iter()
            .map(|(place, rule)| TriggerRow::new(place.to_string(), "/trigger", rule)),
    );
    rows
}

/// What the reload button did, shown above the page.
#[derive(Serialize)]
struct Notice {
    ok: bool,
    text: String,
}

/// The reload button's form.
#[derive(Deserialize)]
pub(super) struct ReloadForm {
    csrf: Option<String>,
}

/// The setup page.
pub(super) async fn page(State(web): State<Web>, authed: Authed) -> Response {
    render(&web, &authed, None)
}

/// Reads the settings again, then shows the setup page with what changed.
pub(super) async fn reload(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<ReloadForm>,
) -> Response {
    if let Err(refused) = authed.check_csrf(&headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    info!("settings reload asked for from the dashboard");
    let notice = match web.engine.request_reload().await {
        Ok(report) => {
            let mut text = if report.applied.is_empty() {
                "Settings reread: nothing to change now.".to_owned()
            } else {
                format!("Settings reloaded: {}.", report.applied.join(", "))
            };
            if !report.need_restart.is_empty() {
                text.push_str(&format!(
                    " These take effect at the next start: {}.",
                    report.need_restart.join(", ")
                ));
            }
            Notice { ok: true, text }
        }
        Err(refused) => Notice {
            ok: false,
            text: format!("Not reloaded — {refused}. The settings in force stay."),
        },
    };
    render(&web, &authed, Some(notice))
}

fn render(web: &Web, authed: &Authed, notice: Option<Notice>) -> Response {
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
        web,
        "setup.html",
        minijinja::context! {
            section => "setup",
            csrf => authed.session.csrf.clone(),
            notice => minijinja::Value::from(minijinja::value::Serde(notice)),
            triggers => minijinja::Value::from(minijinja::value::Serde(trigger_rows(web))),
            personas => minijinja::Value::from(minijinja::value::Serde(personas)),
            plugins => minijinja::Value::from(minijinja::value::Serde(plugins)),
            builtins => minijinja::Value::from(minijinja::value::Serde(builtins)),
        },
    )
}
