//! Personas: named system prompts with their own sampling settings, chosen per
//! conversation, thread, channel or server.
//!
//! Resolution, most specific first: a run-time override (`/persona NAME`) of the
//! conversation, then of its thread, channel and server; then the settings'
//! `[persona.channels]` assignments for the same places and the platform;
//! then the default. Settings name places as [`Place`]s (`discord:123`,
//! `discord:server:42`, `telegram:-1001234/7`, `telegram`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::place::{Place, PlaceError};

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
    /// Persona per place, e.g. `"discord:server:123" = "pirate"`,
    /// `"telegram:-10042" = "tutor"` or `"telegram" = "tutor"`.
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

/// Why the persona settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersonaError {
    /// A persona name in settings names no persona.
    #[error("{setting} names persona `{name}`, but only these exist: {known}")]
    Unknown {
        /// The setting that names it.
        setting: String,
        /// The unknown name.
        name: String,
        /// The personas that exist.
        known: String,
    },
    /// A `[persona.channels]` key is not a place.
    #[error("{error}")]
    Place {
        /// The setting.
        setting: String,
        /// What is wrong with it.
        error: PlaceError,
    },
}

impl PersonaError {
    /// The key at fault, e.g. `persona.default`.
    pub fn setting(&self) -> &str {
        match self {
            PersonaError::Unknown { setting, .. } | PersonaError::Place { setting, .. } => setting,
        }
    }
}

/// The configured personas and their assignments.
#[derive(Clone, Debug)]
pub struct Personas {
    by_name: BTreeMap<String, Persona>,
    settings: PersonaSettings,
    /// `[persona.channels]` by the store's scope strings.
    by_scope: BTreeMap<String, String>,
}

impl Default for Personas {
    fn default() -> Self {
        let mut by_name = BTreeMap::new();
        by_name.insert(BUILTIN_PERSONA.to_owned(), Persona::new(BUILTIN_SYSTEM));
        Self {
            by_name,
            settings: PersonaSettings::default(),
            by_scope: BTreeMap::new(),
        }
    }
}

impl Personas {
    /// Checks that every name `settings` uses exists in `personas` and
    /// every key is a place. With no personas at all, the built-in
    /// `assistant` is provided.
    pub fn new(
        settings: PersonaSettings,
        mut personas: BTreeMap<String, Persona>,
    ) -> Result<Self, PersonaError> {
        if personas.is_empty() {
            personas.insert(BUILTIN_PERSONA.to_owned(), Persona::new(BUILTIN_SYSTEM));
        }
        let known = personas.keys().cloned().collect::<Vec<_>>().join(", ");
        let check = |setting: String, name: &str| {
            if personas.contains_key(name) {
                Ok(())
            } else {
                Err(PersonaError::Unknown {
                    setting,
                    name: name.to_owned(),
                    known: known.clone(),
                })
            }
        };
        check("persona.default".into(), &settings.default)?;
        let mut by_scope = BTreeMap::new();
        for (written, name) in &settings.channels {
            let setting = format!("persona.channels.\"{written}\"");
            check(setting.clone(), name)?;
            let place: Place = written
                .parse()
                .map_err(|error| PersonaError::Place { setting, error })?;
            by_scope.insert(place.scope(), name.clone());
        }
        Ok(Self {
            by_name: personas,
            settings,
            by_scope,
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

    /// The persona settings assign to the first of `places` (narrowest
    /// first) that has one, else the default.
    pub fn configured_for<'a>(&'a self, places: &[Place]) -> &'a str {
        places
            .iter()
            .find_map(|place| self.by_scope.get(&place.scope()))
            .map_or(self.settings.default.as_str(), String::as_str)
    }

    /// The places `[persona.channels]` names, as written.
    pub fn assigned_places(&self) -> impl Iterator<Item = &str> {
        self.settings.channels.keys().map(String::as_str)
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
        assert_eq!(err.setting(), "persona.default");
        assert!(err.to_string().contains("`ghost`"), "{err}");
    }

    #[test]
    fn channel_assignment_uses_most_specific_place() {
        let mut settings = PersonaSettings::default();
        settings
            .channels
            .insert("discord:server:1".into(), "pirate".into());
        settings.channels.insert("discord:2".into(), "poet".into());
        settings.channels.insert("telegram".into(), "poet".into());
        let p = Personas::new(settings, personas(&["assistant", "pirate", "poet"]))
            .expect("valid personas");
        let places = |v: &[&str]| {
            v.iter()
                .map(|s| s.parse::<Place>().expect("place"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            p.configured_for(&places(&["discord:2", "discord:server:1", "discord"])),
            "poet"
        );
        assert_eq!(
            p.configured_for(&places(&["discord:3", "discord:server:1", "discord"])),
            "pirate"
        );
        assert_eq!(
            p.configured_for(&places(&["discord:3", "discord"])),
            "assistant"
        );
        assert_eq!(
            p.configured_for(&places(&["telegram:5", "telegram"])),
            "poet"
        );
    }

    #[test]
    fn a_key_that_is_no_place_is_named() {
        let mut settings = PersonaSettings::default();
        settings
            .channels
            .insert("discord/channel/2".into(), "assistant".into());
        let err = Personas::new(settings, personas(&["assistant"])).expect_err("old form");
        assert_eq!(err.setting(), "persona.channels.\"discord/channel/2\"");
        assert!(err.to_string().contains("write discord:2"), "{err}");
    }
}
