//! [`TelegramError`]: why the adapter could not start or had to stop. Each
//! variant says what the operator should do; none of them contains the token.

/// Why the Telegram adapter could not start or had to stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TelegramError {
    /// No token in `[telegram] token` or `TELEGRAM_BOT_TOKEN`.
    #[error("no Telegram bot token: set [telegram] token or TELEGRAM_BOT_TOKEN")]
    MissingToken,
    /// A setting has a value that cannot work.
    #[error("invalid [telegram] {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Telegram does not know the token (revoked, mistyped).
    #[error(
        "Telegram rejected the bot token (getMe answered Unauthorized); \
         copy it again from @BotFather"
    )]
    InvalidToken,
    /// The Bot API could not be reached at all.
    #[error("cannot reach the Telegram Bot API at {api_url}: {reason}")]
    Unreachable {
        /// The API URL tried.
        api_url: String,
        /// The network error.
        reason: String,
    },
    /// The Bot API refused a start-up call.
    #[error("the Telegram Bot API refused {method}: {reason}")]
    Api {
        /// The method.
        method: &'static str,
        /// Telegram's description.
        reason: String,
    },
    /// The webhook listener could not be bound.
    #[error("cannot listen for webhook updates on {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// The OS error.
        reason: String,
    },
    /// Another natter process on the same database already long-polls this bot.
    #[error(
        "another natter process on this database is already long-polling this bot, and \
         Telegram allows one poller per bot: to run several instances, set [telegram] \
         webhook_url on each (behind one URL), or stop the other poller"
    )]
    PollerElsewhere,
    /// The store could not say whether another process polls this bot.
    #[error("cannot check for another poller of this bot: {0}")]
    Store(String),
}
