//! [`PluginSection`]: one `[plugins.NAME]` table, split into natter's own
//! `enabled` switch and the plugin's settings. natter is the only reader of
//! `enabled`; plugins get the rest, so their `deny_unknown_fields` settings
//! types declare only their own keys.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::settings::SettingsError;

/// The switch natter reads from every plugin section.
const ENABLED: &str = "enabled";

/// A `[plugins.NAME]` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginSection {
    /// `enabled = true`: natter registers the built-in plugin of this name.
    /// Plugins registered in code (`App::plugin`) run whatever it says.
    pub enabled: bool,
    /// Every other key: the plugin's own settings.
    pub settings: Map<String, Value>,
}

impl PluginSection {
    /// The plugin's settings as one JSON object (what
    /// `natter_core::PluginContext::config` reads).
    pub fn settings_value(&self) -> Value {
        Value::Object(self.settings.clone())
    }

    /// The plugin's settings as its own type; errors name `plugins.NAME`.
    pub fn parse<T: DeserializeOwned>(&self, name: &str) -> Result<T, SettingsError> {
        serde_json::from_value(self.settings_value()).map_err(|e| SettingsError::Value {
            key: format!("plugins.{name}"),
            reason: e.to_string(),
        })
    }

    /// Splits `table`, the section of plugin `name`, into the switch and the
    /// settings; a section that is not a table, or an `enabled` that is not
    /// `true` or `false`, is an error naming its key.
    fn from_table(name: &str, table: Value) -> Result<Self, String> {
        let Value::Object(mut settings) = table else {
            return Err(format!(
                "plugins.{name} must be a table ([plugins.{name}] with keys under it), not {table}"
            ));
        };
        let enabled = match settings.remove(ENABLED) {
            None => false,
            Some(Value::Bool(enabled)) => enabled,
            Some(other) => {
                return Err(format!(
                    "plugins.{name}.{ENABLED} must be true or false, not {other}"
                ));
            }
        };
        Ok(Self { enabled, settings })
    }
}

impl Serialize for PluginSection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.settings.len() + 1))?;
        map.serialize_entry(ENABLED, &self.enabled)?;
        for (key, value) in &self.settings {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Reads `[plugins]`: every `[plugins.NAME]` table as a [`PluginSection`].
/// Use with `#[serde(deserialize_with = "…")]`.
pub fn deserialize_sections<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, PluginSection>, D::Error> {
    BTreeMap::<String, Value>::deserialize(deserializer)?
        .into_iter()
        .map(|(name, table)| {
            let section = PluginSection::from_table(&name, table).map_err(D::Error::custom)?;
            Ok((name, section))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn enabled_is_split_off_and_written_back() {
        let section =
            PluginSection::from_table("notes", json!({"enabled": true, "max_notes": 5})).unwrap();
        assert!(section.enabled);
        assert_eq!(section.settings_value(), json!({"max_notes": 5}));
        assert_eq!(
            serde_json::to_value(&section).unwrap(),
            json!({"enabled": true, "max_notes": 5})
        );
        let off = PluginSection::from_table("notes", json!({})).unwrap();
        assert!(!off.enabled);
    }

    #[test]
    fn a_bad_switch_or_section_names_its_key() {
        let err = PluginSection::from_table("notes", json!({"enabled": "yes"})).unwrap_err();
        assert!(err.contains("plugins.notes.enabled"), "{err}");
        let err = PluginSection::from_table("notes", json!(true)).unwrap_err();
        assert!(err.contains("plugins.notes"), "{err}");
    }
}
