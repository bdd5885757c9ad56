//! The `[console]` settings section.

use serde::{Deserialize, Serialize};

/// How the terminal chat looks.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Your name as the bot sees it. The natter binary fills it from `$USER`
    /// when unset; "you" without either.
    pub user: Option<String>,
    /// The prompt shown before each message in a terminal.
    pub prompt: String,
    /// Stream replies as they are written (terminals only; pipes always get whole replies).
    pub streaming: bool,
    /// Write one JSON object per input line, `{"input": …, "replies": […]}`,
    /// instead of text (`natter chat --jsonl`): for scripts.
    pub jsonl: bool,
    /// Where pictures natter makes (`/image`) are saved, since a terminal
    /// cannot show them; unset: `natter-pictures` in the system's
    /// temporary directory.
    pub pictures_dir: Option<std::path::PathBuf>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            user: None,
            prompt: "> ".into(),
            streaming: true,
            jsonl: false,
            pictures_dir: None,
        }
    }
}
