//! A web side on a scripted model, driven through its router as a browser
//! would: log in, keep the cookie, read the anti-forgery token from the
//! page, follow the chat's event stream.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use natter_core::test_utils::ScriptedBackend;
use natter_core::{Engine, EngineBuilder, Platform};
use natter_web::{WebServer, WebSettings};
use secrecy::SecretString;
use tower::ServiceExt;

pub const TOKEN: &str = "correct-horse-battery-staple";

/// A web side and what it runs on.
pub struct Site {
    pub server: WebServer,
    pub router: Router,
    pub engine: Engine,
    pub backend: Arc<ScriptedBackend>,
}

impl Site {
    pub async fn start() -> Self {
        Self::with(|b| b, false, Vec::new()).await
    }

    pub async fn with(
        configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
        metrics_public: bool,
        expected: Vec<Platform>,
    ) -> Self {
        let backend = Arc::new(ScriptedBackend::new());
        let engine = configure(Engine::builder(backend.clone())).build().unwrap();
        Self::on(engine, backend, metrics_public, expected).await
    }

    pub async fn on(
        engine: Engine,
        backend: Arc<ScriptedBackend>,
        metrics_public: bool,
        expected: Vec<Platform>,
    ) -> Self {
        let settings = WebSettings {
            listen: Some("127.0.0.1:0".into()),
            token: Some(SecretString::from(TOKEN)),
            metrics_public,
        };
        let server = WebServer::bind(&settings, engine.clone(), expected)
            .await
            .unwrap();
        let router = server.router();
        Self {
            server,
            router,
            engine,
            backend,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Logs in: returns the session cookie and the page's anti-forgery token.
    pub async fn login(&self) -> Browser {
        let form = self.send(get("/login", None)).await;
        let login_cookie = set_cookie(&form, "natter_login").unwrap();
        let csrf = hidden_csrf(&text(form).await);
        let response = self
            .send(post_form(
                "/login",
                Some(&format!("natter_login={login_cookie}")),
                &[("token", TOKEN), ("csrf", &csrf), ("next", "/chat")],
            ))
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let session = set_cookie(&response, "natter_session").unwrap();
        let cookie = format!("natter_session={session}");
        let page = self.send(get("/chat", Some(&cookie))).await;
        assert_eq!(page.status(), StatusCode::OK);
        let csrf = meta_csrf(&text(page).await);
        Browser { cookie, csrf }
    }
}

/// A logged-in browser.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl Browser {
    pub fn get(&self, uri: &str) -> Request<Body> {
        get(uri, Some(&self.cookie))
    }

    /// A form POST carrying the anti-forgery token in the form.
    pub fn post(&self, uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        post_form(uri, Some(&self.cookie), &fields)
    }

    /// A script's POST carrying the token in the header.
    pub fn fetch(&self, uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
        let mut request = post_form(uri, Some(&self.cookie), fields);
        request
            .headers_mut()
            .insert("x-csrf-token", self.csrf.parse().unwrap());
        request
    }
}

pub fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri).header(header::ACCEPT, "text/html");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).unwrap()
}

pub fn post_form(uri: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut builder = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:8787");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::from(body.join("&"))).unwrap()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The value of cookie `name` the response sets.
pub fn set_cookie(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// The whole `Set-Cookie` header for cookie `name`.
pub fn set_cookie_header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn between<'a>(html: &'a str, before: &str, after: &str) -> &'a str {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {html}"))
        + before.len();
    let end = html[start..].find(after).unwrap() + start;
    &html[start..end]
}

fn hidden_csrf(html: &str) -> String {
    between(html, "name=\"csrf\" value=\"", "\"").to_owned()
}

impl Browser {
    /// The page script's multipart POST of a picture with a caption.
    pub fn picture(&self, caption: &str, bytes: &[u8], mime: &str) -> Request<Body> {
        let boundary = "natter-test-boundary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n{caption}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"photo.png\"\r\n\
                 Content-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Request::post("/chat/picture")
            .header(header::HOST, "127.0.0.1:8787")
            .header(header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    }
}

fn meta_csrf(html: &str) -> String {
    between(html, "<meta name=\"csrf\" content=\"", "\"").to_owned()
}

/// The chat's event stream, read event by event.
pub struct Events {
    body: Body,
    buffer: String,
}

impl Events {
    pub async fn open(site: &Site, browser: &Browser) -> Self {
        let response = site.send(browser.get("/chat/events")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        Self {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event's JSON.
    pub async fn next(&mut self) -> serde_json::Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data: "))
                    .collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).unwrap();
                }
                continue;
            }
            // A safety net against a hang, not a synchronisation.
            let frame = tokio::time::timeout(Duration::from_secs(10), self.body.frame())
                .await
                .expect("an event within 10 s")
                .expect("the stream is open")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// Events until one whose HTML contains `text` and is final (not
    /// marked as still being written); returns them all.
    pub async fn until_final(&mut self, text: &str) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let html = event["html"].as_str().unwrap_or_default().to_owned();
            seen.push(event);
            if html.contains(text) && !html.contains('▍') {
                return seen;
            }
        }
    }
}
