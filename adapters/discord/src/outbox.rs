//! [`DiscordOutbox`]: the engine's [`Outbox`] on Discord. Sends replies that
//! reference the user's message, edits them while streaming, shows typing,
//! asks confirmations with Allow/Refuse buttons (every edit sends
//! `components: []`, so a settled question loses them) — and never lets
//! model output ping anyone (`allowed_mentions` parses nothing).
//!
//! Pictures go out as a message with the picture attached (multipart) and
//! the caption as its content; attachments of incoming messages are fetched
//! by `crate::download`, from Discord's CDN only.
//!
//! Splitting, pacing, coalescing and retrying are core's delivery courier's
//! job, driven by [`DiscordOutbox::limits`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::delivery::split::split_all;
use natter_core::{
    ApprovalRequest, Attachment, ChannelRef, DeliveryError, DownloadError, LengthUnit, MessageId,
    Outbox, OutgoingImage, PlatformLimits, Rate, Rendered, TextFormat,
};
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateMessage, EditMessage,
};
use serenity::http::{Http, HttpError};
use serenity::model::channel::MessageReference;
use serenity::model::id::{ChannelId, MessageId as DiscordMessageId};
use tracing::instrument;

use crate::approval;
use crate::download::Downloader;

/// Longest message Discord accepts, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Discord allows 5 messages or edits per 5 seconds in one channel.
pub const PER_CHANNEL: Rate = Rate::new(5, Duration::from_secs(5));
/// Discord's global limit is 50 requests per second per bot; stay a little under.
pub const GLOBAL: Rate = Rate::new(45, Duration::from_secs(1));
/// Wait assumed when a 429 arrives without a readable `retry_after`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Posts and edits messages through Discord's REST API.
#[derive(Clone)]
pub struct DiscordOutbox {
    http: Arc<Http>,
    files: Downloader,
}

impl std::fmt::Debug for DiscordOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordOutbox").finish_non_exhaustive()
    }
}

impl DiscordOutbox {
    /// An outbox sending through `http`, and fetching attachments from
    /// Discord's CDN and from the origin of `http`'s proxy, if it has one.
    pub fn new(http: Arc<Http>) -> Self {
        let files = Downloader::new(http.proxy.as_deref());
        Self { http, files }
    }

    /// Posts `text` in `to` with `components` under it, referencing `reply_to`.
    async fn post(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
        components: Vec<CreateActionRow>,
    ) -> Result<MessageId, DeliveryError> {
        self.create(to, text, reply_to, components, None).await
    }

    /// Posts `text` (may be empty when there is a `file`) in `to`, with
    /// `components` under it and `file` attached, referencing `reply_to`.
    async fn create(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
        components: Vec<CreateActionRow>,
        file: Option<CreateAttachment>,
    ) -> Result<MessageId, DeliveryError> {
        let channel = target(to)?;
        let mut builder = CreateMessage::new().allowed_mentions(mentions(text));
        if !text.text.is_empty() {
            builder = builder.content(&text.text);
        }
        if let Some(file) = file {
            builder = builder.add_file(file);
        }
        if !components.is_empty() {
            builder = builder.components(components);
        }
        if let Some(original) = reply_to {
            // Still post the reply if the user deleted their message meanwhile.
            let reference =
                MessageReference::from((channel, message_id(original)?)).fail_if_not_exists(false);
            builder = builder.reference_message(reference);
        }
        let sent = channel
            .send_message(&*self.http, builder)
            .await
            .map_err(classify)?;
        Ok(MessageId(sent.id.get().to_string()))
    }
}

/// Mentions Discord may act on in bot output: none at all — no @everyone,
/// @here, roles or users, and no ping for the author of the referenced message.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

/// Mentions a message may act on: only the users natter itself asked to
/// notify (a reminder's owner), never what the model wrote.
fn mentions(text: &Rendered) -> CreateAllowedMentions {
    let users = text
        .notify
        .iter()
        .filter_map(|id| id.parse::<u64>().ok())
        .filter(|&id| id != 0)
        .map(serenity::model::id::UserId::new);
    no_mentions().users(users)
}

/// The channel a reply goes to: the thread if there is one, else the channel.
fn target(to: &ChannelRef) -> Result<ChannelId, DeliveryError> {
    let id = to.thread.as_deref().unwrap_or(&to.channel);
    parse_id(id)
        .map(ChannelId::new)
        .ok_or_else(|| DeliveryError::Rejected(format!("`{id}` is not a Discord channel id")))
}

fn message_id(id: &MessageId) -> Result<DiscordMessageId, DeliveryError> {
    parse_id(&id.0)
        .map(DiscordMessageId::new)
        .ok_or_else(|| DeliveryError::Rejected(format!("`{id}` is not a Discord message id")))
}

/// A non-zero snowflake (serenity ids may not be zero).
fn parse_id(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|&n| n != 0)
}

/// What the courier should do about a failed REST call.
fn classify(error: serenity::Error) -> DeliveryError {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let status = response.status_code.as_u16();
            let reason = format!("HTTP {status}: {}", response.error.message);
            match status {
                429 => DeliveryError::RetryAfter(DEFAULT_RETRY_AFTER),
                500..=599 => DeliveryError::Transient(reason),
                _ => DeliveryError::Rejected(reason),
            }
        }
        serenity::Error::Http(HttpError::Request(error)) => {
            DeliveryError::Transient(format!("request failed: {error}"))
        }
        serenity::Error::Model(error) => DeliveryError::Rejected(error.to_string()),
        other => DeliveryError::Transient(other.to_string()),
    }
}

