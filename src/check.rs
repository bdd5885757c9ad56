//! `natter check`: loads and validates the settings, checks that the store
//! opens (read-only: nothing is created or migrated), builds what they
//! describe without contacting any platform or loading a local model, and
//! prints a summary and the effective settings with every secret redacted. MCP servers are started briefly,
//! their tools listed (or why they could not start), and stopped; an
//! OpenAI-compatible server is asked the model's context window (briefly),
//! and the summary says where the window came from.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use natter_core::Effect;
use natter_core::Locks;
use natter_mcp::{McpPlugin, ServerStatus};
use natter_openai::OpenAiBackend;
use secrecy::ExposeSecret;

use crate::app::App;
use crate::settings::{self, Settings};

/// With Telegram long polling on a Postgres database other processes may
/// share: whether this process could poll, or the error saying another
/// already does (Telegram allows one poller per bot).
async fn telegram_polling(settings: &Settings) -> anyhow::Result<Option<String>> {
    let telegram = &settings.telegram;
    if !telegram.enabled() || telegram.webhook_url.is_some() {
        return Ok(None);
    }
    let Some(locks) = natter_store::postgres_locks(&settings.store)? else {
        return Ok(None);
    };
    // The bot's id is the token's part before the colon.
    let bot_id = telegram
        .token
        .as_ref()
        .and_then(|token| token.expose_secret().split(':').next()?.trim().parse().ok());
    let Some(bot_id) = bot_id else {
        return Ok(None);
    };
    let free = locks
        .try_lock(&natter_telegram::run::poller_lock(bot_id))
        .await
        .context("checking for another Telegram poller")?
        .is_some();
    locks.close().await;
    if !free {
        anyhow::bail!(natter_telegram::TelegramError::PollerElsewhere);
    }
    Ok(Some(
        "long polling (the only poller of this bot on this database)".to_owned(),
    ))
}

/// The report `natter check` prints, or the first problem found.
pub async fn report(config: Option<&Path>) -> anyhow::Result<String> {
    let loaded = settings::load(config)?;
    let store = natter_store::check(&loaded.settings.store)
        .await
        .with_context(|| format!("store {}", loaded.settings.store.describe()))?;
    let app = App::new(loaded.settings.clone());
    let engine = app.engine_to_check().await?;
    let capabilities = engine.backend().capabilities();
    // The engine holds its model behind the trait: ask again to say where the window came from.
    let window_source = match loaded.settings.model.backend {
        settings::BackendKind::Openai => {
            let openai = OpenAiBackend::connect(loaded.settings.model.openai.clone()).await?;
            format!(", {}", openai.context_source())
        }
        settings::BackendKind::Llama => String::new(),
    };
    let mut out = String::new();
    let source = loaded.source.as_ref().map_or_else(
        || "built-in defaults".to_owned(),
        |p| p.display().to_string(),
    );
    writeln!(out, "settings:  {source}")?;
    writeln!(
        out,
        "model:     {} / {} (context {} tokens{window_source})",
        capabilities.backend, capabilities.model, capabilities.context_window
    )?;
    writeln!(out, "store:     {store}")?;
    writeln!(out, "platforms: {}", app.platforms().join(", "))?;
    if let Some(polling) = telegram_polling(&loaded.settings).await? {
        writeln!(out, "telegram:  {polling}")?;
    }
    let commands: Vec<String> = engine
        .commands()
        .iter()
        .map(|c| format!("/{}", c.name))
        .collect();
    writeln!(out, "commands:  {}", commands.join(" "))?;
    if !loaded.settings.mcp.is_empty() {
        out.push_str(&mcp_servers(&loaded.settings).await);
    }
    writeln!(out, "\n# effective settings (secrets redacted)")?;
    out.push_str(&toml::to_string_pretty(&loaded.settings)?);
    Ok(out)
}

/// One `mcp:` line per server: its tools as offered, or why it could not
/// start. Each server is started, listed and stopped.
async fn mcp_servers(settings: &Settings) -> String {
    if !settings.tools.enabled {
        return "mcp:       not started, as [tools] enabled = false\n".to_owned();
    }
    let plugin = McpPlugin::new(settings.mcp.clone());
    plugin.start().await;
    let offered = plugin.offered();
    let status = plugin.status();
    plugin.shutdown().await;
    let mut out = String::new();
    for (n, (server, status)) in status.iter().enumerate() {
        let what = match status {
            ServerStatus::Up { .. } => {
                let tools: Vec<String> = offered
                    .iter()
                    .filter(|tool| &tool.server == server)
                    .map(|tool| match tool.spec.effect {
                        Effect::ReadOnly => format!("{} (read-only)", tool.spec.name()),
                        Effect::SideEffect => tool.spec.name().to_owned(),
                    })
                    .collect();
                if tools.is_empty() {
                    "up, no tools".to_owned()
                } else {
                    tools.join(", ")
                }
            }
            ServerStatus::Down { reason } => reason.clone(),
            other => format!("{other:?}"),
        };
        let label = if n == 0 { "mcp:" } else { "" };
        let _ = writeln!(out, "{label:<11}{server}: {what}");
    }
    out
}
