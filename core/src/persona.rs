//! Personas: named system prompts with their own sampling settings, chosen per
//! conversation, thread, channel or server.
//!
//! Resolution, most specific first: a run-time override (`/persona NAME`) of the
//! conversation, then of its thread, channel and server; then the settings'
//! `[persona.channels]` assignments for the same scopes; then the default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The persona a new user gets when settings name none.
pub const BUILTIN_PERSONA: &str = "assistant";
const BUILTIN_SYSTEM: &str = "You are a helpful assistant.";

/// One persona: a system prompt and, optionally, its own sampling settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// The system prompt.
    pub system: String,
    /// One line for `/persona` listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Overrides `[model] temperature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Overrides `[model] max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Overrides `[model] top_p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// The model this persona answers with (a name from `[models]`), unless
    /// a conversation chose one with `/model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Persona {
    /// A persona with system prompt `system` and default sampling.
    pub fn new(system: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            description: None,
            temperature: None,
            max_tokens: None,
            top_p: None,
            model: None,
        }
    }
}

/// The `[persona]` settings section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersonaSettings {
    /// The persona used where nothing else is chosen.
    pub default: String,
    /// Persona per scope, e.g. `"discord/server/123" = "pirate"` or
    /// `"telegram/channel/-10042" = "tutor"`.
    pub channels: BTreeMap<String, String>,
}

impl Default for PersonaSettings {
    fn default() -> Self {
        Self {
            default: BUILTIN_PERSONA.into(),
            channels: BTreeMap::new(),
        }
    }
}

/// A persona name in settings that names no persona.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} names persona `{name}`, but only these exist: {known}")]
pub struct UnknownPersona {
    /// The setting that names it.
    pub setting: String,
    /// The unknown name.
    pub name: String,
    /// The personas that exist.
    pub known: String,
}

/// The configured personas and their assignments.
#[derive(Clone, Debug)]
pub struct Personas {
    by_name: BTreeMap<String, Persona>,
    settings: PersonaSettings,
}

impl Default for Personas {
    fn default() -> Self {
        let mut by_name = BTreeMap::new();
        by_name.insert(BUILTIN_PERSONA.to_owned(), Persona::new(BUILTIN_SYSTEM));
        Self {
            by_name,
            settings: PersonaSettings::default(),
        }
    }
}

impl Personas {
    /// Checks that every name `settings` uses exists in `personas`. With no
    /// personas at all, the built-in `assistant` is provided.
    pub fn new(
        settings: PersonaSettings,
        mut personas: BTreeMap<String, Persona>,
    ) -> Result<Self, UnknownPersona> {
        if personas.is_empty() {
            personas.insert(BUILTIN_PERSONA.to_owned(), Persona::new(BUILTIN_SYSTEM));
        }
        let known = personas.keys().cloned().collect::<Vec<_>>().join(", ");
        let check = |setting: String, name: &str| {
            if personas.contains_key(name) {
                Ok(())
            } else {
                Err(UnknownPersona {
                    setting,
                    name: name.to_owned(),
                    known: known.clone(),
                })
            }
        };
        check("persona.default".into(), &settings.default)?;
        for (scope, name) in &settings.channels {
            check(format!("persona.channels.\"{scope}\""), name)?;
        }
        Ok(Self {
            by_name: personas,
            settings,
        })
    }

    /// The persona called `name`.
    pub fn get(&self, name: &str) -> Option<&Persona> {
        self.by_name.get(name)
    }

    /// Names and personas, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Persona)> {
        self.by_name.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// The default persona's name.
    pub fn default_name(&self) -> &str {
        &self.settings.default
    }

    /// The persona settings assign to the first of `scopes` that has one, else the default.
    pub fn configured_for<'a>(&'a self, scopes: &[String]) -> &'a str {
        scopes
            .iter()
            .find_map(|scope| self.settings.channels.get(scope))
            .map_or(self.settings.default.as_str(), String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn personas(names: &[&str]) -> BTreeMap<String, Persona> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), Persona::new(format!("You are {n}."))))
            .collect()
    }

    #[test]
    fn empty_settings_give_the_builtin_assistant() {
        let p = Personas::new(PersonaSettings::default(), BTreeMap::new());
        let p = p.expect("builtin persona");
        assert_eq!(p.default_name(), "assistant");
        assert!(p.get("assistant").is_some());
    }

    #[test]
    fn unknown_default_is_named() {
        let settings = PersonaSettings {
            default: "ghost".into(),
            ..PersonaSettings::default()
        };
        let err = Personas::new(settings, personas(&["assistant"])).expect_err("unknown");
        assert_eq!(err.setting, "persona.default");
        assert_eq!(err.name, "ghost");
    }

    #[test]
    fn channel_assignment_uses_most_specific_scope() {
        let mut settings = PersonaSettings::default();
        settings
            .channels
            .insert("discord/server/1".into(), "pirate".into());
        settings
            .channels
            .insert("discord/channel/2".into(), "poet".into());
        let p = Personas::new(settings, personas(&["assistant", "pirate", "poet"]))
            .expect("valid personas");
        let scopes = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            p.configured_for(&scopes(&["discord/channel/2", "discord/server/1"])),
            "poet"
        );
        assert_eq!(
            p.configured_for(&scopes(&["discord/channel/3", "discord/server/1"])),
            "pirate"
        );
        assert_eq!(
            p.configured_for(&scopes(&["discord/channel/3"])),
            "assistant"
        );
    }
}
