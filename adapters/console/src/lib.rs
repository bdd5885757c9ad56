//! # natter-console — chat with natter in a terminal
//!
//! The platform natter runs when no Discord or Telegram token is configured.
//! In a terminal it is an interactive chat: replies stream in as the model
//! writes them, and `/stop` works while they do. With stdin not a terminal it
//! is a pipe: one message per line in (blank lines are skipped), each complete
//! reply printed followed by a newline (a reply of several lines spans several
//! lines), and it exits at end of input after the last reply. For scripts that
//! must pair inputs with replies, JSON Lines mode (`[console] jsonl`, `natter
//! chat --jsonl`) prints one `{"input": …, "replies": […]}` object per input.
//!
//! Whatever is printed is neutralised first: model output cannot send the
//! terminal control sequences (see `safe`).
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[console]` section |
//! | [`error`] | [`ConsoleError`] |
//! | `outbox` | printing replies (streaming, whole, or as JSON Lines) |
//! | `safe` | neutralising control characters |
//! | `run` | [`run`]: reading lines and handing them to the engine |

pub mod error;
mod outbox;
mod run;
mod safe;
pub mod settings;

pub use error::ConsoleError;
pub use outbox::{ConsoleOutbox, Output};
pub use run::{run, run_with};
pub use settings::ConsoleSettings;

/// The platform this adapter serves: conversations, channels and scopes on the terminal carry it.
pub const PLATFORM: natter_core::Platform = natter_core::Platform::new("console");
