//! Tool calls and results in history, for chat templates that know no tools
//! (SmolLM2's plain ChatML): an assistant's calls become text lines in its
//! message, in the stages' own words, and the results of one step become a
//! single user message — roles every template accepts, still alternating.
//! The rendering depends only on the messages, so a conversation's prefix
//! stays the same from turn to turn and its warm slot is reused.

use natter_core::{ChatMessage, Role};

use super::prompt::call_text;

/// `messages` with tool calls and results written as plain text.
pub fn without_tool_roles(messages: &[ChatMessage]) -> Vec<ChatMessage> {
    let mut plain: Vec<ChatMessage> = Vec::with_capacity(messages.len());
    let mut results_open = false;
    for (i, message) in messages.iter().enumerate() {
        match message.role {
            Role::Tool => {
                let line = result_line(&messages[..i], message);
                match plain.last_mut() {
                    Some(last) if results_open => {
                        last.content.push('\n');
                        last.content.push_str(&line);
                    }
                    _ => plain.push(ChatMessage::user(line)),
                }
                results_open = true;
                continue;
            }
            Role::Assistant if !message.tool_calls.is_empty() => {
                let mut lines: Vec<String> = Vec::with_capacity(message.tool_calls.len() + 1);
                if !message.content.trim().is_empty() {
                    lines.push(message.content.clone());
                }
                lines.extend(message.tool_calls.iter().map(call_text));
                plain.push(ChatMessage {
                    content: lines.join("\n"),
                    tool_calls: Vec::new(),
                    ..message.clone()
                });
            }
            _ => plain.push(message.clone()),
        }
        results_open = false;
    }
    plain
}

/// The name of the tool whose call `result` answers: the latest call in
/// `earlier` with its id.
pub fn called_tool<'a>(earlier: &'a [ChatMessage], result: &ChatMessage) -> Option<&'a str> {
    let id = result.tool_call_id.as_deref()?;
    earlier
        .iter()
        .rev()
        .flat_map(|m| m.tool_calls.iter())
        .find(|call| call.id == id)
        .map(|call| call.name.as_str())
}

/// "Result of remind_set: …", naming the tool when the call is known.
fn result_line(earlier: &[ChatMessage], result: &ChatMessage) -> String {
    match called_tool(earlier, result) {
        Some(name) => format!("Result of {name}: {}", result.content),
        None => format!("Tool result: {}", result.content),
    }
}

#[cfg(test)]
mod tests {
    use natter_core::ToolCall;

    use super::*;

    #[test]
    fn calls_become_lines_and_one_steps_results_one_user_message() {
        let messages = vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Tea in 10 minutes, and what time is it?"),
            ChatMessage::tool_calls(
                "On it.",
                vec![
                    ToolCall::new("a", "remind_set", r#"{"when":"in 10 minutes"}"#),
                    ToolCall::new("b", "clock", "{}"),
                ],
            ),
            ChatMessage::tool_result("a", "set for 10:42"),
            ChatMessage::tool_result("b", "10:32"),
            ChatMessage::tool_result("zz", "orphan"),
            ChatMessage::assistant("Done: tea at 10:42; it is 10:32."),
            ChatMessage::user("Thanks"),
        ];
        let plain = without_tool_roles(&messages);
        let shape: Vec<(Role, &str)> = plain.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            shape,
            vec![
                (Role::System, "Be brief."),
                (Role::User, "Tea in 10 minutes, and what time is it?"),
                (
                    Role::Assistant,
                    "On it.\nTool: remind_set\nArguments: {\"when\":\"in 10 minutes\"}\nTool: clock\nArguments: {}"
                ),
                (
                    Role::User,
                    "Result of remind_set: set for 10:42\nResult of clock: 10:32\nTool result: orphan"
                ),
                (Role::Assistant, "Done: tea at 10:42; it is 10:32."),
                (Role::User, "Thanks"),
            ]
        );
        assert!(
            plain
                .iter()
                .all(|m| m.tool_calls.is_empty() && m.tool_call_id.is_none())
        );
    }

    #[test]
    fn results_of_separate_steps_stay_separate() {
        let messages = vec![
            ChatMessage::user("go"),
            ChatMessage::tool_calls("", vec![ToolCall::new("a", "x", "{}")]),
            ChatMessage::tool_result("a", "1"),
            ChatMessage::tool_calls("", vec![ToolCall::new("b", "y", "{}")]),
            ChatMessage::tool_result("b", "2"),
        ];
        let plain = without_tool_roles(&messages);
        let contents: Vec<&str> = plain.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(
            contents,
            vec![
                "go",
                "Tool: x\nArguments: {}",
                "Result of x: 1",
                "Tool: y\nArguments: {}",
                "Result of y: 2"
            ]
        );
    }
}
