//! Pictures and voice on their way in: a voice note heard (fetched and
//! transcribed) before plugins screen the message, so filters, commands and
//! the model all see its words; a message's pictures fetched and prepared
//! for a model that can see; and one sentence for whatever the model is not
//! given, so nobody gets an answer that pretends to have seen or heard it.

use tracing::{info, warn};

use super::picture::{self, PictureError};
use super::services::{AudioClip, Transcript};
use crate::chat::ImagePart;
use crate::delivery::Courier;
use crate::message::{Attachment, AttachmentKind, Incoming};
use crate::models::NamedModel;
use crate::outbox::DownloadError;
use crate::services::Services;

/// What became of a message's voice note.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// Nothing to hear, or its words are now the message's text: go on.
    Continue,
    /// The sender was told why it could not be heard and there is no text
    /// to answer instead: stop here.
    Stop,
}

/// Transcribes `message`'s voice note or audio file into its text (after
/// the caption, if any), when it is addressed to the bot and a transcriber
/// is set up. The note leaves the message's attachments once heard, or once
/// the sender was told why not; without a transcriber it stays, for
/// [`look`]'s sentence.
pub(crate) async fn hear(services: &Services, courier: &Courier, message: &mut Incoming) -> Heard {
    let Some(position) = message
        .attachments
        .iter()
        .position(|a| matches!(a.kind, AttachmentKind::Voice | AttachmentKind::Audio))
    else {
        return Heard::Continue;
    };
    let Some(transcriber) = services.media.transcriber.clone() else {
        return Heard::Continue;
    };
    // Group chatter is not transcribed: a voice note nobody addressed to
    // the bot costs nothing.
    if !message.is_addressed() {
        return Heard::Continue;
    }
    let voice = message.attachments.remove(position);
    message
        .attachments
        .retain(|a| !matches!(a.kind, AttachmentKind::Voice | AttachmentKind::Audio));
    let has_caption = !message.text.trim().is_empty();
    let give_up = async |sentence: String| {
        tell(courier, message, &sentence).await;
        if has_caption {
            Heard::Continue
        } else {
            Heard::Stop
        }
    };
    match services.over_budget(message).await {
        Ok(Some(refusal)) => {
            tell(courier, message, &refusal).await;
            return Heard::Stop;
        }
        Ok(None) => {}
        Err(error) => warn!(%error, "could not check the budget; transcribing anyway"),
    }
    let limits = &services.media.settings.voice;
    if let Some(seconds) = voice.seconds.filter(|&s| s > limits.max_seconds) {
        return give_up(format!(
            "Your voice message is {} long; I can listen to {} at most.",
            duration(seconds),
            duration(limits.max_seconds)
        ))
        .await;
    }
    let bytes = match courier.outbox().download(&voice, limits.max_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => {
            warn!(%error, "could not fetch a voice message");
            return give_up(download_sentence(&error, "voice message")).await;
        }
    };
    let clip = AudioClip {
        bytes,
        file_name: voice
            .file_name
            .clone()
            .unwrap_or_else(|| "voice.ogg".to_owned()),
        mime: voice.mime.clone(),
    };
    let transcript = match transcriber.transcribe(clip).await {
        Ok(Transcript { text, seconds }) => {
            let heard = seconds
                .map(|s| s.ceil() as u32)
                .or(voice.seconds)
                .unwrap_or(0);
            services
                .record_media_usage(message, "transcription", transcriber.model(), heard, 0)
                .await;
            text.trim().to_owned()
        }
        Err(error) => {
            warn!(%error, "could not transcribe a voice message");
            return give_up(error.user_message()).await;
        }
    };
    if transcript.is_empty() {
        return give_up("I couldn't make out any words in your voice message.".to_owned()).await;
    }
    info!(chars = transcript.len(), "voice message transcribed");
    if limits.show_transcript {
        tell(courier, message, &format!("🎙️ “{transcript}”")).await;
    }
    message.text = if has_caption {
        format!("{}\n\n{transcript}", message.text.trim())
    } else {
        transcript
    };
    Heard::Continue
}

/// What a chat turn gives the model of a message's files.
#[derive(Debug, Default)]
pub(crate) struct Sight {
    /// Its pictures, prepared for a model that can see.
    pub(crate) images: Vec<ImagePart>,
    /// One sentence about what the model is not given, if anything.
    pub(crate) note: Option<String>,
}

