//! The message pipeline, top to bottom. Every message a conversation's lane
//! hands over (stage 1, receive, is `intake`) goes through:
//!
//! 1. **receive** (`intake`): let go unless addressed to the bot (and not
//!    from another bot); `/stop`, `/yes`, `/no` acted on at once;
//!    rate-limited per user; queued in its conversation's bounded lane.
//! 2. **screen** (`screen`): a voice note is transcribed into the text
//!    (`media::intake`), then plugins' input filters may rewrite or refuse it.
//! 3. **route** (`route`): a built-in command (`builtin`), a plugin command,
//!    a plugin's message hook, or a chat turn.
//! 4. **deliver** (`chat`): the chat turn's prompt is built and the model's
//!    answer streamed through the courier.
//! 5. **record** (`record`): a completed, delivered turn is stored with its
//!    usage, and plugins see the reply.
//!
//! A plugin failure at any stage goes to the engine's one failure handler
//! (see [`crate::PluginFailure`]).

use tracing::instrument;

use super::exchange::Exchange;
use super::route::route;
use super::screen::{Screened, filter_input};
use crate::media::intake::{Heard, hear};

/// Takes one message through screen and route (which delivers and records).
#[instrument(name = "message", skip_all, fields(key = %exchange.message.key, id = %exchange.message.id))]
pub(crate) async fn handle(mut exchange: Exchange<'_>) {
    let services = &exchange.engine.services;
    if hear(services, exchange.courier, &mut exchange.message).await == Heard::Stop {
        return;
    }
    if filter_input(&mut exchange).await == Screened::Refused {
        return;
    }
    route(&exchange).await;
}
