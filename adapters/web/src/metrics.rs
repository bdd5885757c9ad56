//! `/metrics`: what core records through the `metrics` facade (see
//! `natter_core::telemetry`), in Prometheus text format. The recorder is
//! installed once per process, the first time a web side starts; latency
//! histograms get buckets from a millisecond to two minutes. Needs the token
//! (session cookie or `Authorization: Bearer`) unless `metrics_public`.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::warn;

use crate::auth::{SESSION_COOKIE, bearer_ok, cookie};
use crate::state::Web;

/// Histogram buckets for every `…_seconds` metric.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use; `None` when
/// another recorder was installed first (its owner exports the metrics).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    natter_core::telemetry::describe();
                    Some(handle)
                }
                Err(error) => {
                    warn!(%error, "cannot install the metrics recorder; /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

/// The metrics route.
pub(crate) fn routes() -> Router<Web> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(web): State<Web>, headers: HeaderMap) -> Response {
    let allowed = web.metrics_public
        || bearer_ok(&headers, &web)
        || cookie(&headers, SESSION_COOKIE).is_some_and(|id| web.sessions.get(id).is_some());
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send the web token as Authorization: Bearer …, or set web.metrics_public\n",
        )
            .into_response();
    }
    let Some(recorder) = recorder() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder\n").into_response();
    };
    recorder.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        recorder.render(),
    )
        .into_response()
}
