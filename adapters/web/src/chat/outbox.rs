//! [`WebOutbox`]: the web chat's [`Outbox`]. Replies stream with no pacing
//! (a browser has no rate limit), as safe HTML, into the conversation's
//! feed; confirmations carry Allow and Refuse buttons.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use natter_core::{
    ApprovalRequest, ChannelRef, DeliveryError, MessageId, Outbox, PlatformLimits, Rendered,
    TextFormat,
};

use super::feeds::{FeedEvent, Feeds};
use crate::markdown::to_safe_html;

/// Shown at the end of a reply still being written.
const WRITING: &str = " ▍";

/// Delivers the engine's messages to browsers. A channel's id is the
/// browser conversation's id.
pub struct WebOutbox {
    feeds: Arc<Feeds>,
    next_id: AtomicU64,
}

impl WebOutbox {
    /// An outbox publishing to `feeds`.
    pub fn new(feeds: Arc<Feeds>) -> Self {
        Self {
            feeds,
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
