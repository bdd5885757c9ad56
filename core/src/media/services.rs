//! The services pictures and voice need besides a chat model: speech to
//! text ([`Transcriber`]) and text to picture ([`ImageGenerator`]), and the
//! errors callers can act on. `natter-openai` implements both for
//! OpenAI-compatible servers (`/audio/transcriptions`, `/images/generations`).

use std::time::Duration;

use async_trait::async_trait;

/// A voice note or audio file to transcribe.
#[derive(Clone)]
pub struct AudioClip {
    /// The file's bytes as the platform sent them (Telegram voice notes are
    /// Ogg Opus; servers recognise the format by the file name).
    pub bytes: Vec<u8>,
    /// A file name with the right extension (`voice.ogg`, `memo.mp3`).
    pub file_name: String,
    /// Its MIME type, where known.
    pub mime: Option<String>,
}

impl std::fmt::Debug for AudioClip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioClip")
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What was said in a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Transcript {
    /// The words.
    pub text: String,
    /// The clip's length in seconds, when the server says.
    pub seconds: Option<f64>,
}

/// A picture made from a prompt.
#[derive(Clone)]
pub struct GeneratedImage {
    /// The encoded picture.
    pub bytes: Vec<u8>,
    /// Its MIME type (`image/png`).
    pub mime: String,
    /// The prompt as the service rewrote it, when it did.
    pub revised_prompt: Option<String>,
}

impl std::fmt::Debug for GeneratedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedImage")
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .field("revised_prompt", &self.revised_prompt)
            .finish()
    }
}

/// Why a media service failed. Variants say what a caller can do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The service could not be reached.
    #[error("cannot reach the {service}: {message}")]
    Unavailable {
        /// Which service ("transcription service", "image service").
        service: &'static str,
        /// Why.
        message: String,
    },
    /// The service refused the credentials.
    #[error("the {service} rejected the credentials ({message})")]
    Unauthorized {
        /// Which service.
        service: &'static str,
        /// Its words.
        message: String,
    },
    /// The service asked us to slow down.
    #[error("the {service} is rate limiting requests")]
    RateLimited {
        /// Which service.
        service: &'static str,
    },
    /// The service refused this input (a prompt its policy blocks, audio it
    /// cannot read).
    #[error("the {service} refused the request: HTTP {status}: {message}")]
    Rejected {
        /// Which service.
        service: &'static str,
        /// HTTP status.
        status: u16,
        /// Its words.
        message: String,
    },
    /// The service failed.
    #[error("the {service} failed: {message}")]
    Failed {
        /// Which service.
        service: &'static str,
        /// What happened.
        message: String,
    },
    /// It did not answer in time.
    #[error("the {service} did not answer within {after:?}")]
    Timeout {
        /// Which service.
        service: &'static str,
        /// How long we waited.
        after: Duration,
    },
}

impl MediaError {
    /// One short sentence for a chat user; the details go to the log.
    pub fn user_message(&self) -> String {
        match self {
            MediaError::Unavailable { service, .. } | MediaError::Failed { service, .. } => {
                format!("Sorry, the {service} isn't working right now. Please try again later.")
            }
            MediaError::Unauthorized { service, .. } => {
                format!("Sorry, I'm not allowed to use the {service} (check its API key).")
            }
            MediaError::RateLimited { service } => {
                format!("Sorry, the {service} is busy. Please try again in a minute.")
            }
            MediaError::Rejected { service, .. } => {
                format!("Sorry, the {service} refused that.")
            }
            MediaError::Timeout { service, .. } => {
                format!("Sorry, the {service} took too long. Please try again.")
            }
        }
    }
}

/// Speech to text.
#[async_trait]
pub trait Transcriber: Send + Sync {
    /// The model's name, for the usage ledger.
    fn model(&self) -> &str;

    /// What is said in `clip`.
    async fn transcribe(&self, clip: AudioClip) -> Result<Transcript, MediaError>;
}

/// Text to picture.
#[async_trait]
pub trait ImageGenerator: Send + Sync {
    /// The model's name, for the usage ledger.
    fn model(&self) -> &str;

    /// A picture of `prompt`.
    async fn generate(&self, prompt: &str) -> Result<GeneratedImage, MediaError>;
}
