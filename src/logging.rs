//! The tracing subscriber: to stderr (stdout belongs to the console chat),
//! filtered by `RUST_LOG` when it is set and valid, else `[log] level`
//! (checked when the settings load), else `warn` in the console and `info` on
//! platforms; text or JSON.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::ParseError;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls do nothing.
pub fn init(settings: &LogSettings, console: bool) {
    let default = if console { "warn" } else { "info" };
    let from_env = std::env::var("RUST_LOG")
        .map_err(|_| ())
        .and_then(|text| parse_filter(&text).map_err(|_| ()));
    let filter = from_env
        .or_else(|()| parse_filter(settings.level.as_deref().unwrap_or(default)))
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

/// `text` (`RUST_LOG` syntax) as a filter. Each directive is trimmed first:
/// tracing-subscriber 0.3 reads a directive's characters from its trimmed
/// form but cuts the untrimmed one, so a space before a non-ASCII character
/// (`" ¡="`) panicked instead of being refused.
pub fn parse_filter(text: &str) -> Result<EnvFilter, ParseError> {
    let directives: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect();
    EnvFilter::try_new(directives.join(","))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::parse_filter;

    #[test]
    fn spaces_before_non_ascii_text_read_as_without_them() {
        let shown = |text: &str| parse_filter(text).map(|filter| filter.to_string()).ok();
        assert_eq!(shown("\tA¡="), shown("A¡="));
        assert!(shown("A¡=").is_some());
        assert_eq!(
            shown(" natter=debug , warn").unwrap(),
            shown("natter=debug,warn").unwrap()
        );
        assert!(parse_filter(" ¡!").is_err());
    }
}
