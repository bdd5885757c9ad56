//! `/healthz` (the process answers) and `/readyz` (the store answers, the
//! default model is loaded, every configured platform is connected), with a
//! JSON body saying which part is not ready. Open without the token, as
//! probes cannot log in; they tell no more than what is up.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use natter_core::Connection;
use serde::Serialize;

use crate::state::Web;

/// How long the store may take to answer a readiness probe.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes.
pub(crate) fn routes() -> Router<Web> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// One part's readiness.
#[derive(Debug, Serialize)]
pub struct Check {
    /// Ready.
    pub ready: bool,
    /// What it is doing, or why it is not ready.
    pub detail: String,
}

impl Check {
    fn new(ready: bool, detail: impl Into<String>) -> Self {
        Self {
            ready,
            detail: detail.into(),
        }
    }
}

/// The `/readyz` body.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// Every part is ready.
    pub ready: bool,
    /// The store.
    pub store: Check,
    /// The default model.
    pub model: Check,
    /// Each configured platform, by name.
    pub platforms: BTreeMap<String, Check>,
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "alive": true }))
}

/// Reads every part's readiness.
pub(crate) async fn readiness(web: &Web) -> Readiness {
    let store =
        match tokio::time::timeout(STORE_PROBE_TIMEOUT, web.engine.store().jobs.next_job_due())
            .await
        {
            Ok(Ok(_)) => Check::new(true, "answering"),
            Ok(Err(error)) => Check::new(false, error.to_string()),
            Err(_) => Check::new(
                false,
                format!("no answer within {}s", STORE_PROBE_TIMEOUT.as_secs()),
            ),
        };
    let default = web.engine.models().default_model();
    let model = if default.backend.is_loaded() {
        Check::new(true, format!("{} loaded", default.capabilities.model))
    } else {
        Check::new(
            false,
            format!("{} is not loaded yet", default.capabilities.model),
        )
    };
    let stats = web.engine.stats();
    let platforms: BTreeMap<String, Check> = web
        .expected
        .iter()
        .map(|platform| {
            let check = match stats.platform(*platform).map(|p| &p.connection) {
                None => Check::new(false, "not started yet"),
                Some(Connection::Connected) => Check::new(true, "connected"),
                Some(Connection::Connecting) => Check::new(false, "connecting"),
                Some(Connection::Disconnected(reason)) => {
                    Check::new(false, format!("disconnected: {reason}"))
                }
            };
            (platform.as_str().to_owned(), check)
        })
        .collect();
    Readiness {
        ready: store.ready && model.ready && platforms.values().all(|c| c.ready),
        store,
        model,
        platforms,
    }
}

async fn readyz(State(web): State<Web>) -> Response {
    let readiness = readiness(&web).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}
