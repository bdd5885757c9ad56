//! Usage from the ledger the bots write: tokens (and cost, where models have
//! prices) per day (UTC), per model and per user, over the last days, as a
//! chart and tables.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use natter_core::{UsageScope, UsageTotal};
use serde::{Deserialize, Serialize};

use super::chart::{self, Bar};
use super::when;
use crate::auth::Authed;
use crate::pages::{self, store_down};
use crate::state::Web;

const DAY_MS: i64 = 86_400_000;
/// Days shown unless asked otherwise, and at most.
const DEFAULT_DAYS: i64 = 14;
const MAX_DAYS: i64 = 90;
/// Users listed.
const TOP_USERS: usize = 20;

#[derive(Deserialize)]
pub(super) struct UsageQuery {
    days: Option<i64>,
}

#[derive(Serialize)]
struct DayRow {
    day: String,
    prompt: u64,
    completion: u64,
    calls: u64,
    cost: Option<String>,
}

#[derive(Serialize)]
struct ModelRow {
    model: String,
    prompt: u64,
    completion: u64,
    calls: u64,
    /// Voice heard or pictures made, for a transcription or image model.
    media: String,
    cost: Option<String>,
}

#[derive(Serialize)]
struct UserRow {
    platform: String,
    user: String,
    prompt: u64,
    completion: u64,
}

/// "95 s of voice", "3 pictures", both, or nothing.
fn media(audio_seconds: u64, images: u64) -> String {
    let mut parts = Vec::new();
    if audio_seconds > 0 {
        parts.push(format!("{audio_seconds} s of voice"));
    }
    match images {
        0 => {}
        1 => parts.push("1 picture".to_owned()),
        n => parts.push(format!("{n} pictures")),
    }
    parts.join(", ")
}

fn dollars(cost: Option<f64>) -> Option<String> {
    cost.map(|c| format!("${c:.4}"))
}

/// The usage page.
pub(super) async fn page(
    State(web): State<Web>,
    authed: Authed,
    Query(query): Query<UsageQuery>,
) -> Response {
    let days = query.days.unwrap_or(DEFAULT_DAYS).clamp(1, MAX_DAYS);
    let now = when::now_ms();
    let today = now - now.rem_euclid(DAY_MS);
    let since = today - (days - 1) * DAY_MS;
    let until = today + DAY_MS;
    let usage = &web.engine.store().usage;
    let prices = web.engine.prices();
    let cost_of = |totals: &[UsageTotal]| -> Option<f64> {
        let priced: Vec<f64> = totals
            .iter()
            .filter_map(|t| Some(prices.get(&t.model)?.cost(t)))
            .collect();
        (!priced.is_empty()).then(|| priced.iter().sum())
    };
    let mut per_day = Vec::with_capacity(days as usize);
    for day in 0..days {
        let start = since + day * DAY_MS;
        match usage
            .usage_totals(&UsageScope::Everyone, start, start + DAY_MS)
            .await
        {
            Ok(totals) => per_day.push((start, totals)),
            Err(error) => return store_down(&web, &error),
        }
    }
    let (per_model, top) = match tokio::try_join!(
        usage.usage_totals(&UsageScope::Everyone, since, until),
        usage.top_users(since, until, TOP_USERS)
    ) {
        Ok(read) => read,
        Err(error) => return store_down(&web, &error),
    };
    let series: Vec<String> = per_model.iter().map(|t| t.model.clone()).collect();
    let bars: Vec<Bar> = per_day
        .iter()
        .map(|(start, totals)| {
            let by_model: BTreeMap<&str, u64> = totals
                .iter()
                .map(|t| (t.model.as_str(), t.prompt_tokens + t.completion_tokens))
                .collect();
            Bar {
                label: when::utc(*start).get(5..10).unwrap_or_default().to_owned(),
                values: series
                    .iter()
                    .map(|m| by_model.get(m.as_str()).copied().unwrap_or(0))
                    .collect(),
            }
        })
        .collect();
    let chart = chart::stacked_bars("tokens per day, by model", &series, &bars);
    let day_rows: Vec<DayRow> = per_day
        .iter()
        .rev()
        .map(|(start, totals)| DayRow {
            day: when::utc(*start).get(..10).unwrap_or_default().to_owned(),
            prompt: totals.iter().map(|t| t.prompt_tokens).sum(),
            completion: totals.iter().map(|t| t.completion_tokens).sum(),
            calls: totals.iter().map(|t| t.calls).sum(),
            cost: dollars(cost_of(totals)),
        })
        .collect();
    let model_rows: Vec<ModelRow> = per_model
        .iter()
        .map(|t| ModelRow {
            model: t.model.clone(),
            prompt: t.prompt_tokens,
            completion: t.completion_tokens,
            calls: t.calls,
            media: media(t.audio_seconds, t.images),
            cost: dollars(prices.get(&t.model).map(|p| p.cost(t))),
        })
        .collect();
    let user_rows: Vec<UserRow> = top
        .into_iter()
        .map(|u| UserRow {
            platform: u.platform,
            user: u.user_id,
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
        })
        .collect();
    pages::page(
        &web,
        "usage.html",
        minijinja::context! {
            section => "usage",
            csrf => authed.session.csrf,
            days,
            chart,
            day_rows => minijinja::Value::from(minijinja::value::Serde(day_rows)),
            model_rows => minijinja::Value::from(minijinja::value::Serde(model_rows)),
            user_rows => minijinja::Value::from(minijinja::value::Serde(user_rows)),
            total_cost => dollars(cost_of(&per_model)),
        },
    )
}
