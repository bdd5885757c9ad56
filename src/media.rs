//! The `[transcription]` and `[image_generation]` sections, and the
//! services built from them. Each is on when it names a `model`; its
//! `base_url` and `api_key` default to `[model.openai]`'s, so a deployment on
//! OpenAI turns voice on with one line (`model = "whisper-1"`).

use std::sync::Arc;

use anyhow::Context;
use natter_core::secret::{deserialize_non_empty, serialize_redacted};
use natter_core::{ImageGenerator, MediaSettings, Transcriber, VoiceLimits};
use natter_openai::{EndpointSettings, OpenAiImages, OpenAiSettings, OpenAiTranscriber};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// `[transcription]`: voice notes and audio files to text through an
/// OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI,
/// faster-whisper-server, whisper.cpp's server, LocalAI).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TranscriptionSettings {
    /// The model (`whisper-1`, `Systran/faster-whisper-small`); empty turns
    /// transcription off.
    pub model: String,
    /// The API root; empty for `[model.openai] base_url`.
    pub base_url: String,
    /// The API key; unset for `[model.openai] api_key`.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub api_key: Option<SecretString>,
    /// Longest wait for a transcript, in seconds.
    pub timeout_secs: u64,
    /// Longest voice note or audio file transcribed, in seconds.
    pub max_seconds: u32,
    /// Largest audio file fetched, in bytes.
    pub max_bytes: u64,
    /// Show what was heard before the answer.
    pub show_transcript: bool,
}

impl Default for TranscriptionSettings {
    fn default() -> Self {
        let voice = VoiceLimits::default();
        Self {
            model: String::new(),
            base_url: String::new(),
            api_key: None,
            timeout_secs: 120,
            max_seconds: voice.max_seconds,
            max_bytes: voice.max_bytes,
            show_transcript: voice.show_transcript,
        }
    }
}

/// `[image_generation]`: `/image` pictures through an OpenAI-compatible
/// `/images/generations` endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageGenerationSettings {
    /// The model (`gpt-image-1`, `dall-e-3`); empty turns pictures off.
    pub model: String,
    /// The API root; empty for `[model.openai] base_url`.
    pub base_url: String,
    /// The API key; unset for `[model.openai] api_key`.
    #[serde(
        serialize_with = "serialize_redacted",
        deserialize_with = "deserialize_non_empty"
    )]
    pub api_key: Option<SecretString>,
    /// Longest wait for a picture, in seconds.
    pub timeout_secs: u64,
    /// The picture's size, as the service names sizes.
    pub size: String,
}

impl Default for ImageGenerationSettings {
    fn default() -> Self {
        Self {
            model: String::new(),
            base_url: String::new(),
            api_key: None,
            timeout_secs: 120,
            size: "1024x1024".into(),
        }
    }
}

/// An endpoint's settings, blanks filled from `[model.openai]`.
fn endpoint(
    model: &str,
    base_url: &str,
    api_key: Option<&SecretString>,
    timeout_secs: u64,
    openai: &OpenAiSettings,
) -> EndpointSettings {
    EndpointSettings {
        base_url: if base_url.trim().is_empty() {
            openai.base_url.clone()
        } else {
            base_url.to_owned()
        },
        model: model.trim().to_owned(),
        api_key: api_key.or(openai.api_key.as_ref()).cloned(),
        timeout_secs,
        ..EndpointSettings::default()
    }
}

impl TranscriptionSettings {
    /// True when a model is named.
    pub fn enabled(&self) -> bool {
        !self.model.trim().is_empty()
    }

    /// The voice limits the engine applies.
    pub fn limits(&self) -> VoiceLimits {
        VoiceLimits {
            max_seconds: self.max_seconds,
            max_bytes: self.max_bytes,
            show_transcript: self.show_transcript,
        }
    }

    /// The transcriber, when on.
    pub fn build(&self, openai: &OpenAiSettings) -> anyhow::Result<Option<Arc<dyn Transcriber>>> {
        if !self.enabled() {
            return Ok(None);
        }
        let settings = endpoint(
            &self.model,
            &self.base_url,
            self.api_key.as_ref(),
            self.timeout_secs,
            openai,
        );
        let transcriber =
            OpenAiTranscriber::new(&settings).context("cannot set up [transcription]")?;
        Ok(Some(Arc::new(transcriber)))
    }
}

impl ImageGenerationSettings {
    /// True when a model is named.
    pub fn enabled(&self) -> bool {
        !self.model.trim().is_empty()
    }

    /// The image service, when on.
    pub fn build(
        &self,
        openai: &OpenAiSettings,
    ) -> anyhow::Result<Option<Arc<dyn ImageGenerator>>> {
        if !self.enabled() {
            return Ok(None);
        }
        let settings = endpoint(
            &self.model,
            &self.base_url,
            self.api_key.as_ref(),
            self.timeout_secs,
            openai,
        );
        let images =
            OpenAiImages::new(&settings, &self.size).context("cannot set up [image_generation]")?;
        Ok(Some(Arc::new(images)))
    }
}

/// The engine's picture and voice limits from `[vision]` and `[transcription]`.
pub fn limits(
    vision: &natter_core::ImageLimits,
    transcription: &TranscriptionSettings,
) -> MediaSettings {
    MediaSettings {
        images: vision.clone(),
        voice: transcription.limits(),
    }
}
