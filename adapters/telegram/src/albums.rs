//! [`Albums`]: Telegram sends an album — several photos sent at once — as
//! one message per picture, sharing a `media_group_id`, the caption on one
//! of them, all within moments (one `getUpdates` batch, or webhook calls a
//! few milliseconds apart). The engine should see one message with every
//! picture, and answer once, not once per picture: the first part opens the
//! album, later parts join it, and [`ALBUM_WAIT`] after the first it is
//! handed over whole — after the chat's earlier messages and before its
//! later ones (`crate::order`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use natter_core::Incoming;

/// How long an album stays open for its other parts after its first.
pub(crate) const ALBUM_WAIT: Duration = Duration::from_millis(800);

/// The albums still collecting their parts, by chat and media group.
#[derive(Clone, Default)]
pub(crate) struct Albums {
    open: Arc<Mutex<HashMap<(i64, String), Incoming>>>,
}

/// What became of one part.
pub(crate) enum Part {
    /// It opened an album: hand over what [`Albums::close`] returns once
    /// [`ALBUM_WAIT`] has passed.
    Opened,
    /// It joined an album already open; nothing to hand over.
    Joined,
}

impl Albums {
    /// Adds `message`, a part of album `group` in `chat`.
    pub(crate) fn add(&self, chat: i64, group: &str, message: Incoming) -> Part {
        let mut open = self.lock();
        match open.get_mut(&(chat, group.to_owned())) {
            Some(album) => {
                album.attachments.extend(message.attachments);
                // The caption is on one part, not always the first.
                if album.text.trim().is_empty() {
                    album.text = message.text;
                    album.addressed = message.addressed;
                }
                Part::Joined
            }
            None => {
                open.insert((chat, group.to_owned()), message);
                Part::Opened
            }
        }
    }

    /// The album `group` in `chat` with every part that joined it; later
    /// parts open a new one. `None` if it was closed already.
    pub(crate) fn close(&self, chat: i64, group: &str) -> Option<Incoming> {
        self.lock().remove(&(chat, group.to_owned()))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(i64, String), Incoming>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use natter_core::{
        Addressed, Attachment, AttachmentKind, Author, ChannelRef, ConversationKey, MessageId,
        Platform,
    };

    use super::*;

    fn part(id: &str, caption: &str) -> Incoming {
        let platform = Platform::new("telegram");
        Incoming {
            key: ConversationKey::new(platform, "7"),
            channel: ChannelRef::private(platform, "7"),
            id: MessageId(id.into()),
            author: Author::user("7", "Ana"),
            text: caption.into(),
            addressed: Addressed::Private,
            replied_to_text: None,
            attachments: vec![Attachment::new(AttachmentKind::Image, id)],
        }
    }

    #[test]
    fn parts_join_the_first_and_the_caption_is_kept_wherever_it_was() {
        let albums = Albums::default();
        assert!(matches!(albums.add(7, "g", part("1", "")), Part::Opened));
        assert!(matches!(
            albums.add(7, "g", part("2", "compare these")),
            Part::Joined
        ));
        assert!(matches!(
            albums.add(7, "other", part("9", "")),
            Part::Opened
        ));
        let album = albums.close(7, "g").unwrap();
        assert_eq!(
            album.id,
            MessageId("1".into()),
            "replies go to the first part"
        );
        assert_eq!(album.text, "compare these");
        let files: Vec<&str> = album
            .attachments
            .iter()
            .map(|a| a.reference.as_str())
            .collect();
        assert_eq!(files, ["1", "2"]);
        assert!(albums.close(7, "g").is_none());
        assert!(albums.close(7, "other").is_some());
    }
}
