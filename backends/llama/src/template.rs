//! Chat templates: the Jinja template a GGUF file carries
//! (`tokenizer.chat_template`), rendered with minijinja the way Hugging Face
//! renders it, or ChatML when the file has none or it cannot be used.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, context};
use natter_core::{ChatMessage, Role};

const TEMPLATE_NAME: &str = "chat";

/// How a conversation becomes prompt text for one model.
pub struct ChatTemplate {
    /// `None` means ChatML.
    jinja: Option<Environment<'static>>,
    bos: String,
    eos: String,
}

/// A message as chat templates expect it.
struct TemplateMessage<'a> {
    role: &'a str,
    content: String,
}

impl TemplateMessage<'_> {
    fn from(message: &ChatMessage) -> TemplateMessage<'_> {
        // Chat templates have no speaker names; in group chats the model
        // learns who talks from a "Name: " prefix on user messages.
        let content = match (&message.name, message.role) {
            (Some(name), Role::User) => format!("{name}: {}", message.content),
            _ => message.content.clone(),
        };
        TemplateMessage {
            role: message.role.as_str(),
            content,
        }
    }
}

impl ChatTemplate {
    /// The template from `source` (the GGUF's `tokenizer.chat_template`), or
    /// ChatML with a warning when there is none or it does not render.
    /// `bos` and `eos` are the model's special token texts.
    pub fn new(source: Option<String>, bos: String, eos: String) -> Self {
        let chatml = Self {
            jinja: None,
            bos: bos.clone(),
            eos: eos.clone(),
        };
        let Some(source) = source.filter(|s| !s.trim().is_empty()) else {
            tracing::warn!("the model has no chat template; using ChatML");
            return chatml;
        };
        let template = match jinja_environment(source) {
            Ok(env) => Self {
                jinja: Some(env),
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
        match template.render(&probe, true) {
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

    /// Prompt text for `messages`; with `add_generation_prompt` it ends where
    /// the assistant's reply begins.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, minijinja::Error> {
        let Some(env) = &self.jinja else {
            return Ok(chatml(messages, add_generation_prompt));
        };
        let messages: Vec<minijinja::Value> = messages
            .iter()
            .map(|m| {
                let m = TemplateMessage::from(m);
                context! { role => m.role, content => m.content }
            })
            .collect();
        env.get_template(TEMPLATE_NAME)?.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos,
            eos_token => &self.eos,
        })
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
        let message = TemplateMessage::from(message);
        out.push_str("<|im_start|>");
        out.push_str(message.role);
        out.push('\n');
        out.push_str(&message.content);
        out.push_str("<|im_end|>\n");
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

#[cfg(test)]
mod tests {
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
        let text = t.render(&conversation(), true).unwrap_or_default();
        assert_eq!(
            text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nAlice: Hi<|im_end|>\n\
             <|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n"
        );
        let no_system = t
            .render(&[ChatMessage::user("x")], false)
            .unwrap_or_default();
        assert!(no_system.starts_with("<|im_start|>system\nYou are a helpful AI assistant"));
    }

    #[test]
    fn hugging_face_whitespace_rules_and_python_methods_apply() {
        let source = "{{ bos_token }}{% for m in messages %}\n  {% if m.role == 'user' %}\n[{{ m.content.strip() | upper }}]\n  {% endif %}\n{% endfor %}";
        let t = ChatTemplate::new(Some(source.into()), "<s>".into(), "</s>".into());
        assert!(!t.is_fallback());
        let text = t
            .render(&[ChatMessage::user("  hey  ")], false)
            .unwrap_or_default();
        assert_eq!(text, "<s>[HEY]\n");
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
            let text = t.render(&conversation(), true).unwrap_or_default();
            assert!(
                text.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n"),
                "{text}"
            );
            assert!(text.ends_with("<|im_start|>assistant\n"));
        }
    }
}
