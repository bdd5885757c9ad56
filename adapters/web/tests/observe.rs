//! What operators' tools read: `/metrics` in Prometheus text format (who may
//! read it, and what it counts), `/healthz`, and `/readyz` as parts come and
//! go.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{StatusCode, header};
use natter_core::test_utils::{RecordingOutbox, ScriptedBackend};
use natter_core::{
    Capabilities, ChatMessage, ChatRequest, ChatStream, Connection, Engine, JobStore, LeasedJob,
    MemoryStore, ModelBackend, ModelError, Platform, ScheduledJob, StoreError, Stores,
};
use support::{Events, Site, get, text};

fn metric_line<'a>(metrics: &'a str, prefix: &str) -> Option<&'a str> {
    metrics.lines().find(|line| line.starts_with(prefix))
}

fn value(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn metrics_need_the_token_unless_public() {
    let site = Site::start().await;
    let anonymous = site.send(get("/metrics", None)).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let mut wrong = get("/metrics", None);
    wrong
        .headers_mut()
        .insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
    assert_eq!(site.send(wrong).await.status(), StatusCode::UNAUTHORIZED);
    let mut scraper = get("/metrics", None);
    scraper.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", support::TOKEN).parse().unwrap(),
    );
    let scraped = site.send(scraper).await;
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let browser = site.login().await;
    assert_eq!(
        site.send(browser.get("/metrics")).await.status(),
        StatusCode::OK
    );

    let public = Site::with(|b| b, true, Vec::new()).await;
    assert_eq!(
        public.send(get("/metrics", None)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_messages_replies_latency_tokens_errors_and_the_store() {
    let site = Site::start().await;
    let browser = site.login().await;
    let mut events = Events::open(&site, &browser).await;
    let before = text(site.send(browser.get("/metrics")).await).await;
    let received = |m: &str| {
        metric_line(m, "natter_messages_received_total{platform=\"web\"}").map_or(0.0, value)
    };
    let completed = |m: &str| {
        metric_line(
            m,
            "natter_replies_total{platform=\"web\",outcome=\"completed\"}",
        )
        .map_or(0.0, value)
    };

    site.send(browser.fetch("/chat/send", &[("text", "count me")]))
        .await;
    events.until_final("echo: count me").await;
    site.backend
        .fail(ModelError::Unavailable("connection refused".into()));
    site.send(browser.fetch("/chat/send", &[("text", "fail me")]))
        .await;
    events.until_final("can't reach the language model").await;

    let after = text(site.send(browser.get("/metrics")).await).await;
    assert_eq!(received(&after) - received(&before), 2.0, "{after}");
    assert!(completed(&after) - completed(&before) >= 1.0, "{after}");
    for expected in [
        "# TYPE natter_messages_received_total counter",
        "natter_replies_total{platform=\"web\",outcome=\"failed\"}",
        "natter_reply_seconds_bucket{platform=\"web\",le=\"0.001\"}",
        "natter_first_token_seconds_bucket{model=\"script\",le=",
        "natter_tokens_total{model=\"script\",kind=\"prompt\"}",
        "natter_tokens_total{model=\"script\",kind=\"completion\"}",
        "natter_model_errors_total{model=\"script\",kind=\"unavailable\"}",
        "natter_store_seconds_bucket{op=\"append_turn\",result=\"ok\",le=",
        "natter_store_seconds_count{op=\"load_turns\",result=\"ok\"}",
        "natter_queue_depth ",
        "natter_replies_in_flight ",
    ] {
        assert!(
            after.lines().any(|line| line.starts_with(expected)),
            "{expected} missing from:\n{after}"
        );
    }
}

/// A store whose job part fails: readiness must notice.
struct BrokenJobs;

#[async_trait]
impl JobStore for BrokenJobs {
    async fn schedule_job(&self, _job: &ScheduledJob) -> Result<i64, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn lease_due_jobs(
        &self,
        _now: i64,
        _until: i64,
        _holder: &str,
        _limit: usize,
    ) -> Result<Vec<LeasedJob>, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn renew_job_lease(
        &self,
        _id: i64,
        _holder: &str,
        _until: i64,
    ) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn finish_job(&self, _id: i64, _holder: &str) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn release_job(&self, _id: i64, _holder: &str, _due: i64) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn list_jobs(&self, _ns: &str, _owner: &str) -> Result<Vec<ScheduledJob>, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn cancel_job(&self, _ns: &str, _owner: &str, _id: i64) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn next_job_due(&self) -> Result<Option<i64>, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
}

/// A model that loads on first use and has not been used.
struct NotLoadedYet;

#[async_trait]
impl ModelBackend for NotLoadedYet {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("llama", "lazy.gguf", 2048)
    }
    fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
        messages.len()
    }
    fn is_loaded(&self) -> bool {
        false
    }
    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream, ModelError> {
        Err(ModelError::Engine("not loaded".into()))
    }
}

async fn readyz(site: &Site) -> (StatusCode, serde_json::Value) {
    let response = site.send(get("/readyz", None)).await;
    let status = response.status();
    (status, serde_json::from_str(&text(response).await).unwrap())
}

#[tokio::test]
async fn readiness_follows_platforms_as_they_connect_and_drop() {
    let chat = Platform::new("fakechat");
    let site = Site::with(|b| b, false, vec![natter_web::PLATFORM, chat]).await;
    let alive = site.send(get("/healthz", None)).await;
    assert_eq!(alive.status(), StatusCode::OK);

    let (status, body) = readyz(&site).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["ready"], false);
    assert_eq!(body["store"]["ready"], true);
    assert_eq!(body["model"]["ready"], true);
    assert_eq!(body["platforms"]["web"]["ready"], true);
    assert_eq!(body["platforms"]["fakechat"]["detail"], "not started yet");

    let inbox = site
        .engine
        .attach(chat, Arc::new(RecordingOutbox::default()));
    inbox.set_connection(Connection::Connecting);
    let (status, body) = readyz(&site).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["platforms"]["fakechat"]["detail"], "connecting");

    inbox.set_connection(Connection::Connected);
    let (status, body) = readyz(&site).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);

    inbox.set_connection(Connection::Disconnected("gateway closed (4000)".into()));
    let (status, body) = readyz(&site).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["platforms"]["fakechat"]["detail"],
        "disconnected: gateway closed (4000)"
    );

    inbox.set_connection(Connection::Connected);
    assert_eq!(
        readyz(&site).await.0,
        StatusCode::OK,
        "back when it reconnects"
    );
}

#[tokio::test]
async fn readiness_names_a_store_that_fails_and_a_model_not_loaded() {
    let stores = Stores {
        jobs: Arc::new(BrokenJobs),
        ..Stores::new(Arc::new(MemoryStore::new()))
    };
    let engine = Engine::builder(Arc::new(NotLoadedYet))
        .store(stores)
        .build()
        .unwrap();
    let site = Site::on(engine, Arc::new(ScriptedBackend::new()), false, Vec::new()).await;
    let (status, body) = readyz(&site).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["store"]["ready"], false);
    assert!(
        body["store"]["detail"]
            .as_str()
            .unwrap()
            .contains("disk gone"),
        "{body}"
    );
    assert_eq!(body["model"]["ready"], false);
    assert_eq!(body["model"]["detail"], "lazy.gguf is not loaded yet");
}
