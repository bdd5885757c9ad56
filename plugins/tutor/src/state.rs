//! What the tutor keeps in its store namespace: one [`Session`] per student per
//! conversation, and [`Progress`] per student per subject (across conversations).
//!
//! Keys: `session/<conversation>/<user id>` and
//! `progress/<platform>/<user id>/<subject>`.

use natter_core::{Incoming, PluginContext, PluginError};
use serde::{Deserialize, Serialize};

/// Questions remembered per session so the model does not repeat itself.
const RECENT_QUESTIONS: usize = 10;

/// A question with its reference answer and hint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// What the student is asked.
    pub text: String,
    /// The reference answer, when the model gave one.
    pub answer: Option<String>,
    /// A hint, when the model gave one.
    pub hint: Option<String>,
}

/// Answers by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Score {
    /// Correct answers.
    pub correct: u32,
    /// Partly correct answers.
    pub partly: u32,
    /// Wrong answers.
    pub wrong: u32,
    /// Questions skipped.
    pub skipped: u32,
    /// Hints taken.
    pub hints: u32,
}

impl Score {
    /// Answers graded.
    pub fn answered(&self) -> u32 {
        self.correct + self.partly + self.wrong
    }

    /// "3 answered: 2 correct, 1 partly, 0 wrong; 1 skipped, 1 hint".
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} answered: {} correct, {} partly, {} wrong",
            self.answered(),
            self.correct,
            self.partly,
            self.wrong
        );
        if self.skipped > 0 {
            text.push_str(&format!("; {} skipped", self.skipped));
        }
        if self.hints > 0 {
            let s = if self.hints == 1 { "" } else { "s" };
            text.push_str(&format!("; {} hint{s}", self.hints));
        }
        text
    }
}

/// One student's tutoring session in one conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The subject as the student typed it.
    pub subject: String,
    /// The level.
    pub level: String,
    /// Questions asked so far (the current one included).
    pub number: u32,
    /// The question waiting for an answer; none after a failure to write one.
    pub question: Option<Question>,
    /// The newest questions asked, so they are not repeated.
    pub recent: Vec<String>,
    /// This session's score.
    pub score: Score,
}

impl Session {
    /// A new session, no question asked yet.
    pub fn new(subject: &str, level: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            level: level.to_owned(),
            number: 0,
            question: None,
            recent: Vec::new(),
            score: Score::default(),
        }
    }

    /// Makes `question` the current one.
    pub fn ask(&mut self, question: Question) {
        self.number += 1;
        self.recent.push(question.text.clone());
        if self.recent.len() > RECENT_QUESTIONS {
            self.recent.remove(0);
        }
        self.question = Some(question);
    }
}

/// One student's record in one subject.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// The subject as first typed.
    pub subject: String,
    /// The level of the latest session.
    pub level: String,
    /// Sessions started.
    pub sessions: u32,
    /// All answers, hints and skips in this subject.
    pub score: Score,
}

/// The subject as a store key part: lowercase, single spaces, no slashes.
pub fn subject_key(subject: &str) -> String {
    subject
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .replace('/', "-")
}

fn session_key(msg: &Incoming) -> String {
    format!("session/{}/{}", msg.key, msg.author.id)
}

fn progress_prefix(msg: &Incoming) -> String {
    format!("progress/{}/{}/", msg.key.platform(), msg.author.id)
}

/// The author's session in this conversation.
pub async fn load_session(cx: &PluginContext<'_>) -> Result<Option<Session>, PluginError> {
    cx.state().get(&session_key(cx.message())).await
}

/// Saves the author's session in this conversation.
pub async fn save_session(cx: &PluginContext<'_>, session: &Session) -> Result<(), PluginError> {
    cx.state().put(&session_key(cx.message()), session).await
}

/// Ends the author's session in this conversation.
pub async fn end_session(cx: &PluginContext<'_>) -> Result<bool, PluginError> {
    cx.state().delete(&session_key(cx.message())).await
}

/// Changes the author's progress in `subject`.
pub async fn update_progress(
    cx: &PluginContext<'_>,
    subject: &str,
    level: &str,
    change: impl FnOnce(&mut Progress),
) -> Result<(), PluginError> {
    let key = format!("{}{}", progress_prefix(cx.message()), subject_key(subject));
    let mut progress: Progress = cx.state().get(&key).await?.unwrap_or_default();
    if progress.subject.is_empty() {
        progress.subject = subject.to_owned();
    }
    level.clone_into(&mut progress.level);
    change(&mut progress);
    cx.state().put(&key, &progress).await
}

/// The author's progress in every subject, by subject.
pub async fn all_progress(cx: &PluginContext<'_>) -> Result<Vec<Progress>, PluginError> {
    let rows = cx
        .state()
        .list::<Progress>(&progress_prefix(cx.message()))
        .await?;
    Ok(rows.into_iter().map(|(_, progress)| progress).collect())
}
