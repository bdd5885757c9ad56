//! Confirmations as inline keyboards: the ✅ Allow / ❌ Refuse keyboard under
//! an approval's question, the callback data its buttons carry
//! (`natter:ap:<id>:y` / `:n`), and a press ([`Presses::take`]) handed to
//! [`Inbox::answer_approval`] and always answered with `answerCallbackQuery`,
//! so the button stops spinning and the presser reads what became of it.
//!
//! Access rules apply to presses as to messages: a press from a chat and user
//! the settings do not allow reaches nothing (its query is still answered).

use std::sync::Arc;

use natter_core::live::Live;
use natter_core::{Answered, ApprovalRequest, Decision, Inbox, button_data, parse_button_data};
use teloxide::Bot;
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup};
use tracing::{debug, instrument};

use crate::settings::Access;

/// Longest toast Telegram shows, in characters.
const MAX_TOAST: usize = 200;

/// The question's text (Markdown): what is asked, and who answers how.
pub(crate) fn question(approval: &ApprovalRequest) -> String {
    format!(
        "{}\n\n{}, tap Allow or Refuse (or reply /yes or /no).",
        approval.question, approval.asker
    )
}

/// The two buttons under approval `id`'s question.
pub(crate) fn keyboard(id: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback("✅ Allow", button_data(id, Decision::Approve)),
        InlineKeyboardButton::callback("❌ Refuse", button_data(id, Decision::Deny)),
    ]])
}

/// No buttons: sent with every edit, so a settled question loses its keyboard.
pub(crate) fn no_keyboard() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::default()
}

/// Takes button presses to the engine and answers them.
#[derive(Clone, Debug)]
pub(crate) struct Presses {
    bot: Bot,
    /// The same lists as the translator's, replaced by a settings reload.
    access: Arc<Live<Access>>,
}

impl Presses {
    /// Presses answered through `bot`, allowed as `access` allows messages.
    pub(crate) fn new(bot: Bot, access: Arc<Live<Access>>) -> Self {
        Self { bot, access }
    }

    /// Hands `query` to `inbox` when it is a natter confirmation from an
    /// allowed chat or user, and answers it (in the background: the next
    /// update does not wait for Telegram).
    #[instrument(name = "telegram_press", skip_all, fields(user = query.from.id.0))]
    pub(crate) fn take(&self, query: CallbackQuery, inbox: &Inbox) {
        let toast = self.answer(&query, inbox);
        let bot = self.bot.clone();
        tokio::spawn(async move {
            let mut request = bot.answer_callback_query(query.id);
            if let Some(toast) = toast {
                request = request.text(toast.chars().take(MAX_TOAST).collect::<String>());
            }
            if let Err(error) = request.await {
                debug!(%error, "could not answer a button press");
            }
        });
    }

    /// The toast for `query`, or `None` when it is not for the engine.
    fn answer(&self, query: &CallbackQuery, inbox: &Inbox) -> Option<String> {
        let Some((id, decision)) = query.data.as_deref().and_then(parse_button_data) else {
            debug!("not a natter button; ignoring");
            return None;
        };
        let user = i64::try_from(query.from.id.0).ok()?;
        // A press on an inline-mode message has no chat; only allowed users pass then.
        let chat = query.message.as_ref().map_or(user, |m| m.chat().id.0);
        if !self.access.get().allows(chat, user) {
            debug!(chat, user, "chat or user not allowed; ignoring the press");
            return None;
        }
        let answered = inbox.answer_approval(id, &user.to_string(), decision);
        if let Answered::Taken(_) = answered {
            debug!(approval = id, ?decision, "confirmation answered by button");
        }
        Some(answered.user_message())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn button_data_round_trips_within_telegrams_64_bytes() {
        for decision in [Decision::Approve, Decision::Deny] {
            let data = button_data(ID, decision);
            assert!(data.len() <= 64, "{data}");
            assert_eq!(parse_button_data(&data), Some((ID, decision)));
        }
        let keyboard = serde_json::to_value(keyboard(ID)).unwrap();
        assert_eq!(
            keyboard["inline_keyboard"][0][1]["callback_data"],
            format!("natter:ap:{ID}:n")
        );
        assert_eq!(keyboard["inline_keyboard"][0][0]["text"], "✅ Allow");
    }

    #[test]
    fn no_keyboard_is_an_empty_inline_keyboard() {
        assert_eq!(
            serde_json::to_value(no_keyboard()).unwrap(),
            serde_json::json!({"inline_keyboard": []})
        );
    }
}
