//! [`Web`]: what every handler reaches — the engine the bots use, the web
//! chat's inbox and live feeds, the sessions, the token, the page templates.

use std::sync::Arc;

use natter_core::{Engine, Inbox, Platform};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::chat::{Feeds, Pictures};
use crate::pages::Pages;
use crate::sessions::Sessions;

/// The web side's shared state. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Web(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    /// Where the web chat's messages go.
    pub(crate) inbox: Inbox,
    /// Each browser conversation's live events.
    pub(crate) feeds: Arc<Feeds>,
    /// Pictures sent from browsers, until the engine fetches them.
    pub(crate) pictures: Arc<Pictures>,
    pub(crate) sessions: Sessions,
    pub(crate) token: SecretString,
    pub(crate) metrics_public: bool,
    /// The platforms that should be connected for `/readyz`.
    pub(crate) expected: Vec<Platform>,
    pub(crate) pages: Pages,
    /// Cancelled when the server stops: live chat streams end.
    pub(crate) stopping: CancellationToken,
}

impl Web {
    /// The personas a conversation may be set to, by name.
    pub(crate) fn persona_names(&self) -> Vec<String> {
        self.engine
            .personas()
            .iter()
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// The models a conversation may be set to, by name.
    pub(crate) fn model_names(&self) -> Vec<String> {
        self.engine
            .models()
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }
}

impl std::ops::Deref for Web {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
