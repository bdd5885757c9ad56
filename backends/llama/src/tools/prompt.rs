//! What the model reads during the tool stages: a short instruction listing
//! the tools (name, description, a compact summary of the arguments), and
//! the fixed assistant text the stages start from. A call in history is
//! written in the same words, so the model sees its earlier calls the way it
//! makes them.

use natter_core::{ToolCall, ToolDefinition};
use serde_json::{Map, Value};

/// Assistant text before the choice (the model continues with " name").
pub const CHOICE_LEAD_IN: &str = "Tool:";
/// Put before the user's request when the instruction precedes it.
pub const REQUEST_LABEL: &str = "Request:";
/// Assistant text before the arguments (the model continues with " {…}").
pub const ARGUMENTS_LEAD_IN: &str = "Arguments:";
/// The option of stage one that means "no tool": it has a space, so no tool
/// can be named so.
pub const ANSWER_OPTION: &str = "no tool";
/// Longest argument summary shown per tool; longer ones are cut.
const MAX_SUMMARY_CHARS: usize = 400;

/// How strongly the instruction asks for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The model may answer in words instead.
    MayCall,
    /// The model must call one of the tools.
    MustCall,
}

/// The instruction appended to the conversation for the tool stages.
pub fn instruction(tools: &[&ToolDefinition], ask: Ask) -> String {
    let mut text = String::from("You can use these tools:\n");
    for tool in tools {
        text.push_str("- ");
        text.push_str(&tool.name);
        let description = tool.description.trim();
        if !description.is_empty() {
            text.push_str(": ");
            text.push_str(description);
        }
        text.push_str(" Arguments: ");
        text.push_str(&arguments_summary(&tool.parameters));
        text.push('\n');
    }
    match ask {
        Ask::MayCall => text.push_str(&format!(
            "If a tool does what the user asks, reply \"{CHOICE_LEAD_IN} <name>\". \
             Otherwise reply \"{CHOICE_LEAD_IN} {ANSWER_OPTION}\"."
        )),
        Ask::MustCall => text.push_str(&format!(
            "Reply \"{CHOICE_LEAD_IN} <name>\" with the tool to use."
        )),
    }
    text
}

/// A call as assistant text: the stages' own words.
pub fn call_text(call: &ToolCall) -> String {
    format!(
        "{CHOICE_LEAD_IN} {}\n{ARGUMENTS_LEAD_IN} {}",
        call.name, call.arguments
    )
}

/// The arguments a schema describes, compactly: `{"when": string, "note"?: string|null}`.
pub fn arguments_summary(schema: &Value) -> String {
    let mut summary = summary(schema, 0);
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        summary = summary.chars().take(MAX_SUMMARY_CHARS).collect();
        summary.push('…');
    }
    summary
}

/// Nesting deeper than this is summarised as "…".
const MAX_DEPTH: usize = 3;

fn summary(schema: &Value, depth: usize) -> String {
    let Value::Object(map) = schema else {
        return "any".to_owned();
    };
    if depth > MAX_DEPTH {
        return "…".to_owned();
    }
    if let Some(value) = map.get("const") {
        return value.to_string();
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("|");
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = map.get(keyword) {
            return options
                .iter()
                .map(|o| summary(o, depth + 1))
                .collect::<Vec<_>>()
                .join("|");
        }
    }
    if let Some(Value::Array(parts)) = map.get("allOf")
        && let [only] = parts.as_slice()
    {
        return summary(only, depth);
    }
    match map.get("type") {
        Some(Value::String(name)) => typed(map, name, depth),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(|name| typed(map, name, depth))
            .collect::<Vec<_>>()
            .join("|"),
        _ if map.contains_key("properties") => typed(map, "object", depth),
        _ if map.contains_key("items") => typed(map, "array", depth),
        _ => "any".to_owned(),
    }
}

fn typed(map: &Map<String, Value>, name: &str, depth: usize) -> String {
    match name {
        "object" => object(map, depth),
        "array" => format!(
            "[{}]",
            map.get("items")
                .map_or_else(|| "any".to_owned(), |items| summary(items, depth + 1))
        ),
        other => other.to_owned(),
    }
}

fn object(map: &Map<String, Value>, depth: usize) -> String {
    let Some(Value::Object(properties)) = map.get("properties") else {
        return "object".to_owned();
    };
    let required: Vec<&str> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let members: Vec<String> = properties
        .iter()
        .map(|(name, schema)| {
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            format!(
                "{}{optional}: {}",
                Value::from(name.as_str()),
                summary(schema, depth + 1)
            )
        })
        .collect();
    format!("{{{}}}", members.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn summaries_show_names_types_and_what_is_optional() {
        let schema = json!({
            "type": "object",
            "properties": {
                "when": {"type": "string", "description": "not shown"},
                "repeat": {"type": "string", "enum": ["never", "daily"]},
                "times": {"type": "integer", "minimum": 0},
                "note": {"type": ["string", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "place": {"anyOf": [{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, {"type": "null"}]}
            },
            "required": ["when", "repeat", "times", "tags"]
        });
        assert_eq!(
            arguments_summary(&schema),
            r#"{"note"?: string|null, "place"?: {"city": string}|null, "repeat": "never"|"daily", "tags": [string], "times": integer, "when": string}"#
        );
        assert_eq!(arguments_summary(&json!({"type": "object"})), "object");
        assert_eq!(arguments_summary(&json!(true)), "any");
    }

    #[test]
    fn long_summaries_are_cut() {
        let properties: Map<String, Value> = (0..100)
            .map(|i| (format!("field{i}"), json!({"type": "string"})))
            .collect();
        let summary = arguments_summary(&json!({"type": "object", "properties": properties}));
        assert_eq!(summary.chars().count(), MAX_SUMMARY_CHARS + 1);
        assert!(summary.ends_with('…'));
    }

    #[test]
    fn the_instruction_lists_each_tool_and_how_to_choose() {
        let tool = ToolDefinition {
            name: "remind_set".into(),
            description: "Set a reminder.".into(),
            parameters: json!({"type": "object", "properties": {"when": {"type": "string"}}, "required": ["when"]}),
        };
        assert_eq!(
            instruction(&[&tool], Ask::MayCall),
            "You can use these tools:\n\
             - remind_set: Set a reminder. Arguments: {\"when\": string}\n\
             If a tool does what the user asks, reply \"Tool: <name>\". Otherwise reply \"Tool: no tool\"."
        );
        assert!(
            instruction(&[&tool], Ask::MustCall)
                .ends_with("Reply \"Tool: <name>\" with the tool to use.")
        );
        let call = ToolCall::new("c1", "remind_set", r#"{"when":"at 9"}"#);
        assert_eq!(
            call_text(&call),
            "Tool: remind_set\nArguments: {\"when\":\"at 9\"}"
        );
    }
}
