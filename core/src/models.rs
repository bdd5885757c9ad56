//! [`Models`]: the language models natter can answer with, by name — the
//! default, the others a persona or `/model` may choose, and the order to
//! fall back in when a model fails before it said anything.
//!
//! A conversation answers with, first to apply: its `/model` choice, its
//! persona's `model`, the default.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::backend::{Capabilities, ModelBackend};

/// The name of the model `[model]` configures.
pub const DEFAULT_MODEL: &str = "default";

/// One model and its name.
#[derive(Clone)]
pub struct NamedModel {
    /// The name settings and `/model` use.
    pub name: String,
    /// The model.
    pub backend: Arc<dyn ModelBackend>,
    /// Its capabilities, read once.
    pub capabilities: Capabilities,
}

impl NamedModel {
    /// `backend`, called `name`.
    pub fn new(name: impl Into<String>, backend: Arc<dyn ModelBackend>) -> Self {
        Self {
            name: name.into(),
            capabilities: backend.capabilities(),
            backend,
        }
    }
}

impl fmt::Debug for NamedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedModel")
            .field("name", &self.name)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

/// A model name that names no model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no model called {name} (models: {known})")]
pub struct UnknownModel {
    /// The name.
    pub name: String,
    /// The models there are.
    pub known: String,
}

/// The models natter may answer with.
#[derive(Clone, Debug)]
pub struct Models {
    default: NamedModel,
    others: BTreeMap<String, NamedModel>,
    fallback: Vec<String>,
}

impl Models {
    /// Only `backend`, as the default model.
    pub fn new(backend: Arc<dyn ModelBackend>) -> Self {
        Self {
            default: NamedModel::new(DEFAULT_MODEL, backend),
            others: BTreeMap::new(),
            fallback: Vec::new(),
        }
    }

    /// The same models and `backend`, called `name` (replacing one of that name).
    pub fn with(mut self, name: impl Into<String>, backend: Arc<dyn ModelBackend>) -> Self {
        let name = name.into();
        if name == DEFAULT_MODEL {
            self.default = NamedModel::new(name, backend);
        } else {
            self.others
                .insert(name.clone(), NamedModel::new(name, backend));
        }
        self
    }

    /// The same models, falling back from the default to `names`, in order.
    pub fn with_fallback(mut self, names: Vec<String>) -> Result<Self, UnknownModel> {
        for name in &names {
            self.check(name)?;
        }
        self.fallback = names;
        Ok(self)
    }

    /// `Ok` when `name` names a model.
    pub fn check(&self, name: &str) -> Result<(), UnknownModel> {
        match self.get(name) {
            Some(_) => Ok(()),
            None => Err(UnknownModel {
                name: name.to_owned(),
                known: self.names().join(", "),
            }),
        }
    }

    /// The default model.
    pub fn default_model(&self) -> &NamedModel {
        &self.default
    }

    /// The model called `name`.
    pub fn get(&self, name: &str) -> Option<&NamedModel> {
        if name == self.default.name {
            Some(&self.default)
        } else {
            self.others.get(name)
        }
    }

    /// Every model's name, the default first.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(self.default.name.as_str())
            .chain(self.others.keys().map(String::as_str))
            .collect()
    }

    /// The models to try, in order, after `first` failed before saying
    /// anything: the fallback list, without `first`.
    pub fn fallbacks_after<'a>(&'a self, first: &'a str) -> impl Iterator<Item = &'a NamedModel> {
        self.fallback
            .iter()
            .filter(move |name| name.as_str() != first)
            .filter_map(|name| self.get(name))
    }
}
