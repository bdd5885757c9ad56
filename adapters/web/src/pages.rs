//! [`Pages`]: the HTML templates (minijinja, escaping every value unless a
//! template marks it `|safe` — only HTML made by [`crate::markdown`]), the
//! static assets, and the security headers every response carries. Every
//! file is compiled into the binary: no build step, nothing read from disk.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;
use tracing::error;

use crate::state::Web;

/// Templates, by name.
const TEMPLATES: [(&str, &str); 9] = [
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("chat.html", include_str!("../templates/chat.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    (
        "conversations.html",
        include_str!("../templates/conversations.html"),
    ),
    (
        "conversation.html",
        include_str!("../templates/conversation.html"),
    ),
    ("setup.html", include_str!("../templates/setup.html")),
    ("usage.html", include_str!("../templates/usage.html")),
    ("error.html", include_str!("../templates/error.html")),
];

const CHAT_JS: &str = include_str!("../assets/chat.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// What a page may load: only this site's own scripts, styles and images;
/// no framing, no plugins, forms post only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The compiled templates.
pub(crate) struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Every template, compiled. A template that does not compile is a bug
    /// caught by the crate's tests; it is logged and its page fails.
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                error!(template = name, error = %e, "template does not compile");
            }
        }
        Self { env }
    }

    /// `name` rendered with `context`.
    pub(crate) fn render(
        &self,
        name: &str,
        context: minijinja::Value,
    ) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }
}

/// Page `name` rendered with `context`, or a 500 saying it could not be.
pub(crate) fn page(web: &Web, name: &str, context: minijinja::Value) -> Response {
    match web.pages.render(name, context) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            error!(template = name, error = %e, "page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render\n",
            )
                .into_response()
        }
    }
}

/// A short error page with `status`.
pub(crate) fn error_page(web: &Web, status: StatusCode, message: &str) -> Response {
    let mut response = page(web, "error.html", minijinja::context! { message });
    *response.status_mut() = status;
    response
}

/// The page for a store that did not answer, with what went wrong logged.
pub(crate) fn store_down(web: &Web, error: &natter_core::StoreError) -> Response {
    tracing::warn!(%error, "the web side could not read the store");
    error_page(
        web,
        StatusCode::SERVICE_UNAVAILABLE,
        "The store is not answering; try again in a moment.",
    )
}

/// The static assets.
pub(crate) fn routes() -> Router<Web> {
    Router::new()
        .route(
            "/assets/chat.js",
            get(|| async { asset(CHAT_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset(STYLE_CSS, "text/css; charset=utf-8") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Adds the security headers to every response.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not no-referrer: with it, browsers send `Origin: null` on form posts,
        // and the anti-forgery check needs the real origin.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
