//! [`TelegramOutbox`]: the engine's replies as Bot API calls — `sendMessage`
//! (HTML, replying to the user, in the right forum topic; an approval's
//! question with its Allow/Refuse keyboard), `editMessageText` (which always
//! sends an empty keyboard, so a settled question loses its buttons),
//! `sendChatAction` — with Telegram's answers turned into the
//! [`DeliveryError`]s the delivery courier acts on.
//!
//! - "message is not modified" is success;
//! - 429 becomes [`DeliveryError::RetryAfter`] with Telegram's `retry_after`;
//! - 400 "can't parse entities" is answered by sending the same text as plain
//!   text at once, so the reply is never lost.
//!
//! Pictures go out with `sendPhoto` (`photo`), and files that came with a
//! message are fetched by `crate::download`.

mod photo;

use async_trait::async_trait;
use natter_core::{
    ApprovalRequest, Attachment, ChannelRef, DeliveryError, DownloadError, MessageId, Outbox,
    OutgoingImage, PlatformLimits, Rendered, TextFormat,
};
use teloxide::payloads::{EditMessageTextSetters, SendChatActionSetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatAction, ChatId, InlineKeyboardMarkup, LinkPreviewOptions, MessageId as TgMessageId,
    ParseMode, ReplyParameters, ThreadId,
};
use teloxide::{ApiError, Bot, RequestError};
use tracing::{instrument, warn};

use crate::approval;
use crate::render::html_to_plain;
use crate::safety;

/// Sends and edits messages through the Bot API.
#[derive(Clone, Debug)]
pub struct TelegramOutbox {
    bot: Bot,
    limits: PlatformLimits,
}

impl TelegramOutbox {
    /// An outbox posting through `bot` and reporting `limits` to the courier.
    pub fn new(bot: Bot, limits: PlatformLimits) -> Self {
        Self { bot, limits }
    }
}

/// The chat and forum topic of `to`.
fn target(to: &ChannelRef) -> Result<(ChatId, Option<ThreadId>), DeliveryError> {
    let chat = to
        .channel
        .parse::<i64>()
        .map_err(|_| DeliveryError::Rejected(format!("`{}` is not a Telegram chat", to.channel)))?;
    let thread = match &to.thread {
        Some(thread) => Some(ThreadId(TgMessageId(thread.parse().map_err(|_| {
            DeliveryError::Rejected(format!("`{thread}` is not a Telegram topic"))
        })?))),
        None => None,
    };
    Ok((ChatId(chat), thread))
}

fn message_id(id: &MessageId) -> Result<TgMessageId, DeliveryError> {
    id.0.parse()
        .map(TgMessageId)
        .map_err(|_| DeliveryError::Rejected(format!("`{id}` is not a Telegram message id")))
}

/// What to do about a failed call.
enum Failed {
    /// Telegram could not parse the HTML: send it as plain text.
    Markup,
    /// The edit changed nothing: that is success.
    NotModified,
    /// Anything else, for the courier.
    Delivery(DeliveryError),
}

fn classify(error: RequestError) -> Failed {
    match error {
        RequestError::Api(ApiError::CantParseEntities(_)) => Failed::Markup,
        RequestError::Api(ApiError::MessageNotModified) => Failed::NotModified,
        RequestError::RetryAfter(wait) => {
            Failed::Delivery(DeliveryError::RetryAfter(wait.duration()))
        }
        RequestError::Api(api) => Failed::Delivery(DeliveryError::Rejected(api.to_string())),
        RequestError::MigrateToChatId(to) => Failed::Delivery(DeliveryError::Rejected(format!(
            "the group became supergroup {to}; messages must go there"
        ))),
        // teloxide strips the URL (and with it the token) from network errors.
        RequestError::Network(e) => Failed::Delivery(DeliveryError::Transient(e.to_string())),
        RequestError::InvalidJson { source, .. } => Failed::Delivery(DeliveryError::Transient(
            format!("unreadable answer from the Bot API: {source}"),
        )),
        RequestError::Io(e) => Failed::Delivery(DeliveryError::Transient(e.to_string())),
    }
}

