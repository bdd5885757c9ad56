//! # natter-console — chat with natter in a terminal
//!
//! The platform natter runs when no Discord or Telegram token is configured.
//! In a terminal it is an interactive chat: replies stream in as the model
//! writes them, and `/stop` works while they do. With stdin not a terminal it
//! is a pipe: one message per line in, each complete reply on its own line
//! out, and it exits at end of input after the last reply —
//! `printf 'hi\nmore\n' | natter` is scriptable.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[console]` section |
//! | [`error`] | [`ConsoleError`] |
//! | `outbox` | printing replies (streaming or whole) |
//! | `run` | [`run`]: reading lines and handing them to the engine |

pub mod error;
mod outbox;
mod run;
pub mod settings;

pub use error::ConsoleError;
pub use outbox::ConsoleOutbox;
pub use run::{run, run_with};
pub use settings::ConsoleSettings;

/// The platform this adapter serves: conversations, channels and scopes on the terminal carry it.
pub const PLATFORM: natter_core::Platform = natter_core::Platform::new("console");