/// `message`'s pictures for `model` (none for a model that cannot see), and
/// the sentence about whatever it is not given: pictures it cannot see,
/// ones that could not be fetched or opened, ones over the count limit,
/// videos, and voice nobody transcribed.
pub(crate) async fn look(
    services: &Services,
    courier: &Courier,
    message: &Incoming,
    model: &NamedModel,
) -> Sight {
    let of = |kind: AttachmentKind| message.attachments.iter().filter(move |a| a.kind == kind);
    let pictures: Vec<&Attachment> = of(AttachmentKind::Image).collect();
    let mut missing: Vec<String> = Vec::new();
    let mut images = Vec::new();
    if !pictures.is_empty() {
        if model.capabilities.vision {
            let limits = &services.media.settings.images;
            let mut failed = Vec::new();
            for file in pictures.iter().take(limits.max_images) {
                match fetch_picture(courier, file, limits).await {
                    Ok(part) => images.push(part),
                    Err(sentence) => failed.push(sentence),
                }
            }
            if let Some(first) = failed.first() {
                missing.push(first.clone());
            }
            if pictures.len() > limits.max_images {
                missing.push(format!(
                    "look at more than {} pictures at once (I took the first ones)",
                    limits.max_images
                ));
            }
        } else {
            missing.push("see pictures with this model".to_owned());
        }
    }
    if of(AttachmentKind::Video).next().is_some() {
        missing.push("watch videos".to_owned());
    }
    let voice = of(AttachmentKind::Voice)
        .chain(of(AttachmentKind::Audio))
        .next();
    if voice.is_some() {
        missing.push("listen to voice or audio messages here".to_owned());
    }
    let note = (!missing.is_empty()).then(|| {
        let what = join(&missing);
        if !message.text.trim().is_empty() || !images.is_empty() {
            format!("I can't {what}, so I'm answering with what I have.")
        } else {
            format!("I can't {what} — please tell me in words.")
        }
    });
    Sight { images, note }
}

/// A picture fetched and prepared, or the phrase saying why not ("open
/// your picture (…)"), to follow "I can't".
async fn fetch_picture(
    courier: &Courier,
    file: &Attachment,
    limits: &super::ImageLimits,
) -> Result<ImagePart, String> {
    let bytes = courier
        .outbox()
        .download(file, limits.max_download_bytes)
        .await
        .map_err(|error| {
            warn!(%error, "could not fetch a picture");
            match error {
                DownloadError::TooLarge { limit } => {
                    format!("take pictures larger than {}", megabytes(limit))
                }
                _ => "fetch your picture right now".to_owned(),
            }
        })?;
    let reference = file.reference.clone();
    let (max_side, max_bytes) = (limits.max_side, limits.max_bytes);
    let prepared = tokio::task::spawn_blocking(move || {
        picture::prepare(&bytes, &reference, max_side, max_bytes)
    })
    .await;
    match prepared {
        Ok(Ok(part)) => Ok(part),
        Ok(Err(error)) => {
            warn!(%error, "could not open a picture");
            Err(match error {
                PictureError::NotAPicture => {
                    "open that file as a picture (JPEG, PNG, WebP or GIF)".to_owned()
                }
                _ => "open your picture".to_owned(),
            })
        }
        Err(error) => {
            warn!(%error, "preparing a picture stopped");
            Err("open your picture".to_owned())
        }
    }
}

/// The copies of `images` history keeps: each small (`[vision]
/// history_side`, `history_max_bytes`), or its reference alone when it
/// cannot be made that small.
pub(crate) async fn for_history(services: &Services, images: &[ImagePart]) -> Vec<ImagePart> {
    if images.is_empty() {
        return Vec::new();
    }
    let limits = services.media.settings.images.clone();
    let images = images.to_vec();
    let shrunk = tokio::task::spawn_blocking(move || {
        images
            .into_iter()
            .map(|part| {
                picture::prepare_for_history(&part, limits.history_side, limits.history_max_bytes)
                    .unwrap_or(ImagePart {
                        base64: String::new(),
                        ..part
                    })
            })
            .collect()
    })
    .await;
    shrunk.unwrap_or_else(|error| {
        warn!(%error, "shrinking pictures for history stopped; keeping none");
        Vec::new()
    })
}

/// The sentence for a file that could not be fetched.
fn download_sentence(error: &DownloadError, what: &str) -> String {
    match error {
        DownloadError::TooLarge { limit } => format!(
            "Your {what} is too large for me (I take up to {}).",
            megabytes(*limit)
        ),
        _ => format!("Sorry, I couldn't fetch your {what}. Please try again."),
    }
}

/// Sends `sentence` in reply to `message`, logging a failure.
async fn tell(courier: &Courier, message: &Incoming, sentence: &str) {
    if let Err(error) = courier
        .send_text(&message.channel, sentence, Some(&message.id))
        .await
    {
        warn!(%error, "could not deliver a reply");
    }
}

/// "a", "a or b", "a, b or c".
fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `seconds` as "45 seconds" or "2:05 minutes".
fn duration(seconds: u32) -> String {
    if seconds < 60 {
        format!("{seconds} seconds")
    } else {
        format!("{}:{:02} minutes", seconds / 60, seconds % 60)
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes.div_ceil(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        let items = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(join(&items(&["a"])), "a");
        assert_eq!(join(&items(&["a", "b"])), "a or b");
        assert_eq!(join(&items(&["a", "b", "c"])), "a, b or c");
    }

    #[test]
    fn durations_read_as_seconds_or_minutes() {
        assert_eq!(duration(45), "45 seconds");
        assert_eq!(duration(125), "2:05 minutes");
        assert_eq!(megabytes(20 * 1024 * 1024), "21 MB");
    }
}
