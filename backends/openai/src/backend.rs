//! [`OpenAiBackend`]: the [`ModelBackend`] implementation — one request per
//! generation, streamed or whole, with the request's tools unless the server
//! has said it cannot call them (`tool_support`). [`OpenAiBackend::connect`]
//! asks the server the model's context window first (`context`).

use std::time::Duration;

use async_trait::async_trait;
use tracing::{debug, info, instrument, warn};

use natter_core::{
    Capabilities, ChatMessage, ChatRequest, ChatResponse, ChatStream, Completion, ModelBackend,
    ModelError, Moderation, Moderator,
};

use crate::base_url::{BaseUrl, endpoint_of};
use crate::context::{ASSUMED_CONTEXT, ContextSource, known_vision, without_asking};
use crate::discovery::{DISCOVERY_TIMEOUT, discover};
use crate::http::{self, Http};
use crate::settings::OpenAiSettings;
use crate::tokens::TokenCounter;
use crate::tool_calls::CallAssembler;
use crate::tool_support::{ToolSupport, requires_call};
use crate::wire::Tools;
use crate::{sse, wire};

/// Why the backend could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenAiError {
    /// `base_url` is not an http(s) URL (shown with credentials redacted).
    #[error("model.openai.base_url `{0}` is not an http:// or https:// URL")]
    BaseUrl(String),
    /// `base_url` names a user but no password, and `api_key` is unset.
    #[error(
        "model.openai.base_url names a user but no password, and no API key is set; \
         put the key in model.openai.api_key (or OPENAI_API_KEY), not in the URL"
    )]
    UrlUserWithoutKey,
    /// `model` is empty.
    #[error("model.openai.model is empty; name the model the server should use")]
    NoModel,
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// Any OpenAI-compatible Chat Completions API.
pub struct OpenAiBackend {
    http: Http,
    base: BaseUrl,
    model: String,
    stream_usage: bool,
    context_window: usize,
    context_source: ContextSource,
    moderations: String,
    moderation_model: String,
    tokens: TokenCounter,
    tool_support: ToolSupport,
    /// Whether the model sees pictures: configured, known or discovered.
    vision: Option<bool>,
}

impl std::fmt::Debug for OpenAiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiBackend")
            .field("endpoint", &self.http.endpoint)
            .field("model", &self.model)
            .field("context_window", &self.context_window)
            .field("context_source", &self.context_source)
            .finish_non_exhaustive()
    }
}

impl OpenAiBackend {
    /// A backend for `settings`, its context window asked of the server
    /// unless the settings or the model's name say it (`context`). Waits for
    /// the server's answer at most a few seconds (`DISCOVERY_TIMEOUT`); when
    /// none says, assumes 8192 tokens and logs a warning.
    pub async fn connect(settings: OpenAiSettings) -> Result<Self, OpenAiError> {
        let mut backend = Self::new(settings)?;
        if backend.context_source != ContextSource::Assumed && backend.vision.is_some() {
            return Ok(backend);
        }
        let asked = discover(
            &backend.http.client,
            &backend.base,
            backend.http.key.as_ref(),
            &backend.model,
        )
        .await;
        if backend.vision.is_none() {
            backend.vision = asked.vision;
            if let Some(vision) = asked.vision {
                info!(model = %backend.model, vision, "the server says whether the model sees pictures");
            }
        }
        if backend.context_source != ContextSource::Assumed {
            return Ok(backend);
        }
        match asked.context {
            Some((tokens, server)) => {
                backend.context_window = tokens;
                backend.context_source = ContextSource::Discovered(server);
                info!(
                    model = %backend.model,
                    context = tokens,
                    source = %backend.context_source,
                    "the model's context window"
                );
            }
            None => warn!(
                model = %backend.model,
                server = backend.base.root(),
                waited = ?DISCOVERY_TIMEOUT,
                "the model server does not say the model's context window (as Ollama, vLLM and \
                 llama.cpp's server do); assuming {ASSUMED_CONTEXT} tokens: set \
                 model.openai.context if it has fewer (older history is cut silently) or more"
            ),
        }
        Ok(backend)
    }

