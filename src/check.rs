//! `natter check`: loads and validates the settings, checks that the store
//! opens, builds (without contacting any platform or model) what they describe, and prints a summary and the effective
//! settings with every secret redacted.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;

use crate::app::App;
use crate::settings;

/// The report `natter check` prints, or the first problem found.
pub async fn report(config: Option<&Path>) -> anyhow::Result<String> {
    let loaded = settings::load(config)?;
    let store = natter_store::check(&loaded.settings.store)
        .await
        .with_context(|| format!("store {}", loaded.settings.store.describe()))?;
    let app = App::new(loaded.settings.clone());
    let engine = app.engine().await?;
    let capabilities = engine.backend().capabilities();
    let mut out = String::new();
    let source = loaded.source.as_ref().map_or_else(
        || "built-in defaults".to_owned(),
        |p| p.display().to_string(),
    );
    writeln!(out, "settings:  {source}")?;
    writeln!(
        out,
        "model:     {} / {} (context {} tokens)",
        capabilities.backend, capabilities.model, capabilities.context_window
    )?;
    writeln!(out, "store:     {store}")?;
    writeln!(out, "platforms: {}", app.platforms().join(", "))?;
    let commands: Vec<String> = engine
        .commands()
        .iter()
        .map(|c| format!("/{}", c.name))
        .collect();
    writeln!(out, "commands:  {}", commands.join(" "))?;
    writeln!(out, "\n# effective settings (secrets redacted)")?;
    out.push_str(&toml::to_string_pretty(&loaded.settings)?);
    Ok(out)
}
