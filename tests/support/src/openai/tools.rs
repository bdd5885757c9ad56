//! The fake model's tool calls: scripted ([`super::Behaviour::ToolCalls`]),
//! or — when a request requires a call and nothing is scripted — one call of
//! the required (or first) tool with arguments made from its schema. They go
//! out the ways real servers send them ([`ToolCallStyle`]).

use serde_json::{Value, json};

use super::schema::minimal_instance;

/// How the fake sends tool calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCallStyle {
    /// What the model says before it calls (streamed first, as text deltas).
    pub text: String,
    /// Every call whole in one chunk (as Ollama sends them), instead of in
    /// pieces: the id and name first, the arguments in fragments, two calls'
    /// fragments interleaved by index (as OpenAI streams them).
    pub whole: bool,
    /// Calls carry an id (some servers send none).
    pub ids: bool,
    /// The finish reason: `tool_calls` (OpenAI) or `stop` (some servers).
    pub finish_reason: String,
}

impl Default for ToolCallStyle {
    /// As OpenAI sends them.
    fn default() -> Self {
        Self {
            text: String::new(),
            whole: false,
            ids: true,
            finish_reason: "tool_calls".into(),
        }
    }
}

/// One call the fake makes.
#[derive(Clone, Debug)]
pub(crate) struct FakeCall {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

impl FakeCall {
    fn wire(&self, index: usize, style: &ToolCallStyle, arguments: &str) -> Value {
        let mut call = json!({
            "index": index,
            "type": "function",
            "function": {"name": self.name, "arguments": arguments},
        });
        if style.ids {
            call["id"] = json!(self.id);
        }
        call
    }
}

/// The streamed deltas carrying `calls` (each delta one chunk's `delta`).
pub(crate) fn call_deltas(calls: &[FakeCall], style: &ToolCallStyle) -> Vec<Value> {
    if style.whole {
        let whole: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(index, call)| call.wire(index, style, &call.arguments))
            .collect();
        return vec![json!({"tool_calls": whole})];
    }
    let mut deltas: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(index, call)| json!({"tool_calls": [call.wire(index, style, "")]}))
        .collect();
    let fragments: Vec<Vec<String>> = calls
        .iter()
        .map(|call| fragments(&call.arguments, 3))
        .collect();
    let rounds = fragments.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for (index, pieces) in fragments.iter().enumerate() {
            if let Some(piece) = pieces.get(round) {
                deltas.push(json!({"tool_calls": [
                    {"index": index, "function": {"arguments": piece}}
                ]}));
            }
        }
    }
    deltas
}

/// The `message` of a reply that was not streamed.
pub(crate) fn call_message(calls: &[FakeCall], style: &ToolCallStyle) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|call| {
            let mut wire = call.wire(0, style, &call.arguments);
            if let Some(fields) = wire.as_object_mut() {
                fields.remove("index");
            }
            wire
        })
        .collect();
    let content = if style.text.is_empty() {
        Value::Null
    } else {
        json!(style.text)
    };
    json!({"role": "assistant", "content": content, "tool_calls": calls})
}

/// The call a request forces, as (name, arguments), when its `tool_choice`
/// is `required` (the first tool) or names a function (that one).
pub(crate) fn forced_call(body: &Value) -> Option<(String, String)> {
    let tools = body["tools"].as_array()?;
    let function = match &body["tool_choice"] {
        Value::String(choice) if choice == "required" => &tools.first()?["function"],
        Value::Object(_) => {
            let name = body["tool_choice"]["function"]["name"].as_str()?;
            &tools.iter().find(|tool| tool["function"]["name"] == name)?["function"]
        }
        _ => return None,
    };
    let name = function["name"].as_str()?.to_owned();
    Some((name, minimal_instance(&function["parameters"]).to_string()))
}

/// `text` in up to `n` pieces of about equal length.
fn fragments(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, name: &str, arguments: &str) -> FakeCall {
        FakeCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn openai_style_sends_ids_once_and_interleaves_argument_fragments() {
        let calls = [
            call("a", "f", r#"{"city":"Oslo"}"#),
            call("b", "g", r#"{"n":1}"#),
        ];
        let deltas = call_deltas(&calls, &ToolCallStyle::default());
        let pieces: Vec<&Value> = deltas.iter().map(|d| &d["tool_calls"][0]).collect();
        let indexes: Vec<u64> = pieces.iter().filter_map(|p| p["index"].as_u64()).collect();
        assert_eq!(indexes, [0, 1, 0, 1, 0, 1, 0, 1]);
        let ids = pieces.iter().filter(|p| p.get("id").is_some()).count();
        assert_eq!(ids, 2, "an id on the first piece of each call only");
        let first: String = pieces
            .iter()
            .filter(|p| p["index"] == 0)
            .filter_map(|p| p["function"]["arguments"].as_str())
            .collect();
        assert_eq!(first, r#"{"city":"Oslo"}"#);
    }

    #[test]
    fn forced_calls_follow_tool_choice() {
        let tool = |name: &str| {
            json!({"type": "function", "function": {"name": name, "parameters": {
                "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]
            }}})
        };
        let tools = json!([tool("first"), tool("second")]);
        let forced = |choice: Value| forced_call(&json!({"tools": tools, "tool_choice": choice}));
        assert_eq!(
            forced(json!("required")),
            Some(("first".into(), r#"{"q":"example"}"#.into()))
        );
        let named = json!({"type": "function", "function": {"name": "second"}});
        assert_eq!(forced(named).map(|c| c.0).as_deref(), Some("second"));
        assert_eq!(forced(json!("auto")), None);
        assert_eq!(forced_call(&json!({"tool_choice": "required"})), None);
    }
}
