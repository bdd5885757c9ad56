//! # natter-telegram — the Telegram adapter
//!
//! Brings Telegram messages to the natter engine and its replies back, on
//! [teloxide]. The adapter translates; the engine decides.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[telegram]` section: token, API URL, scope, access lists, admins, webhook, rates |
//! | [`error`] | [`TelegramError`]: why the adapter could not start or keep running |
//! | [`render`] | the model's Markdown as Telegram HTML, and back to plain text |
//! | [`translate`] | a Telegram message as a [`natter_core::Incoming`]: triggers, keys, mention stripping |
//! | [`outbox`] | [`TelegramOutbox`]: `sendMessage`, `editMessageText`, `sendChatAction`, `sendPhoto` and Telegram's limits |
//! | `safety` | never a message that renders to nothing, never a user link the message should not carry |
//! | `admins` | a group's admins by Telegram (`getChatAdministrators`), cached per chat, one lookup at a time |
//! | `order` | a chat's messages handed to the engine in arrival order while one waits for its admin lookup |
//! | `albums` | an album's pictures, sent as one message each, handed over as one message |
//! | `approval` | confirmations as inline keyboards: Allow/Refuse buttons, their callback data, presses answered |
//! | `media` | the files a message carries (photos, voice notes, audio, documents) as engine attachments, with size, length, name and type |
//! | `download` | an attachment's bytes: `getFile`, then the file from the Bot API server, within a size limit |
//! | [`run`](mod@run) | start-up checks, command menu, long polling or webhook, shutdown |
//!
//! Splitting, pacing, coalescing of edits and retries are done by natter-core's
//! delivery courier from the [`natter_core::PlatformLimits`] the outbox reports.

mod admins;
mod albums;
mod approval;
mod download;
pub mod error;
mod media;
mod order;
pub mod outbox;
pub mod render;
pub mod run;
mod safety;
pub mod settings;
pub mod translate;

pub use error::TelegramError;
pub use outbox::TelegramOutbox;
pub use run::{run, run_reloading};
pub use settings::{RateSettings, Scope, TelegramSettings};

/// The platform this adapter serves: conversations, channels and scopes on Telegram carry it.
pub const PLATFORM: natter_core::Platform = natter_core::Platform::new("telegram");
