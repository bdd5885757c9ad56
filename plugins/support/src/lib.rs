//! # natter-plugin-support — customer-service answers from your help articles
//!
//! Point `docs` at a folder of help articles. Every question in a support
//! channel is matched against them (BM25); the best excerpts go into the
//! system prompt, numbered, and the model is told to answer only from them
//! and cite them as `[1]`, `[2]`. When nothing matches well enough the model
//! is not asked at all: the bot says it doesn't know and offers `/human`,
//! which posts the conversation to your team's channel.
//!
//! | command | does |
//! |---|---|
//! | `/human [note]` | hand the conversation over to a person |
//! | `/kb search <words>` | the best matches with their scores (for tuning `min_score`) |
//! | `/kb reload` | read the docs folder again (admins, in groups) |
//!
//! The model can also look things up mid-answer with the tool `kb_search`
//! (in the support channels only), e.g. for a follow-up the first excerpts
//! did not cover.
//!
//! ## The docs folder
//!
//! | file | read as |
//! |---|---|
//! | `*.md`, `*.markdown` | Markdown: one chunk per heading, long sections split by paragraph |
//! | `*.txt`, `*.text` | plain text, split by paragraph |
//! | `*faq*.md`, `*faq*.txt` | `Q:`/`A:` pairs, one chunk per answer |
//! | `*.toml` | `[[faq]]` tables with `q` and `a` |
//!
//! ```text
//! Q: Do you ship abroad?
//! A: Yes, to every EU country. Customs fees are paid by the buyer.
//!
//! Q: Can I pay by invoice?
//! A: Business customers can; write to billing@example.com.
//! ```
//!
//! ```toml
//! [[faq]]
//! q = "What are your opening hours?"
//! a = "Monday to Friday, 9:00 to 17:00 CET."
//! ```
//!
//! Subfolders are read too. A file that cannot be used (not UTF-8, malformed
//! TOML, another type) is skipped with a warning and listed by `/kb reload`; a
//! docs folder that cannot be read is an error when the plugin is built.
//!
//! ## Settings
//!
//! ```toml
//! [plugins.support]
//! enabled = true
//! docs = "support-docs"                    # required
//! channels = ["telegram:-1001234567890"]   # empty: everywhere
//! handoff_channel = "telegram:-1009876543210"
//! top_k = 3
//! min_score = 1.0
//! ```
//!
//! See [`SupportSettings`] for every key.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[plugins.support]` section and checking it |
//! | [`kb`] | reading the docs folder |
//! | [`chunk`] | splitting documents by heading and paragraph |
//! | [`faq`] | `Q:`/`A:` and TOML FAQ files |
//! | [`index`] | BM25 ranking |
//! | [`prompt`] | numbered excerpts in the system prompt, within budget |
//! | [`handoff`] | the notice `/human` posts |

pub mod chunk;
pub mod faq;
pub mod handoff;
pub mod index;
pub mod kb;
pub mod prompt;
pub mod settings;

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use bm25::Language;
use natter_core::{
    ChatRequest, Command, CommandSpec, Flow, Incoming, Plugin, PluginContext, PluginError,
    ToolInvocation, ToolSpec,
};
use tracing::{error, info, instrument, warn};

pub use settings::{SupportError, SupportSettings};

use index::Index;
use settings::Checked;

/// How many matches `/kb search` shows at least.
const SEARCH_SHOWN: usize = 5;

const KB_USAGE: &str = "Usage: /kb search <words> — the best matches in the help articles, \
with scores; /kb reload — read the docs folder again (admins).";

/// The tool that searches the help articles.
const SEARCH_TOOL: &str = "kb_search";

/// Arguments of `kb_search`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct SearchArgs {
    /// What to look for, in a few words.
    query: String,
}

/// The support plugin.
pub struct SupportPlugin {
    settings: SupportSettings,
    checked: Checked,
    index: RwLock<Arc<Index>>,
}

impl std::fmt::Debug for SupportPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupportPlugin")
            .field("settings", &self.settings)
            .field("index", &self.index())
            .finish()
    }
}