#[async_trait]
impl Outbox for DiscordOutbox {
    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            max_len: MAX_MESSAGE_CHARS,
            unit: LengthUnit::Chars,
            streaming: true,
            streaming_suffix: " …".into(),
            per_chat: vec![PER_CHANNEL],
            per_group: Vec::new(),
            global: vec![GLOBAL],
            // The indicator lasts about ten seconds.
            typing_every: Some(Duration::from_secs(8)),
            // The per-channel pacing spaces edits further.
            min_edit_interval: Duration::ZERO,
        }
    }

    fn render(&self, markdown: &str) -> Rendered {
        // Discord speaks Markdown; what the model wrote is shown as written.
        Rendered::new(markdown, TextFormat::Markdown)
    }

    fn mention(&self, user_id: &str, _display_name: &str) -> String {
        format!("<@{user_id}>")
    }

    fn pacing_key<'a>(&self, to: &'a ChannelRef) -> &'a str {
        pacing_key(to)
    }

    #[instrument(skip_all, fields(channel = %to.channel))]
    async fn typing(&self, to: &ChannelRef) -> Result<(), DeliveryError> {
        self.http
            .broadcast_typing(target(to)?)
            .await
            .map_err(classify)
    }

    #[instrument(skip_all, fields(channel = %to.channel))]
    async fn send(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        self.post(to, text, reply_to, Vec::new()).await
    }

    #[instrument(skip_all, fields(channel = %to.channel, id = %id))]
    async fn edit(
        &self,
        to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError> {
        // Discord keeps components an edit leaves out: remove them outright.
        let builder = EditMessage::new()
            .content(&text.text)
            .allowed_mentions(mentions(text))
            .components(Vec::new());
        target(to)?
            .edit_message(&*self.http, message_id(id)?, builder)
            .await
            .map(drop)
            .map_err(classify)
    }

    /// The attachment from its URL, if that is Discord's CDN (or the proxy).
    #[instrument(skip_all, fields(kind = ?file.kind, size = ?file.size))]
    async fn download(&self, file: &Attachment, limit: u64) -> Result<Vec<u8>, DownloadError> {
        self.files.download(file, limit).await
    }

    /// A message with the picture attached and the caption as its content;
    /// a caption longer than a message may be is split like a long reply,
    /// its first part under the picture and the rest in messages after it.
    /// Returns the picture's message id.
    #[instrument(skip_all, fields(channel = %to.channel, image = ?image))]
    async fn send_image(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let caption = &image.caption;
        let fits = |text: &str| text.chars().count() <= MAX_MESSAGE_CHARS;
        let mut parts = split_all(&caption.text, &fits).into_iter();
        let part = |text: String| Rendered {
            text,
            ..caption.clone()
        };
        let under = part(parts.next().unwrap_or_default());
        let file = CreateAttachment::bytes(image.bytes.clone(), image.upload_name());
        let id = self
            .create(to, &under, reply_to, Vec::new(), Some(file))
            .await?;
        for rest in parts {
            // The picture is out: a failure now must not be retried as a
            // whole (the courier would post the picture twice).
            self.post(to, &part(rest), None, Vec::new())
                .await
                .map_err(caption_lost)?;
        }
        Ok(id)
    }

    /// The question with ✅ Allow and ❌ Refuse buttons under it.
    #[instrument(skip_all, fields(channel = %to.channel, approval = %approval.id))]
    async fn send_approval(
        &self,
        to: &ChannelRef,
        approval: &ApprovalRequest,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let text = self.render(&approval::question(approval));
        let buttons = vec![approval::buttons(&approval.id)];
        self.post(to, &text, reply_to, buttons).await
    }
}

/// A thread is a channel of its own on Discord, with its own rate limits;
/// messages elsewhere count against their channel.
fn pacing_key(to: &ChannelRef) -> &str {
    to.thread.as_deref().unwrap_or(&to.channel)
}

/// A failure to post the rest of a caption after its picture went out: never
/// retried as a whole, which would post the picture again.
fn caption_lost(error: DeliveryError) -> DeliveryError {
    DeliveryError::Rejected(format!(
        "the picture was posted, but the rest of its caption was not: {error}"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replies_go_to_the_thread_when_there_is_one() {
        let channel = ChannelRef::group(crate::PLATFORM, "10").in_server("1");
        assert_eq!(target(&channel).unwrap(), ChannelId::new(10));
        let thread = channel.in_thread("20");
        assert_eq!(target(&thread).unwrap(), ChannelId::new(20));
        let bad = ChannelRef::group(crate::PLATFORM, "general");
        assert!(matches!(target(&bad), Err(DeliveryError::Rejected(_))));
    }

    #[test]
    fn threads_are_paced_on_their_own() {
        let channel = ChannelRef::group(crate::PLATFORM, "10").in_server("1");
        assert_eq!(pacing_key(&channel), "10");
        assert_eq!(pacing_key(&channel.in_thread("11")), "11");
    }

    #[test]
    fn allowed_mentions_parse_nothing() {
        let json = serde_json::to_value(no_mentions()).unwrap();
        assert_eq!(json["parse"], serde_json::json!([]));
        assert_eq!(json["replied_user"], serde_json::json!(false));
    }
}
