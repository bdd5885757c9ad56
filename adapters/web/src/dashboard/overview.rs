//! The overview: platforms and their connections, the models and whether
//! they are loaded, the store, messages and replies per minute, replies in
//! flight, messages waiting, and errors in the last hour.

use axum::extract::State;
use axum::response::Response;
use natter_core::Connection;
use serde::Serialize;

use super::{chart, when};
use crate::auth::Authed;
use crate::health::readiness;
use crate::pages;
use crate::state::Web;

#[derive(Serialize)]
struct PlatformRow {
    name: String,
    state: &'static str,
    detail: String,
    since: String,
}

#[derive(Serialize)]
struct ModelRow {
    name: String,
    backend: String,
    model: String,
    context: usize,
    loaded: bool,
}

async fn render(web: &Web, authed: &Authed) -> Response {
    let stats = web.engine.stats();
    let mut names: Vec<natter_core::Platform> = web.expected.clone();
    for status in &stats.platforms {
        if !names.contains(&status.platform) {
            names.push(status.platform);
        }
    }
    let platforms: Vec<PlatformRow> = names
        .into_iter()
        .map(|platform| match stats.platform(platform) {
            None => PlatformRow {
                name: platform.to_string(),
                state: "starting",
                detail: "not started yet".into(),
                since: String::new(),
            },
            Some(status) => {
                let (state, detail) = match &status.connection {
                    Connection::Connected => ("connected", String::new()),
                    Connection::Connecting => ("connecting", String::new()),
                    Connection::Disconnected(reason) => ("disconnected", reason.clone()),
                };
                PlatformRow {
                    name: platform.to_string(),
                    state,
                    detail,
                    since: when::utc_of(status.since),
                }
            }
        })
        .collect();
    let models: Vec<ModelRow> = web
        .engine
        .models()
        .names()
        .into_iter()
        .filter_map(|name| web.engine.models().get(name))
        .map(|m| ModelRow {
            name: m.name.clone(),
            backend: m.capabilities.backend.clone(),
            model: m.capabilities.model.clone(),
            context: m.capabilities.context_window,
            loaded: m.backend.is_loaded(),
        })
        .collect();
    let ready = readiness(web).await;
    let received: Vec<u64> = stats.minutes.iter().map(|m| m.received).collect();
    // The minute under way: what an operator watching the page expects.
    let this_minute = stats.minutes.last().copied().unwrap_or_default();
    let last_hour = stats.last_hour();
    pages::page(
        web,
        "overview.html",
        minijinja::context! {
            section => "overview",
            csrf => authed.session.csrf.clone(),
            platforms => minijinja::Value::from(minijinja::value::Serde(platforms)),
            models => minijinja::Value::from(minijinja::value::Serde(models)),
            store_ready => ready.store.ready,
            store_detail => ready.store.detail,
            ready => ready.ready,
            in_flight => stats.in_flight,
            queued => stats.queued,
            active => stats.active_conversations,
            received_per_minute => this_minute.received,
            replies_per_minute => this_minute.replies,
            received_last_hour => last_hour.received,
            replies_last_hour => last_hour.replies,
            errors_last_hour => last_hour.errors,
            activity_svg => chart::sparkline("messages per minute, last hour", &received),
        },
    )
}

/// The overview page.
pub(super) async fn page(State(web): State<Web>, authed: Authed) -> Response {
    render(&web, &authed).await
}