impl SupportPlugin {
    /// Checks `settings` and loads the docs folder. Errors name the setting
    /// ([`SupportError::key`]), or the folder that cannot be read.
    pub fn new(settings: SupportSettings) -> Result<Self, SupportError> {
        let checked = settings.check()?;
        let index = build(&settings.docs, settings.max_chunk_chars, &checked.language)?;
        if index.knowledge_base().chunks.is_empty() {
            warn!(
                docs = %settings.docs.display(),
                "the support knowledge base is empty: every question will be declined"
            );
        }
        if checked.handoff.is_none() {
            warn!("[plugins.support] handoff_channel is not set: /human cannot reach anyone");
        }
        Ok(Self {
            settings,
            checked,
            index: RwLock::new(Arc::new(index)),
        })
    }

    /// The knowledge base in use.
    fn index(&self) -> Arc<Index> {
        Arc::clone(&self.index.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// True when the plugin answers in the message's channel.
    fn here(&self, message: &Incoming) -> bool {
        self.checked.covers(&message.channel)
    }

    /// True when a reply saying [`SupportSettings::handoff_phrase`] hands the
    /// conversation over by itself.
    fn auto_handoff(&self) -> bool {
        self.settings.auto_handoff && self.checked.handoff.is_some()
    }

    /// What the model is told: the instructions, then what to do when the
    /// excerpts do not answer the question.
    fn instructions(&self) -> String {
        let fallback = if self.auto_handoff() {
            format!(
                "If the excerpts do not answer the question, reply with exactly this sentence \
                 and nothing else: \"{}\"",
                self.settings.handoff_phrase.trim()
            )
        } else {
            "If the excerpts do not answer the question, say that you don't know and suggest \
             sending /human to reach a person."
                .to_owned()
        };
        format!("{} {fallback}", self.settings.instructions.trim())
    }

    /// Reads the docs folder again and swaps the new index in.
    async fn reload(&self) -> Result<Arc<Index>, PluginError> {
        let docs = self.settings.docs.clone();
        let max_chars = self.settings.max_chunk_chars;
        let language = self.checked.language.clone();
        let built = tokio::task::spawn_blocking(move || build(&docs, max_chars, &language))
            .await
            .map_err(PluginError::internal)?;
        let index = match built {
            Ok(index) => Arc::new(index),
            Err(error) => {
                warn!(%error, "could not reload the knowledge base");
                return Err(PluginError::usage(format!(
                    "Could not reload the knowledge base: {}. The one loaded before stays in use.",
                    error.reason()
                )));
            }
        };
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&index);
        Ok(index)
    }

    async fn kb(&self, cx: &mut PluginContext<'_>, args: &str) -> Result<(), PluginError> {
        let (sub, rest) = args
            .split_once(char::is_whitespace)
            .map_or((args, ""), |(sub, rest)| (sub, rest.trim()));
        match sub.to_lowercase().as_str() {
            "search" if !rest.is_empty() => {
                let text = self.search_report(rest);
                cx.reply(&text).await
            }
            "reload" => {
                let message = cx.message();
                if !(message.channel.is_private() || message.author.is_admin) {
                    return Err(PluginError::usage(
                        "Only admins can use /kb reload in group chats.",
                    ));
                }
                let index = self.reload().await?;
                let text = reload_report(&index);
                cx.reply(&text).await
            }
            _ => Err(PluginError::usage(KB_USAGE)),
        }
    }

    /// `/kb search`: the best matches, scored, marking those too weak to use.
    fn search_report(&self, query: &str) -> String {
        let index = self.index();
        let shown = self.settings.top_k.max(SEARCH_SHOWN);
        let hits = index.search(query, shown, 0.0);
        if hits.is_empty() {
            return format!("No help article matches “{query}”.");
        }
        let min = self.settings.min_score;
        let mut text = format!("Best matches for “{query}” (used when the score is above {min}):");
        for (n, hit) in hits.iter().enumerate() {
            let preview: String = hit.chunk.text.chars().take(120).collect();
            let preview = preview.split_whitespace().collect::<Vec<_>>().join(" ");
            let ellipsis = if hit.chunk.text.chars().count() > 120 {
                "…"
            } else {
                ""
            };
            let weak = if hit.score > min {
                ""
            } else {
                " — too weak, not used"
            };
            text.push_str(&format!(
                "\n{}. **{}** (score {:.2}{weak})\n   {preview}{ellipsis}",
                n + 1,
                hit.chunk.title(),
                hit.score
            ));
        }
        text
    }

    /// `kb_search`: the best excerpts in full, numbered, for the model.
    fn search_tool(
        &self,
        cx: &PluginContext<'_>,
        call: &ToolInvocation,
    ) -> Result<String, PluginError> {
        if !self.here(cx.message()) {
            return Err(PluginError::usage(
                "the help articles are not searched in this chat",
            ));
        }
        let args: SearchArgs = call.args()?;
        let index = self.index();
        let hits = index.search(&args.query, self.settings.top_k, self.settings.min_score);
        if hits.is_empty() {
            return Ok(format!(
                "Nothing in the help articles matches “{}”.",
                args.query.trim()
            ));
        }
        let excerpts: Vec<String> = hits
            .iter()
            .enumerate()
            .map(|(n, hit)| {
                format!(
                    "[{}] {}\n{}",
                    n + 1,
                    hit.chunk.title(),
                    hit.chunk.text.trim()
                )
            })
            .collect();
        Ok(excerpts.join("\n\n"))
    }

    /// Hands the conversation over when the model said it cannot help.
    async fn hand_over_if_stuck(
        &self,
        cx: &mut PluginContext<'_>,
        reply: &str,
    ) -> Result<(), PluginError> {
        let Some(team) = self
            .checked
            .handoff
            .as_ref()
            .filter(|_| self.auto_handoff())
        else {
            return Ok(());
        };
        if !self.here(cx.message()) || !says(reply, &self.settings.handoff_phrase) {
            return Ok(());
        }
        let message = cx.message();
        let turns = cx.history().await?;
        let recent = &turns[turns.len().saturating_sub(self.settings.handoff_turns)..];
        let notice = handoff::notice(
            message,
            "(the bot could not answer from the help articles)",
            recent,
        );
        match cx.post(team, &notice).await {
            Ok(()) => {
                info!(to = %team, user = %message.author.id, "handed over: the model could not answer");
                cx.reply("A person from our team will follow up with you here soon.")
                    .await
            }
            Err(failure) => {
                error!(to = %team, error = %failure, "could not post the hand-off request");
                cx.reply("I couldn't reach our team just now. Please send /human in a few minutes.")
                    .await
            }
        }
    }

    async fn human(&self, cx: &mut PluginContext<'_>, note: &str) -> Result<(), PluginError> {
        let message = cx.message();
        if !self.here(message) {
            return cx
                .reply("Handing over to a person isn't available in this chat.")
                .await;
        }
        let Some(team) = &self.checked.handoff else {
            warn!(
                user = %message.author.id,
                "/human used but [plugins.support] handoff_channel is not set"
            );
            return cx
                .reply(
                    "Sorry, handing over to a person isn't set up for this bot yet, \
                     so nobody would see your request. Please contact us another way.",
                )
                .await;
        };
        let turns = cx.history().await?;
        let recent = &turns[turns.len().saturating_sub(self.settings.handoff_turns)..];
        let notice = handoff::notice(message, note, recent);
        match cx.post(team, &notice).await {
            Ok(()) => {
                info!(to = %team, user = %message.author.id, "handed over to a person");
                cx.reply(
                    "Thanks — I've passed your request and our conversation on to our team. \
                     A person will follow up with you soon.",
                )
                .await
            }
            Err(failure) => {
                error!(to = %team, error = %failure, "could not post the hand-off request");
                cx.reply(
                    "Sorry, I couldn't reach our team just now. Please try /human again \
                     in a few minutes.",
                )
                .await
            }
        }
    }
}

/// True when `reply` contains `phrase`, ignoring case, spacing, quotes and
/// the final punctuation (models rarely repeat a sentence to the letter).
fn says(reply: &str, phrase: &str) -> bool {
    fn words(text: &str) -> String {
        text.replace('\u{2019}', "'")
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
    let phrase = words(phrase);
    !phrase.is_empty() && words(reply).contains(&phrase)
}

/// Loads and indexes the docs folder.
fn build(docs: &Path, max_chars: usize, language: &Language) -> Result<Index, SupportError> {
    let kb = kb::load(docs, max_chars)?;
    Ok(Index::new(kb, language.clone()))
}

/// `/kb reload`: what was loaded and what was skipped.
fn reload_report(index: &Index) -> String {
    let kb = index.knowledge_base();
    let files = if kb.files == 1 { "file" } else { "files" };
    let chunks = if kb.chunks.len() == 1 {
        "chunk"
    } else {
        "chunks"
    };
    let mut text = format!(
        "Reloaded the knowledge base: {} {files}, {} {chunks}.",
        kb.files,
        kb.chunks.len()
    );
    if !kb.skipped.is_empty() {
        text.push_str(&format!("\nSkipped {}:", kb.skipped.len()));
        for skipped in &kb.skipped {
            text.push_str(&format!("\n• {} — {}", skipped.file, skipped.reason));
        }
    }
    if !kb.problems.is_empty() {
        text.push_str(&format!("\nFAQ entries left out ({}):", kb.problems.len()));
        for problem in &kb.problems {
            text.push_str(&format!("\n• {problem}"));
        }
    }
    text
}

#[async_trait]
impl Plugin for SupportPlugin {
    fn name(&self) -> &str {
        "support"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("human", "Hand this conversation over to a person").usage("[note]"),
            CommandSpec::new("kb", "Search the help articles; reload them (admins)")
                .usage("search <words> | reload"),
        ]
    }

    fn tools(&self) -> Vec<ToolSpec> {
        vec![ToolSpec::new::<SearchArgs>(
            SEARCH_TOOL,
            "Search the help articles; returns the best matching excerpts, numbered.",
        )]
    }

    #[instrument(name = "support", skip_all, fields(tool = %call.name))]
    async fn call_tool(
        &self,
        cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        self.search_tool(cx, &call)
    }

    #[instrument(name = "support", skip_all, fields(command = %cmd.name))]
    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        match cmd.name.as_str() {
            "human" => self.human(cx, &cmd.args).await,
            _ => self.kb(cx, &cmd.args).await,
        }
    }

