//! The kinds of piece `/write` knows: the built-in defaults, merged with the
//! settings' `kinds` tables, each with its prompt compiled as a minijinja template.

use std::collections::BTreeMap;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, context};

use crate::error::GenerateError;
use crate::settings::{GenerateSettings, Input, KindSettings};

/// A kind of piece, ready to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kind {
    /// Its name, as typed after `/write`.
    pub name: String,
    /// One line for the listing.
    pub description: String,
    /// The system prompt.
    pub system: String,
    /// Default length in words.
    pub words: Option<u32>,
    /// What it works from.
    pub input: Input,
    /// A topic for the listing's example.
    pub example: String,
}

/// Everything a prompt template may use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars {
    /// The words after the kind (for text kinds with a replied-to message: the focus).
    pub topic: String,
    /// For text kinds: the text to work on.
    pub text: Option<String>,
    /// `--words`, or the kind's default.
    pub words: Option<u32>,
    /// `--tone`.
    pub tone: Option<String>,
    /// `--lang`.
    pub lang: Option<String>,
    /// `--audience`.
    pub audience: Option<String>,
}

impl Vars {
    /// The options as sentences, one per line.
    pub fn instructions(&self) -> String {
        let mut lines = Vec::new();
        if let Some(words) = self.words {
            lines.push(format!("Length: about {words} words."));
        }
        if let Some(tone) = &self.tone {
            lines.push(format!("Tone: {tone}."));
        }
        if let Some(audience) = &self.audience {
            lines.push(format!("Audience: {audience}."));
        }
        if let Some(lang) = &self.lang {
            lines.push(format!("Language: write it in {lang}."));
        }
        lines.join("\n")
    }
}

struct Builtin {
    name: &'static str,
    description: &'static str,
    words: Option<u32>,
    input: Input,
    example: &'static str,
    template: &'static str,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "poem",
        description: "A poem with a title",
        words: Some(120),
        input: Input::Topic,
        example: "the sea at night --tone calm",
        template: "Write a poem about {{ topic }}, with a title.\n{{ instructions }}",
    },
    Builtin {
        name: "story",
        description: "A short story",
        words: Some(600),
        input: Input::Topic,
        example: "a lighthouse keeper's last night --audience children",
        template: "Write a short story about {{ topic }}, with a title, a clear beginning, \
middle and end, and vivid detail.\n{{ instructions }}",
    },
    Builtin {
        name: "article",
        description: "An article with headings",
        words: Some(800),
        input: Input::Topic,
        example: "why sleep matters --audience teenagers",
        template: "Write an article about {{ topic }}: a title, a short introduction, \
sections with headings, and a conclusion.\n{{ instructions }}",
    },
    Builtin {
        name: "summary",
        description: "A summary of a text (reply to it, or paste it after the command)",
        words: Some(150),
        input: Input::Text,
        example: "<text to summarise>",
        template: "Summarise the text below{% if text and topic %}, focusing on {{ topic }}{% endif %}. \
Keep the key facts and the conclusion; add nothing that is not in it.\n{{ instructions }}\n\n\
Text:\n\"\"\"\n{{ text }}\n\"\"\"",
    },
    Builtin {
        name: "email",
        description: "An email with a subject line",
        words: Some(200),
        input: Input::Topic,
        example: "asking my landlord to fix the heating --tone polite but firm",
        template: "Write an email: {{ topic }}. Start with a line \"Subject: …\", then the \
email with a greeting and a sign-off.\n{{ instructions }}",
    },
    Builtin {
        name: "slogan",
        description: "Five slogan ideas",
        words: None,
        input: Input::Topic,
        example: "a bakery that opens at 5am --tone playful",
        template: "Write five short, memorable slogans for {{ topic }}, as a numbered list.\n\
{{ instructions }}",
    },
];

/// The kinds, by name, with their compiled prompt templates.
pub struct Kinds {
    kinds: BTreeMap<String, Kind>,
    env: Environment<'static>,
}

impl std::fmt::Debug for Kinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kinds")
            .field("kinds", &self.kinds.keys())
            .finish_non_exhaustive()
    }
}

