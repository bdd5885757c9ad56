//! `sendPhoto`: a picture from memory (uploaded as `multipart/form-data`),
//! replying to the user, in the right forum topic, with its caption in HTML —
//! or in plain text when Telegram cannot parse the HTML. Telegram shows at
//! most [`MAX_CAPTION`] UTF-16 units under a picture: a longer caption
//! follows the picture as a message of its own.

use natter_core::{ChannelRef, DeliveryError, MessageId, OutgoingImage, Rendered, TextFormat};
use teloxide::RequestError;
use teloxide::payloads::SendPhotoSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InputFile, MessageId as TgMessageId, ParseMode, ThreadId};
use tracing::warn;

use super::{Failed, TelegramOutbox, classify, message_id, parse_mode, replying_to, target};
use crate::render::html_to_plain;

/// Telegram's caption limit, in UTF-16 code units of visible text.
pub const MAX_CAPTION: usize = 1024;

/// A caption as sent: its text and parse mode.
type Caption<'a> = Option<(&'a str, Option<ParseMode>)>;

impl TelegramOutbox {
    /// Posts `image` in `to`; returns the picture's message id.
    pub(super) async fn post_photo(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let (chat, thread) = target(to)?;
        let reply_to = reply_to.map(message_id).transpose()?;
        let caption = Self::safe(&image.caption);
        let shown = visible(&caption);
        let fits = shown.encode_utf16().count() <= MAX_CAPTION;
        let under = (fits && !shown.trim().is_empty()).then_some(&caption);
        let first = under.map(|c| (c.text.as_str(), parse_mode(c)));
        let sent = match self.try_photo(chat, thread, image, first, reply_to).await {
            Ok(id) => id,
            Err(error) => match classify(error) {
                Failed::Markup => {
                    warn!("Telegram could not parse the caption's HTML; sending it as plain text");
                    let plain = under.map(|c| html_to_plain(&c.text));
                    let caption = plain.as_deref().map(|text| (text, None));
                    self.try_photo(chat, thread, image, caption, reply_to)
                        .await
                        .map_err(|e| match classify(e) {
                            Failed::Delivery(error) => error,
                            Failed::Markup | Failed::NotModified => {
                                DeliveryError::Rejected("the plain caption was refused".into())
                            }
                        })?
                }
                Failed::NotModified => {
                    return Err(DeliveryError::Rejected(
                        "Telegram answered `not modified` to a new photo".into(),
                    ));
                }
                Failed::Delivery(error) => return Err(error),
            },
        };
        if !fits {
            // The picture is out: a failure now must not be retried as a
            // whole (the courier would post the picture twice).
            self.post(to, &caption, None, None).await.map_err(|error| {
                DeliveryError::Rejected(format!(
                    "the picture was posted, but its caption was not: {error}"
                ))
            })?;
        }
        Ok(MessageId(sent.0.to_string()))
    }

    async fn try_photo(
        &self,
        chat: ChatId,
        thread: Option<ThreadId>,
        image: &OutgoingImage,
        caption: Caption<'_>,
        reply_to: Option<TgMessageId>,
    ) -> Result<TgMessageId, RequestError> {
        let file = InputFile::memory(image.bytes.clone()).file_name(image.upload_name());
        let mut request = self.bot.send_photo(chat, file);
        if let Some((text, mode)) = caption {
            request = request.caption(text);
            if let Some(mode) = mode {
                request = request.parse_mode(mode);
            }
        }
        if let Some(thread) = thread {
            request = request.message_thread_id(thread);
        }
        if let Some(id) = reply_to {
            request = request.reply_parameters(replying_to(id));
        }
        Ok(request.await?.id)
    }
}

/// What a reader sees of `caption`, which Telegram's limit counts.
fn visible(caption: &Rendered) -> String {
    match caption.format {
        TextFormat::Html => html_to_plain(&caption.text),
        TextFormat::Plain | TextFormat::Markdown => caption.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caption_limit_counts_what_a_reader_sees() {
        let html = Rendered::new(format!("<b>{}</b>", "x".repeat(1024)), TextFormat::Html);
        assert_eq!(visible(&html).encode_utf16().count(), MAX_CAPTION);
        let escaped = Rendered::new("a &lt; b", TextFormat::Html);
        assert_eq!(visible(&escaped), "a < b");
    }
}
