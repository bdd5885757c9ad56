//! The media endpoints, as OpenAI answers them:
//!
//! - `POST /v1/audio/transcriptions` takes multipart/form-data (`file`,
//!   `model`, `response_format`) and answers `{"text": …}` — the transcript
//!   set with [`FakeOpenAi::set_transcript`] (by default "hello from a voice
//!   note"), or with `duration` too for `verbose_json`. A form without a
//!   `file` or `model` is refused with 400 as OpenAI refuses it; an empty
//!   file with 400 "Audio file is too short". Every request is recorded
//!   ([`FakeOpenAi::transcriptions`]).
//! - `POST /v1/images/generations` takes `{"model", "prompt", "n", "size"}`
//!   and answers `{"created", "data": [{"b64_json", "revised_prompt"}]}`
//!   with a real 1×1 PNG; a prompt containing a word set with
//!   [`FakeOpenAi::refuse_image_words`] gets 400 `content_policy_violation`.
//!   Requests are recorded ([`FakeOpenAi::image_requests`]).
//!
//! [`FakeOpenAi::set_transcript`]: super::FakeOpenAi::set_transcript
//! [`FakeOpenAi::transcriptions`]: super::FakeOpenAi::transcriptions
//! [`FakeOpenAi::refuse_image_words`]: super::FakeOpenAi::refuse_image_words
//! [`FakeOpenAi::image_requests`]: super::FakeOpenAi::image_requests

use std::sync::{Arc, Mutex};

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Inner, error_response};

/// A 1×1 PNG, what the fake image model draws.
pub const PICTURE_PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// A transcription request the fake received.
#[derive(Clone, Debug)]
pub struct TranscriptionRequest {
    /// The `model` field.
    pub model: String,
    /// The file part's name.
    pub file_name: String,
    /// The file part's content type, if sent.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// `response_format`, if sent.
    pub response_format: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

type Shared = State<Arc<Mutex<Inner>>>;

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `POST /v1/audio/transcriptions`.
pub(super) async fn transcriptions(
    State(inner): Shared,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let mut model = None;
    let mut file = None;
    let mut response_format = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("bad form: {e}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else {
            return error_response(StatusCode::BAD_REQUEST, "bad form field");
        };
        match name.as_str() {
            "model" => model = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "response_format" => {
                response_format = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            "file" => file = Some((file_name.unwrap_or_default(), content_type, bytes.to_vec())),
            _ => {}
        }
    }
    let (Some(model), Some((file_name, content_type, bytes))) = (model, file) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter and a file",
        );
    };
    let transcript = {
        let mut inner = inner.lock().unwrap();
        inner.transcriptions.push(TranscriptionRequest {
            model,
            file_name,
            content_type,
            bytes: bytes.clone(),
            response_format: response_format.clone(),
            authorization: authorization(&headers),
        });
        inner.transcript.clone()
    };
    if bytes.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "Audio file is too short");
    }
    match response_format.as_deref() {
        Some("verbose_json") => axum::Json(json!({
            "task": "transcribe", "language": "english",
            "duration": 3.2, "text": transcript, "segments": [],
        }))
        .into_response(),
        Some("text") => transcript.into_response(),
        _ => axum::Json(json!({"text": transcript})).into_response(),
    }
}

/// `POST /v1/images/generations`.
pub(super) async fn generations(
    State(inner): Shared,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("bad json: {e}")),
    };
    let prompt = body["prompt"].as_str().unwrap_or_default().to_lowercase();
    let refused = {
        let mut inner = inner.lock().unwrap();
        let mut recorded = body.clone();
        recorded["authorization"] = json!(authorization(&headers));
        inner.image_requests.push(recorded);
        inner
            .refused_image_words
            .iter()
            .any(|w| prompt.contains(w.as_str()))
    };
    if prompt.trim().is_empty() || body["model"].as_str().is_none() {
        return error_response(StatusCode::BAD_REQUEST, "model and prompt are required");
    }
    if refused {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {
                "message": "Your request was rejected as a result of our safety system.",
                "type": "invalid_request_error",
                "code": "content_policy_violation",
            }})),
        )
            .into_response();
    }
    axum::Json(json!({
        "created": 1_735_000_000,
        "data": [{
            "b64_json": PICTURE_PNG_BASE64,
            "revised_prompt": format!("A picture of {}", body["prompt"].as_str().unwrap_or_default()),
        }],
    }))
    .into_response()
}
