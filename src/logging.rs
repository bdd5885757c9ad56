//! The tracing subscriber: to stderr (stdout belongs to the console chat),
//! filtered by `RUST_LOG` when it is set and valid, else `[log] level`
//! (checked when the settings load), else `warn` in the console and `info` on
//! platforms; text or JSON.

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls do nothing.
pub fn init(settings: &LogSettings, console: bool) {
    let default = if console { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(settings.level.as_deref().unwrap_or(default)))
        // Settings built in code skip validation; a bad level there gets the default.
        .unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, embedding apps) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
