//! [`DiscordError`]: why the Discord adapter could not start or stopped, in
//! variants a caller (the binary) can act on and explain.

/// Why the Discord adapter could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscordError {
    /// No token in `[discord] token` or `DISCORD_TOKEN`.
    #[error("no Discord bot token: set [discord] token or DISCORD_TOKEN")]
    MissingToken,
    /// Discord refused the token (REST 401 or gateway close code 4004).
    #[error(
        "Discord refused the bot token: copy it again from the developer portal (Bot → Reset Token)"
    )]
    InvalidToken,
    /// The REST API (or the configured proxy) could not be reached or answered nonsense.
    #[error("cannot reach the Discord API at {url}: {reason}")]
    Unreachable {
        /// Where the adapter tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The application is not allowed the privileged MESSAGE_CONTENT intent.
    #[error(
        "Discord refused the Message Content intent: enable it in the developer portal under Bot → Privileged Gateway Intents"
    )]
    IntentsNotEnabled,
    /// A `[discord]` setting is unusable.
    #[error("invalid [discord] setting: {0}")]
    Settings(String),
    /// The gateway connection failed for good.
    #[error("Discord gateway failed: {0}")]
    Gateway(String),
}
