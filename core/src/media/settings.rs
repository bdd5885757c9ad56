//! The limits on pictures and voice the engine applies: `[vision]`, and
//! the voice limits of `[transcription]`.

use serde::{Deserialize, Serialize};

/// The `[vision]` section: how many pictures of what size reach a model
/// that can see, and how small history keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageLimits {
    /// Most pictures of one message passed on; the rest are left out (and
    /// the sender told).
    pub max_images: usize,
    /// Largest file downloaded, in bytes.
    pub max_download_bytes: u64,
    /// Longest side of a picture sent to the model, in pixels; larger ones
    /// are downscaled.
    pub max_side: u32,
    /// Largest picture sent to the model, in bytes after encoding.
    pub max_bytes: usize,
    /// Longest side of the copy history keeps, in pixels.
    pub history_side: u32,
    /// Largest copy history keeps, in bytes; a picture that cannot be made
    /// this small is kept by reference alone.
    pub history_max_bytes: usize,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_images: 4,
            max_download_bytes: 20 * 1024 * 1024,
            max_side: 1024,
            max_bytes: 1024 * 1024,
            history_side: 384,
            history_max_bytes: 32 * 1024,
        }
    }
}

/// Voice limits (in `[transcription]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceLimits {
    /// Longest voice note or audio file transcribed, in seconds.
    pub max_seconds: u32,
    /// Largest audio file downloaded, in bytes.
    pub max_bytes: u64,
    /// Show what was heard before the answer, so a misheard word is seen.
    pub show_transcript: bool,
}

impl Default for VoiceLimits {
    fn default() -> Self {
        Self {
            max_seconds: 300,
            max_bytes: 20 * 1024 * 1024,
            show_transcript: true,
        }
    }
}

/// The engine's picture and voice limits together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaSettings {
    /// `[vision]`.
    pub images: ImageLimits,
    /// The voice limits of `[transcription]`.
    pub voice: VoiceLimits,
}

impl ImageLimits {
    /// The first setting that cannot work, as `(key, why)`.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        if self.max_side < 64 {
            return Some(("max_side", "must be at least 64 pixels"));
        }
        if self.history_side < 32 {
            return Some(("history_side", "must be at least 32 pixels"));
        }
        if self.max_bytes < 8 * 1024 {
            return Some(("max_bytes", "must be at least 8192 bytes"));
        }
        None
    }
}
