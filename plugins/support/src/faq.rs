//! FAQ files: question/answer pairs, one chunk per answer.
//!
//! Two forms are read:
//!
//! - **`Q:`/`A:` text** in a `.md` or `.txt` file whose name contains `faq`
//!   (`faq.md`, `billing-FAQ.txt`). A question starts at a line beginning with
//!   `Q:`, its answer at the next line beginning with `A:` and runs (blank
//!   lines included) until the next `Q:` or Markdown heading. `**Q:**`, `**Q**:`
//!   and a leading list dash are accepted too. Text before the first `Q:` and
//!   headings between entries are ignored.
//! - **TOML**, any `.toml` file: a list of `[[faq]]` tables with `q` and `a`
//!   (or `question` and `answer`).
//!
//! Entries that are incomplete (a question without an answer, an answer
//! without a question, an empty part) are skipped and reported as problems;
//! the rest of the file still loads.

use serde::Deserialize;

/// One question and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaqEntry {
    /// The question, on one line.
    pub question: String,
    /// The answer; may span paragraphs.
    pub answer: String,
}

/// What a FAQ file held: its entries and what had to be skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The complete entries, in file order.
    pub entries: Vec<FaqEntry>,
    /// One line per skipped part, e.g. `line 7: an answer without a question`.
    pub problems: Vec<String>,
}

impl Parsed {
    /// True when the text had no `Q:`/`A:` lines at all (so it is not written
    /// as an FAQ and is better chunked as an ordinary document).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.problems.is_empty()
    }
}

/// Why a TOML FAQ file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a FAQ file ([[faq]] tables with q and a): {0}")]
pub struct TomlFaqError(String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Question,
    Answer,
}

/// Where the parser is.
enum State {
    /// Before the first question, after a heading, or skipping a stray answer.
    Outside,
    /// Reading a question that started on `line`.
    Question { line: usize, question: Vec<String> },
    /// Reading an answer.
    Answer {
        line: usize,
        question: Vec<String>,
        answer: Vec<String>,
    },
}

/// Reads `Q:`/`A:` pairs from `text`.
pub fn parse_qa(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut state = State::Outside;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let is_heading = is_heading(raw);
        state = match (marker(raw), state) {
            (Some((Marker::Question, rest)), state) => {
                finish(state, &mut parsed);
                State::Question {
                    line: number,
                    question: vec![rest.to_owned()],
                }
            }
            (Some((Marker::Answer, rest)), State::Question { line, question }) => State::Answer {
                line,
                question,
                answer: vec![rest.to_owned()],
            },
            (
                Some((Marker::Answer, rest)),
                State::Answer {
                    line,
                    question,
                    mut answer,
                },
            ) => {
                // A second `A:` for one question: keep it as another paragraph.
                answer.extend([String::new(), rest.to_owned()]);
                State::Answer {
                    line,
                    question,
                    answer,
                }
            }
            (Some((Marker::Answer, _)), State::Outside) => {
                parsed
                    .problems
                    .push(format!("line {number}: an answer without a question"));
                State::Outside
            }
            (None, state) if is_heading => {
                finish(state, &mut parsed);
                State::Outside
            }
            (None, State::Question { line, mut question }) => {
                question.push(line_text(raw));
                State::Question { line, question }
            }
            (
                None,
                State::Answer {
                    line,
                    question,
                    mut answer,
                },
            ) => {
                answer.push(line_text(raw));
                State::Answer {
                    line,
                    question,
                    answer,
                }
            }
            (None, State::Outside) => State::Outside,
        };
    }
    finish(state, &mut parsed);
    parsed
}

/// `# Title` (not `#1 seller`).
fn is_heading(line: &str) -> bool {
    let hashes = line.trim_start().trim_start_matches('#');
    hashes.len() < line.trim_start().len() && (hashes.is_empty() || hashes.starts_with([' ', '\t']))
}

fn line_text(line: &str) -> String {
    line.trim_end().to_owned()
}

/// Ends the entry being read, if any.
fn finish(state: State, parsed: &mut Parsed) {
    match state {
        State::Outside => {}
        State::Question { line, .. } => parsed
            .problems
            .push(format!("line {line}: a question without an answer (A:)")),
        State::Answer {
            line,
            question,
            answer,
        } => {
            let question = question
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let answer = answer.join("\n").trim().to_owned();
            if question.is_empty() {
                parsed
                    .problems
                    .push(format!("line {line}: an empty question"));
            } else if answer.is_empty() {
                parsed
                    .problems
                    .push(format!("line {line}: an empty answer to “{question}”"));
            } else {
                parsed.entries.push(FaqEntry { question, answer });
            }
        }
    }
}

