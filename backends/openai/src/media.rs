//! The media endpoints of an OpenAI-compatible API: speech to text
//! (`POST {base_url}/audio/transcriptions`, multipart, as OpenAI's Whisper
//! and gpt-4o-transcribe, faster-whisper-server, whisper.cpp's server and
//! LocalAI take it) and text to picture (`POST {base_url}/images/generations`,
//! answered as base64 or a URL). Both retry like chat requests do.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use natter_core::media::picture_type;
use natter_core::secret::{deserialize_non_empty, serialize_redacted};
use natter_core::{
    AudioClip, GeneratedImage, ImageGenerator, MediaError, ModelError, Transcriber, Transcript,
};
use reqwest::multipart::{Form, Part};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::backend::OpenAiError;
use crate::base_url::{endpoint_of, redact};
use crate::http::{self, Http};

/// Longest wait to connect to a media endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest picture fetched when an image service answers with a URL.
const MAX_PICTURE_BYTES: usize = 32 * 1024 * 1024;

/// How to reach one media endpoint: `[transcription]` or
/// `[image_generation]`. `Debug` shows the key and any credentials in
/// `base_url` redacted.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EndpointSettings {
    /// The API root, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:8000/v1` (a Whisper-compatible server).
    #[serde(serialize_with = "serialize_redacted_url")]
    pub base_url: String,
    /// The model the server knows (`whisper-1`, `gpt-image-1`, …).
    pub model: String,
    /// The API key; unset for servers that need none.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub api_key: Option<SecretString>,
    /// Longest wait for an answer, in seconds.
    pub timeout_secs: u64,
    /// Retries after 429, 5xx or connection errors.
    pub max_retries: u32,
}

impl Default for EndpointSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: String::new(),
            api_key: None,
            timeout_secs: 120,
            max_retries: 2,
        }
    }
}

impl std::fmt::Debug for EndpointSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSettings")
            .field("base_url", &redact(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

fn serialize_redacted_url<S: serde::Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact(url))
}

/// The HTTP side of one media endpoint, and its model.
struct Endpoint {
    http: Http,
    model: String,
}

impl Endpoint {
    fn new(settings: &EndpointSettings, path: &str) -> Result<Self, OpenAiError> {
        let (base, key) = endpoint_of(&settings.base_url, &settings.api_key, &settings.model)?;
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let client = http::client(CONNECT_TIMEOUT, timeout)?;
        Ok(Self {
            http: Http {
                client,
                endpoint: base.endpoint(path),
                key,
                max_retries: settings.max_retries as usize,
                max_retry_wait: Duration::from_secs(30),
                timeout,
                deadline: timeout.saturating_mul(settings.max_retries.saturating_add(1)),
            },
            model: settings.model.clone(),
        })
    }
}

/// A [`ModelError`] from the HTTP layer as the media service's error.
fn media_error(service: &'static str, error: ModelError) -> MediaError {
    match error {
        ModelError::Unavailable(message) => MediaError::Unavailable { service, message },
        ModelError::Unauthorized(message) => MediaError::Unauthorized { service, message },
        ModelError::RateLimited { .. } => MediaError::RateLimited { service },
        ModelError::Rejected { status, message } => MediaError::Rejected {
            service,
            status,
            message,
        },
        ModelError::Timeout(after) => MediaError::Timeout { service, after },
        other => MediaError::Failed {
            service,
            message: other.to_string(),
        },
    }
}

const TRANSCRIPTION: &str = "transcription service";
const IMAGES: &str = "image service";

/// Speech to text through `POST {base_url}/audio/transcriptions`.
pub struct OpenAiTranscriber {
    endpoint: Endpoint,
}

impl OpenAiTranscriber {
    /// A transcriber for `settings`; contacts nothing yet.
    pub fn new(settings: &EndpointSettings) -> Result<Self, OpenAiError> {
        Ok(Self {
            endpoint: Endpoint::new(settings, "audio/transcriptions")?,
        })
    }
}

/// `{"text": …}`, with `duration` when the server answers `verbose_json`.
#[derive(Deserialize)]
struct TranscriptionBody {
    text: String,
    #[serde(default)]
    duration: Option<f64>,
}

#[async_trait]
impl Transcriber for OpenAiTranscriber {
    fn model(&self) -> &str {
        &self.endpoint.model
    }

    #[instrument(skip_all, fields(model = %self.endpoint.model, bytes = clip.bytes.len()))]
    async fn transcribe(&self, clip: AudioClip) -> Result<Transcript, MediaError> {
        let http = &self.endpoint.http;
        let model = self.endpoint.model.clone();
        let form = || {
            let part = || Part::bytes(clip.bytes.clone()).file_name(clip.file_name.clone());
            let file = match clip.mime.as_deref() {
                Some(mime) => part().mime_str(mime).unwrap_or_else(|_| part()),
                None => part(),
            };
            Form::new()
                .text("model", model.clone())
                .text("response_format", "json")
                .part("file", file)
        };
        let response = http
            .within_deadline(http.post_built(
                &http.endpoint,
                |request| request.multipart(form()),
                Some(http.timeout),
            ))
            .await
            .map_err(|e| media_error(TRANSCRIPTION, e))?;
        let body: TranscriptionBody = response.json().await.map_err(|e| MediaError::Failed {
            service: TRANSCRIPTION,
            message: format!("unreadable answer: {}", e.without_url()),
        })?;
        Ok(Transcript {
            text: body.text,
            seconds: body.duration,
        })
    }
}