fn template_name(kind: &str) -> String {
    format!("kind/{kind}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Kinds {
    /// The built-in kinds, changed and extended by `settings.kinds`. Every
    /// template is compiled and test-rendered, so a typo fails at start-up.
    pub fn new(settings: &GenerateSettings) -> Result<Self, GenerateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| GenerateError::Template {
                kind: String::new(),
                reason: e.to_string(),
            })?;
        env.set_syntax(syntax);

        let mut kinds = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for builtin in BUILTINS {
            kinds.insert(
                builtin.name.to_owned(),
                Kind {
                    name: builtin.name.to_owned(),
                    description: builtin.description.to_owned(),
                    system: settings.system.clone(),
                    words: builtin.words,
                    input: builtin.input,
                    example: builtin.example.to_owned(),
                },
            );
            sources.insert(builtin.name.to_owned(), builtin.template.to_owned());
        }
        for (name, custom) in &settings.kinds {
            if !valid_name(name) {
                return Err(GenerateError::InvalidKindName(name.clone()));
            }
            let kind = match kinds.remove(name) {
                Some(builtin) => merge(builtin, custom),
                None => {
                    if custom.template.is_none() {
                        return Err(GenerateError::MissingTemplate(name.clone()));
                    }
                    merge(
                        Kind {
                            name: name.clone(),
                            description: format!("A {name}"),
                            system: settings.system.clone(),
                            words: None,
                            input: Input::Topic,
                            example: "your topic".to_owned(),
                        },
                        custom,
                    )
                }
            };
            if let Some(template) = &custom.template {
                sources.insert(name.clone(), template.clone());
            }
            kinds.insert(name.clone(), kind);
        }
        for (name, source) in sources {
            env.add_template_owned(template_name(&name), source)
                .map_err(|e| GenerateError::Template {
                    kind: name.clone(),
                    reason: e.to_string(),
                })?;
        }
        let kinds = Self { kinds, env };
        kinds.check()?;
        Ok(kinds)
    }

    /// Renders every template once with sample values, so an unknown variable
    /// (a typo such as `{{ topik }}`) fails now rather than on a user's request.
    fn check(&self) -> Result<(), GenerateError> {
        let sample = Vars {
            topic: "sample topic".into(),
            text: Some("sample text".into()),
            words: Some(100),
            tone: Some("warm".into()),
            lang: Some("English".into()),
            audience: Some("everyone".into()),
        };
        for kind in self.kinds.values() {
            self.render(kind, &sample)?;
            self.render(kind, &Vars::default())?;
        }
        Ok(())
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<&Kind> {
        self.kinds.get(name)
    }

    /// Every kind, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Kind> {
        self.kinds.values()
    }

    /// The prompt for `kind` with `vars`.
    pub fn render(&self, kind: &Kind, vars: &Vars) -> Result<String, GenerateError> {
        let failed = |e: minijinja::Error| GenerateError::Template {
            kind: kind.name.clone(),
            reason: format!("{e:#}"),
        };
        let template = self
            .env
            .get_template(&template_name(&kind.name))
            .map_err(failed)?;
        let rendered = template
            .render(context! {
                kind => kind.name.clone(),
                topic => vars.topic.clone(),
                text => vars.text.clone(),
                words => vars.words,
                tone => vars.tone.clone(),
                lang => vars.lang.clone(),
                audience => vars.audience.clone(),
                instructions => vars.instructions(),
            })
            .map_err(failed)?;
        Ok(tidy(&rendered))
    }
}

fn merge(mut kind: Kind, custom: &KindSettings) -> Kind {
    if let Some(description) = &custom.description {
        kind.description.clone_from(description);
    }
    if let Some(system) = &custom.system {
        kind.system.clone_from(system);
    }
    if custom.words.is_some() {
        kind.words = custom.words;
    }
    if let Some(input) = custom.input {
        kind.input = input;
    }
    if let Some(example) = &custom.example {
        kind.example.clone_from(example);
    }
    kind
}

/// Trims trailing spaces and collapses runs of blank lines left by empty variables.
fn tidy(prompt: &str) -> String {
    let mut out = String::with_capacity(prompt.len());
    let mut blank = 0;
    for line in prompt.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn builtin_prompts_carry_topic_and_options() {
        let kinds = Kinds::new(&GenerateSettings::default()).unwrap();
        let poem = kinds.get("poem").unwrap();
        let vars = Vars {
            topic: "the sea".into(),
            words: Some(80),
            tone: Some("calm".into()),
            ..Vars::default()
        };
        let prompt = kinds.render(poem, &vars).unwrap();
        assert_eq!(
            prompt,
            "Write a poem about the sea, with a title.\nLength: about 80 words.\nTone: calm."
        );
    }

    #[test]
    fn typos_in_templates_fail_at_start() {
        let mut settings = GenerateSettings::default();
        settings.kinds.insert(
            "haiku".into(),
            KindSettings {
                template: Some("A haiku about {{ topik }}".into()),
                ..KindSettings::default()
            },
        );
        let error = Kinds::new(&settings).unwrap_err();
        assert!(
            matches!(&error, GenerateError::Template { kind, .. } if kind == "haiku"),
            "{error}"
        );

        settings.kinds.get_mut("haiku").unwrap().template = Some("{% if %}".into());
        assert!(matches!(
            Kinds::new(&settings),
            Err(GenerateError::Template { .. })
        ));
    }

    #[test]
    fn new_kinds_need_a_template_and_a_plain_name() {
        let mut settings = GenerateSettings::default();
        settings
            .kinds
            .insert("limerick".into(), KindSettings::default());
        assert!(matches!(
            Kinds::new(&settings),
            Err(GenerateError::MissingTemplate(name)) if name == "limerick"
        ));
        let mut settings = GenerateSettings::default();
        settings.kinds.insert(
            "Two Words".into(),
            KindSettings {
                template: Some("x".into()),
                ..KindSettings::default()
            },
        );
        assert!(matches!(
            Kinds::new(&settings),
            Err(GenerateError::InvalidKindName(_))
        ));
    }

    #[test]
    fn a_builtin_can_be_changed_in_part() {
        let mut settings = GenerateSettings::default();
        settings.kinds.insert(
            "poem".into(),
            KindSettings {
                words: Some(40),
                ..KindSettings::default()
            },
        );
        let kinds = Kinds::new(&settings).unwrap();
        let poem = kinds.get("poem").unwrap();
        assert_eq!(poem.words, Some(40));
        assert_eq!(poem.description, "A poem with a title");
    }

    #[test]
    fn tidy_collapses_blank_lines() {
        assert_eq!(tidy("a  \n\n\n\nb\n\n"), "a\n\nb");
    }
}
