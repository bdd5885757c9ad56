//! The hand-off notice `/human` posts to the support team: who asks, where,
//! their note, and the conversation's last turns.

use natter_core::{Incoming, Role, Turn};

/// Longest text of one message quoted in a notice, in characters.
const QUOTE_CHARS: usize = 600;

/// The notice for `message` (a `/human` command) with `note` and the last
/// `turns` of its conversation.
pub fn notice(message: &Incoming, note: &str, turns: &[Turn]) -> String {
    let author = &message.author;
    let mut text = format!(
        "🙋 **Hand-off request** from **{}** (user id {}) in {}\n",
        author.display_name, author.id, message.channel
    );
    if note.trim().is_empty() {
        text.push_str("Note: (none)\n");
    } else {
        text.push_str(&format!("Note: {}\n", note.trim()));
    }
    if turns.is_empty() {
        text.push_str("\nNo earlier conversation.");
        return text;
    }
    let s = if turns.len() == 1 { "" } else { "s" };
    text.push_str(&format!("\nLast {} turn{s}:\n", turns.len()));
    for turn in turns {
        for said in [&turn.user, &turn.assistant] {
            let who = match (said.role, &said.name) {
                (Role::Assistant, _) => "Bot",
                (_, Some(name)) => name.as_str(),
                (_, None) => author.display_name.as_str(),
            };
            text.push_str(&quote(who, &said.content));
        }
    }
    text.trim_end().to_owned()
}

/// `> **who:** text`, every line quoted, long text cut.
fn quote(who: &str, said: &str) -> String {
    let said = said.trim();
    let mut cut: String = said.chars().take(QUOTE_CHARS).collect();
    if cut.len() < said.len() {
        cut.push('…');
    }
    let mut lines = cut.lines();
    let mut out = format!("> **{who}:** {}\n", lines.next().unwrap_or_default());
    for line in lines {
        out.push_str(&format!("> {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use natter_core::{
        Addressed, Author, ChannelRef, ChatMessage, ConversationKey, MessageId, Platform,
    };

    use super::*;

    fn message() -> Incoming {
        Incoming {
            key: ConversationKey::new(Platform::new("telegram"), "chat/42"),
            channel: ChannelRef::private(Platform::new("telegram"), "42"),
            id: MessageId("7".into()),
            author: Author::user("42", "Alice"),
            text: "/human parcel lost".into(),
            addressed: Addressed::Command,
            replied_to_text: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn names_the_user_the_place_the_note_and_the_turns() {
        let turns = vec![
            Turn::new(
                ChatMessage::user("Where is my parcel?\nOrder 1234."),
                ChatMessage::assistant("I couldn't find anything about that."),
            ),
            Turn::new(
                ChatMessage::user("hello?").with_name("Bob"),
                ChatMessage::assistant("x".repeat(700)),
            ),
        ];
        let text = notice(&message(), " parcel lost ", &turns);
        let expected_head = "🙋 **Hand-off request** from **Alice** (user id 42) in telegram:42\n\
                             Note: parcel lost\n\nLast 2 turns:\n\
                             > **Alice:** Where is my parcel?\n> Order 1234.\n\
                             > **Bot:** I couldn't find anything about that.\n\
                             > **Bob:** hello?\n> **Bot:** xxx";
        assert!(text.starts_with(expected_head), "{text}");
        assert!(
            text.ends_with(&format!("{}…", "x".repeat(10))),
            "long text cut"
        );
        assert!(!text.contains(&"x".repeat(601)));
    }

    #[test]
    fn without_note_or_history() {
        let text = notice(&message(), "", &[]);
        assert!(
            text.ends_with("Note: (none)\n\nNo earlier conversation."),
            "{text}"
        );
    }
}
