//! Pictures and voice: what comes in besides text, and what goes out
//! besides it.
//!
//! | module | owns |
//! |---|---|
//! | `intake` | a message's voice heard and pictures fetched for the model, and the one sentence about what it is not given |
//! | `picture` | turning a downloaded picture into an [`ImagePart`](crate::ImagePart) within the limits: decoded safely, downscaled, re-encoded |
//! | `services` | the [`Transcriber`] and [`ImageGenerator`] traits speech-to-text and image services implement, and their [`MediaError`] |
//! | `settings` | the `[vision]` limits and the voice limits of `[transcription]` |
//!
//! The engine asks the platform adapter for a file's bytes
//! ([`crate::Outbox::download`]) only when a message with one is answered,
//! and only when the model can see it (pictures) or a transcriber is set up
//! (voice); otherwise the sender is told in one sentence.

pub(crate) mod intake;
mod picture;
mod services;
mod settings;

pub use picture::{PictureError, picture_type, prepare, prepare_for_history};
pub use services::{
    AudioClip, GeneratedImage, ImageGenerator, MediaError, Transcriber, Transcript,
};
pub use settings::{ImageLimits, MediaSettings, VoiceLimits};