/// `Q: text`, `**Q:** text`, `**Q**: text`, `- Q: text` → (Question, "text").
fn marker(line: &str) -> Option<(Marker, &str)> {
    let mut rest = line.trim_start();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(after) = rest.strip_prefix(bullet) {
            rest = after.trim_start();
            break;
        }
    }
    let bold = ["**", "__"].into_iter().find(|b| rest.starts_with(b));
    if let Some(bold) = bold {
        rest = &rest[bold.len()..];
    }
    let kind = match rest.chars().next()? {
        'Q' => Marker::Question,
        'A' => Marker::Answer,
        _ => return None,
    };
    rest = &rest[1..];
    if let Some(bold) = bold {
        rest = rest.strip_prefix(bold).unwrap_or(rest);
    }
    rest = rest.trim_start_matches(' ').strip_prefix(':')?;
    if let Some(bold) = bold {
        rest = rest.strip_prefix(bold).unwrap_or(rest);
    }
    Some((kind, rest.trim()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    faq: Vec<TomlEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlEntry {
    #[serde(alias = "question")]
    q: String,
    #[serde(alias = "answer")]
    a: String,
}

/// Reads a TOML FAQ file: `[[faq]]` tables with `q` and `a`.
pub fn parse_toml(text: &str) -> Result<Parsed, TomlFaqError> {
    let file: TomlFile = toml::from_str(text).map_err(|e| TomlFaqError(e.to_string()))?;
    let mut parsed = Parsed::default();
    for (n, entry) in file.faq.into_iter().enumerate() {
        let question = entry.q.split_whitespace().collect::<Vec<_>>().join(" ");
        let answer = entry.a.trim().to_owned();
        if question.is_empty() || answer.is_empty() {
            parsed.problems.push(format!(
                "[[faq]] entry {}: an empty question or answer",
                n + 1
            ));
        } else {
            parsed.entries.push(FaqEntry { question, answer });
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(question: &str, answer: &str) -> FaqEntry {
        FaqEntry {
            question: question.into(),
            answer: answer.into(),
        }
    }

    #[test]
    fn reads_question_answer_pairs() {
        let text = "# Frequently asked questions\n\
                    Some intro text that is not an entry.\n\n\
                    Q: Do you ship abroad?\n\
                    A: Yes, to 30 countries.\n\
                    Customs fees are paid by the buyer.\n\n\
                    It takes longer, too.\n\
                    Q: Can I pay\n   by invoice?\n\
                    A: Only business customers.\n\
                    ## Accounts\n\
                    **Q:** How do I delete my account?\n\
                    **A:** Write to privacy@example.com.\n\
                    - Q : Bold-less list form?\n\
                    - A: Works.\n\
                    **Q**: Colon after bold?\n\
                    **A**: Also works.\n";
        let parsed = parse_qa(text);
        assert_eq!(parsed.problems, Vec::<String>::new());
        assert_eq!(
            parsed.entries,
            [
                entry(
                    "Do you ship abroad?",
                    "Yes, to 30 countries.\nCustoms fees are paid by the buyer.\n\nIt takes longer, too."
                ),
                entry("Can I pay by invoice?", "Only business customers."),
                entry(
                    "How do I delete my account?",
                    "Write to privacy@example.com."
                ),
                entry("Bold-less list form?", "Works."),
                entry("Colon after bold?", "Also works."),
            ]
        );
    }

    #[test]
    fn incomplete_entries_are_skipped_and_reported() {
        let text = "A: an answer to nothing\n\
                    Q: A question left hanging\n\
                    Q: Good one?\n\
                    A: Yes.\n\
                    Q:\n\
                    A: answer to an empty question\n\
                    Q: Empty answer?\n\
                    A:\n\
                    Q: Last without answer";
        let parsed = parse_qa(text);
        assert_eq!(parsed.entries, [entry("Good one?", "Yes.")]);
        assert_eq!(
            parsed.problems,
            [
                "line 1: an answer without a question",
                "line 2: a question without an answer (A:)",
                "line 5: an empty question",
                "line 7: an empty answer to “Empty answer?”",
                "line 9: a question without an answer (A:)",
            ]
        );
    }

    #[test]
    fn text_without_markers_is_not_an_faq() {
        assert!(parse_qa("").is_empty());
        assert!(
            parse_qa("# FAQ\n\nJust prose. Quite a lot of it.\nAnd Questions: none.").is_empty()
        );
        assert!(!parse_qa("Q: only a question").is_empty());
    }

    #[test]
    fn lowercase_and_lookalike_lines_are_not_markers() {
        let parsed = parse_qa(
            "Q: Why?\nA: Because.\nAnswers vary.\na: not a marker\n#1 seller\nQuality: high",
        );
        assert_eq!(
            parsed.entries,
            [entry(
                "Why?",
                "Because.\nAnswers vary.\na: not a marker\n#1 seller\nQuality: high"
            )]
        );
    }

    #[test]
    fn reads_toml_faq() {
        let text = r#"
[[faq]]
q = "What are your opening hours?"
a = "Mon–Fri, 9:00–17:00 CET."

[[faq]]
question = "Do you have a phone line?"
answer = """
Yes: +49 30 1234567.
"""

[[faq]]
q = "  "
a = "dropped"
"#;
        let parsed = parse_toml(text).unwrap();
        assert_eq!(
            parsed.entries,
            [
                entry("What are your opening hours?", "Mon–Fri, 9:00–17:00 CET."),
                entry("Do you have a phone line?", "Yes: +49 30 1234567."),
            ]
        );
        assert_eq!(
            parsed.problems,
            ["[[faq]] entry 3: an empty question or answer"]
        );
    }

    #[test]
    fn bad_toml_is_an_error_not_a_panic() {
        assert!(parse_toml("[[faq]]\nq = \"missing answer\"").is_err());
        assert!(parse_toml("[[faq]\nbroken").is_err());
        assert!(parse_toml("[server]\nport = 1").is_err(), "unknown tables");
        assert!(parse_toml("").unwrap().is_empty());
    }
}
