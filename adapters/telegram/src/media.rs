//! The files a Telegram message carries — photos, image documents, voice
//! notes, audio, videos and other documents — as engine [`Attachment`]s, by
//! file id, with what Telegram says of them: size, length, file name and
//! MIME type (never downloaded here: see `download`).

use natter_core::{Attachment, AttachmentKind};
use teloxide::types::{FileMeta, Message, Seconds};

/// Every file `message` carries, the largest size of a photo only.
pub(crate) fn attachments(message: &Message) -> Vec<Attachment> {
    let mut found = Vec::new();
    if let Some(largest) = message
        .photo()
        .and_then(|sizes| sizes.iter().max_by_key(|s| s.width * s.height))
    {
        // Telegram re-encodes every photo as a JPEG.
        found.push(described(
            AttachmentKind::Image,
            &largest.file,
            Some("image/jpeg".into()),
            None,
            Some("photo.jpg".into()),
        ));
    }
    if let Some(document) = message.document() {
        let mime = document.mime_type.as_ref().map(ToString::to_string);
        let kind = mime
            .as_deref()
            .map_or(AttachmentKind::File, AttachmentKind::from_mime);
        found.push(described(
            kind,
            &document.file,
            mime,
            None,
            document.file_name.clone(),
        ));
    }
    if let Some(voice) = message.voice() {
        // Voice notes are Opus in Ogg; Telegram seldom leaves the type out.
        let mime = voice
            .mime_type
            .as_ref()
            .map_or_else(|| "audio/ogg".to_owned(), ToString::to_string);
        found.push(described(
            AttachmentKind::Voice,
            &voice.file,
            Some(mime),
            Some(voice.duration),
            Some("voice.ogg".into()),
        ));
    }
    if let Some(audio) = message.audio() {
        found.push(described(
            AttachmentKind::Audio,
            &audio.file,
            audio.mime_type.as_ref().map(ToString::to_string),
            Some(audio.duration),
            audio.file_name.clone(),
        ));
    }
    if let Some(video) = message.video() {
        found.push(described(
            AttachmentKind::Video,
            &video.file,
            video.mime_type.as_ref().map(ToString::to_string),
            Some(video.duration),
            video.file_name.clone(),
        ));
    }
    if let Some(note) = message.video_note() {
        // Round video notes are always MPEG-4.
        found.push(described(
            AttachmentKind::Video,
            &note.file,
            Some("video/mp4".into()),
            Some(note.duration),
            None,
        ));
    }
    found
}

/// The attachment for `file`, with what Telegram said of it.
fn described(
    kind: AttachmentKind,
    file: &FileMeta,
    mime: Option<String>,
    duration: Option<Seconds>,
    file_name: Option<String>,
) -> Attachment {
    let mut attachment = Attachment::new(kind, file.id.0.clone());
    attachment.mime = mime;
    attachment.size = declared_size(file);
    attachment.seconds = duration.map(Seconds::seconds);
    attachment.file_name = file_name;
    attachment
}

/// The size Telegram declared for `file`; teloxide reads a missing
/// `file_size` as `u32::MAX`, which is no size at all.
pub(crate) fn declared_size(file: &FileMeta) -> Option<u64> {
    (file.size != u32::MAX).then_some(u64::from(file.size))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    fn message(fields: Value) -> Message {
        let mut value = json!({
            "message_id": 5, "date": 1_700_000_000,
            "chat": {"id": 7, "type": "private", "first_name": "Ana"},
            "from": {"id": 7, "is_bot": false, "first_name": "Ana"},
        });
        if let (Some(base), Some(extra)) = (value.as_object_mut(), fields.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_largest_photo_is_a_jpeg_with_its_size() {
        let m = message(json!({"photo": [
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 900},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 81_000},
        ], "caption": "look"}));
        let mut expected = Attachment::new(AttachmentKind::Image, "large").with_mime("image/jpeg");
        expected.size = Some(81_000);
        expected.file_name = Some("photo.jpg".into());
        assert_eq!(attachments(&m), [expected]);
    }

    #[test]
    fn voice_notes_have_their_length_and_default_to_ogg() {
        // teloxide reads a voice note only with the field there, if null.
        let m = message(json!({"voice": {"file_id": "v", "file_unique_id": "u",
            "duration": 7, "file_size": 12_345, "mime_type": null}}));
        let mut expected = Attachment::new(AttachmentKind::Voice, "v")
            .with_mime("audio/ogg")
            .with_seconds(7);
        expected.size = Some(12_345);
        expected.file_name = Some("voice.ogg".into());
        assert_eq!(attachments(&m), [expected]);
        let m = message(json!({"voice": {"file_id": "v", "file_unique_id": "u",
            "duration": 2, "mime_type": "audio/mpeg"}}));
        let found = &attachments(&m)[0];
        assert_eq!(found.mime.as_deref(), Some("audio/mpeg"));
        assert_eq!(found.size, None, "a left-out file_size is no size");
    }

    #[test]
    fn audio_documents_and_videos_keep_names_types_and_lengths() {
        let m = message(json!({"audio": {"file_id": "a", "file_unique_id": "u",
            "duration": 200, "file_name": "song.mp3", "mime_type": "audio/mpeg", "file_size": 4_000_000}}));
        let audio = &attachments(&m)[0];
        assert_eq!(audio.kind, AttachmentKind::Audio);
        assert_eq!(audio.file_name.as_deref(), Some("song.mp3"));
        assert_eq!(audio.mime.as_deref(), Some("audio/mpeg"));
        assert_eq!((audio.seconds, audio.size), (Some(200), Some(4_000_000)));

        let m = message(json!({"document": {"file_id": "d", "file_unique_id": "u",
            "file_name": "scan.png", "mime_type": "image/png", "file_size": 10}}));
        let document = &attachments(&m)[0];
        assert_eq!(document.kind, AttachmentKind::Image);
        assert_eq!(document.file_name.as_deref(), Some("scan.png"));
        assert_eq!(document.seconds, None);

        let m = message(json!({"video_note": {"file_id": "n", "file_unique_id": "u",
            "length": 240, "duration": 9, "file_size": 99}}));
        let note = &attachments(&m)[0];
        assert_eq!(note.kind, AttachmentKind::Video);
        assert_eq!(note.mime.as_deref(), Some("video/mp4"));
        assert_eq!(note.seconds, Some(9));
    }
}
