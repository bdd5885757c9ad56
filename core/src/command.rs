//! `/commands`: parsing them out of message text and describing them for
//! `/help` and platform command menus.

use serde::{Deserialize, Serialize};

/// A parsed `/command args…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The name, lowercased, without `/` or `@botname`.
    pub name: String,
    /// Everything after the name, trimmed.
    pub args: String,
}

impl Command {
    /// Parses `text` as a command: `/name`, `/name@bot`, then arguments.
    /// Text that does not start with a valid command name is not a command
    /// (so `/usr/bin is a path` reaches the model as text).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim_start();
        let body = text.strip_prefix('/')?;
        let (word, args) = match body.find(char::is_whitespace) {
            Some(i) => (&body[..i], body[i..].trim()),
            None => (body, ""),
        };
        let name = word.split_once('@').map_or(word, |(name, _bot)| name);
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        valid.then(|| Self {
            name: name.to_ascii_lowercase(),
            args: args.to_owned(),
        })
    }

    /// The arguments split on whitespace.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.args.split_whitespace()
    }
}

/// A command as `/help` and platform menus show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Name without `/`: lowercase letters, digits, `_`.
    pub name: String,
    /// Argument synopsis, e.g. `<kind> <topic…>`; empty for none.
    pub usage: String,
    /// One line saying what it does.
    pub description: String,
    /// Only admins may run it in group chats.
    pub admin_only: bool,
}

impl CommandSpec {
    /// A command anyone may run.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            usage: String::new(),
            description: description.into(),
            admin_only: false,
        }
    }

    /// The same command with an argument synopsis.
    pub fn usage(mut self, usage: impl Into<String>) -> Self {
        self.usage = usage.into();
        self
    }

    /// The same command, for admins only in group chats.
    pub fn admin_only(mut self) -> Self {
        self.admin_only = true;
        self
    }

    /// `/name usage — description`, one line of `/help`.
    pub fn help_line(&self) -> String {
        let usage = if self.usage.is_empty() {
            String::new()
        } else {
            format!(" {}", self.usage)
        };
        format!("/{}{usage} — {}", self.name, self.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_and_args() {
        let cmd = Command::parse("/Persona  pirate ").expect("command");
        assert_eq!(cmd.name, "persona");
        assert_eq!(cmd.args, "pirate");
        assert_eq!(
            Command::parse("/help@natter_bot").expect("cmd").name,
            "help"
        );
        assert_eq!(Command::parse("/reset").expect("cmd").args, "");
    }

    #[test]
    fn text_that_is_not_a_command() {
        assert_eq!(Command::parse("hello /help"), None);
        assert_eq!(Command::parse("/"), None);
        assert_eq!(Command::parse("/usr/bin is a path"), None);
        assert_eq!(Command::parse("/ spaced"), None);
    }

    #[test]
    fn help_line_shows_usage() {
        let spec = CommandSpec::new("write", "Write a piece").usage("<kind> <topic…>");
        assert_eq!(spec.help_line(), "/write <kind> <topic…> — Write a piece");
    }
}
