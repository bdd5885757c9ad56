//! [`PluginState`]: a plugin's own key/value state, in its namespace of the
//! store, with values of any serde type.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::PluginError;
use crate::store::{StateStore, StoreError};

/// A plugin's namespaced key/value state.
pub struct PluginState<'a> {
    store: &'a dyn StateStore,
    namespace: &'a str,
}

impl<'a> PluginState<'a> {
    pub(crate) fn new(store: &'a dyn StateStore, namespace: &'a str) -> Self {
        Self { store, namespace }
    }

    /// The value at `key`, if any.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        match self.store.plugin_get(self.namespace, key).await? {
            None => Ok(None),
            Some(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{}/{key}: {e}", self.namespace)).into()),
        }
    }

    /// Sets `key` to `value`.
    pub async fn put<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<(), PluginError> {
        let value = serde_json::to_value(value)
            .map_err(|e| PluginError::Internal(format!("cannot store {key}: {e}")))?;
        Ok(self.store.plugin_put(self.namespace, key, &value).await?)
    }

    /// Removes `key`; true if it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, PluginError> {
        Ok(self.store.plugin_delete(self.namespace, key).await?)
    }

    /// Keys starting with `prefix` and their values.
    pub async fn list<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, PluginError> {
        self.store
            .plugin_list(self.namespace, prefix)
            .await?
            .into_iter()
            .map(|(key, value)| {
                serde_json::from_value(value)
                    .map(|v| (key.clone(), v))
                    .map_err(|e| {
                        StoreError::Corrupt(format!("{}/{key}: {e}", self.namespace)).into()
                    })
            })
            .collect()
    }
}
