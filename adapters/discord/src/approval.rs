//! Confirmations as message buttons: the ✅ Allow / ❌ Refuse action row
//! under an approval's question, the custom ids its buttons carry
//! (`natter:ap:<id>:y` / `:n`), and what a press is answered with.
//!
//! A press reaches [`natter_core::Inbox::answer_approval`] with the
//! presser's user id; the answer is an ephemeral message (only the presser
//! sees it) with [`natter_core::Answered::user_message`]. The question's own
//! message shows the outcome when core edits it, without its buttons.

use natter_core::{ApprovalRequest, Decision, button_data};
use serenity::builder::{
    CreateActionRow, CreateButton, CreateInteractionResponse, CreateInteractionResponseMessage,
};
use serenity::model::application::ButtonStyle;

use crate::outbox::no_mentions;

/// The question's text (Markdown): what is asked, and who answers how.
pub(crate) fn question(approval: &ApprovalRequest) -> String {
    format!(
        "{}\n\n{}, press Allow or Refuse (or reply /yes or /no).",
        approval.question, approval.asker
    )
}

/// The row of two buttons under approval `id`'s question.
pub(crate) fn buttons(id: &str) -> CreateActionRow {
    CreateActionRow::Buttons(vec![
        CreateButton::new(button_data(id, Decision::Approve))
            .label("Allow")
            .emoji('✅')
            .style(ButtonStyle::Success),
        CreateButton::new(button_data(id, Decision::Deny))
            .label("Refuse")
            .emoji('❌')
            .style(ButtonStyle::Danger),
    ])
}

/// The answer to a press: `text` for the presser alone, or, without text, a
/// plain acknowledgement that shows nothing (a press that is not for natter,
/// or from a place it does not serve).
pub(crate) fn response(text: Option<String>) -> CreateInteractionResponse {
    match text {
        Some(text) => CreateInteractionResponse::Message(
            CreateInteractionResponseMessage::new()
                .content(text)
                .ephemeral(true)
                .allowed_mentions(no_mentions()),
        ),
        None => CreateInteractionResponse::Acknowledge,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn custom_ids_round_trip() {
        for decision in [Decision::Approve, Decision::Deny] {
            let id = button_data(ID, decision);
            assert!(id.len() <= 100, "{id}");
            assert_eq!(natter_core::parse_button_data(&id), Some((ID, decision)));
        }
        let row = serde_json::to_value(buttons(ID)).unwrap();
        assert_eq!(row["type"], 1);
        assert_eq!(
            row["components"][0]["custom_id"],
            format!("natter:ap:{ID}:y")
        );
        assert_eq!(row["components"][0]["style"], 3, "Success");
        assert_eq!(row["components"][1]["style"], 4, "Danger");
    }

    #[test]
    fn answers_are_ephemeral_and_ping_no_one() {
        let answer = serde_json::to_value(response(Some("Allowed.".into()))).unwrap();
        assert_eq!(answer["type"], 4);
        assert_eq!(answer["data"]["content"], "Allowed.");
        assert_eq!(answer["data"]["flags"], 64, "ephemeral");
        assert_eq!(
            answer["data"]["allowed_mentions"]["parse"],
            serde_json::json!([])
        );
        let silent = serde_json::to_value(response(None)).unwrap();
        assert_eq!(silent["type"], 6);
    }
}
