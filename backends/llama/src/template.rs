//! Chat templates: the Jinja template a GGUF file carries
//! (`tokenizer.chat_template`), rendered with minijinja the way Hugging Face
//! renders it, or ChatML when the file has none or it cannot be used.
//!
//! Tools: a template that mentions `tools` or `tool_calls` gets them the way
//! Hugging Face passes them (OpenAI-style `tools`, assistant `tool_calls`,
//! `tool` messages). Any other template — SmolLM2's included — gets calls and
//! results as plain text (`crate::tools::history`).

use std::collections::BTreeMap;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, Value};
use natter_core::{ChatMessage, Role, ToolDefinition};

use crate::tools::history;

const TEMPLATE_NAME: &str = "chat";

/// How a conversation becomes prompt text for one model.
pub struct ChatTemplate {
    /// `None` means ChatML.
    jinja: Option<Environment<'static>>,
    /// Whether the template renders tools and tool calls itself.
    knows_tools: bool,
    bos: String,
    eos: String,
}

/// A message's content as chat templates see it. Templates have no speaker
/// names; in group chats the model learns who talks from a "Name: " prefix
/// on user messages.
fn content_of(message: &ChatMessage) -> String {
    match (&message.name, message.role) {
        (Some(name), Role::User) => format!("{name}: {}", message.content),
        _ => message.content.clone(),
    }
}

/// `messages` as templates that know tools expect them (Hugging Face's shape).
fn messages_with_tools(messages: &[ChatMessage]) -> Vec<Value> {
    messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
            fields.insert("role", Value::from(message.role.as_str()));
            fields.insert("content", Value::from(content_of(message)));
            if !message.tool_calls.is_empty() {
                let calls: Vec<Value> = message
                    .tool_calls
                    .iter()
                    .map(|call| {
                        // Templates write arguments with `tojson`: give them
                        // the object, or the text when it is not JSON.
                        let arguments = serde_json::from_str::<serde_json::Value>(&call.arguments)
                            .map_or_else(|_| Value::from(call.arguments.clone()), |v| jinja(&v));
                        let function = BTreeMap::from([
                            ("name", Value::from(call.name.clone())),
                            ("arguments", arguments),
                        ]);
                        Value::from(BTreeMap::from([
                            ("id", Value::from(call.id.clone())),
                            ("type", Value::from("function")),
                            ("function", Value::from(function)),
                        ]))
                    })
                    .collect();
                fields.insert("tool_calls", Value::from(calls));
            }
            if let Some(id) = &message.tool_call_id {
                fields.insert("tool_call_id", Value::from(id.clone()));
                if let Some(name) = history::called_tool(&messages[..i], message) {
                    fields.insert("name", Value::from(name));
                }
            }
            Value::from(fields)
        })
        .collect()
}

/// `tools` as templates that know tools expect them (OpenAI's shape).
fn tools_value(tools: &[ToolDefinition]) -> Value {
    let tools: Vec<serde_json::Value> = tools
        .iter()
        .map(|tool| {
            serde_json::json!({
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }
            })
        })
        .collect();
    jinja(&serde_json::Value::Array(tools))
}

