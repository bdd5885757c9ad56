//! When a generated piece enters the chat history (the `follow_up` policy).
//!
//! After `/write`, the piece is kept aside in the plugin's store, one per
//! conversation. It enters the conversation's history — as the exchange
//! "`/write …`" → piece — when the conversation continues about it: the next
//! ordinary (non-command) message from the user who asked for it, or a reply
//! to the piece from anyone. That happens before the message reaches the model,
//! so "make it shorter" knows what "it" is. A later `/write` replaces the piece
//! kept aside, and a piece nobody follows up on never enters history.

use natter_core::{Addressed, Incoming, PluginContext, PluginError};
use serde::{Deserialize, Serialize};
use tracing::debug;

/// A piece kept aside until the conversation continues about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Who asked for it.
    pub author_id: String,
    /// The command they sent.
    pub asked: String,
    /// What the model wrote.
    pub piece: String,
}

fn key(cx: &PluginContext<'_>) -> String {
    format!("pending/{}", cx.message().key)
}

impl Pending {
    /// Keeps this piece aside for the conversation, replacing any earlier one.
    pub async fn save(&self, cx: &PluginContext<'_>) -> Result<(), PluginError> {
        cx.state().put(&key(cx), self).await
    }

    /// True when `msg` continues the conversation about this piece.
    pub fn is_followed_up_by(&self, msg: &Incoming) -> bool {
        if msg.author.id == self.author_id {
            return true;
        }
        msg.addressed == Addressed::ReplyToBot
            && msg.replied_to_text.as_deref().is_some_and(|replied| {
                // Platforms hand back the rendered text of one part of the
                // piece; its first line is enough to recognise it.
                replied
                    .lines()
                    .map(|l| l.trim().trim_start_matches('#').trim())
                    .find(|l| !l.is_empty())
                    .is_some_and(|line| self.piece.contains(line))
            })
    }
}

/// Moves the piece kept aside into history if `msg` follows it up.
pub async fn on_message(cx: &PluginContext<'_>, msg: &Incoming) -> Result<(), PluginError> {
    let key = key(cx);
    let Some(pending) = cx.state().get::<Pending>(&key).await? else {
        return Ok(());
    };
    if pending.is_followed_up_by(msg) {
        debug!("conversation continues about the piece; adding it to history");
        cx.remember(&pending.asked, &pending.piece).await?;
        cx.state().delete(&key).await?;
    }
    Ok(())
}
