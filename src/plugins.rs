//! The plugins that ship with natter, built from their `[plugins.NAME]`
//! sections when `enabled = true` (each gets its section without `enabled`).

use std::sync::Arc;

use natter_core::{Moderator, Plugin};
use natter_plugin_example::NotesPlugin;
use natter_plugin_generate::GeneratePlugin;
use natter_plugin_moderation::ModerationPlugin;
use natter_plugin_remind::RemindPlugin;
use natter_plugin_support::SupportPlugin;
use natter_plugin_tutor::TutorPlugin;

use crate::settings::{Settings, SettingsError};

/// Names of the plugins natter ships with, in the order they see messages:
/// moderation first, so nothing else sees what it refuses.
pub const BUILTIN: [&str; 6] = [
    "moderation",
    "support",
    "remind",
    "generate",
    "tutor",
    "notes",
];

/// The enabled built-in plugins; `extra` names plugins registered in code,
/// whose sections are theirs to read. `moderator` is the provider's
/// moderation service, when the model backend has one.
pub fn enabled(
    settings: &Settings,
    extra: &[String],
    moderator: Option<Arc<dyn Moderator>>,
) -> Result<Vec<Arc<dyn Plugin>>, SettingsError> {
    if let Some(name) = settings
        .plugins
        .keys()
        .find(|name| !BUILTIN.contains(&name.as_str()) && !extra.contains(name))
    {
        return Err(SettingsError::Value {
            key: format!("plugins.{name}"),
            reason: format!(
                "there is no plugin called {name} (built in: {})",
                BUILTIN.join(", ")
            ),
        });
    }
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    for name in BUILTIN {
        if !settings.plugin_enabled(name) || extra.iter().any(|e| e == name) {
            continue;
        }
        let invalid = |reason: String| SettingsError::Value {
            key: format!("plugins.{name}"),
            reason,
        };
        let plugin: Arc<dyn Plugin> = match name {
            "generate" => Arc::new(
                GeneratePlugin::new(settings.plugin_settings(name)?)
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            "tutor" => Arc::new(
                TutorPlugin::new(settings.plugin_settings(name)?)
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            "remind" => Arc::new(
                RemindPlugin::new(settings.plugin_settings(name)?)
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            "moderation" => {
                let plugin = ModerationPlugin::new(settings.plugin_settings(name)?)
                    .map_err(|e| invalid(e.to_string()))?;
                Arc::new(match moderator.clone() {
                    Some(moderator) => plugin.with_moderator(moderator),
                    None => plugin,
                })
            }
            "support" => Arc::new(SupportPlugin::new(settings.plugin_settings(name)?).map_err(
                |e| SettingsError::Value {
                    key: e.key(),
                    reason: e.reason(),
                },
            )?),
            _ => Arc::new(NotesPlugin::new(settings.plugin_settings(name)?)),
        };
        plugins.push(plugin);
    }
    Ok(plugins)
}
