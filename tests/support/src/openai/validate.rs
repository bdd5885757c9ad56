//! What the fake refuses as OpenAI does (HTTP 400, OpenAI's own words): a
//! `tool_choice` without `tools`, a tool that is not `{"type": "function",
//! "function": {"name", …}}`, a history call without id, name or string
//! arguments, a tool message that answers no call of the assistant message
//! before it, and a call left without its answer. So a client that gets the
//! tool parts of the protocol wrong fails against the fake as it would
//! against the real API.

use std::collections::HashSet;

use serde_json::Value;

/// OpenAI's error message for the first fault of `body`, if it has one.
pub(crate) fn fault(body: &Value) -> Option<String> {
    tools_fault(body).or_else(|| history_fault(body))
}

fn tools_fault(body: &Value) -> Option<String> {
    let tools = body["tools"].as_array();
    if body.get("tool_choice").is_some() && tools.is_none_or(Vec::is_empty) {
        return Some(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
                .into(),
        );
    }
    for (i, tool) in tools.into_iter().flatten().enumerate() {
        if tool["type"] != "function" {
            return Some(format!(
                "Missing required parameter: 'tools[{i}].type' (must be 'function')."
            ));
        }
        if !tool["function"]["name"].is_string() {
            return Some(format!(
                "Missing required parameter: 'tools[{i}].function.name'."
            ));
        }
    }
    None
}

fn history_fault(body: &Value) -> Option<String> {
    let messages = body["messages"].as_array()?;
    // Ids of the last assistant message's calls not yet answered.
    let mut open: HashSet<String> = HashSet::new();
    let mut answering = false;
    for (i, message) in messages.iter().enumerate() {
        if message["role"] == "tool" {
            let id = message["tool_call_id"].as_str().unwrap_or_default();
            if !answering || !open.remove(id) {
                return Some(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
                        .into(),
                );
            }
            continue;
        }
        if !open.is_empty() {
            return Some(unanswered(&open));
        }
        answering = false;
        let Some(calls) = message["tool_calls"].as_array() else {
            continue;
        };
        for (j, call) in calls.iter().enumerate() {
            let at = format!("messages[{i}].tool_calls[{j}]");
            let Some(id) = call["id"].as_str() else {
                return Some(format!("Missing required parameter: '{at}.id'."));
            };
            if call["type"] != "function" || !call["function"]["name"].is_string() {
                return Some(format!("Missing required parameter: '{at}.function.name'."));
            }
            if !call["function"]["arguments"].is_string() {
                return Some(format!(
                    "Invalid type for '{at}.function.arguments': expected a string."
                ));
            }
            open.insert(id.to_owned());
        }
        answering = !calls.is_empty();
    }
    (!open.is_empty()).then(|| unanswered(&open))
}

fn unanswered(open: &HashSet<String>) -> String {
    let mut ids: Vec<&str> = open.iter().map(String::as_str).collect();
    ids.sort_unstable();
    format!(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
        ids.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_call_and_its_answer_pass_and_a_stray_answer_does_not() {
        let call = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]});
        let answer = json!({"role": "tool", "tool_call_id": "c1", "content": "ok"});
        let user = json!({"role": "user", "content": "hi"});
        let ok = json!({"messages": [user, call, answer]});
        assert_eq!(fault(&ok), None);
        let stray = json!({"messages": [user, answer]});
        assert!(fault(&stray).unwrap().contains("role 'tool'"));
        let unanswered = json!({"messages": [call, user]});
        assert!(fault(&unanswered).unwrap().contains("c1"));
        let last = json!({"messages": [user, call]});
        assert!(fault(&last).unwrap().contains("c1"));
        let choice_alone = json!({"messages": [user], "tool_choice": "none"});
        assert!(fault(&choice_alone).unwrap().contains("tool_choice"));
    }
}
