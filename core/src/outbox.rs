//! The [`Outbox`] trait: how the engine talks back through a platform adapter,
//! and the [`PlatformLimits`] the delivery driver must respect.

use std::time::Duration;

use async_trait::async_trait;

use crate::approval::ApprovalRequest;
use crate::message::{Attachment, ChannelRef, MessageId};

/// How a platform measures message length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthUnit {
    /// Unicode scalar values (Discord).
    Chars,
    /// UTF-16 code units (Telegram).
    Utf16,
}

impl LengthUnit {
    /// The length of `text` in this unit.
    pub fn measure(self, text: &str) -> usize {
        match self {
            LengthUnit::Chars => text.chars().count(),
            LengthUnit::Utf16 => text.encode_utf16().count(),
        }
    }
}

/// At most `count` operations in any window of length `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Operations allowed in the window.
    pub count: u32,
    /// The window.
    pub per: Duration,
}

impl Rate {
    /// `count` operations per `per`.
    pub const fn new(count: u32, per: Duration) -> Self {
        Self { count, per }
    }
}

/// What a platform allows; the delivery driver stays inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformLimits {
    /// Longest message, measured in `unit` after rendering. `usize::MAX` for none.
    pub max_len: usize,
    /// How `max_len` is measured.
    pub unit: LengthUnit,
    /// Stream replies by editing the message as text arrives; otherwise send the
    /// finished reply only.
    pub streaming: bool,
    /// Appended to a message while it is still being written (e.g. `" …"`).
    pub streaming_suffix: String,
    /// Limits on sends and edits in any one chat.
    pub per_chat: Vec<Rate>,
    /// Further limits in group chats.
    pub per_group: Vec<Rate>,
    /// Limits across all chats of this bot.
    pub global: Vec<Rate>,
    /// How often to repeat the typing indicator while the model thinks; `None`
    /// sends it once.
    pub typing_every: Option<Duration>,
    /// Shortest time between two streaming edits of one reply, whatever the
    /// pacing allows: with pacing off (a self-hosted Telegram Bot API server)
    /// a reply would otherwise be edited once per token. Zero for none.
    pub min_edit_interval: Duration,
}

impl PlatformLimits {
    /// No length limit, no pacing, no streaming.
    pub fn unlimited() -> Self {
        Self {
            max_len: usize::MAX,
            unit: LengthUnit::Chars,
            streaming: false,
            streaming_suffix: String::new(),
            per_chat: Vec::new(),
            per_group: Vec::new(),
            global: Vec::new(),
            typing_every: None,
            min_edit_interval: Duration::ZERO,
        }
    }
}

/// Formatting of text handed to [`Outbox::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// Show as is.
    Plain,
    /// Platform HTML (Telegram's subset).
    Html,
    /// Platform Markdown (Discord's flavour).
    Markdown,
}

/// Text ready for a platform, with its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The text in `format`.
    pub text: String,
    /// How the platform should parse it.
    pub format: TextFormat,
    /// Users (platform ids) this message may notify. Empty for model output:
    /// text the model wrote never pings anyone; a reminder pings its owner.
    pub notify: Vec<String>,
}

impl Rendered {
    /// `text` in `format`, notifying nobody.
    pub fn new(text: impl Into<String>, format: TextFormat) -> Self {
        Self {
            text: text.into(),
            format,
            notify: Vec::new(),
        }
    }

    /// Plain text.
    pub fn plain(text: impl Into<String>) -> Self {
        Self::new(text, TextFormat::Plain)
    }
}

/// A picture to post, with the caption shown under it.
#[derive(Clone)]
pub struct OutgoingImage {
    /// The encoded picture.
    pub bytes: Vec<u8>,
    /// Its MIME type (`image/png`, `image/jpeg`).
    pub mime: String,
    /// A file name with the right extension, for platforms that show one.
    pub file_name: String,
    /// Shown with it, already rendered for the platform; may be empty.
    pub caption: Rendered,
}

