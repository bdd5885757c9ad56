//! The `[plugins.tutor]` settings section.

use serde::{Deserialize, Serialize};

/// How the model is asked to write a question.
pub const QUESTION_PROMPT: &str = "You are a patient tutor writing practice questions. \
Reply with one JSON object and nothing else, in this shape: \
{\"question\": \"…\", \"answer\": \"…\", \"hint\": \"…\"}. \
The question fits the subject and level and can be answered in a sentence or two; \
\"answer\" is the reference answer; \"hint\" helps without giving the answer away.";

/// How the model is asked to grade an answer.
pub const GRADING_PROMPT: &str = "You are a fair tutor grading a student's answer against \
the reference answer. Accept answers that mean the same thing in other words. \
Reply with one JSON object and nothing else, in this shape: \
{\"verdict\": \"correct\" | \"partly\" | \"wrong\", \"explanation\": \"one or two short sentences for the student\"}.";

/// How the model is asked to explain (`/explain`).
pub const EXPLAIN_PROMPT: &str = "You are a patient tutor. Explain the student's question \
step by step, in short numbered steps, at their level, with a small example where it helps. \
End with one short check question that lets the student test their understanding, \
and do not answer it.";

/// The `[plugins.tutor]` settings section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TutorSettings {
    /// Levels a student may name after the subject (`/tutor algebra advanced`).
    pub levels: Vec<String>,
    /// The level when none is named.
    pub default_level: String,
    /// Sampling temperature for writing questions and grading (none: the persona's).
    pub temperature: Option<f32>,
    /// System prompt for writing a question; must ask for the JSON shape above.
    pub question_prompt: String,
    /// System prompt for grading; must ask for the JSON shape above.
    pub grading_prompt: String,
    /// System prompt for `/explain`.
    pub explain_prompt: String,
}

impl Default for TutorSettings {
    fn default() -> Self {
        Self {
            levels: ["beginner", "intermediate", "advanced"]
                .map(String::from)
                .to_vec(),
            default_level: "beginner".to_owned(),
            temperature: Some(0.4),
            question_prompt: QUESTION_PROMPT.to_owned(),
            grading_prompt: GRADING_PROMPT.to_owned(),
            explain_prompt: EXPLAIN_PROMPT.to_owned(),
        }
    }
}
