//! # natter — LLM chat bots for Discord, Telegram and the terminal
//!
//! This crate is the `natter` binary and the library behind it: typed
//! settings, wiring of adapters, backends, store and plugins, and [`App`], the
//! builder a developer uses to run natter with their own plugins without
//! forking it:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use natter::App;
//! # struct MyPlugin;
//! # #[async_trait::async_trait]
//! # impl natter_core::Plugin for MyPlugin { fn name(&self) -> &str { "mine" } }
//!
//! App::from_config(None)?.plugin(MyPlugin).run().await
//! # }
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the settings file, environment overrides, validation |
//! | [`plugin_section`] | a `[plugins.NAME]` section: natter's `enabled` switch and the plugin's settings |
//! | [`app`] | building the engine from settings and running the platforms |
//! | [`check`] | `natter check`: validated, redacted effective settings |
//! | [`logging`] | the tracing subscriber |
//! | [`media`] | `[transcription]` and `[image_generation]`: voice to text and `/image` pictures |
//! | [`models`] | the models `[model]` and `[models.NAME]` name, built (local ones loaded once, lazily) |
//! | [`plugins`] | the plugins natter ships with |
//! | [`reload`] | settings reloaded live on `SIGHUP` or a change of the file |

pub mod app;
pub mod check;
pub mod logging;
pub mod media;
pub mod models;
pub mod plugin_section;
pub mod plugins;
pub mod reload;
pub mod settings;

pub use app::App;
pub use settings::{Settings, SettingsError};