/// A JSON value as a template value.
fn jinja(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_u64().map(Value::from))
            .unwrap_or_else(|| Value::from(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::from(s.clone()),
        serde_json::Value::Array(items) => Value::from(items.iter().map(jinja).collect::<Vec<_>>()),
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), jinja(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

impl ChatTemplate {
    /// The template from `source` (the GGUF's `tokenizer.chat_template`), or
    /// ChatML with a warning when there is none or it does not render.
    /// `bos` and `eos` are the model's special token texts.
    pub fn new(source: Option<String>, bos: String, eos: String) -> Self {
        let chatml = Self {
            jinja: None,
            knows_tools: false,
            bos: bos.clone(),
            eos: eos.clone(),
        };
        let Some(source) = source.filter(|s| !s.trim().is_empty()) else {
            tracing::warn!("the model has no chat template; using ChatML");
            return chatml;
        };
        let knows_tools = source.contains("tool_calls") || source.contains("tools");
        let template = match jinja_environment(source) {
            Ok(env) => Self {
                jinja: Some(env),
                knows_tools,
                bos,
                eos,
            },
            Err(error) => {
                tracing::warn!(%error, "the model's chat template does not parse; using ChatML");
                return chatml;
            }
        };
        let probe = [
            ChatMessage::system("s"),
            ChatMessage::user("u"),
            ChatMessage::assistant("a"),
            ChatMessage::user("u"),
        ];
        match template.render(&probe, &[], true) {
            Ok(_) => template,
            Err(error) => {
                tracing::warn!(%error, "the model's chat template does not render; using ChatML");
                chatml
            }
        }
    }

    /// Whether this is the ChatML fallback rather than the model's own template.
    pub fn is_fallback(&self) -> bool {
        self.jinja.is_none()
    }

    /// Whether the template renders tools and tool calls itself.
    pub fn knows_tools(&self) -> bool {
        self.knows_tools
    }

    /// Prompt text for `messages`; with `add_generation_prompt` it ends where
    /// the assistant's reply begins. `tools` are shown by templates that
    /// know tools; others ignore them (the tool stages list them instead).
    pub fn render(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolDefinition],
        add_generation_prompt: bool,
    ) -> Result<String, minijinja::Error> {
        let env = match &self.jinja {
            Some(env) if self.knows_tools => env,
            Some(env) => {
                let plain = history::without_tool_roles(messages);
                let plain: Vec<Value> = plain
                    .iter()
                    .map(|m| {
                        Value::from(BTreeMap::from([
                            ("role", Value::from(m.role.as_str())),
                            ("content", Value::from(content_of(m))),
                        ]))
                    })
                    .collect();
                return self.render_jinja(env, plain, None, add_generation_prompt);
            }
            None => {
                let plain = history::without_tool_roles(messages);
                return Ok(chatml(&plain, add_generation_prompt));
            }
        };
        let tools = (!tools.is_empty()).then(|| tools_value(tools));
        self.render_jinja(
            env,
            messages_with_tools(messages),
            tools,
            add_generation_prompt,
        )
    }

    fn render_jinja(
        &self,
        env: &Environment<'static>,
        messages: Vec<Value>,
        tools: Option<Value>,
        add_generation_prompt: bool,
    ) -> Result<String, minijinja::Error> {
        let mut context: BTreeMap<&str, Value> = BTreeMap::from([
            ("messages", Value::from(messages)),
            ("add_generation_prompt", Value::from(add_generation_prompt)),
            ("bos_token", Value::from(self.bos.clone())),
            ("eos_token", Value::from(self.eos.clone())),
        ]);
        // Left undefined without tools: templates test `tools is defined`.
        if let Some(tools) = tools {
            context.insert("tools", tools);
        }
        env.get_template(TEMPLATE_NAME)?.render(context)
    }
}

/// A minijinja environment that behaves like the one Hugging Face renders
/// chat templates with: blocks trimmed, Python string methods, `raise_exception`.
fn jinja_environment(source: String) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |message: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        },
    );
    env.add_template_owned(TEMPLATE_NAME, source)?;
    Ok(env)
}

