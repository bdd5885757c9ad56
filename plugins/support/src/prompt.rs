//! Putting the best excerpts into the system prompt, numbered so the model
//! can cite them, within the model's token budget.

use natter_core::{ChatMessage, ChatRequest, Role};

use crate::index::Hit;

/// The excerpts as the model sees them: `[1] shipping.md — Delivery times`
/// and the text, then `[2] …`.
pub fn excerpts(hits: &[Hit<'_>]) -> String {
    hits.iter()
        .enumerate()
        .map(|(i, hit)| format!("[{}] {}\n{}", i + 1, hit.chunk.title(), hit.chunk.text))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The system prompt with the instructions and the excerpts appended.
fn compose(system: &str, instructions: &str, hits: &[Hit<'_>]) -> String {
    let mut text = system.trim_end().to_owned();
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(instructions.trim());
    text.push_str("\n\nExcerpts from our help articles:\n\n");
    if hits.is_empty() {
        text.push_str("(none matched the question)");
    } else {
        text.push_str(&excerpts(hits));
    }
    text
}

/// What [`add_excerpts`] had to leave out to fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fitted {
    /// Excerpts that went in.
    pub excerpts: usize,
    /// History messages dropped (oldest first) to make room.
    pub dropped_messages: usize,
}

/// Adds `instructions` and the excerpts of `hits` to the system message of
/// `request` (creating one if there is none). While `fits` says the messages
/// are too long, drops the oldest history turns first, then the lowest-ranked
/// excerpts (always keeping the best one).
pub fn add_excerpts(
    request: &mut ChatRequest,
    instructions: &str,
    hits: &[Hit<'_>],
    fits: impl Fn(&[ChatMessage]) -> bool,
) -> Fitted {
    match request.messages.iter().position(|m| m.role == Role::System) {
        Some(0) => {}
        Some(i) => {
            let system = request.messages.remove(i);
            request.messages.insert(0, system);
        }
        None => request.messages.insert(0, ChatMessage::system("")),
    }
    let base = request.messages[0].content.clone();
    let mut fitted = Fitted {
        excerpts: hits.len(),
        dropped_messages: 0,
    };
    loop {
        request.messages[0].content = compose(&base, instructions, &hits[..fitted.excerpts]);
        if fits(&request.messages) {
            break;
        }
        // History sits between the system prompt and the new message.
        if request.messages.len() > 2 {
            request.messages.remove(1);
            fitted.dropped_messages += 1;
            // Keep turns whole: a reply without its question goes too.
            if request.messages.len() > 2 && request.messages[1].role == Role::Assistant {
                request.messages.remove(1);
                fitted.dropped_messages += 1;
            }
        } else if fitted.excerpts > 1 {
            fitted.excerpts -= 1;
        } else {
            break;
        }
    }
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::Chunk;

    fn request(history_turns: usize) -> ChatRequest {
        let mut messages = vec![ChatMessage::system("You are Shopbot.")];
        for n in 0..history_turns {
            messages.push(ChatMessage::user(format!("question {n}")));
            messages.push(ChatMessage::assistant(format!("answer {n}")));
        }
        messages.push(ChatMessage::user("How long is delivery?"));
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }

    fn chunks() -> Vec<Chunk> {
        vec![
            Chunk::new("shipping.md", Some("Delivery times".into()), "3-5 days."),
            Chunk::new("warranty.txt", None, "Two years."),
        ]
    }

    fn hits(chunks: &[Chunk]) -> Vec<Hit<'_>> {
        chunks
            .iter()
            .map(|chunk| Hit { chunk, score: 2.0 })
            .collect()
    }

    #[test]
    fn excerpts_are_numbered_with_their_source() {
        let chunks = chunks();
        let mut request = request(1);
        let fitted = add_excerpts(&mut request, "Cite them.", &hits(&chunks), |_| true);
        assert_eq!(
            fitted,
            Fitted {
                excerpts: 2,
                dropped_messages: 0
            }
        );
        assert_eq!(
            request.messages[0].content,
            "You are Shopbot.\n\nCite them.\n\nExcerpts from our help articles:\n\n\
             [1] shipping.md — Delivery times\n3-5 days.\n\n[2] warranty.txt\nTwo years."
        );
        assert_eq!(request.messages.len(), 4, "history untouched");
    }

    #[test]
    fn a_missing_system_message_is_created() {
        let chunks = chunks();
        let mut request = ChatRequest {
            messages: vec![ChatMessage::user("hi")],
            ..ChatRequest::default()
        };
        add_excerpts(&mut request, "Cite them.", &hits(&chunks[..1]), |_| true);
        assert_eq!(request.messages[0].role, Role::System);
        assert!(request.messages[0].content.starts_with("Cite them."));
        assert_eq!(request.messages[1].content, "hi");
    }

    #[test]
    fn history_goes_before_excerpts_when_it_does_not_fit() {
        let chunks = chunks();
        let total = |m: &[ChatMessage]| m.iter().map(|m| m.content.len()).sum::<usize>();
        let full = {
            let mut r = request(3);
            add_excerpts(&mut r, "Cite them.", &hits(&chunks), |_| true);
            total(&r.messages)
        };
        // Room for everything but one turn.
        let mut r = request(3);
        let fitted = add_excerpts(&mut r, "Cite them.", &hits(&chunks), |m| {
            total(m) <= full - 10
        });
        assert_eq!(
            fitted,
            Fitted {
                excerpts: 2,
                dropped_messages: 2
            }
        );
        assert_eq!(
            r.messages[1].content, "question 1",
            "oldest turn dropped whole"
        );
        assert_eq!(
            r.messages.last().map(|m| m.content.as_str()),
            Some("How long is delivery?")
        );

        // Room for almost nothing: the best excerpt stays, the new message stays.
        let mut r = request(3);
        let fitted = add_excerpts(&mut r, "Cite them.", &hits(&chunks), |_| false);
        assert_eq!(
            fitted,
            Fitted {
                excerpts: 1,
                dropped_messages: 6
            }
        );
        assert_eq!(r.messages.len(), 2);
        assert!(r.messages[0].content.contains("[1] shipping.md"));
        assert!(!r.messages[0].content.contains("[2]"));
    }
}