impl OutgoingImage {
    /// A picture of type `mime` with `caption`, named `picture.<extension>`.
    pub fn new(bytes: Vec<u8>, mime: impl Into<String>, caption: Rendered) -> Self {
        let mime = mime.into();
        let file_name = format!("picture.{}", extension(&mime));
        Self {
            bytes,
            mime,
            file_name,
            caption,
        }
    }

    /// The name to upload it under: its own, else `picture.<extension>` of
    /// its type (platforms show a picture inline by the name's extension).
    pub fn upload_name(&self) -> String {
        if self.file_name.trim().is_empty() {
            format!("picture.{}", extension(&self.mime))
        } else {
            self.file_name.clone()
        }
    }
}

/// The file extension of picture type `mime` (`jpg` when unknown).
fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "jpg",
    }
}

impl std::fmt::Debug for OutgoingImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingImage")
            .field("mime", &self.mime)
            .field("file_name", &self.file_name)
            .field("bytes", &self.bytes.len())
            .field("caption", &self.caption.text)
            .finish()
    }
}

/// Why a file that came with a message could not be fetched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// It is larger than the limit.
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// This platform does not hand out files (the console, for one).
    #[error("this platform cannot fetch files")]
    Unsupported,
    /// The platform no longer has it, or refused.
    #[error("the platform refused the download: {0}")]
    Refused(String),
    /// A temporary failure; trying again may work.
    #[error("the download failed: {0}")]
    Failed(String),
}

impl DownloadError {
    /// `bytes` when they are at most `limit`, else [`DownloadError::TooLarge`]:
    /// for a platform that hands a file out whole.
    pub fn within(bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, DownloadError> {
        if bytes.len() as u64 > limit {
            return Err(DownloadError::TooLarge { limit });
        }
        Ok(bytes)
    }
}

/// A download gathered chunk by chunk, never past its limit: a file declared
/// larger is refused before any byte arrives, and one that turns out larger
/// is dropped at the chunk that crosses the limit.
#[derive(Debug)]
pub struct Received {
    bytes: Vec<u8>,
    limit: u64,
}

/// The most a download buffer is sized for up front, whatever is declared.
const MAX_PREALLOCATED: u64 = 32 * 1024 * 1024;

impl Received {
    /// An empty download of at most `limit` bytes, sized for `declared`
    /// (the size the platform announced, if it did).
    pub fn new(limit: u64, declared: Option<u64>) -> Result<Self, DownloadError> {
        Self::check(limit, declared)?;
        let capacity = declared.unwrap_or(0).min(limit).min(MAX_PREALLOCATED);
        Ok(Self {
            bytes: Vec::with_capacity(usize::try_from(capacity).unwrap_or(0)),
            limit,
        })
    }

    /// Refuses a file declared larger than `limit`, before anything is
    /// fetched or allocated.
    pub fn check(limit: u64, declared: Option<u64>) -> Result<(), DownloadError> {
        match declared {
            Some(size) if size > limit => Err(DownloadError::TooLarge { limit }),
            _ => Ok(()),
        }
    }

    /// Adds `chunk`, or fails when it takes the download past the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), DownloadError> {
        if (self.bytes.len() + chunk.len()) as u64 > self.limit {
            return Err(DownloadError::TooLarge { limit: self.limit });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes received.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why a send or edit failed. The delivery driver acts on the variant.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The platform asked us to wait (Telegram 429, Discord rate limit).
    #[error("rate limited by the platform; retry after {0:?}")]
    RetryAfter(Duration),
    /// A temporary failure (network, 5xx); trying again may work.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// The platform refused for good (no access, chat gone, message deleted).
    #[error("the platform refused the message: {0}")]
    Rejected(String),
}

/// What a platform adapter gives the engine to answer with.
///
/// Implementations translate, nothing more: pacing, splitting, coalescing and
/// retrying are done by the engine's delivery driver from [`Outbox::limits`].
#[async_trait]
pub trait Outbox: Send + Sync {
    /// The platform's limits. Called once per reply.
    fn limits(&self) -> PlatformLimits;

    /// Turns the model's Markdown into the platform's markup. The default is plain text.
    fn render(&self, markdown: &str) -> Rendered {
        Rendered::plain(markdown)
    }