fn parse_mode(text: &Rendered) -> Option<ParseMode> {
    match text.format {
        TextFormat::Html => Some(ParseMode::Html),
        TextFormat::Plain | TextFormat::Markdown => None,
    }
}

/// A reply to message `id` that is still sent if `id` was deleted meanwhile.
fn replying_to(id: TgMessageId) -> ReplyParameters {
    let mut reply = ReplyParameters::new(id);
    reply.allow_sending_without_reply = Some(true);
    reply
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

impl TelegramOutbox {
    async fn try_send(
        &self,
        chat: ChatId,
        thread: Option<ThreadId>,
        text: &str,
        mode: Option<ParseMode>,
        reply_to: Option<TgMessageId>,
        keyboard: Option<&InlineKeyboardMarkup>,
    ) -> Result<TgMessageId, RequestError> {
        let mut request = self
            .bot
            .send_message(chat, text)
            .link_preview_options(no_preview());
        if let Some(mode) = mode {
            request = request.parse_mode(mode);
        }
        if let Some(keyboard) = keyboard {
            request = request.reply_markup(keyboard.clone());
        }
        if let Some(thread) = thread {
            request = request.message_thread_id(thread);
        }
        if let Some(id) = reply_to {
            request = request.reply_parameters(replying_to(id));
        }
        Ok(request.await?.id)
    }

    /// Posts `text` (with `keyboard` under it), as plain text when Telegram
    /// cannot parse the HTML.
    async fn post(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
        keyboard: Option<&InlineKeyboardMarkup>,
    ) -> Result<MessageId, DeliveryError> {
        let (chat, thread) = target(to)?;
        let reply_to = reply_to.map(message_id).transpose()?;
        let text = &Self::safe(text);
        let sent = match self
            .try_send(
                chat,
                thread,
                &text.text,
                parse_mode(text),
                reply_to,
                keyboard,
            )
            .await
        {
            Ok(id) => Ok(id),
            Err(error) => match classify(error) {
                Failed::Markup => {
                    warn!("Telegram could not parse the HTML; sending the reply as plain text");
                    self.try_send(
                        chat,
                        thread,
                        &html_to_plain(&text.text),
                        None,
                        reply_to,
                        keyboard,
                    )
                    .await
                    .map_err(|e| match classify(e) {
                        Failed::Delivery(error) => error,
                        Failed::Markup | Failed::NotModified => {
                            DeliveryError::Rejected("plain text refused".into())
                        }
                    })
                }
                Failed::NotModified => Err(DeliveryError::Rejected(
                    "Telegram answered `not modified` to a new message".into(),
                )),
                Failed::Delivery(error) => Err(error),
            },
        }?;
        Ok(MessageId(sent.0.to_string()))
    }

    /// `text` without links to users it is not meant to notify.
    fn safe(text: &Rendered) -> Rendered {
        match text.format {
            TextFormat::Html => Rendered {
                text: safety::keep_mentions_of(&text.text, &text.notify),
                ..text.clone()
            },
            _ => text.clone(),
        }
    }

    async fn try_edit(
        &self,
        chat: ChatId,
        id: TgMessageId,
        text: &str,
        mode: Option<ParseMode>,
    ) -> Result<(), RequestError> {
        // Telegram drops a keyboard the edit does not repeat; say so outright.
        let mut request = self
            .bot
            .edit_message_text(chat, id, text)
            .link_preview_options(no_preview())
            .reply_markup(approval::no_keyboard());
        if let Some(mode) = mode {
            request = request.parse_mode(mode);
        }
        request.await.map(drop)
    }
}

#[async_trait]
impl Outbox for TelegramOutbox {
    fn limits(&self) -> PlatformLimits {
        self.limits.clone()
    }

    /// Telegram HTML, or plain text when that would show nothing.
    fn render(&self, markdown: &str) -> Rendered {
        safety::render(markdown)
    }

    /// A text mention: a link Telegram shows as the name and that notifies the user.
    fn mention(&self, user_id: &str, display_name: &str) -> String {
        let name: String = display_name
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | '(' | ')'))
            .collect();
        format!("[{}](tg://user?id={user_id})", name.trim())
    }

    async fn typing(&self, to: &ChannelRef) -> Result<(), DeliveryError> {
        let (chat, thread) = target(to)?;
        let mut request = self.bot.send_chat_action(chat, ChatAction::Typing);
        if let Some(thread) = thread {
            request = request.message_thread_id(thread);
        }
        match request.await {
            Ok(_) => Ok(()),
            Err(error) => match classify(error) {
                Failed::Delivery(error) => Err(error),
                Failed::Markup | Failed::NotModified => Ok(()),
            },
        }
    }

    #[instrument(skip_all, fields(chat = %to.channel, topic = ?to.thread))]
    async fn send(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        self.post(to, text, reply_to, None).await
    }

    #[instrument(skip_all, fields(chat = %to.channel, id = %id))]
    async fn edit(
        &self,
        to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError> {
        let (chat, _) = target(to)?;
        let id = message_id(id)?;
        let text = &Self::safe(text);
        match self.try_edit(chat, id, &text.text, parse_mode(text)).await {
            Ok(()) => Ok(()),
            Err(error) => match classify(error) {
                Failed::NotModified => Ok(()),
                Failed::Markup => {
                    warn!("Telegram could not parse the HTML; editing in plain text");
                    match self
                        .try_edit(chat, id, &html_to_plain(&text.text), None)
                        .await
                    {
                        Ok(()) => Ok(()),
                        Err(e) => match classify(e) {
                            Failed::NotModified => Ok(()),
                            Failed::Delivery(error) => Err(error),
                            Failed::Markup => {
                                Err(DeliveryError::Rejected("plain text refused".into()))
                            }
                        },
                    }
                }
                Failed::Delivery(error) => Err(error),
            },
        }
    }

    /// `getFile`, then the file from `{api_url}/file/bot<token>/…`, within `limit`.
    #[instrument(skip_all, fields(kind = ?file.kind, size = ?file.size))]
    async fn download(&self, file: &Attachment, limit: u64) -> Result<Vec<u8>, DownloadError> {
        crate::download::download(&self.bot, file, limit).await
    }

    /// `sendPhoto` with the caption under the picture, or after it when
    /// longer than Telegram allows. Returns the picture's message id.
    #[instrument(skip_all, fields(chat = %to.channel, topic = ?to.thread, image = ?image))]
    async fn send_image(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        self.post_photo(to, image, reply_to).await
    }

    /// The question with ✅ Allow and ❌ Refuse buttons under it.
    #[instrument(skip_all, fields(chat = %to.channel, approval = %approval.id))]
    async fn send_approval(
        &self,
        to: &ChannelRef,
        approval: &ApprovalRequest,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let text = self.render(&approval::question(approval));
        let keyboard = approval::keyboard(&approval.id);
        self.post(to, &text, reply_to, Some(&keyboard)).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_mention_is_a_text_mention_link_that_survives_rendering() {
        let bot = teloxide::Bot::new("1:x");
        let outbox = TelegramOutbox::new(bot, crate::TelegramSettings::default().limits());
        let mention = outbox.mention("42", "Ana [admin]");
        assert_eq!(mention, "[Ana admin](tg://user?id=42)");
        let rendered = outbox.render(&format!("⏰ {mention}, reminder: tea"));
        assert_eq!(
            rendered.text,
            "⏰ <a href=\"tg://user?id=42\">Ana admin</a>, reminder: tea"
        );
    }
}
