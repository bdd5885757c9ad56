//! The operator's dashboard: everything read from the same engine and store
//! the bots use, nothing kept apart.
//!
//! | module | page |
//! |---|---|
//! | `overview` | platforms and their connections, models, store, load and activity |
//! | `conversations` | conversations on every platform: search, read, reset, persona, model |
//! | `setup` | personas and plugins, with each plugin's commands and tools |
//! | `usage` | tokens (and cost) per day, model and user, charted |
//! | `chart` | the server-rendered SVG charts |
//! | `when` | times as people read them |

mod chart;
mod conversations;
mod overview;
mod setup;
mod usage;
mod when;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Web;

/// The dashboard routes.
pub(crate) fn routes() -> Router<Web> {
    Router::new()
        .route("/dashboard", get(overview::page))
        .route("/dashboard/conversations", get(conversations::list))
        .route("/dashboard/conversation", get(conversations::show))
        .route("/dashboard/conversation/reset", post(conversations::reset))
        .route(
            "/dashboard/conversation/persona",
            post(conversations::persona),
        )
        .route("/dashboard/conversation/model", post(conversations::model))
        .route("/dashboard/setup", get(setup::page))
        .route("/dashboard/setup/reload", post(setup::reload))
        .route("/dashboard/usage", get(usage::page))
}