    /// Markup that mentions user `user_id` (shown as `display_name`) in a
    /// message's Markdown. The default is `@display_name`; platforms override
    /// it with a real mention, which notifies the user only when the message
    /// lists them in [`Rendered::notify`].
    fn mention(&self, user_id: &str, display_name: &str) -> String {
        let _ = user_id;
        format!("@{display_name}")
    }

    /// The chat whose rate limits a message to `to` counts against. The
    /// default is its channel; a platform whose threads are limited on their
    /// own (a Discord thread is a channel of its own) returns the thread.
    fn pacing_key<'a>(&self, to: &'a ChannelRef) -> &'a str {
        &to.channel
    }

    /// Shows "typing…" in `to`.
    async fn typing(&self, to: &ChannelRef) -> Result<(), DeliveryError>;

    /// Posts a new message in `to`, as a reply to `reply_to` when given.
    async fn send(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError>;

    /// Replaces the text of message `id`. "Not modified" is success. Buttons
    /// the message carried (an approval's) are removed.
    async fn edit(
        &self,
        to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError>;

    /// The bytes of a file that came with a message, at most `limit` of
    /// them: a larger file fails with [`DownloadError::TooLarge`] without
    /// being read whole. The default fetches nothing.
    async fn download(&self, file: &Attachment, limit: u64) -> Result<Vec<u8>, DownloadError> {
        let _ = (file, limit);
        Err(DownloadError::Unsupported)
    }

    /// Posts a picture in `to`, with its caption. The default, for a
    /// platform that shows no pictures, posts the caption with a note.
    async fn send_image(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let note = "(I made a picture, but this chat can't show pictures.)";
        let text = if image.caption.text.is_empty() {
            Rendered::new(note, image.caption.format)
        } else {
            Rendered::new(
                format!("{}\n\n{note}", image.caption.text),
                image.caption.format,
            )
        };
        self.send(to, &text, reply_to).await
    }

    /// Asks `approval.question` in `to`. The default sends it with a line
    /// saying to answer `/yes` or `/no`; a platform with buttons overrides it
    /// to attach Allow/Refuse buttons carrying `approval.id`, and hands a
    /// press to [`crate::Inbox::answer_approval`].
    async fn send_approval(
        &self,
        to: &ChannelRef,
        approval: &ApprovalRequest,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let text = format!(
            "{}\n\n{}, reply /yes to allow it or /no to refuse.",
            approval.question, approval.asker
        );
        self.send(to, &self.render(&text), reply_to).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_stays_within_its_limit() {
        assert_eq!(
            Received::new(10, Some(11)).unwrap_err(),
            DownloadError::TooLarge { limit: 10 }
        );
        let mut received = Received::new(10, None).unwrap();
        received.push(b"123456").unwrap();
        assert_eq!(
            received.push(b"12345"),
            Err(DownloadError::TooLarge { limit: 10 })
        );
        received.push(b"7890").unwrap();
        assert_eq!(received.finish(), b"1234567890");
        assert_eq!(
            DownloadError::within(vec![0; 3], 2),
            Err(DownloadError::TooLarge { limit: 2 })
        );
    }

    #[test]
    fn a_picture_is_uploaded_under_its_name_or_one_from_its_type() {
        let named = |name: &str, mime: &str| OutgoingImage {
            file_name: name.into(),
            ..OutgoingImage::new(Vec::new(), mime, Rendered::plain(""))
        };
        assert_eq!(named("cat.webp", "image/webp").upload_name(), "cat.webp");
        assert_eq!(named("", "image/png").upload_name(), "picture.png");
        assert_eq!(named(" ", "image/jpeg").upload_name(), "picture.jpg");
        assert_eq!(
            OutgoingImage::new(Vec::new(), "image/gif", Rendered::plain("")).file_name,
            "picture.gif"
        );
    }

    #[test]
    fn utf16_counts_surrogate_pairs_twice() {
        assert_eq!(LengthUnit::Chars.measure("a😀"), 2);
        assert_eq!(LengthUnit::Utf16.measure("a😀"), 3);
    }
}
