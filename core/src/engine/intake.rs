//! Stage 1, receive: a submitted message joins its conversation's lane and is
//! handled in arrival order, one at a time per conversation, different
//! conversations in parallel under the global limit. `/stop`, `/yes` and `/no`
//! do not queue: `/stop` cancels the reply in flight at once, and `/yes` and
//! `/no` answer the confirmation that reply is waiting for.

use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::warn;

use super::exchange::Exchange;
use super::lanes::Pushed;
use super::pipeline;
use super::shared::{Queued, Shared};
use crate::approval::{Answered, Decision};
use crate::command::Command;
use crate::delivery::Courier;
use crate::message::{ConversationKey, Incoming};

/// Queues `message` in its conversation's lane; `/stop`, `/yes` and `/no`
/// are handled at once.
pub(crate) fn submit(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    done: oneshot::Sender<()>,
) {
    let urgent = shared
        .answers(&message)
        .then(|| Command::parse(&message.text))
        .flatten();
    match urgent.as_ref().map(|command| command.name.as_str()) {
        Some("stop") => return stop(shared, courier, message, done),
        Some("yes") => return answer(shared, courier, message, Decision::Approve, done),
        Some("no") => return answer(shared, courier, message, Decision::Deny, done),
        _ => {}
    }
    let key = message.key.clone();
    let queued = Queued {
        message,
        courier: Arc::clone(courier),
        _done: done,
    };
    if let Pushed::StartWorker = shared.lanes.push(&key, queued) {
        shared.tasks.spawn(run_lane(Arc::clone(shared), key));
    }
}

/// Cancels the reply in flight in `message`'s conversation and says so.
fn stop(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    done: oneshot::Sender<()>,
) {
    let stopped = shared.lanes.cancel(&message.key);
    let courier = Arc::clone(courier);
    shared.tasks.spawn(async move {
        let text = if stopped {
            "Stopped."
        } else {
            "Nothing to stop."
        };
        if let Err(error) = courier
            .send_text(&message.channel, text, Some(&message.id))
            .await
        {
            warn!(key = %message.key, %error, "could not confirm /stop");
        }
        drop(done);
    });
}

/// Answers the oldest confirmation put to the author in this conversation.
fn answer(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    decision: Decision,
    done: oneshot::Sender<()>,
) {
    let answered = shared
        .approvals
        .answer_oldest(&message.key, &message.author.id, decision);
    if let Answered::Taken(_) = answered {
        // The question's message shows the outcome; the reply goes on.
        drop(done);
        return;
    }
    let courier = Arc::clone(courier);
    shared.tasks.spawn(async move {
        let text = answered.user_message();
        if let Err(error) = courier
            .send_text(&message.channel, &text, Some(&message.id))
            .await
        {
            warn!(key = %message.key, %error, "could not answer /yes or /no");
        }
        drop(done);
    });
}

/// Handles one conversation's queued messages in order, then ends.
async fn run_lane(shared: Arc<Shared>, key: ConversationKey) {
    while let Some((queued, cancel)) = shared.lanes.next(&key, &shared.shutdown) {
        let permit = tokio::select! {
            permit = shared.parallel.acquire() => permit.ok(),
            () = cancel.cancelled() => None,
        };
        if permit.is_some() {
            let Queued {
                message,
                courier,
                _done,
            } = queued;
            let exchange = Exchange {
                engine: &shared,
                courier: &courier,
                message,
                cancel: &cancel,
            };
            pipeline::handle(exchange).await;
        }
    }
}
