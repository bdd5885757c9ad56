//! Rolling summaries — memory beyond the context window. When the oldest
//! turns of a conversation no longer fit the model's window, a model folds
//! them into a short summary ([`RollingSummary`]), and the prompt carries the
//! summary at the top in their place.
//!
//! This module owns the words and the arithmetic: the system prompt with the
//! summary appended ([`with_summary`] — one system message, since some chat
//! templates allow only one), the request that asks for a summary from the
//! previous one and the turns that fell out ([`request`]), and the cut that
//! keeps a summary within its token budget whatever the model wrote
//! ([`clip`]). The engine's `summarize` stage runs them in the background.

use crate::backend::ModelBackend;
use crate::chat::{ChatMessage, ChatRequest, GenerationParams, Role};
use crate::store::{RollingSummary, Turn};

/// What introduces the summary in the system prompt.
pub const HEADING: &str = "Summary of the earlier conversation:";

/// What the summarising model is asked to do.
const INSTRUCTIONS: &str = "You keep the memory of a chat between users and an \
     assistant. Write a short summary of the conversation below, in the third \
     person, merged with the earlier summary if there is one: the facts learned, \
     names, decisions made and questions still open. Plain sentences, no preamble.";

/// Longest message, in characters, a summary request quotes whole.
const MAX_QUOTED_CHARS: usize = 4000;

/// Fewest tokens worth quoting of a turn too long for the summarising model.
const MIN_QUOTE_TOKENS: usize = 16;

/// The turns that fell out of a prompt's window that no summary covers yet:
/// what the next summary takes in.
#[derive(Clone, Debug, PartialEq)]
pub struct Forgotten {
    /// The summary so far, if any.
    pub previous: Option<RollingSummary>,
    /// The turns, oldest first, right after those `previous` covers.
    pub turns: Vec<Turn>,
    /// How many of the conversation's oldest turns `previous` and `turns`
    /// cover together.
    pub turns_covered: u64,
}

/// `system` with `summary` appended under [`HEADING`].
pub fn with_summary(system: &str, summary: &str) -> String {
    format!("{system}\n\n{HEADING}\n{summary}")
}

/// The tokens `text` takes by `backend`'s count, without a message's framing.
pub fn text_tokens(backend: &dyn ModelBackend, text: &str) -> usize {
    backend
        .count_tokens(&[ChatMessage::system(text)])
        .saturating_sub(backend.count_tokens(&[ChatMessage::system("")]))
}

/// `text`, trimmed, cut to at most `max_tokens` tokens by `backend`'s count:
/// at the last whitespace before the limit when there is one.
pub fn clip(backend: &dyn ModelBackend, text: &str, max_tokens: usize) -> String {
    let text = text.trim();
    if text_tokens(backend, text) <= max_tokens {
        return text.to_owned();
    }
    // The longest prefix that fits, found by bisection over char boundaries.
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(text.len()))
        .collect();
    let (mut fits, mut over) = (0, bounds.len() - 1);
    while over - fits > 1 {
        let middle = fits + (over - fits) / 2;
        if text_tokens(backend, &text[..bounds[middle]]) <= max_tokens {
            fits = middle;
        } else {
            over = middle;
        }
    }
    let cut = &text[..bounds[fits]];
    match cut.rfind(char::is_whitespace) {
        Some(space) if space > 0 => cut[..space].trim_end().to_owned(),
        _ => cut.trim_end().to_owned(),
    }
}

/// The request asking for the summary of `forgotten`, and how many of its
/// turns it takes in: as many of the oldest as fit `context_window` with
/// `max_tokens` left for the summary. A turn too long to fit alone is quoted
/// in part. `None` when not even the instructions and the previous summary fit.
pub fn request(
    backend: &dyn ModelBackend,
    context_window: usize,
    forgotten: &Forgotten,
    max_tokens: u32,
) -> Option<(ChatRequest, usize)> {
    let available = context_window.saturating_sub(max_tokens as usize);
    let previous = forgotten.previous.as_ref().map(|p| p.text.as_str());
    let ask = |transcript: &str| {
        vec![
            ChatMessage::system(INSTRUCTIONS),
            ChatMessage::user(prompt(previous, transcript)),
        ]
    };
    let fixed = backend.count_tokens(&ask(""));
    if fixed + MIN_QUOTE_TOKENS > available {
        return None;
    }
    let mut transcript = String::new();
    let mut taken = 0;
    for turn in &forgotten.turns {
        let lines = turn_lines(turn, MAX_QUOTED_CHARS);
        let longer = format!("{transcript}{lines}");
        if backend.count_tokens(&ask(&longer)) > available {
            break;
        }
        transcript = longer;
        taken += 1;
    }
    if taken == 0 {
        // The oldest turn alone is too long: quote what fits of it, so the
        // summary moves past it rather than stall there.
        let turn = forgotten.turns.first()?;
        let room = (available - fixed) / 2;
        let quote = |message: &ChatMessage| {
            let mut message = message.clone();
            message.content = clip(backend, &message.content, room.saturating_sub(8));
            message
        };
        let cut = Turn::new(quote(&turn.user), quote(&turn.assistant));
        transcript = turn_lines(&cut, MAX_QUOTED_CHARS);
        taken = 1;
    }
    let request = ChatRequest {
        messages: ask(&transcript),
        params: GenerationParams {
            max_tokens: Some(max_tokens),
            temperature: Some(0.2),
            ..GenerationParams::default()
        },
        ..ChatRequest::default()
    };
    Some((request, taken))
}

