//! # natter-plugin-example — `/remember` notes, a complete plugin in one file
//!
//! Copy this file to start your own plugin. It shows every part a plugin has:
//!
//! 1. a **settings** type, read from the plugin's `[plugins.notes]` section;
//! 2. the **plugin** type, built from its settings;
//! 3. **commands** (`/remember`, `/notes`, `/forget`) with one-line descriptions
//!    that `/help` lists;
//! 4. **state** kept in the plugin's own namespace of the store, so notes survive
//!    a restart;
//! 5. a **model hook** ([`Plugin::before_model`]) that puts the notes into the
//!    system prompt of every ordinary chat turn, so the model keeps them in mind;
//! 6. a **tool** (`notes_remember`) the model calls when the user asks in words
//!    ("keep in mind that I'm vegetarian"): a Rust type is its argument schema;
//! 7. **tests** on natter-core's `test-utils` (see `tests/notes.rs`).
//!
//! What users see:
//!
//! ```text
//! /remember I'm vegetarian and live in Lyon
//! → Noted (1 of 20). I'll keep it in mind in this conversation.
//! /notes
//! → 1. I'm vegetarian and live in Lyon
//! what should I cook tonight?
//! → (the model's answer, knowing the note)
//! /forget 1        (or /forget all)
//! → Forgot note 1.
//! ```
//!
//! Notes belong to the conversation: in a private chat they are yours, in a
//! group everyone in that conversation shares them.
//!
//! ```toml
//! [plugins.notes]
//! enabled = true     # natter's switch: read by natter, never seen by the plugin
//! max_notes = 20     # per conversation
//! max_chars = 500    # per note
//! ```

use async_trait::async_trait;
use natter_core::{
    ChatMessage, ChatRequest, Command, CommandSpec, Plugin, PluginContext, PluginError, Role,
    ToolInvocation, ToolSpec,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tracing::instrument;

/// The `[plugins.notes]` settings section, without `enabled` (natter reads
/// that switch and hands the plugin the rest of the section).
///
/// Every settings type follows the same pattern: `deny_unknown_fields` so a typo
/// is an error rather than silently ignored, `default` so every key is optional,
/// and a [`Default`] that is what a new user should get.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotesSettings {
    /// Most notes one conversation may keep.
    pub max_notes: usize,
    /// Longest note, in characters.
    pub max_chars: usize,
}

impl Default for NotesSettings {
    fn default() -> Self {
        Self {
            max_notes: 20,
            max_chars: 500,
        }
    }
}

/// One note, as kept in the store. Stored values are JSON, so any
/// `Serialize + Deserialize` type works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// What to remember.
    pub text: String,
    /// Who asked to remember it (display name).
    pub by: String,
}

/// The arguments of the `notes_remember` tool. The doc comments become the
/// descriptions the model reads; `ToolSpec::new::<RememberArgs>` derives the
/// JSON Schema from the type, and `call.args()` reads a call back into it.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RememberArgs {
    /// What to keep in mind, in a short sentence.
    pub text: String,
}

/// The notes plugin. Holds its settings; everything else comes through the
/// [`PluginContext`] of each message.
#[derive(Clone, Debug, Default)]
pub struct NotesPlugin {
    settings: NotesSettings,
}

impl NotesPlugin {
    /// The plugin with `settings`.
    pub fn new(settings: NotesSettings) -> Self {
        Self { settings }
    }

    /// The store key of a conversation's notes. Keys live in the plugin's own
    /// namespace, so they only need to be unique within this plugin; the
    /// conversation key makes them unique per conversation.
    fn key(cx: &PluginContext<'_>) -> String {
        format!("notes/{}", cx.message().key)
    }

    async fn load(cx: &PluginContext<'_>) -> Result<Vec<Note>, PluginError> {
        Ok(cx.state().get(&Self::key(cx)).await?.unwrap_or_default())
    }

