//! Logging in and staying logged in: the token once, then a session cookie
//! (`HttpOnly`, `SameSite=Strict`); every form and POST carries the
//! session's anti-forgery token (a hidden `csrf` field, or the
//! `x-csrf-token` header from script), and a request whose `Origin` is
//! another site is refused. The login form has its own anti-forgery token,
//! in a short-lived cookie. Scrapers may send the token as
//! `Authorization: Bearer …` instead of a cookie.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get, routing::post};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::info;

use crate::pages::page;
use crate::sessions::{Session, random_token};
use crate::state::Web;

/// The session cookie.
pub const SESSION_COOKIE: &str = "natter_session";
/// The login form's anti-forgery cookie.
pub const LOGIN_COOKIE: &str = "natter_login";
/// The header script sends the anti-forgery token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The login and logout routes.
pub(crate) fn routes() -> Router<Web> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// A request from a logged-in browser.
pub(crate) struct Authed {
    /// The session id (the cookie's value).
    pub(crate) id: String,
    pub(crate) session: Session,
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// True when `given` is `expected`, compared in constant time.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// True when the request carries the token as `Authorization: Bearer …`.
pub(crate) fn bearer_ok(headers: &HeaderMap, web: &Web) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| same_secret(token.trim(), web.token.expose_secret()))
}

impl FromRequestParts<Web> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        let found = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| Some((id.to_owned(), web.sessions.get(id)?)));
        match found {
            Some((id, session)) => Ok(Authed { id, session }),
            // A person opening a page is sent to log in, and back after.
            None if parts.method == Method::GET && wants_html(&parts.headers) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let next: String = form_urlencode(next);
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
            None => Err((StatusCode::UNAUTHORIZED, "log in first\n").into_response()),
        }
    }
}

impl Authed {
    /// Refuses a state-changing request that does not carry this session's
    /// anti-forgery token (form field `form_token`, else the header) or that
    /// comes from another site.
    pub(crate) fn check_csrf(
        &self,
        headers: &HeaderMap,
        form_token: Option<&str>,
    ) -> Result<(), Refused> {
        if !same_origin(headers) {
            return Err(Refused(StatusCode::FORBIDDEN, "cross-site request refused"));
        }
        let given = form_token.or_else(|| headers.get(CSRF_HEADER)?.to_str().ok());
        match given {
            Some(given) if same_secret(given, &self.session.csrf) => Ok(()),
            _ => Err(Refused(
                StatusCode::FORBIDDEN,
                "this form has expired (missing or wrong anti-forgery token); reload the page",
            )),
        }
    }
}

/// A request refused, and why.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) StatusCode, pub(crate) &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

/// True unless the request names an `Origin` other than the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// `text` for a URL query value.
fn form_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Where to go after logging in: a path on this site, never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next
        }
        _ => "/chat",
    }
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    csrf: String,
    next: Option<String>,
}

/// The login form, with a fresh anti-forgery token in a cookie and the form.
fn login_form(web: &Web, status: StatusCode, next: Option<&str>, error: Option<&str>) -> Response {
    let csrf = random_token();
    let mut response = page(
        web,
        "login.html",
        minijinja::context! { csrf => csrf.clone(), next => safe_next(next), error },
    );
    *response.status_mut() = status;
    set_cookie(
        &mut response,
        format!("{LOGIN_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600"),
    );
    response
}

async fn login_page(
    State(web): State<Web>,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> Response {
    login_form(&web, StatusCode::OK, query.next.as_deref(), None)
}

async fn login(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = form.next.as_deref();
    let form_ok = cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|expected| same_secret(&form.csrf, expected))
        && same_origin(&headers);
    if !form_ok {
        return login_form(
            &web,
            StatusCode::FORBIDDEN,
            next,
            Some("The form expired. Please try again."),
        );
    }
    if !same_secret(form.token.trim(), web.token.expose_secret()) {
        info!("a login with a wrong token was refused");
        return login_form(
            &web,
            StatusCode::UNAUTHORIZED,
            next,
            Some("That token is not right."),
        );
    }
    let id = web.sessions.create();
    let mut response = Redirect::to(safe_next(next)).into_response();
    set_cookie(
        &mut response,
        format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800"),
    );
    set_cookie(
        &mut response,
        format!("{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = authed.check_csrf(&headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    web.sessions.remove(&authed.id);
    let mut response = Redirect::to("/login").into_response();
    set_cookie(
        &mut response,
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/dashboard?q=1")), "/dashboard?q=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/chat");
        assert_eq!(safe_next(Some("https://evil.example/")), "/chat");
        assert_eq!(safe_next(Some("/\\evil.example")), "/chat");
        assert_eq!(safe_next(None), "/chat");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; natter_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "natter"), None);
    }

    #[test]
    fn origins_must_match_the_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8787"));
        assert!(
            same_origin(&headers),
            "no Origin: a same-site form in older browsers"
        );
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8787"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
    }
}
