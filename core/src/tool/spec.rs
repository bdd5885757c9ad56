//! What a plugin declares about a tool ([`ToolSpec`]: definition, effect,
//! permission) and what it gets when the model calls one ([`ToolInvocation`]).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::call::ToolDefinition;
use crate::plugin::PluginError;

/// What running a tool does to the world.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Only looks things up: calls of one step run in parallel.
    #[default]
    ReadOnly,
    /// Changes something (sets a reminder, sends a mail): calls run one at a
    /// time, in the order the model made them.
    SideEffect,
}

/// Who may have a tool run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Permission {
    /// Anyone the bot answers.
    #[default]
    Everyone,
    /// Admins in group chats (anyone in a private chat).
    Admins,
    /// Anyone, but each call is first confirmed by the person whose message
    /// led to it, for exactly those arguments.
    Confirm,
}

impl TryFrom<String> for Permission {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        crate::settings::one_of(
            &value,
            &[
                ("everyone", Permission::Everyone),
                ("admins", Permission::Admins),
                ("confirm", Permission::Confirm),
            ],
            "a permission",
        )
    }
}

impl Permission {
    /// The name settings use.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Everyone => "everyone",
            Permission::Admins => "admins",
            Permission::Confirm => "confirm",
        }
    }
}

/// A tool a plugin offers: how the model sees it, and the policy it runs under.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// Name, description and argument schema.
    pub definition: ToolDefinition,
    /// Read-only or side effect.
    pub effect: Effect,
    /// Who may run it (settings may override it).
    pub permission: Permission,
}

impl ToolSpec {
    /// A read-only tool anyone may run, whose arguments are `A`: its JSON
    /// Schema is derived from the type (doc comments become descriptions),
    /// and [`ToolInvocation::args`] reads the call into an `A`.
    pub fn new<A: JsonSchema>(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::with_schema(name, description, schema_of::<A>())
    }

    /// A tool whose argument schema is given as JSON (e.g. from an MCP server).
    pub fn with_schema(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        Self {
            definition: ToolDefinition {
                name: name.into(),
                description: description.into(),
                parameters,
            },
            effect: Effect::ReadOnly,
            permission: Permission::Everyone,
        }
    }

    /// The same tool, marked as changing something.
    pub fn side_effect(mut self) -> Self {
        self.effect = Effect::SideEffect;
        self
    }

    /// The same tool, run under `permission` unless settings say otherwise.
    pub fn permission(mut self, permission: Permission) -> Self {
        self.permission = permission;
        self
    }

    /// The name the model calls it by.
    pub fn name(&self) -> &str {
        &self.definition.name
    }
}

/// The JSON Schema of `A`, self-contained (no `$ref`s, which small models'
/// grammars and some servers do not follow) and without the `$schema` and
/// `title` keys, which carry nothing for a model.
fn schema_of<A: JsonSchema>() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<A>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

/// A call of one of a plugin's tools, as [`crate::Plugin::call_tool`] gets it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolInvocation {
    /// The tool's name.
    pub name: String,
    /// The arguments, parsed as JSON (not yet checked against the schema).
    pub arguments: serde_json::Value,
}

impl ToolInvocation {
    /// The arguments read into `T` (the type the schema came from). A
    /// mismatch is a usage error, which the model sees as the tool's result
    /// and can correct.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        T::deserialize(&self.arguments).map_err(|error| {
            PluginError::usage(format!("invalid arguments for {}: {error}", self.name))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Sets a reminder.
    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[allow(dead_code)]
    struct Set {
        /// When, e.g. "in 10 minutes".
        when: String,
        /// What to remind of.
        text: Option<String>,
        repeat: Repeat,
    }

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Repeat {
        Never,
        Daily,
    }

    #[test]
    fn a_struct_is_the_schema() {
        let spec = ToolSpec::new::<Set>("remind_set", "Set a reminder").side_effect();
        let schema = &spec.definition.parameters;
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["when"]["type"], "string");
        assert_eq!(
            schema["properties"]["when"]["description"],
            "When, e.g. \"in 10 minutes\"."
        );
        assert_eq!(
            schema["properties"]["repeat"]["enum"],
            serde_json::json!(["never", "daily"])
        );
        assert!(schema.get("$schema").is_none() && schema.get("$defs").is_none());
        assert_eq!(spec.effect, Effect::SideEffect);
        assert_eq!(spec.permission, Permission::Everyone);
    }

    #[test]
    fn arguments_read_into_the_type_or_say_what_is_wrong() {
        let call = ToolInvocation {
            name: "remind_set".into(),
            arguments: serde_json::json!({"when": "at 9", "text": null, "repeat": "daily"}),
        };
        let set: Set = call.args().unwrap();
        assert_eq!(set.repeat, Repeat::Daily);
        let bad = ToolInvocation {
            arguments: serde_json::json!({"text": "tea"}),
            ..call
        };
        let error = bad.args::<Set>().unwrap_err().to_string();
        assert!(
            error.contains("invalid arguments for remind_set") && error.contains("when"),
            "{error}"
        );
    }
}
