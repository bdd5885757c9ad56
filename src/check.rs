//! `natter check`: loads and validates the settings, checks that the store
//! opens, builds (without contacting any platform or model) what they describe, and prints a summary and the effective
//! settings with every secret redacted. The one exception: an OpenAI-compatible
//! server is asked the model's context window (briefly), and the summary says
//! where the window came from.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use natter_openai::OpenAiBackend;

use crate::app::App;
use crate::settings;

/// The report `natter check` prints, or the first problem found.
pub async fn report(config: Option<&Path>) -> anyhow::Result<String> {
    let loaded = settings::load(config)?;
    let store = natter_store::check(&loaded.settings.store)
        .await
        .with_context(|| format!("cannot open the store {}", loaded.settings.store.describe()))?;
    let app = App::new(loaded.settings.clone());
    let engine = app.engine().await?;
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