    /// A backend for `settings`. Checks the settings; does not contact the
    /// server, so the context window is the setting's, a known model's, or
    /// assumed ([`OpenAiBackend::connect`] asks the server).
    pub fn new(settings: OpenAiSettings) -> Result<Self, OpenAiError> {
        let (base, key) = endpoint_of(&settings.base_url, &settings.api_key, &settings.model)?;
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let connect = Duration::from_secs(settings.connect_timeout_secs.max(1));
        let client = http::client(connect, timeout)?;
        let (context_window, context_source) = without_asking(settings.context, &settings.model);
        let vision = settings.vision.or_else(|| known_vision(&settings.model));
        Ok(Self {
            http: Http {
                client,
                endpoint: base.endpoint("chat/completions"),
                key,
                max_retries: settings.max_retries as usize,
                max_retry_wait: Duration::from_secs(settings.max_retry_wait_secs),
                timeout,
                deadline: Duration::from_secs(settings.deadline_secs.max(1)),
            },
            tokens: TokenCounter::new(&settings.model),
            moderations: base.endpoint("moderations"),
            moderation_model: settings.moderation_model,
            model: settings.model,
            stream_usage: settings.stream_usage,
            context_window,
            context_source,
            base,
            tool_support: ToolSupport::default(),
            vision,
        })
    }

    /// Where the context window in [`ModelBackend::capabilities`] came from.
    pub fn context_source(&self) -> ContextSource {
        self.context_source
    }

    /// Posts `request` (streamed or not) with its tools, unless the server
    /// cannot call tools: then without them — at once, when the server says
    /// so now — or not at all when the request requires a call.
    async fn send(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, ModelError> {
        let whole_timeout = (!stream).then_some(self.http.timeout);
        let usage = stream && self.stream_usage;
        let body = |tools| wire::Request::new(&self.model, request, stream, usage, tools);
        if request.tools.is_empty() {
            return self.http.post(&body(Tools::Withhold), whole_timeout).await;
        }
        let required = requires_call(&request.tool_choice);
        if self.tool_support.tools() == Tools::Withhold {
            if required {
                return Err(self.tool_support.unsupported(&self.model));
            }
            debug!("the server cannot call tools; asking without them");
            return self.http.post(&body(Tools::Withhold), whole_timeout).await;
        }
        match self.http.post(&body(Tools::Offer), whole_timeout).await {
            Err(error) if self.tool_support.learn(&self.model, &error) => {
                if required {
                    return Err(self.tool_support.unsupported(&self.model));
                }
                self.http.post(&body(Tools::Withhold), whole_timeout).await
            }
            sent => sent,
        }
    }
}

#[async_trait]
impl ModelBackend for OpenAiBackend {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("openai", &self.model, self.context_window)
            .with_vision(self.vision.unwrap_or(false))
    }

    fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
        self.tokens.count(messages)
    }

    #[instrument(skip_all, fields(model = %self.model, messages = request.messages.len()))]
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let response = self.http.within_deadline(self.send(&request, true)).await?;
        debug!(status = %response.status(), "stream started");
        Ok(sse::reply_stream(response, self.http.timeout))
    }

    #[instrument(skip_all, fields(model = %self.model, messages = request.messages.len()))]
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let completion = self
            .http
            .within_deadline(async {
                let response = self.send(&request, false).await?;
                response.json::<wire::Completion>().await.map_err(|e| {
                    if e.is_timeout() {
                        ModelError::Timeout(self.http.timeout)
                    } else {
                        ModelError::Protocol(format!(
                            "the server sent an invalid reply: {}",
                            e.without_url()
                        ))
                    }
                })
            })
            .await?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Protocol("the server's reply has no choices".into()))?;
        let mut calls = CallAssembler::default();
        for (index, call) in choice.message.tool_calls.iter().flatten().enumerate() {
            calls.add_whole(index, call);
        }
        let reported = choice.finish_reason.as_deref().map(wire::finish_reason);
        let (finish_reason, tool_calls) = calls.finish(reported);
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            completion: Completion {
                usage: completion.usage.map(Into::into),
                finish_reason,
                tool_calls,
            },
        })
    }
}

/// OpenAI's moderation service (`POST /moderations`), for the moderation plugin.
#[async_trait]
impl Moderator for OpenAiBackend {
    #[instrument(skip_all, fields(model = %self.moderation_model))]
    async fn moderate(&self, text: &str) -> Result<Moderation, ModelError> {
        let body = wire::ModerationRequest {
            model: &self.moderation_model,
            input: text,
        };
        let verdict = self
            .http
            .within_deadline(async {
                let response = self
                    .http
                    .post_to(&self.moderations, &body, Some(self.http.timeout))
                    .await?;
                response
                    .json::<wire::ModerationResponse>()
                    .await
                    .map_err(|e| {
                        ModelError::Protocol(format!(
                            "the moderation endpoint sent an invalid reply: {}",
                            e.without_url()
                        ))
                    })
            })
            .await?;
        Ok(verdict.into_moderation())
    }
}