    /// Declines, without asking the model, what the articles do not cover.
    #[instrument(name = "support", skip_all)]
    async fn on_message(
        &self,
        cx: &mut PluginContext<'_>,
        msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        if !self.here(msg) {
            return Ok(Flow::Continue);
        }
        let matched = !self
            .index()
            .search(&msg.text, 1, self.settings.min_score)
            .is_empty();
        if matched {
            return Ok(Flow::Continue);
        }
        info!("no help article matches; declining without the model");
        cx.reply(&self.settings.not_found).await?;
        // Kept in history, so a hand-off shows the team what was asked.
        cx.remember(msg.text.trim(), &self.settings.not_found)
            .await?;
        Ok(Flow::Handled)
    }

    /// Hands the conversation to the team when the model said it cannot help.
    #[instrument(name = "support", skip_all)]
    async fn after_reply(
        &self,
        cx: &mut PluginContext<'_>,
        reply: &str,
    ) -> Result<(), PluginError> {
        self.hand_over_if_stuck(cx, reply).await
    }

    /// Puts the best excerpts, numbered, into the system prompt.
    #[instrument(name = "support", skip_all)]
    async fn before_model(
        &self,
        cx: &mut PluginContext<'_>,
        request: &mut ChatRequest,
    ) -> Result<(), PluginError> {
        let message = cx.message();
        if !self.here(message) {
            return Ok(());
        }
        let index = self.index();
        let hits = index.search(&message.text, self.settings.top_k, self.settings.min_score);
        let model = cx.model();
        let budget = model
            .capabilities()
            .context_window
            .saturating_sub(request.params.max_tokens.unwrap_or(0) as usize);
        let fitted = prompt::add_excerpts(request, &self.instructions(), &hits, |messages| {
            model.count_tokens(messages) <= budget
        });
        if fitted.excerpts < hits.len() || fitted.dropped_messages > 0 {
            info!(
                excerpts = fitted.excerpts,
                left_out = hits.len() - fitted.excerpts,
                dropped_messages = fitted.dropped_messages,
                "made room for the help excerpts"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handoff_phrase_is_recognised_when_the_model_rephrases_its_edges() {
        let phrase = settings::HANDOFF_PHRASE;
        assert!(says(phrase, phrase));
        assert!(says(
            "Hmm. \"I\u{2019}m NOT sure about that, so I'm passing your question to a colleague\"",
            phrase
        ));
        assert!(!says("I'm not sure about that.", phrase));
        assert!(!says("anything", ""));
    }
}
