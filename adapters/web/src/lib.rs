//! # natter-web — the browser chat, the dashboard, metrics and health
//!
//! natter's web side, off unless `[web] listen` is set, loopback by default,
//! locked by a token (a session cookie after logging in once), with every
//! form and POST guarded against forgery and every text escaped. Pages are
//! rendered on the server; the one script is the chat's, which streams
//! replies as they are written. Every asset is compiled in.
//!
//! - **The web chat** is a platform like Telegram or Discord
//!   ([`PLATFORM`], `web`): each browser is one conversation, with the same
//!   engine, plugins, personas and commands.
//! - **The dashboard** shows the platforms, models, store, load and
//!   activity; lists, searches, reads and resets conversations and chooses
//!   their persona and model; lists personas and plugins; charts usage.
//! - **`/metrics`** (Prometheus text), **`/healthz`** and **`/readyz`**.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[web]` section |
//! | [`error`] | [`WebError`] |
//! | `server` | [`WebServer`]: binding, attaching, routing, serving |
//! | `state` | what every handler reaches |
//! | `auth` | token login, session cookies, anti-forgery tokens |
//! | `sessions` | the logged-in browsers |
//! | `pages` | templates, assets, security headers |
//! | [`markdown`] | Markdown to safe HTML |
//! | [`chat`] | the web chat: page, posting, live events, [`chat::WebOutbox`] |
//! | `dashboard` | the operator's pages |
//! | [`metrics`] | `/metrics` and the Prometheus recorder |
//! | `health` | `/healthz`, `/readyz` |

mod auth;
pub mod chat;
mod dashboard;
pub mod error;
mod health;
pub mod markdown;
pub mod metrics;
mod pages;
mod server;
mod sessions;
pub mod settings;
mod state;

pub use auth::{CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE};
pub use error::WebError;
pub use server::WebServer;
pub use settings::WebSettings;

/// The platform this adapter serves: the web chat's conversations carry it.
pub const PLATFORM: natter_core::Platform = natter_core::Platform::new("web");
