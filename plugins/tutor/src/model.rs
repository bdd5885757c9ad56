//! Asking the model for a question and for a grade, and making sense of what
//! it answers: JSON when it complies, one retry with a reminder when it does
//! not, and plain text when even that fails.

use natter_core::{ChatMessage, ChatRequest, ImagePart, PluginContext, PluginError};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::json::{extract_object, field, strip_fences};
use crate::settings::TutorSettings;
use crate::state::{Question, Session};

/// How an answer was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Right.
    Correct,
    /// Partly right.
    Partly,
    /// Wrong.
    Wrong,
}

impl Verdict {
    /// A verdict from a word a model may use for it.
    pub fn from_word(word: &str) -> Option<Self> {
        let word = word.trim().to_lowercase();
        match word.trim_matches(|c: char| !c.is_alphanumeric()) {
            "correct" | "right" | "yes" | "true" => Some(Self::Correct),
            "partly" | "partial" | "partially" | "partly correct" | "partially correct" => {
                Some(Self::Partly)
            }
            "wrong" | "incorrect" | "no" | "false" => Some(Self::Wrong),
            _ => None,
        }
    }

    /// The first verdict a plain-text grade states, if any.
    pub fn find_in(text: &str) -> Option<Self> {
        const WORDS: &[(&str, Verdict)] = &[
            ("partially correct", Verdict::Partly),
            ("partly correct", Verdict::Partly),
            ("not correct", Verdict::Wrong),
            ("incorrect", Verdict::Wrong),
            ("partially", Verdict::Partly),
            ("partly", Verdict::Partly),
            ("wrong", Verdict::Wrong),
            ("correct", Verdict::Correct),
        ];
        let lower = text.to_lowercase();
        WORDS
            .iter()
            .filter_map(|(word, verdict)| lower.find(word).map(|at| (at, *verdict)))
            .min_by_key(|(at, _)| *at)
            .map(|(_, verdict)| verdict)
    }
}

/// A graded answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grade {
    /// The verdict, when the model gave one it could be read from.
    pub verdict: Option<Verdict>,
    /// A short explanation for the student.
    pub explanation: String,
}

const JSON_REMINDER: &str = "That was not a valid JSON object. Reply again with only the \
JSON object in the shape asked for, and no other text.";

async fn request(
    cx: &PluginContext<'_>,
    settings: &TutorSettings,
    system: &str,
    user: &str,
) -> Result<ChatRequest, PluginError> {
    let mut request = cx.one_shot(system, user).await?;
    if settings.temperature.is_some() {
        request.params.temperature = settings.temperature;
    }
    Ok(request)
}

