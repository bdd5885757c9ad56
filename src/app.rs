//! [`App`]: natter assembled from settings — backend, personas, plugins,
//! engine and platforms — and run until the input ends or a signal arrives.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use natter_core::{Engine, Plugin};
use natter_mcp::McpPlugin;

use crate::reload::{self, Reloader};
use crate::settings::{self, Settings, SettingsError};
use crate::{logging, models, plugins};

/// natter, ready to run: settings plus the plugins to register.
pub struct App {
    settings: Settings,
    plugins: Vec<Arc<dyn Plugin>>,
    console_only: bool,
    /// The settings file read; `None` for built-in defaults.
    source: Option<std::path::PathBuf>,
    /// The MCP servers' plugin, when servers are configured and tools on.
    mcp: Option<Arc<McpPlugin>>,
}

impl App {
    /// An app for `settings`.
    pub fn new(settings: Settings) -> Self {
        let mcp = (settings.tools.enabled && !settings.mcp.is_empty())
            .then(|| Arc::new(McpPlugin::new(settings.mcp.clone())));
        Self {
            settings,
            plugins: Vec::new(),
            console_only: false,
            source: None,
            mcp,
        }
    }

    /// An app for the settings at `path` (or the default lookup) and the environment.
    pub fn from_config(path: Option<&Path>) -> Result<Self, SettingsError> {
        let loaded = settings::load(path)?;
        Ok(Self {
            source: loaded.source,
            ..Self::new(loaded.settings)
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Registers a plugin. Its settings are the `[plugins.NAME]` section.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Chat in the terminal even if platform tokens are configured.
    pub fn console_only(mut self) -> Self {
        self.console_only = true;
        self
    }

    /// In the console, print JSON Lines (one object per input) when `on`.
    pub fn jsonl(mut self, on: bool) -> Self {
        self.settings.console.jsonl |= on;
        self
    }

    /// The platforms that will run: every one with a token, and the web
    /// chat when `[web] listen` is set; else the console.
    pub fn platforms(&self) -> Vec<&'static str> {
        let mut platforms = Vec::new();
        if !self.console_only {
            if self.settings.telegram.enabled() {
                platforms.push("telegram");
            }
            if self.settings.discord.enabled() {
                platforms.push("discord");
            }
            if self.settings.web.enabled() {
                platforms.push("web");
            }
        }
        if platforms.is_empty() {
            platforms.push("console");
        }
        platforms
    }

    /// Builds the engine: backend, store (opened and migrated), personas, plugins.
    pub async fn engine(&self) -> anyhow::Result<Engine> {
        let settings = &self.settings;
        let models = models::build(settings, models::Load::Now).await?;
        let store = natter_store::open(&settings.store)
            .await
            .with_context(|| format!("store {}", settings.store.describe()))?;
        self.assemble(models, store)
    }

    /// The engine `natter check` looks at: every part the settings describe,
    /// but nothing created, migrated or loaded — an in-memory store, and a
    /// local model that is never loaded.
    pub async fn engine_to_check(&self) -> anyhow::Result<Engine> {
        let models = models::build(&self.settings, models::Load::Never).await?;
        let store = natter_core::Stores::new(Arc::new(natter_core::MemoryStore::new()));
        self.assemble(models, store)
    }

    fn assemble(
        &self,
        models: models::Built,
        store: natter_core::Stores,
    ) -> anyhow::Result<Engine> {
        let settings = &self.settings;
        let mut builder = Engine::builder(models.default)
            .store(store)
            .fallback(settings.model.fallback.clone())
            .settings(settings.engine.clone())
            .model_defaults(settings.model.defaults())
            .tools(settings.tools.clone())
            .limits(settings.limits.clone())
            .budget(settings.budget.clone())
            .prices(models.prices)
            .personas(settings.personas()?)
            .triggers(settings.triggers()?)
            .groups(settings.groups.clone())
            .media(crate::media::limits(
                &settings.vision,
                &settings.transcription,
            ));
        let openai = &settings.model.openai;
        if let Some(transcriber) = settings.transcription.build(openai)? {
            builder = builder.transcriber(transcriber);
        }
        if let Some(generator) = settings.image_generation.build(openai)? {
            builder = builder.image_generator(generator);
        }
        let custom: Vec<String> = self.plugins.iter().map(|p| p.name().to_owned()).collect();
        for (name, backend) in models.named {
            builder = builder.model(name, backend);
        }
        let shipped = plugins::enabled(settings, &custom, models.moderator)?;
        for plugin in shipped.iter().chain(&self.plugins) {
            let section = settings.plugin_section(plugin.name());
            builder = builder.plugin(Arc::clone(plugin), section);
        }
        if let Some(mcp) = &self.mcp {
            builder = builder.plugin(mcp.clone(), serde_json::Value::Null);
        }
        Ok(builder.build()?)
    }

    /// Runs until the input ends, Ctrl-C or SIGTERM. A second signal exits at once.
    pub async fn run(self) -> anyhow::Result<()> {
        logging::init(&self.settings.log, self.platforms() == ["console"]);
        if self.source.is_none() {
            // Said on stderr: a pipe's stdout holds only replies.
            eprintln!(
                "natter: no {} here; running on built-in defaults ({} model; see `natter check`)",
                settings::DEFAULT_CONFIG,
                self.settings.model.backend_settings().backend.name()
            );
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        self.run_until(shutdown).await
    }

    /// Runs until the input ends or `shutdown` is cancelled, then lets replies
    /// in flight finish (up to `engine.shutdown_grace_secs`). MCP servers
    /// start before the first message and stop last.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if self.platforms().contains(&"web") {
            // Before the engine exists, so every event is counted.
            natter_web::metrics::recorder();
        }
        let engine = self.engine().await?;
        if let Some(mcp) = &self.mcp {
            mcp.start().await;
        }
        let capabilities = engine.backend().capabilities();
        info!(
            backend = capabilities.backend,
            model = capabilities.model,
            platforms = ?self.platforms(),
            "natter starting"
        );
        let platforms = self.platforms();
        let (senders, reloads) = reload_channels(&self.settings, &platforms);
        if let Some(source) = &self.source {
            let reloader = Reloader::new(
                source.clone(),
                self.settings.clone(),
                engine.clone(),
                senders,
            );
            tokio::spawn(reloader.watch(shutdown.clone()));
        }
        let result = if platforms == ["console"] {
            natter_console::run(
                self.settings.console.clone(),
                engine.clone(),
                shutdown.clone(),
            )
            .await
            .context("the console stopped")
        } else {
            self.run_platforms(&platforms, reloads, &engine, &shutdown)
                .await
        };
        let grace = Duration::from_secs(self.settings.engine.shutdown_grace_secs);
        engine.shutdown(grace).await;
        if let Some(mcp) = &self.mcp {
            mcp.shutdown().await;
        }
        info!("natter stopped");
        result
    }

    /// Runs the chat platforms side by side until `shutdown`; the first to
    /// fail stops the others.
    async fn run_platforms(
        &self,
        platforms: &[&str],
        reloads: Reloads,
        engine: &Engine,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut running = tokio::task::JoinSet::new();
        if let Some(reloads) = reloads.telegram {
            let run = natter_telegram::run_reloading(
                self.settings.telegram.clone(),
                reloads,
                engine.clone(),
                shutdown.clone(),
            );
            running.spawn(async move { run.await.context("telegram") });
        }
        if let Some(reloads) = reloads.discord {
            let run = natter_discord::run_reloading(
                self.settings.discord.clone(),
                reloads,
                engine.clone(),
                shutdown.clone(),
            );
            running.spawn(async move { run.await.context("discord") });
        }
        if platforms.contains(&"web") {
            let expected = platforms
                .iter()
                .filter_map(|name| name.parse().ok())
                .collect();
            let server = natter_web::WebServer::bind(&self.settings.web, engine.clone(), expected)
                .await
                .context("web")?;
            announce(&server);
            let run = server.run(shutdown.clone());
            running.spawn(async move { run.await.context("web") });
        }
        let mut result = Ok(());
        while let Some(joined) = running.join_next().await {
            let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(error) = outcome {
                shutdown.cancel();
                if result.is_ok() {
                    result = Err(error);
                }
            }
        }
        result
    }
}

/// Where the running platforms take reloaded settings from.
#[derive(Default)]
struct Reloads {
    telegram: Option<watch::Receiver<natter_telegram::TelegramSettings>>,
    discord: Option<watch::Receiver<natter_discord::DiscordSettings>>,
}

/// A channel per running platform that takes reloaded settings.
fn reload_channels(settings: &Settings, platforms: &[&str]) -> (reload::Platforms, Reloads) {
    let mut senders = reload::Platforms::default();
    let mut reloads = Reloads::default();
    if platforms.contains(&"telegram") {
        let (sender, receiver) = watch::channel(settings.telegram.clone());
        senders.telegram = Some(sender);
        reloads.telegram = Some(receiver);
    }
    if platforms.contains(&"discord") {
        let (sender, receiver) = watch::channel(settings.discord.clone());
        senders.discord = Some(sender);
        reloads.discord = Some(receiver);
    }
    (senders, reloads)
}

/// Prints where the web chat is, and the token when natter made one up.
fn announce(server: &natter_web::WebServer) {
    println!("natter web: {}", server.url());
    if let Some(token) = server.generated_token() {
        println!(
            "natter web token (generated for this run, shown once; set [web] token or \
             NATTER_WEB_TOKEN to keep one): {token}"
        );
    }
}

/// Cancels `shutdown` on the first Ctrl-C or SIGTERM; exits on the second.
async fn watch_signals(shutdown: CancellationToken) {
    for attempt in 0..2 {
        if let Err(error) = signal().await {
            warn!(%error, "cannot listen for signals; Ctrl-C will not stop natter cleanly");
            return;
        }
        if attempt == 0 {
            info!("shutting down; press Ctrl-C again to quit at once");
            shutdown.cancel();
        } else {
            std::process::exit(130);
        }
    }
}

#[cfg(unix)]
async fn signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_web_chat_replaces_the_terminal_when_no_platform_has_a_token() {
        let mut settings = Settings::default();
        assert_eq!(App::new(settings.clone()).platforms(), ["console"]);
        settings.web.listen = Some("127.0.0.1:8787".into());
        assert_eq!(App::new(settings.clone()).platforms(), ["web"]);
        assert_eq!(
            App::new(settings).console_only().platforms(),
            ["console"],
            "natter chat is the terminal"
        );
    }
}
