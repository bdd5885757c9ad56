//! [`Registered`]: a plugin as the engine holds it — the plugin, its name and
//! its settings section — and the two things every context derives from it:
//! the typed settings and the namespaced state.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Plugin;
use super::error::PluginError;
use super::state::PluginState;
use crate::store::StateStore;

/// A plugin with its settings section.
pub(crate) struct Registered {
    pub(crate) plugin: Arc<dyn Plugin>,
    pub(crate) name: String,
    pub(crate) config: serde_json::Value,
}

impl Registered {
    pub(crate) fn new(plugin: Arc<dyn Plugin>, config: serde_json::Value) -> Self {
        Self {
            name: plugin.name().to_owned(),
            plugin,
            config,
        }
    }

    /// The settings section, deserialised into `T`.
    pub(crate) fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_value(self.config.clone()).map_err(|e| PluginError::Config {
            plugin: self.name.clone(),
            reason: e.to_string(),
        })
    }

    /// The plugin's own namespace of `store`.
    pub(crate) fn state<'s>(&'s self, store: &'s dyn StateStore) -> PluginState<'s> {
        PluginState::new(store, &self.name)
    }
}