/// Text to picture through `POST {base_url}/images/generations`.
pub struct OpenAiImages {
    endpoint: Endpoint,
    size: String,
}

impl OpenAiImages {
    /// An image service for `settings`, making pictures of `size`
    /// (`1024x1024`, …); contacts nothing yet.
    pub fn new(settings: &EndpointSettings, size: &str) -> Result<Self, OpenAiError> {
        Ok(Self {
            endpoint: Endpoint::new(settings, "images/generations")?,
            size: size.to_owned(),
        })
    }
}

#[derive(Serialize)]
struct GenerationRequest<'a> {
    model: &'a str,
    prompt: &'a str,
    n: u32,
    size: &'a str,
}

#[derive(Deserialize)]
struct GenerationBody {
    data: Vec<GeneratedData>,
}

#[derive(Deserialize)]
struct GeneratedData {
    #[serde(default)]
    b64_json: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    revised_prompt: Option<String>,
}

#[async_trait]
impl ImageGenerator for OpenAiImages {
    fn model(&self) -> &str {
        &self.endpoint.model
    }

    #[instrument(skip_all, fields(model = %self.endpoint.model))]
    async fn generate(&self, prompt: &str) -> Result<GeneratedImage, MediaError> {
        let http = &self.endpoint.http;
        let body = GenerationRequest {
            model: &self.endpoint.model,
            prompt,
            n: 1,
            size: &self.size,
        };
        let response = http
            .within_deadline(http.post_to(&http.endpoint, &body, Some(http.timeout)))
            .await
            .map_err(|e| media_error(IMAGES, e))?;
        let failed = |message: String| MediaError::Failed {
            service: IMAGES,
            message,
        };
        let body: GenerationBody = response
            .json()
            .await
            .map_err(|e| failed(format!("unreadable answer: {}", e.without_url())))?;
        let Some(first) = body.data.into_iter().next() else {
            return Err(failed("the answer holds no picture".into()));
        };
        let bytes = match (first.b64_json, first.url) {
            (Some(encoded), _) => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| failed(format!("the picture is not base64: {e}")))?,
            (None, Some(url)) => self.fetch(&url).await?,
            (None, None) => return Err(failed("the answer holds no picture".into())),
        };
        let mime = picture_type(&bytes)
            .ok_or_else(|| failed("the answer is not a PNG, JPEG, WebP or GIF picture".into()))?;
        Ok(GeneratedImage {
            bytes,
            mime: mime.to_owned(),
            revised_prompt: first.revised_prompt,
        })
    }
}

impl OpenAiImages {
    /// The picture at `url` (services that answer with a link), at most
    /// [`MAX_PICTURE_BYTES`].
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, MediaError> {
        let http = &self.endpoint.http;
        let failed = |message: String| MediaError::Failed {
            service: IMAGES,
            message,
        };
        let mut request = http.client.get(url).timeout(http.timeout);
        // The key goes only to the service's own host, never to a CDN.
        if let Some(key) = &http.key
            && same_origin(url, &http.endpoint)
        {
            request = request.bearer_auth(key.expose_secret());
        }
        let mut response = request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed(format!("cannot fetch the picture: {}", e.without_url())))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(format!("cannot fetch the picture: {}", e.without_url())))?
        {
            if bytes.len() + chunk.len() > MAX_PICTURE_BYTES {
                return Err(failed("the picture is too large".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// Whether `a` and `b` are URLs of the same origin (scheme, host, port).
fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin().is_tuple() && a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_goes_to_the_same_origin_only() {
        assert!(same_origin(
            "http://127.0.0.1:9/v1/files/x.png",
            "http://127.0.0.1:9/v1/images/generations"
        ));
        assert!(!same_origin(
            "https://cdn.example/x.png",
            "https://api.example/v1/images/generations"
        ));
        assert!(!same_origin("not a url", "not a url"));
        assert!(same_origin(
            "https://user:pw@API.example:443/x.png",
            "https://api.example/v1/images/generations"
        ));
    }

    #[test]
    fn settings_debug_hides_the_key() {
        let settings = EndpointSettings {
            model: "whisper-1".into(),
            api_key: Some(SecretString::from("sk-secret")),
            base_url: "http://user:pw@host/v1".into(),
            ..EndpointSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("sk-secret") && !shown.contains("pw@"),
            "{shown}"
        );
    }
}