    /// Keeps `text` as a note; says how many there are now.
    async fn remember(&self, cx: &PluginContext<'_>, text: &str) -> Result<String, PluginError> {
        if text.is_empty() {
            // A Usage error is shown to the user as is.
            return Err(PluginError::usage(
                "Usage: /remember <something to keep in mind>",
            ));
        }
        if text.chars().count() > self.settings.max_chars {
            return Err(PluginError::usage(format!(
                "That note is too long; keep it under {} characters.",
                self.settings.max_chars
            )));
        }
        let mut notes = Self::load(cx).await?;
        if notes.len() >= self.settings.max_notes {
            return Err(PluginError::usage(format!(
                "I already keep {} notes here; /forget one first.",
                notes.len()
            )));
        }
        notes.push(Note {
            text: text.to_owned(),
            by: cx.message().author.display_name.clone(),
        });
        cx.state().put(&Self::key(cx), &notes).await?;
        Ok(format!(
            "Noted ({} of {}). I'll keep it in mind in this conversation.",
            notes.len(),
            self.settings.max_notes
        ))
    }

    async fn list(cx: &mut PluginContext<'_>) -> Result<(), PluginError> {
        let notes = Self::load(cx).await?;
        if notes.is_empty() {
            return cx
                .reply("No notes yet. Add one with /remember <text>.")
                .await;
        }
        let lines: Vec<String> = notes
            .iter()
            .enumerate()
            .map(|(i, note)| format!("{}. {}", i + 1, note.text))
            .collect();
        cx.reply(&lines.join("\n")).await
    }

    async fn forget(cx: &mut PluginContext<'_>, which: &str) -> Result<(), PluginError> {
        let mut notes = Self::load(cx).await?;
        if which.eq_ignore_ascii_case("all") {
            cx.state().delete(&Self::key(cx)).await?;
            return cx
                .reply(&format!("Forgot all {} notes.", notes.len()))
                .await;
        }
        let index = which
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=notes.len()).contains(n))
            .ok_or_else(|| {
                PluginError::usage(format!(
                    "Usage: /forget <1–{}|all> (see /notes).",
                    notes.len().max(1)
                ))
            })?;
        notes.remove(index - 1);
        cx.state().put(&Self::key(cx), &notes).await?;
        cx.reply(&format!("Forgot note {index}.")).await
    }
}

#[async_trait]
impl Plugin for NotesPlugin {
    /// Also the settings section (`[plugins.notes]`) and the store namespace.
    fn name(&self) -> &str {
        "notes"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("remember", "Keep a note in mind in this conversation")
                .usage("<text>"),
            CommandSpec::new("notes", "List the notes I keep here"),
            CommandSpec::new("forget", "Drop a note").usage("<number|all>"),
        ]
    }

    /// Only called with one of [`Plugin::commands`]; `cmd.args` is the text
    /// after the command, trimmed.
    #[instrument(name = "notes", skip_all, fields(command = %cmd.name))]
    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        match cmd.name.as_str() {
            "remember" => {
                let reply = self.remember(cx, &cmd.args).await?;
                cx.reply(&reply).await
            }
            "notes" => Self::list(cx).await,
            _ => Self::forget(cx, &cmd.args).await,
        }
    }

    /// One tool: the model keeps a note when the user asks in words. It
    /// changes state, so it is a side effect (run alone, in order).
    fn tools(&self) -> Vec<ToolSpec> {
        vec![
            ToolSpec::new::<RememberArgs>(
                "notes_remember",
                "Keep a note the user asked you to keep in mind in this conversation.",
            )
            .side_effect(),
        ]
    }

    /// Runs the tool with the same context a command gets; what it returns is
    /// the result the model reads (a usage error too, so it can correct itself).
    #[instrument(name = "notes", skip_all, fields(tool = %call.name))]
    async fn call_tool(
        &self,
        cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        let args: RememberArgs = call.args()?;
        self.remember(cx, args.text.trim()).await
    }

    /// Puts the notes at the end of the system prompt of ordinary chat turns.
    async fn before_model(
        &self,
        cx: &mut PluginContext<'_>,
        request: &mut ChatRequest,
    ) -> Result<(), PluginError> {
        let notes = Self::load(cx).await?;
        if notes.is_empty() {
            return Ok(());
        }
        let mut block = String::from("Notes you were asked to keep in mind:");
        for note in &notes {
            block.push_str(&format!("\n- {} (from {})", note.text, note.by));
        }
        match request.messages.iter_mut().find(|m| m.role == Role::System) {
            Some(system) => system.content = format!("{}\n\n{block}", system.content),
            None => request.messages.insert(0, ChatMessage::system(block)),
        }
        Ok(())
    }
}
