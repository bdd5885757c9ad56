//! # natter-discord — natter on Discord
//!
//! People mention the bot in a server channel, reply to one of its messages,
//! or DM it; the engine answers with a reply that streams in by editing the
//! message, paced within Discord's limits and never pinging anyone.
//!
//! This crate translates, the engine decides:
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[discord]` section: token, scope, admins, allowed places, shards, proxy, gateway |
//! | `translate` | a Discord message → [`natter_core::Incoming`] (key, place, author, addressed, text, attachments) |
//! | `places` | DM, channel or thread (with its parent), from the cache or REST |
//! | `order` | each channel's messages reach the engine in arrival order |
//! | `handler` | serenity's event handler: place, filter, translate, submit; button presses to the engine |
//! | [`outbox`] | the engine's [`natter_core::Outbox`] on Discord: send, edit, typing, pictures, no pings |
//! | `download` | an attachment's bytes from Discord's CDN (or the proxy's origin), within a size limit |
//! | `approval` | confirmations as buttons: the Allow/Refuse row, its custom ids, the answer to a press |
//! | `run` | [`run`]: token check, client, shards, shutdown |
//! | [`error`] | [`DiscordError`] |
//!
//! ```no_run
//! # async fn demo(engine: natter_core::Engine) -> Result<(), natter_discord::DiscordError> {
//! use natter_discord::DiscordSettings;
//! // The natter binary fills `token` from `[discord] token` or `DISCORD_TOKEN`.
//! let settings = DiscordSettings {
//!     token: Some("…".to_owned().into()),
//!     ..DiscordSettings::default()
//! };
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! natter_discord::run(settings, engine, shutdown).await
//! # }
//! ```

mod approval;
mod download;
pub mod error;
mod handler;
mod order;
pub mod outbox;
mod places;
mod run;
pub mod settings;
mod translate;
#[cfg(test)]
mod translate_props;

pub use error::DiscordError;
pub use outbox::DiscordOutbox;
pub use run::{intents, run, run_reloading};
pub use settings::{DiscordSettings, Scope, ShardSpec, Snowflake};

/// The platform this adapter serves: conversations, channels and scopes on Discord carry it.
pub const PLATFORM: natter_core::Platform = natter_core::Platform::new("discord");

/// Not API: the entry point of the `discord_message` fuzz target in `fuzz/`,
/// which reaches the (crate-private) translation only through this. `msg` as
/// the engine would see it for bot `bot` under default settings, posted in a
/// DM (`guild` `None`) or in `msg`'s channel of `guild`, in `thread` if set.
/// Ids of 0, which Discord never uses, are read as 1.
#[doc(hidden)]
pub fn translate_for_fuzzing(
    msg: &serenity::model::channel::Message,
    bot: u64,
    guild: Option<u64>,
    thread: Option<u64>,
) -> natter_core::Incoming {
    use serenity::model::id::{ChannelId, GuildId, UserId};
    let policy = translate::Policy::new(UserId::new(bot.max(1)), &DiscordSettings::default());
    let place = match guild {
        None => translate::Place::Direct(msg.channel_id),
        Some(guild) => translate::Place::Server {
            guild: GuildId::new(guild.max(1)),
            channel: msg.channel_id,
            thread: thread.map(|t| ChannelId::new(t.max(1))),
        },
    };
    policy.translate(msg, &place, false)
}
