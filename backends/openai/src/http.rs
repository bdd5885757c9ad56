//! Sending one request, with retries: 429 (honouring `Retry-After` up to a
//! bound), 5xx and connection failures — refused, or closed or reset by the
//! server before it answered — are retried with exponential back-off;
//! everything else fails at once with an error callers can act on. One
//! deadline bounds a reply's attempts and waits together.

use std::fmt;
use std::io::ErrorKind;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::RequestBuilder;
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tracing::warn;

use natter_core::ModelError;

use crate::backend::OpenAiError;
use crate::wire::ErrorBody;

/// The HTTP side of the backend.
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) endpoint: String,
    pub(crate) key: Option<SecretString>,
    pub(crate) max_retries: usize,
    pub(crate) max_retry_wait: Duration,
    pub(crate) timeout: Duration,
    pub(crate) deadline: Duration,
}

/// One failed attempt, before deciding whether to try again.
#[derive(Debug)]
enum Failure {
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    Connect(String),
    Timeout,
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status {
                status, message, ..
            } => write!(f, "HTTP {status}: {message}"),
            Failure::Connect(e) => write!(f, "connection failed: {e}"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Other(e) => f.write_str(e),
        }
    }
}

impl Failure {
    fn from_reqwest(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Failure::Timeout
        } else if error.is_connect() {
            Failure::Connect(error.without_url().to_string())
        } else if hung_up(&error) {
            // Nothing of an answer arrived (a response's body is read after
            // `send` returns): as good as a refused connection, and as safe
            // to try again.
            Failure::Connect("the server closed the connection without answering".into())
        } else {
            Failure::Other(error.without_url().to_string())
        }
    }

    fn retryable(&self, max_wait: Duration) -> bool {
        match self {
            Failure::Status {
                status: 429,
                retry_after,
                ..
            } => retry_after.is_none_or(|wait| wait <= max_wait),
            Failure::Status { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            Failure::Connect(_) | Failure::Timeout => true,
            Failure::Other(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn into_model_error(self, timeout: Duration) -> ModelError {
        match self {
            Failure::Status {
                status: 401 | 403,
                message,
                ..
            } => ModelError::Unauthorized(message),
            Failure::Status {
                status: 429,
                retry_after,
                ..
            } => ModelError::RateLimited { retry_after },
            Failure::Status {
                status, message, ..
            } if status < 500 => ModelError::Rejected { status, message },
            Failure::Status {
                status, message, ..
            } => ModelError::Server { status, message },
            Failure::Connect(reason) => ModelError::Unavailable(reason),
            Failure::Timeout => ModelError::Timeout(timeout),
            Failure::Other(reason) => ModelError::Protocol(reason),
        }
    }
}

/// Whether `error` is the server hanging up before its answer: the
/// connection closed where the status line should be (hyper's "incomplete
/// message") or reset.
fn hung_up(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(error) = error.downcast_ref::<hyper::Error>()
            && error.is_incomplete_message()
        {
            return true;
        }
        if let Some(error) = error.downcast_ref::<std::io::Error>()
            && matches!(
                error.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// natter's HTTP client for an OpenAI-compatible API: `connect` to connect,
/// `read` at most between bytes of an answer.
pub(crate) fn client(connect: Duration, read: Duration) -> Result<reqwest::Client, OpenAiError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .user_agent(concat!("natter/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OpenAiError::Client(e.to_string()))
}

impl Http {
    /// Runs `work` — one reply's requests, retries and waits — until the
    /// deadline; past it, [`ModelError::Timeout`] with the deadline.
    pub(crate) async fn within_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, ModelError>>,
    ) -> Result<T, ModelError> {
        tokio::time::timeout(self.deadline, work)
            .await
            .unwrap_or(Err(ModelError::Timeout(self.deadline)))
    }

    /// Posts `body`, retrying what is worth retrying. `whole_timeout` bounds the
    /// entire request (non-streaming calls); streams rely on the read timeout.
    pub(crate) async fn post(
        &self,
        body: &(impl Serialize + Sync),
        whole_timeout: Option<Duration>,
    ) -> Result<reqwest::Response, ModelError> {
        self.post_to(&self.endpoint, body, whole_timeout).await
    }

    /// [`Http::post`] to another endpoint of the same API.
    pub(crate) async fn post_to(
        &self,
        url: &str,
        body: &(impl Serialize + Sync),
        whole_timeout: Option<Duration>,
    ) -> Result<reqwest::Response, ModelError> {
        self.post_built(url, |request| request.json(body), whole_timeout)
            .await
    }

    /// Posts to `url` with the body `attach` puts on the request, built
    /// anew for each attempt (a multipart form cannot be sent twice).
    pub(crate) async fn post_built(
        &self,
        url: &str,
        attach: impl Fn(RequestBuilder) -> RequestBuilder + Sync,
        whole_timeout: Option<Duration>,
    ) -> Result<reqwest::Response, ModelError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(8))
            .with_max_times(self.max_retries)
            .with_jitter();
        let attempt = || self.post_once(url, &attach, whole_timeout);
        attempt
            .retry(backoff)
            .when(|failure: &Failure| failure.retryable(self.max_retry_wait))
            .adjust(|failure: &Failure, next: Option<Duration>| {
                next.map(|backoff| failure.retry_after().unwrap_or(backoff))
            })
            .notify(|failure: &Failure, wait: Duration| {
                warn!(%failure, ?wait, "model request failed; retrying");
            })
            .await
            .map_err(|failure| failure.into_model_error(self.timeout))
    }

    async fn post_once(
        &self,
        url: &str,
        attach: &(impl Fn(RequestBuilder) -> RequestBuilder + Sync),
        whole_timeout: Option<Duration>,
    ) -> Result<reqwest::Response, Failure> {
        let mut request = attach(self.client.post(url));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose_secret());
        }
        if let Some(timeout) = whole_timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(Failure::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|body| body.error.message)
            .unwrap_or_else(|_| text.chars().take(200).collect());
        Err(Failure::Status {
            status: status.as_u16(),
            message,
            retry_after,
        })
    }
}
