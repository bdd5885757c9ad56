//! The files a Telegram message carries — photos, image documents, voice
//! notes, audio, videos and other documents — as engine [`Attachment`]s, by
//! file id (never downloaded here).

use natter_core::{Attachment, AttachmentKind};
use teloxide::types::{FileMeta, Message};

/// Every file `message` carries, the largest size of a photo only.
pub(crate) fn attachments(message: &Message) -> Vec<Attachment> {
    let mut found = Vec::new();
    let mut add = |kind, file: &FileMeta, mime: Option<String>| {
        let mut attachment = Attachment::new(kind, file.id.0.clone());
        attachment.mime = mime;
        found.push(attachment);
    };
    if let Some(largest) = message
        .photo()
        .and_then(|sizes| sizes.iter().max_by_key(|s| s.width * s.height))
    {
        add(AttachmentKind::Image, &largest.file, None);
    }
    if let Some(document) = message.document() {
        let mime = document.mime_type.as_ref().map(ToString::to_string);
        let kind = mime
            .as_deref()
            .map_or(AttachmentKind::File, AttachmentKind::from_mime);
        add(kind, &document.file, mime);
    }
    if let Some(voice) = message.voice() {
        let mime = voice.mime_type.as_ref().map(ToString::to_string);
        add(AttachmentKind::Voice, &voice.file, mime);
    }
    if let Some(audio) = message.audio() {
        let mime = audio.mime_type.as_ref().map(ToString::to_string);
        add(AttachmentKind::Audio, &audio.file, mime);
    }
    if let Some(video) = message.video() {
        add(AttachmentKind::Video, &video.file, None);
    }
    if let Some(note) = message.video_note() {
        add(AttachmentKind::Video, &note.file, None);
    }
    found
}