/// The user message of a summary request.
fn prompt(previous: Option<&str>, transcript: &str) -> String {
    let previous = previous.map_or(String::new(), |text| {
        format!("Earlier summary:\n{text}\n\n")
    });
    format!("{previous}Conversation:\n{transcript}\nWrite the summary.")
}

/// A turn as transcript lines: who said what (tool calls and results left
/// out; the reply says what came of them).
fn turn_lines(turn: &Turn, max_chars: usize) -> String {
    let mut lines = String::new();
    for message in [&turn.user, &turn.assistant] {
        let who = match (message.role, message.name.as_deref()) {
            (_, Some(name)) => name,
            (Role::Assistant, None) => "Assistant",
            _ => "User",
        };
        let content: String = message.content.trim().chars().take(max_chars).collect();
        let more = if content.len() < message.content.trim().len() {
            "…"
        } else {
            ""
        };
        // The summary model reads words only; it is told a picture was there.
        let pictures = match message.images.len() {
            0 => String::new(),
            1 => " [sent a picture]".to_owned(),
            n => format!(" [sent {n} pictures]"),
        };
        lines.push_str(&format!("{who}: {content}{more}{pictures}\n"));
    }
    lines
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::backend::{Capabilities, ModelError, estimate_message_tokens};
    use crate::chat::ChatStream;

    /// Counts tokens as natter estimates them; never answers.
    struct Counter;

    #[async_trait]
    impl ModelBackend for Counter {
        fn capabilities(&self) -> Capabilities {
            Capabilities::new("counter", "counter", 4096)
        }

        fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
            estimate_message_tokens(messages)
        }

        async fn stream(&self, _: ChatRequest) -> Result<ChatStream, ModelError> {
            Err(ModelError::Busy)
        }
    }

    fn turn(n: usize, words: usize) -> Turn {
        Turn::new(
            ChatMessage::user(format!("question {n} {}", "word ".repeat(words))).with_name("Ann"),
            ChatMessage::assistant(format!("answer {n}")),
        )
    }

    #[test]
    fn a_clipped_text_fits_its_budget_and_ends_at_a_word() {
        let backend = Counter;
        let long = "lorem ipsum dolor ".repeat(200);
        let cut = clip(&backend, &long, 50);
        assert!(text_tokens(&backend, &cut) <= 50);
        assert!(text_tokens(&backend, &cut) >= 40, "not cut much shorter");
        assert!(long.starts_with(&cut) && !cut.ends_with(' '));
        assert_eq!(clip(&backend, "  short  ", 50), "short");
        let no_spaces = "é".repeat(1000);
        assert!(text_tokens(&backend, &clip(&backend, &no_spaces, 10)) <= 10);
    }

    #[test]
    fn the_request_quotes_the_previous_summary_and_the_oldest_turns_that_fit() {
        let backend = Counter;
        let forgotten = Forgotten {
            previous: Some(RollingSummary {
                text: "Ann likes tea.".into(),
                turns_covered: 2,
            }),
            turns: (3..10).map(|n| turn(n, 40)).collect(),
            turns_covered: 9,
        };
        let (request, taken) = request(&backend, 400, &forgotten, 100).unwrap();
        assert!(taken > 0 && taken < 7, "{taken} turns taken");
        assert!(backend.count_tokens(&request.messages) <= 300);
        let asked = &request.messages[1].content;
        assert!(asked.contains("Ann likes tea."), "{asked}");
        assert!(asked.contains("Ann: question 3 word"), "{asked}");
        assert!(asked.contains("Assistant: answer 3"), "{asked}");
        assert!(!asked.contains(&format!("question {}", 3 + taken)));
        assert_eq!(request.params.max_tokens, Some(100));
    }

    #[test]
    fn a_picture_in_a_turn_is_named_not_sent() {
        let mut with_picture = turn(1, 2);
        with_picture.user.images = vec![crate::chat::ImagePart {
            reference: "photo".into(),
            mime: "image/jpeg".into(),
            base64: "/9j/".into(),
        }];
        let lines = turn_lines(&with_picture, 200);
        assert!(
            lines.starts_with("Ann: question 1 word word [sent a picture]\n"),
            "{lines}"
        );
        let forgotten = Forgotten {
            previous: None,
            turns: vec![with_picture],
            turns_covered: 1,
        };
        let (request, _) = request(&Counter, 2000, &forgotten, 100).unwrap();
        assert!(request.messages.iter().all(|m| m.images.is_empty()));
    }

    #[test]
    fn a_turn_too_long_for_the_model_is_quoted_in_part() {
        let backend = Counter;
        let forgotten = Forgotten {
            previous: None,
            turns: vec![turn(1, 2000)],
            turns_covered: 1,
        };
        let (request, taken) = request(&backend, 500, &forgotten, 100).unwrap();
        assert_eq!(taken, 1);
        assert!(backend.count_tokens(&request.messages) <= 400);
        assert!(request.messages[1].content.contains("question 1"));
        assert!(
            super::request(&backend, 120, &forgotten, 100).is_none(),
            "no room at all"
        );
    }
}
