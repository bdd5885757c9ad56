//! A bot of your own without forking natter: depend on `natter` as a library,
//! write a plugin, register it, and get every adapter, backend and setting.
//!
//! ```sh
//! cargo run --example custom_bot                 # console, settings from config/natter.toml
//! printf '/dice 3\n' | cargo run --example custom_bot
//! ```
//!
//! Its settings live in `[plugins.dice]` (e.g. `sides = 20`). They are read
//! once, when the plugin is built, so a mistake there stops the bot at start
//! with an error naming `plugins.dice` instead of going unnoticed.

use async_trait::async_trait;
use natter::{App, Settings, SettingsError};
use natter_core::{Command, CommandSpec, Plugin, PluginContext, PluginError};
use serde::Deserialize;

/// `[plugins.dice]` (no `enabled`: natter reads that switch itself).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DiceSettings {
    sides: u32,
}

impl Default for DiceSettings {
    fn default() -> Self {
        Self { sides: 6 }
    }
}

/// `/dice N` rolls N dice (deterministically here: a real plugin would use `rand`).
struct Dice {
    settings: DiceSettings,
}

impl Dice {
    /// The plugin for the app's `[plugins.dice]` section.
    fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let settings: DiceSettings = settings.plugin_settings("dice")?;
        if settings.sides == 0 {
            return Err(SettingsError::Value {
                key: "plugins.dice.sides".into(),
                reason: "a die needs at least one side".into(),
            });
        }
        Ok(Self { settings })
    }
}

#[async_trait]
impl Plugin for Dice {
    fn name(&self) -> &str {
        "dice"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new("dice", "Roll some dice").usage("[count]")]
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        let count: u32 = match cmd.args.trim() {
            "" => 1,
            n => n
                .parse()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| PluginError::usage("Usage: /dice [count from 1 to 100]"))?,
        };
        let rolls: Vec<String> = (0..count)
            .map(|i| ((i * 7 + 3) % self.settings.sides + 1).to_string())
            .collect();
        cx.reply(&format!("🎲 {}", rolls.join(" "))).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = App::from_config(None)?;
    let dice = Dice::from_settings(app.settings())?;
    app.plugin(dice).run().await
}
