//! The plugins that ship with natter, built from their `[plugins.NAME]`
//! sections when `enabled = true`.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use natter_core::Plugin;
use natter_plugin_example::NotesPlugin;
use natter_plugin_generate::GeneratePlugin;
use natter_plugin_support::SupportPlugin;
use natter_plugin_tutor::TutorPlugin;

use crate::settings::{Settings, SettingsError};

/// Names of the plugins natter ships with.
pub const BUILTIN: [&str; 4] = ["generate", "tutor", "support", "notes"];

/// The enabled built-in plugins; `extra` names plugins registered in code,
/// whose sections are theirs to read.
pub fn enabled(
    settings: &Settings,
    extra: &[String],
) -> Result<Vec<Arc<dyn Plugin>>, SettingsError> {
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    for name in settings.plugins.keys() {
        if !BUILTIN.contains(&name.as_str()) && !extra.contains(name) {
            return Err(SettingsError::Value {
                key: format!("plugins.{name}"),
                reason: format!(
                    "there is no plugin called {name} (built in: {})",
                    BUILTIN.join(", ")
                ),
            });
        }
        if !settings.plugin_enabled(name) || extra.contains(name) {
            continue;
        }
        let invalid = |reason: String| SettingsError::Value {
            key: format!("plugins.{name}"),
            reason,
        };
        let plugin: Arc<dyn Plugin> = match name.as_str() {
            "generate" => Arc::new(
                GeneratePlugin::new(section(settings, name)?)
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            "tutor" => Arc::new(
                TutorPlugin::new(section(settings, name)?).map_err(|e| invalid(e.to_string()))?,
            ),
            "support" => Arc::new(SupportPlugin::new(section(settings, name)?).map_err(|e| {
                SettingsError::Value {
                    key: e.key(),
                    reason: e.reason(),
                }
            })?),
            _ => Arc::new(NotesPlugin::new(section(settings, name)?)),
        };
        plugins.push(plugin);
    }
    Ok(plugins)
}

fn section<T: DeserializeOwned>(settings: &Settings, name: &str) -> Result<T, SettingsError> {
    let value = settings.plugins.get(name).cloned().unwrap_or_default();
    serde_json::from_value(value).map_err(|e| SettingsError::Value {
        key: format!("plugins.{name}"),
        reason: e.to_string(),
    })
}