fn chatml(messages: &[ChatMessage], add_generation_prompt: bool) -> String {
    let mut out = String::new();
    for message in messages {
        out.push_str("<|im_start|>");
        out.push_str(message.role.as_str());
        out.push('\n');
        out.push_str(&content_of(message));
        out.push_str("<|im_end|>\n");
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use natter_core::ToolCall;

    use super::*;

    /// The template SmolLM2 ships (tokenizer_config.json of SmolLM2-135M-Instruct).
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    fn conversation() -> Vec<ChatMessage> {
        vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hi").with_name("Alice"),
            ChatMessage::assistant("Hello!"),
        ]
    }

    #[test]
    fn renders_the_models_jinja_template() {
        let t = ChatTemplate::new(Some(SMOLLM2.into()), String::new(), String::new());
        assert!(!t.is_fallback());
        let text = t.render(&conversation(), &[], true).unwrap_or_default();
        assert_eq!(
            text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nAlice: Hi<|im_end|>\n\
             <|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n"
        );
        let no_system = t
            .render(&[ChatMessage::user("x")], &[], false)
            .unwrap_or_default();
        assert!(no_system.starts_with("<|im_start|>system\nYou are a helpful AI assistant"));
    }

    #[test]
    fn hugging_face_whitespace_rules_and_python_methods_apply() {
        let source = "{{ bos_token }}{% for m in messages %}\n  {% if m.role == 'user' %}\n[{{ m.content.strip() | upper }}]\n  {% endif %}\n{% endfor %}";
        let t = ChatTemplate::new(Some(source.into()), "<s>".into(), "</s>".into());
        assert!(!t.is_fallback());
        let text = t
            .render(&[ChatMessage::user("  hey  ")], &[], false)
            .unwrap_or_default();
        assert_eq!(text, "<s>[HEY]\n");
    }

    fn with_a_call() -> Vec<ChatMessage> {
        vec![
            ChatMessage::user("Tea in 10 minutes"),
            ChatMessage::tool_calls(
                "",
                vec![ToolCall::new(
                    "c1",
                    "remind_set",
                    r#"{"when":"in 10 minutes"}"#,
                )],
            ),
            ChatMessage::tool_result("c1", "set for 10:42"),
        ]
    }

    #[test]
    fn templates_without_tools_get_calls_and_results_as_text() {
        let t = ChatTemplate::new(Some(SMOLLM2.into()), String::new(), String::new());
        assert!(!t.knows_tools());
        let tool = ToolDefinition {
            name: "remind_set".into(),
            description: "Set a reminder.".into(),
            parameters: serde_json::json!({"type": "object"}),
        };
        let text = t.render(&with_a_call(), &[tool], true).unwrap_or_default();
        assert_eq!(
            text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
             <|im_start|>user\nTea in 10 minutes<|im_end|>\n\
             <|im_start|>assistant\nTool: remind_set\nArguments: {\"when\":\"in 10 minutes\"}<|im_end|>\n\
             <|im_start|>user\nResult of remind_set: set for 10:42<|im_end|>\n\
             <|im_start|>assistant\n"
        );
        let chatml = ChatTemplate::new(None, String::new(), String::new());
        assert!(
            chatml
                .render(&with_a_call(), &[], false)
                .unwrap_or_default()
                .contains("<|im_start|>user\nResult of remind_set: set for 10:42<|im_end|>")
        );
    }

    #[test]
    fn templates_that_know_tools_get_them_the_hugging_face_way() {
        let source = "{% if tools is defined %}[tools:{% for t in tools %}{{ t.function.name }}({{ t.function.parameters.type }}){% endfor %}]{% endif %}\
            {% for m in messages %}<{{ m.role }}>{{ m.content }}\
            {% for c in m.tool_calls %}{call {{ c.id }} {{ c.type }} {{ c.function.name }} {{ c.function.arguments.when }}}{% endfor %}\
            {% if m.tool_call_id %}{result of {{ m.name }} for {{ m.tool_call_id }}}{% endif %}{% endfor %}";
        let t = ChatTemplate::new(Some(source.into()), String::new(), String::new());
        assert!(t.knows_tools());
        let tool = ToolDefinition {
            name: "remind_set".into(),
            description: "Set a reminder.".into(),
            parameters: serde_json::json!({"type": "object"}),
        };
        let text = t.render(&with_a_call(), &[tool], false).unwrap_or_default();
        assert_eq!(
            text,
            "[tools:remind_set(object)]<user>Tea in 10 minutes<assistant>\
             {call c1 function remind_set in 10 minutes}<tool>set for 10:42{result of remind_set for c1}"
        );
        let without = t.render(&with_a_call(), &[], false).unwrap_or_default();
        assert!(without.starts_with("<user>"), "{without}");
    }

    #[test]
    fn missing_or_broken_templates_fall_back_to_chatml() {
        for source in [
            None,
            Some("{% for %}".to_owned()),
            Some("{{ raise_exception('no') }}".to_owned()),
        ] {
            let t = ChatTemplate::new(source, String::new(), String::new());
            assert!(t.is_fallback());
            let text = t.render(&conversation(), &[], true).unwrap_or_default();
            assert!(
                text.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n"),
                "{text}"
            );
            assert!(text.ends_with("<|im_start|>assistant\n"));
        }
    }
}