/// Asks for JSON, retrying once with a reminder; returns what `parse` made of
/// it, or `Err` with the last reply (for the plain-text fallback).
async fn ask_json<T>(
    cx: &PluginContext<'_>,
    mut request: ChatRequest,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Result<T, String>, PluginError> {
    let first = cx.ask_model(request.clone()).await?;
    if let Some(parsed) = parse(&first) {
        return Ok(Ok(parsed));
    }
    debug!("the model's reply was not the JSON asked for; asking again");
    request.messages.push(ChatMessage::assistant(first.clone()));
    request.messages.push(ChatMessage::user(JSON_REMINDER));
    let second = cx.ask_model(request).await?;
    if let Some(parsed) = parse(&second) {
        return Ok(Ok(parsed));
    }
    warn!("the model did not write JSON twice; using its text as is");
    let text = if second.trim().is_empty() {
        first
    } else {
        second
    };
    Ok(Err(text))
}

fn parse_question(text: &str) -> Option<Question> {
    let object = extract_object(text)?;
    Some(Question {
        text: field(&object, &["question", "q", "prompt"])?,
        answer: field(
            &object,
            &["answer", "reference_answer", "reference", "solution"],
        ),
        hint: field(&object, &["hint", "clue"]),
    })
}

/// Makes a question of a reply that is not JSON: "Question: … Answer: … Hint: …"
/// lines when the model wrote them, else the whole text as the question.
pub fn plain_question(text: &str) -> Option<Question> {
    let text = strip_fences(text);
    // question, answer, hint
    let mut parts = [String::new(), String::new(), String::new()];
    let mut current: Option<usize> = None;
    let mut has_labels = false;
    for line in text.lines() {
        let bare = line.trim().trim_start_matches(['*', '#', '-']).trim();
        let found = ["question", "answer", "hint"]
            .iter()
            .enumerate()
            .find_map(|(i, name)| labelled(bare, name).map(|rest| (i, rest)));
        if let Some((i, rest)) = found {
            has_labels |= i == 0;
            parts[i] = rest;
            current = Some(i);
        } else if let Some(target) = current.and_then(|i| parts.get_mut(i)) {
            if !target.is_empty() {
                target.push('\n');
            }
            target.push_str(line.trim_end());
        }
    }
    let [question, answer, hint] = if has_labels {
        parts
    } else {
        [text.clone(), String::new(), String::new()]
    };
    let some = |s: String| {
        let s = s.trim().to_owned();
        (!s.is_empty()).then_some(s)
    };
    Some(Question {
        text: some(question)?,
        answer: some(answer),
        hint: some(hint),
    })
}

/// The rest of `line` after `name:` (any case, Markdown bold allowed).
fn labelled(line: &str, name: &str) -> Option<String> {
    let head = line.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let rest = line.get(name.len()..)?.trim_start_matches('*').trim_start();
    let rest = rest.strip_prefix(':')?;
    Some(rest.trim_start_matches('*').trim().to_owned())
}

/// Asks the model for the next question of `session`.
pub async fn next_question(
    cx: &PluginContext<'_>,
    settings: &TutorSettings,
    session: &Session,
) -> Result<Question, PluginError> {
    let mut user = format!(
        "Subject: {}\nLevel: {}\nWrite question number {}.",
        session.subject,
        session.level,
        session.number + 1
    );
    if !session.recent.is_empty() {
        user.push_str("\nDo not repeat these earlier questions:");
        for earlier in &session.recent {
            user.push_str(&format!("\n- {earlier}"));
        }
    }
    let request = request(cx, settings, &settings.question_prompt, &user).await?;
    match ask_json(cx, request, parse_question).await? {
        Ok(question) => Ok(question),
        Err(text) => plain_question(&text).ok_or_else(|| {
            PluginError::usage("Sorry, the model didn't write a question. Try /skip for another.")
        }),
    }
}

fn parse_grade(text: &str) -> Option<Grade> {
    let object = extract_object(text)?;
    let verdict = field(&object, &["verdict", "grade", "result", "correct"])
        .as_deref()
        .and_then(Verdict::from_word)?;
    let explanation =
        field(&object, &["explanation", "feedback", "reason", "comment"]).unwrap_or_default();
    Some(Grade {
        verdict: Some(verdict),
        explanation,
    })
}

/// Asks the model to grade `answer` to `question`.
pub async fn grade(
    cx: &PluginContext<'_>,
    settings: &TutorSettings,
    session: &Session,
    question: &Question,
    answer: &str,
    photos: Vec<ImagePart>,
) -> Result<Grade, PluginError> {
    let reference = question
        .answer
        .as_deref()
        .unwrap_or("(none given: judge from your own knowledge)");
    let answer = match (answer.is_empty(), photos.is_empty()) {
        (_, true) => answer.to_owned(),
        (true, false) => "(written on the attached photo)".to_owned(),
        (false, false) => format!("{answer} (and the attached photo of their work)"),
    };
    let user = format!(
        "Subject: {}\nLevel: {}\nQuestion: {}\nReference answer: {reference}\nStudent's answer: {answer}",
        session.subject, session.level, question.text
    );
    let mut request = request(cx, settings, &settings.grading_prompt, &user).await?;
    if let Some(student) = request.messages.last_mut() {
        student.images = photos;
    }
    Ok(match ask_json(cx, request, parse_grade).await? {
        Ok(grade) => grade,
        Err(text) => {
            let text = strip_fences(&text);
            Grade {
                verdict: Verdict::find_in(&text),
                explanation: text,
            }
        }
    })
}

/// Asks the model for a hint to a question that came without one.
pub async fn hint(
    cx: &PluginContext<'_>,
    settings: &TutorSettings,
    question: &Question,
) -> Result<String, PluginError> {
    let request = request(
        cx,
        settings,
        "You are a patient tutor. Give one short hint for the question below that helps \
the student along without giving the answer away. Reply with the hint only.",
        &question.text,
    )
    .await?;
    Ok(cx.ask_model(request).await?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn verdicts_from_words_and_text() {
        assert_eq!(Verdict::from_word("Correct!"), Some(Verdict::Correct));
        assert_eq!(Verdict::from_word("partially"), Some(Verdict::Partly));
        assert_eq!(Verdict::from_word("maybe"), None);
        assert_eq!(
            Verdict::find_in("That is incorrect: 2+2=4."),
            Some(Verdict::Wrong)
        );
        assert_eq!(
            Verdict::find_in("Partly correct, but…"),
            Some(Verdict::Partly)
        );
        assert_eq!(
            Verdict::find_in("Correct — well done"),
            Some(Verdict::Correct)
        );
        assert_eq!(Verdict::find_in("Hmm."), None);
    }

    #[test]
    fn labelled_plain_questions() {
        let q = plain_question("**Question:** What is 3 × 4?\nAnswer: 12\nHint: think of 3 fours")
            .unwrap();
        assert_eq!(q.text, "What is 3 × 4?");
        assert_eq!(q.answer.as_deref(), Some("12"));
        assert_eq!(q.hint.as_deref(), Some("think of 3 fours"));

        let q = plain_question("Name a prime number above 10.").unwrap();
        assert_eq!(q.text, "Name a prime number above 10.");
        assert_eq!(q.answer, None);
        assert!(plain_question("  ").is_none());
    }
}
