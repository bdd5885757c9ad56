//! # natter-plugin-remind — reminders
//!
//! (work in progress)

pub mod format;
pub mod reminder;
pub mod settings;
pub mod when;
pub mod zone;

pub use settings::{RemindError, RemindSettings};
