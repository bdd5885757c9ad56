//! # natter-plugin-tutor — practice questions, graded
//!
//! `/tutor <subject> [level]` starts a session for you in this conversation (in
//! a group: for you alone, so two students never answer each other's
//! questions). The model writes a question with a reference answer and a hint;
//! your next messages in the conversation are answers, graded against the
//! reference (correct / partly / wrong, with a short explanation), each followed
//! by the next question. In groups, answer by replying to the bot's message or
//! mentioning it, as for anything else addressed to the bot.
//!
//! | command | does |
//! |---|---|
//! | `/tutor <subject> [level]` | start (or restart) a session |
//! | `/hint` | a hint for the current question |
//! | `/skip` | show the answer and move on |
//! | `/tutor stop` | end the session with a score summary |
//! | `/tutor progress` | your record in every subject |
//! | `/explain <question>` | a step-by-step explanation ending with a check question |
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[plugins.tutor]` section and the default prompts |
//! | [`model`] | asking for questions and grades; retry and plain-text fallback |
//! | [`json`] | finding a JSON object in prose, fences and sloppy output |
//! | [`state`] | sessions and progress in the plugin's store namespace |
//!
//! Sessions and progress live in the store, so they survive a restart.

pub mod json;
pub mod model;
pub mod settings;
pub mod state;

use async_trait::async_trait;
use natter_core::{
    AttachmentKind, Command, CommandSpec, Flow, ImagePart, Incoming, Plugin, PluginContext,
    PluginError,
};
use tracing::{instrument, warn};

pub use settings::TutorSettings;

use model::{Grade, Verdict};
use state::{Question, Session};

const NO_SESSION: &str = "No tutoring session here. Start one with /tutor <subject> [level].";

/// The tutor plugin.
#[derive(Clone, Debug, Default)]
pub struct TutorPlugin {
    settings: TutorSettings,
}

/// A problem in the `[plugins.tutor]` settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TutorError {
    /// `default_level` is not one of `levels`.
    #[error("[plugins.tutor] default_level `{0}` is not one of `levels`")]
    UnknownDefaultLevel(String),
}

impl TutorPlugin {
    /// The plugin with `settings`.
    pub fn new(settings: TutorSettings) -> Result<Self, TutorError> {
        let known = settings
            .levels
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&settings.default_level));
        if !known && !settings.levels.is_empty() {
            return Err(TutorError::UnknownDefaultLevel(settings.default_level));
        }
        Ok(Self { settings })
    }

    fn usage(&self) -> String {
        format!(
            "Usage: /tutor <subject> [level] — e.g. /tutor fractions {}\n\
             Levels: {}.\nThen: /hint, /skip, /tutor stop, /tutor progress; /explain <question>.",
            self.settings
                .levels
                .last()
                .map_or("advanced", String::as_str),
            self.settings.levels.join(", ")
        )
    }

    /// Splits `/tutor` arguments into subject and level.
    fn subject_and_level(&self, args: &str) -> (String, String) {
        let words: Vec<&str> = args.split_whitespace().collect();
        if let [subject @ .., last] = words.as_slice()
            && !subject.is_empty()
            && let Some(level) = self
                .settings
                .levels
                .iter()
                .find(|l| l.eq_ignore_ascii_case(last))
        {
            return (subject.join(" "), level.clone());
        }
        (words.join(" "), self.settings.default_level.clone())
    }

    /// "Alice, " in groups, where several students may be at it.
    fn addressee(cx: &PluginContext<'_>) -> String {
        let message = cx.message();
        if message.channel.is_private() {
            String::new()
        } else {
            format!("{}, ", message.author.display_name)
        }
    }

    fn show_question(cx: &PluginContext<'_>, session: &Session, question: &Question) -> String {
        format!(
            "{}**Question {}** ({}, {}): {}",
            Self::addressee(cx),
            session.number,
            session.subject,
            session.level,
            question.text
        )
    }

    /// Asks the next question of `session`, saves the session and returns the
    /// text to show. If the model fails, the session is saved without a
    /// question and the text says how to try again.
    async fn advance(
        &self,
        cx: &PluginContext<'_>,
        session: &mut Session,
    ) -> Result<String, PluginError> {
        session.question = None;
        let next = model::next_question(cx, &self.settings, session).await;
        let text = match next {
            Ok(question) => {
                session.ask(question.clone());
                Self::show_question(cx, session, &question)
            }
            Err(PluginError::Stopped) => {
                state::save_session(cx, session).await?;
                return Err(PluginError::Stopped);
            }
            Err(error) => {
                warn!(%error, "could not write the next question");
                "I couldn't write the next question — send /skip to try again.".to_owned()
            }
        };
        state::save_session(cx, session).await?;
        Ok(text)
    }

    async fn start(&self, cx: &mut PluginContext<'_>, args: &str) -> Result<(), PluginError> {
        let (subject, level) = self.subject_and_level(args);
        let mut session = Session::new(&subject, &level);
        let question = model::next_question(cx, &self.settings, &session).await?;
        session.ask(question.clone());
        state::save_session(cx, &session).await?;
        state::update_progress(cx, &subject, &level, |p| p.sessions += 1).await?;
        let how = if cx.message().channel.is_private() {
            "Answer in your next message"
        } else {
            "Answer by replying to my message"
        };
        let text = format!(
            "Let's practise {subject} ({level}). {how}; /hint for a hint, /skip to move on, \
             /tutor stop to finish.\n\n{}",
            Self::show_question(cx, &session, &question)
        );
        cx.reply(&text).await
    }

    async fn stop(cx: &mut PluginContext<'_>) -> Result<(), PluginError> {
        let Some(session) = state::load_session(cx).await? else {
            return cx.reply(NO_SESSION).await;
        };
        state::end_session(cx).await?;
        let text = format!(
            "{}session over: {} ({}) — {}. /tutor progress shows your record.",
            Self::addressee(cx),
            session.subject,
            session.level,
            session.score.summary()
        );
        cx.reply(&capitalise(&text)).await
    }

    async fn progress(cx: &mut PluginContext<'_>) -> Result<(), PluginError> {
        let records = state::all_progress(cx).await?;
        if records.is_empty() {
            return cx
                .reply("No progress yet. Start with /tutor <subject> [level].")
                .await;
        }
        let mut text = format!("{}your progress:", Self::addressee(cx));
        for record in records {
            let answered = record.score.answered();
            let rate = (record.score.correct * 100)
                .checked_div(answered)
                .map(|percent| format!(" ({percent}% correct)"))
                .unwrap_or_default();
            let s = if record.sessions == 1 { "" } else { "s" };
            text.push_str(&format!(
                "\n• {} — {} session{s}, {}{rate}; last level {}",
                record.subject,
                record.sessions,
                record.score.summary(),
                record.level
            ));
        }
        cx.reply(&capitalise(&text)).await
    }

    async fn hint(&self, cx: &mut PluginContext<'_>) -> Result<(), PluginError> {
        let Some(mut session) = state::load_session(cx).await? else {
            return cx.reply(NO_SESSION).await;
        };
        let Some(question) = session.question.clone() else {
            return cx
                .reply("There's no question waiting; send /skip for a new one.")
                .await;
        };
        let hint = match &question.hint {
            Some(hint) => hint.clone(),
            None => model::hint(cx, &self.settings, &question).await?,
        };
        session.score.hints += 1;
        if let Some(current) = session.question.as_mut() {
            current.hint = Some(hint.clone());
        }
        state::save_session(cx, &session).await?;
        let (subject, level) = (session.subject.clone(), session.level.clone());
        state::update_progress(cx, &subject, &level, |p| p.score.hints += 1).await?;
        cx.reply(&capitalise(&format!("{}hint: {hint}", Self::addressee(cx))))
            .await
    }

    async fn skip(&self, cx: &mut PluginContext<'_>) -> Result<(), PluginError> {
        let Some(mut session) = state::load_session(cx).await? else {
            return cx.reply(NO_SESSION).await;
        };
        let mut text = String::new();
        if let Some(question) = session.question.take() {
            session.score.skipped += 1;
            let (subject, level) = (session.subject.clone(), session.level.clone());
            state::update_progress(cx, &subject, &level, |p| p.score.skipped += 1).await?;
            text = match &question.answer {
                Some(answer) => format!("Skipped. The answer: {answer}\n\n"),
                None => "Skipped.\n\n".to_owned(),
            };
        }
        text.push_str(&self.advance(cx, &mut session).await?);
        cx.reply(&text).await
    }

    async fn explain(&self, cx: &mut PluginContext<'_>, args: &str) -> Result<(), PluginError> {
        if args.is_empty() {
            return Err(PluginError::usage(
                "Usage: /explain <question> — e.g. /explain why is the sky blue?",
            ));
        }
        let level = match state::load_session(cx).await? {
            Some(session) => format!("\n(The student's level: {}.)", session.level),
            None => String::new(),
        };
        let request = cx
            .one_shot(&self.settings.explain_prompt, &format!("{args}{level}"))
            .await?;
        let explanation = cx.reply_with_model(request).await?;
        if !explanation.trim().is_empty() {
            // Kept in history, so answering the check question in chat works.
            let asked = cx.message().text.trim().to_owned();
            cx.remember(&asked, &explanation).await?;
        }
        Ok(())
    }

    /// Grades `answer`, then asks the next question.
    async fn answer(
        &self,
        cx: &mut PluginContext<'_>,
        mut session: Session,
        question: Question,
        answer: &str,
        photos: Vec<ImagePart>,
    ) -> Result<(), PluginError> {
        let Grade {
            verdict,
            explanation,
        } = model::grade(cx, &self.settings, &session, &question, answer, photos).await?;
        let mut text = Self::addressee(cx);
        let opening = match verdict {
            Some(Verdict::Correct) => "✅ Correct.",
            Some(Verdict::Partly) => "🟡 Partly right.",
            Some(Verdict::Wrong) => "❌ Not quite.",
            None => "I couldn't tell how to grade that:",
        };
        text.push_str(opening);
        if !explanation.is_empty() {
            text = format!("{text} {explanation}");
        }
        text = capitalise(&text);
        if verdict != Some(Verdict::Correct)
            && let Some(reference) = &question.answer
        {
            text.push_str(&format!("\nAnswer: {reference}"));
        }
        let tally = |score: &mut state::Score| match verdict {
            Some(Verdict::Correct) => score.correct += 1,
            Some(Verdict::Partly) => score.partly += 1,
            Some(Verdict::Wrong) => score.wrong += 1,
            None => {}
        };
        tally(&mut session.score);
        let (subject, level) = (session.subject.clone(), session.level.clone());
        state::update_progress(cx, &subject, &level, |p| tally(&mut p.score)).await?;
        let next = self.advance(cx, &mut session).await?;
        text.push_str("\n\n");
        text.push_str(&next);
        cx.reply(&text).await
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[async_trait]
impl Plugin for TutorPlugin {
    fn name(&self) -> &str {
        "tutor"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("tutor", "Practise a subject with questions; stop; progress")
                .usage("<subject> [level] | stop | progress"),
            CommandSpec::new("hint", "A hint for the tutor's current question"),
            CommandSpec::new("skip", "Skip the tutor's current question"),
            CommandSpec::new("explain", "Explain step by step, then check understanding")
                .usage("<question>"),
        ]
    }

    #[instrument(name = "tutor", skip_all, fields(command = %cmd.name))]
    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        match (cmd.name.as_str(), cmd.args.to_lowercase().as_str()) {
            ("tutor", "") => {
                let usage = self.usage();
                cx.reply(&usage).await
            }
            ("tutor", "stop" | "end" | "quit") => Self::stop(cx).await,
            ("tutor", "progress" | "stats") => Self::progress(cx).await,
            ("tutor", _) => self.start(cx, &cmd.args).await,
            ("hint", _) => self.hint(cx).await,
            ("skip", _) => self.skip(cx).await,
            _ => self.explain(cx, &cmd.args).await,
        }
    }

    /// While the author has a question waiting here, their message is the answer.
    #[instrument(name = "tutor", skip_all)]
    async fn on_message(
        &self,
        cx: &mut PluginContext<'_>,
        msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        let Some(session) = state::load_session(cx).await? else {
            return Ok(Flow::Continue);
        };
        let Some(question) = session.question.clone() else {
            return Ok(Flow::Continue);
        };
        // A photo of a written answer is graded by a model that can see;
        // one that cannot says so, and a caption alone is graded.
        let mut photos = Vec::new();
        if msg
            .attachments
            .iter()
            .any(|a| a.kind == AttachmentKind::Image)
        {
            let (seen, note) = cx.pictures().await;
            if let Some(note) = note {
                cx.reply(&note).await?;
            }
            if seen.is_empty() && msg.text.trim().is_empty() {
                return Ok(Flow::Handled);
            }
            photos = seen;
        }
        self.answer(cx, session, question, msg.text.trim(), photos)
            .await?;
        Ok(Flow::Handled)
    }
}
