//! [`WebServer`]: binds the `[web]` address, attaches the web chat to the
//! engine as a platform, and serves every page until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use natter_core::secret::non_empty;
use natter_core::{Connection, Engine, Platform};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::chat::{Feeds, Pictures, WebOutbox};
use crate::error::WebError;
use crate::pages::{Pages, security_headers};
use crate::sessions::{Sessions, random_token};
use crate::settings::WebSettings;
use crate::state::{Inner, Web};
use crate::{auth, chat, dashboard, health, metrics};

/// The web side, bound and attached, ready to serve.
pub struct WebServer {
    listener: TcpListener,
    address: SocketAddr,
    web: Web,
    generated_token: Option<SecretString>,
}

impl WebServer {
    /// Binds `settings.listen` and attaches the web chat to `engine`.
    /// `expected` are the platforms `/readyz` waits for (the web chat too).
    /// Without a token, one is generated ([`WebServer::generated_token`]).
    /// Installs the metrics recorder if none is yet.
    pub async fn bind(
        settings: &WebSettings,
        engine: Engine,
        expected: Vec<Platform>,
    ) -> Result<Self, WebError> {
        let address = settings.address()?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| WebError::Listen {
                address: address.to_string(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| WebError::Listen {
            address: address.to_string(),
            source,
        })?;
        let (token, generated_token) = match non_empty(&settings.token) {
            Some(token) => (token.clone(), None),
            None => {
                let token = SecretString::from(random_token());
                (token.clone(), Some(token))
            }
        };
        metrics::recorder();
        let feeds = Arc::new(Feeds::default());
        let pictures = Arc::new(Pictures::default());
        let inbox = engine.attach(
            crate::PLATFORM,
            Arc::new(WebOutbox::new(Arc::clone(&feeds), Arc::clone(&pictures))),
        );
        let web = Web(Arc::new(Inner {
            engine,
            inbox,
            feeds,
            pictures,
            sessions: Sessions::default(),
            token,
            metrics_public: settings.metrics_public,
            expected,
            pages: Pages::new(),
            stopping: CancellationToken::new(),
        }));
        Ok(Self {
            listener,
            address,
            web,
            generated_token,
        })
    }

    /// The address being listened on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The URL to open: `http://ADDRESS/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// The token, when it was generated because none was set (to print once).
    pub fn generated_token(&self) -> Option<&str> {
        self.generated_token
            .as_ref()
            .map(|token| token.expose_secret())
    }

    /// Every route, with the security headers (for tests that call it
    /// without a socket).
    pub fn router(&self) -> Router {
        router(self.web.clone())
    }

    /// Serves until `shutdown` is cancelled; live chat streams end then.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WebError> {
        info!(url = %self.url(), "web side listening");
        let web = self.web.clone();
        let stopping = web.stopping.clone();
        // Small writes (a streamed word) go out at once, not after Nagle's wait.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let result = axum::serve(listener, router(self.web))
            .with_graceful_shutdown(async move {
                shutdown.cancelled().await;
                stopping.cancel();
            })
            .await
            .map_err(WebError::Serve);
        web.inbox
            .set_connection(Connection::Disconnected("stopped".into()));
        result
    }
}

fn router(web: Web) -> Router {
    Router::new()
        .merge(auth::routes())
        .merge(chat::routes())
        .merge(dashboard::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(crate::pages::routes())
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web)
}
