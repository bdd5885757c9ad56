//! # natter-plugin-generate — `/write` poems, stories, articles, summaries, emails, slogans; `/image` pictures
//!
//! `/write <kind> <topic…> [--words N] [--tone T] [--lang L] [--audience A]`
//! asks the model for a piece and streams it into the chat like any reply,
//! split at the platform's limit, never truncated. `/write` alone lists the
//! kinds with an example.
//!
//! `/image <prompt>` makes a picture through the image service
//! (`[image_generation]`) and sends it as a photo; without one set up, it
//! says so in one sentence.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[plugins.generate]` section and its `kinds` tables |
//! | [`kinds`] | built-in kinds, merged with the settings, prompts as minijinja templates |
//! | [`options`] | parsing the topic and `--options` after the kind |
//! | [`follow_up`] | when a piece enters the chat history |
//! | [`picture`] | `/image`: a picture from the image service |
//! | [`error`] | what can be wrong with the settings |
//!
//! Each kind's prompt is a template, so a kind is added without code:
//!
//! ```toml
//! [plugins.generate.kinds.haiku]
//! description = "A haiku (5-7-5)"
//! template = "Write a haiku about {{ topic }}.\n{{ instructions }}"
//! ```
//!
//! `summary` works on the message the command replies to (the words after it
//! are then a focus), or else on the text after the command.

pub mod error;
pub mod follow_up;
pub mod kinds;
pub mod options;
pub mod picture;
pub mod settings;

use async_trait::async_trait;
use natter_core::{Command, CommandSpec, Flow, Incoming, Plugin, PluginContext, PluginError};
use tracing::{debug, instrument};

pub use error::GenerateError;
pub use settings::{GenerateSettings, HistoryPolicy, Input, KindSettings};

use follow_up::Pending;
use kinds::{Kind, Kinds, Vars};

/// The generate plugin: `/write`.
#[derive(Debug)]
pub struct GeneratePlugin {
    settings: GenerateSettings,
    kinds: Kinds,
}

impl GeneratePlugin {
    /// The plugin with `settings`; fails when a kind's template is invalid.
    pub fn new(settings: GenerateSettings) -> Result<Self, GenerateError> {
        let kinds = Kinds::new(&settings)?;
        Ok(Self { settings, kinds })
    }

    /// The kinds `/write` knows, by name.
    pub fn kinds(&self) -> impl Iterator<Item = &Kind> {
        self.kinds.iter()
    }

    /// What `/write` alone shows.
    fn listing(&self) -> String {
        let mut text = String::from(
            "Usage: /write <kind> <topic…> [--words N] [--tone T] [--lang L] [--audience A]\n\nKinds:\n",
        );
        for kind in self.kinds.iter() {
            let length = kind
                .words
                .map(|w| format!(" (about {w} words)"))
                .unwrap_or_default();
            text.push_str(&format!("• {} — {}{length}\n", kind.name, kind.description));
        }
        let example = self
            .kinds
            .get("poem")
            .or_else(|| self.kinds.iter().next())
            .map(|k| format!("/write {} {}", k.name, k.example))
            .unwrap_or_default();
        text.push_str(&format!("\nExample: {example}\n"));
        if self.kinds.iter().any(|k| k.input == Input::Text) {
            text.push_str("For a summary, reply to a message with /write summary, or put the text after it.\n");
        }
        text.push_str(options::OPTIONS_HELP);
        text
    }

    /// The template variables for `kind` from the words after it.
    fn vars(&self, kind: &Kind, rest: &str, message: &Incoming) -> Result<Vars, PluginError> {
        let options = options::parse(rest, self.settings.max_words).map_err(PluginError::Usage)?;
        let replied = message
            .replied_to_text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let (topic, text) = match (kind.input, replied) {
            (Input::Text, Some(replied)) => (options.topic, Some(replied.to_owned())),
            (Input::Text, None) => (String::new(), Some(options.topic)),
            (Input::Topic, _) => (options.topic, None),
        };
        let missing = match kind.input {
            Input::Text => text.as_deref().is_none_or(str::is_empty),
            Input::Topic => topic.is_empty(),
        };
        if missing {
            let hint = match kind.input {
                Input::Text => format!(
                    "Reply to a message with /write {0}, or put the text after it: /write {0} <text>",
                    kind.name
                ),
                Input::Topic => {
                    format!("What about? Example: /write {} {}", kind.name, kind.example)
                }
            };
            return Err(PluginError::Usage(hint));
        }
        Ok(Vars {
            topic,
            text,
            words: options.words.or(kind.words),
            tone: options.tone,
            lang: options.lang,
            audience: options.audience,
        })
    }

    async fn write(&self, cx: &mut PluginContext<'_>, args: &str) -> Result<(), PluginError> {
        let (name, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        let name = name.to_lowercase();
        let Some(kind) = self.kinds.get(&name) else {
            let known: Vec<&str> = self.kinds.iter().map(|k| k.name.as_str()).collect();
            return Err(PluginError::Usage(format!(
                "I don't know how to write a {name}. Kinds: {}. Try /write for examples.",
                known.join(", ")
            )));
        };
        let vars = self.vars(kind, rest, cx.message())?;
        let prompt = self
            .kinds
            .render(kind, &vars)
            .map_err(PluginError::internal)?;
        let mut request = cx.one_shot(&kind.system, &prompt).await?;
        if let Some(words) = vars.words {
            // Room for the piece in any language (tokens per word vary), at
            // least the persona's budget, at most the configured ceiling.
            let wanted = words.saturating_mul(2).saturating_add(200);
            let current = request.params.max_tokens.unwrap_or(0);
            request.params.max_tokens = Some(current.max(wanted.min(self.settings.max_tokens)));
        }
        debug!(kind = %kind.name, "writing");
        let piece = cx.reply_with_model(request).await?;
        if piece.trim().is_empty() {
            return Ok(());
        }
        let asked = cx.message().text.trim().to_owned();
        match self.settings.history {
            HistoryPolicy::Always => cx.remember(&asked, &piece).await,
            HistoryPolicy::FollowUp => {
                let pending = Pending {
                    author_id: cx.message().author.id.clone(),
                    asked,
                    piece,
                };
                pending.save(cx).await
            }
            HistoryPolicy::Never => Ok(()),
        }
    }
}

#[async_trait]
impl Plugin for GeneratePlugin {
    fn name(&self) -> &str {
        "generate"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new(
                "write",
                "Write a poem, story, article, summary, email or slogan",
            )
            .usage("<kind> <topic…> [--words N] [--tone T] [--lang L] [--audience A]"),
            CommandSpec::new("image", "Make a picture").usage("<what to draw>"),
        ]
    }

    #[instrument(name = "generate", skip_all)]
    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        if cmd.name == "image" {
            return picture::draw(cx, &cmd.args).await;
        }
        if cmd.args.is_empty() {
            let listing = self.listing();
            return cx.reply(&listing).await;
        }
        self.write(cx, &cmd.args).await
    }

    /// With the follow-up policy: puts the last piece into history when the
    /// conversation continues about it.
    #[instrument(name = "generate", skip_all)]
    async fn on_message(
        &self,
        cx: &mut PluginContext<'_>,
        msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        if self.settings.history == HistoryPolicy::FollowUp {
            follow_up::on_message(cx, msg).await?;
        }
        Ok(Flow::Continue)
    }
}
