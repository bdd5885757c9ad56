//! [`WebOutbox`]: the web chat's [`Outbox`]. Replies stream with no pacing
//! (a browser has no rate limit), as safe HTML, into the conversation's
//! feed; confirmations carry Allow and Refuse buttons; pictures the bot
//! makes are shown inline, and pictures the browser sent are handed to the
//! engine from [`Pictures`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use base64::Engine as _;
use natter_core::{
    ApprovalRequest, Attachment, ChannelRef, DeliveryError, DownloadError, MessageId, Outbox,
    OutgoingImage, PlatformLimits, Rendered, TextFormat,
};

use super::feeds::{FeedEvent, Feeds};
use super::pictures::Pictures;
use crate::markdown::to_safe_html;

/// Shown at the end of a reply still being written.
const WRITING: &str = " ▍";

/// Delivers the engine's messages to browsers. A channel's id is the
/// browser conversation's id.
pub struct WebOutbox {
    feeds: Arc<Feeds>,
    pictures: Arc<Pictures>,
    next_id: AtomicU64,
}

impl WebOutbox {
    /// An outbox publishing to `feeds`, fetching sent pictures from `pictures`.
    pub fn new(feeds: Arc<Feeds>, pictures: Arc<Pictures>) -> Self {
        Self {
            feeds,
            pictures,
            next_id: AtomicU64::new(1),
        }
    }

    fn next_id(&self) -> String {
        format!("b{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

#[async_trait]
impl Outbox for WebOutbox {
    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            streaming: true,
            streaming_suffix: WRITING.into(),
            ..PlatformLimits::unlimited()
        }
    }

    fn render(&self, markdown: &str) -> Rendered {
        Rendered::new(to_safe_html(markdown), TextFormat::Html)
    }

    async fn typing(&self, to: &ChannelRef) -> Result<(), DeliveryError> {
        self.feeds.publish(&to.channel, FeedEvent::Typing);
        Ok(())
    }

    async fn send(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        _reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let id = self.next_id();
        self.feeds.publish(
            &to.channel,
            FeedEvent::Message {
                id: id.clone(),
                html: text.text.clone(),
            },
        );
        Ok(MessageId(id))
    }

    async fn edit(
        &self,
        to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError> {
        self.feeds.publish(
            &to.channel,
            FeedEvent::Edit {
                id: id.0.clone(),
                html: text.text.clone(),
            },
        );
        Ok(())
    }

    async fn download(&self, file: &Attachment, limit: u64) -> Result<Vec<u8>, DownloadError> {
        let bytes = self.pictures.get(&file.reference).ok_or_else(|| {
            DownloadError::Refused("the picture is no longer kept; send it again".into())
        })?;
        DownloadError::within(bytes, limit)
    }

    async fn send_image(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        _reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        if !image.mime.starts_with("image/") || image.mime.contains(['"', '<', '>', ' ']) {
            return Err(DeliveryError::Rejected(format!(
                "{} is not a picture type",
                image.mime
            )));
        }
        let id = self.next_id();
        let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
        // The caption is safe HTML already (rendered by `render`).
        let html = format!(
            "<figure class=\"picture\"><img alt=\"A picture natter made\" src=\"data:{};base64,{data}\"><figcaption>{}</figcaption></figure>",
            image.mime, image.caption.text
        );
        self.feeds.publish(
            &to.channel,
            FeedEvent::Message {
                id: id.clone(),
                html,
            },
        );
        Ok(MessageId(id))
    }

    async fn send_approval(
        &self,
        to: &ChannelRef,
        approval: &ApprovalRequest,
        _reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let id = self.next_id();
        self.feeds.publish(
            &to.channel,
            FeedEvent::Approval {
                id: id.clone(),
                html: to_safe_html(&approval.question),
                approval: approval.id.clone(),
            },
        );
        Ok(MessageId(id))
    }
}
