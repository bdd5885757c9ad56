//! The real adapter and the real engine (with a scripted model) against the
//! fake Bot API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::ScriptedBackend;
use natter_core::{Engine, EngineBuilder};
use natter_telegram::{TelegramError, TelegramSettings};
use natter_test_support::telegram::{self, Call, FakeTelegram};
use secrecy::SecretString;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any awaited condition may take before a test fails.
pub const WITHIN: Duration = Duration::from_secs(30);

pub struct Harness {
    pub fake: FakeTelegram,
    pub backend: Arc<ScriptedBackend>,
    pub engine: Engine,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), TelegramError>>>,
}

/// Settings a user would write, pointed at the fake.
pub fn settings_for(fake: &FakeTelegram) -> TelegramSettings {
    TelegramSettings {
        token: Some(SecretString::from(telegram::TOKEN)),
        api_url: fake.api_url(),
        ..TelegramSettings::default()
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut TelegramSettings)) -> Self {
        Self::with_engine(configure, |builder| builder).await
    }

    /// Settings as `configure` makes them, the engine as `build` makes it.
    pub async fn with_engine(
        configure: impl FnOnce(&mut TelegramSettings),
        build: impl FnOnce(EngineBuilder) -> EngineBuilder,
    ) -> Self {
        Self::with_backend(ScriptedBackend::new(), configure, build).await
    }

    /// [`Harness::with_engine`] on `backend` (e.g. one that sees pictures).
    pub async fn with_backend(
        backend: ScriptedBackend,
        configure: impl FnOnce(&mut TelegramSettings),
        build: impl FnOnce(EngineBuilder) -> EngineBuilder,
    ) -> Self {
        let fake = FakeTelegram::start().await;
        let mut settings = settings_for(&fake);
        configure(&mut settings);
        let webhook = settings.webhook_url.is_some();
        let backend = Arc::new(backend);
        let engine = build(Engine::builder(backend.clone())).build().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(natter_telegram::run(
            settings,
            engine.clone(),
            shutdown.clone(),
        ));
        // Started once the command menu is registered (updates injected before
        // the first long poll wait in the fake's queue, as they do at Telegram).
        let ready = if webhook {
            "setwebhook"
        } else {
            "setmycommands"
        };
        fake.wait_for(WITHIN, |calls| calls.iter().any(|c| c.method == ready))
            .await;
        Self {
            fake,
            backend,
            engine,
            shutdown,
            task: Some(task),
        }
    }

    /// Injects `update` and returns its message id.
    pub fn inject(&self, update: Value) -> i64 {
        let id = update["message"]["message_id"].as_i64().unwrap();
        self.fake.inject(update);
        id
    }

    /// Waits for a successful `sendMessage` replying to message `id`.
    pub async fn reply_to(&self, id: i64) -> Call {
        let calls = self
            .fake
            .wait_for(WITHIN, |calls| calls.iter().any(|c| is_reply_to(c, id)))
            .await;
        calls.into_iter().find(|c| is_reply_to(c, id)).unwrap()
    }

    pub async fn stop(mut self) -> Result<(), TelegramError> {
        self.shutdown.cancel();
        let result = self.task.take().unwrap().await.unwrap();
        self.engine.shutdown(Duration::from_secs(5)).await;
        result
    }
}

pub fn is_reply_to(call: &Call, id: i64) -> bool {
    call.method == "sendmessage"
        && call.ok()
        && call
            .params
            .pointer("/reply_parameters/message_id")
            .and_then(Value::as_i64)
            == Some(id)
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
