//! A bot of your own without forking natter: depend on `natter` as a library,
//! write a plugin, register it, and get every adapter, backend and setting.
//!
//! ```sh
//! cargo run --example custom_bot                 # console, settings from config/natter.toml
//! printf '/dice 3\n' | cargo run --example custom_bot
//! ```
//!
//! Its settings live in `[plugins.dice]` (e.g. `sides = 20`).

use async_trait::async_trait;
use natter::App;
use natter_core::{Command, CommandSpec, Plugin, PluginContext, PluginError};
use serde::Deserialize;

/// `[plugins.dice]`.
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
struct Dice;

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
        let settings: DiceSettings = cx.config().unwrap_or_default();
        let count: u32 = match cmd.args.trim() {
            "" => 1,
            n => n
                .parse()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| PluginError::usage("Usage: /dice [count from 1 to 100]"))?,
        };
        let rolls: Vec<String> = (0..count)
            .map(|i| ((i * 7 + 3) % settings.sides + 1).to_string())
            .collect();
        cx.reply(&format!("🎲 {}", rolls.join(" "))).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    App::from_config(None)?.plugin(Dice).run().await
}
