//! Stage 1, receive: a submitted message joins its conversation's lane and is
//! handled in arrival order, one at a time per conversation, different
//! conversations in parallel under the global limit. `/stop` does not queue:
//! it cancels the reply in flight at once.

use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::warn;

use super::exchange::Exchange;
use super::lanes::Pushed;
use super::pipeline;
use super::shared::{Queued, Shared};
use crate::command::Command;
use crate::delivery::Courier;
use crate::message::{ConversationKey, Incoming};

/// Queues `message` in its conversation's lane; `/stop` is handled at once.
pub(crate) fn submit(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    done: oneshot::Sender<()>,
) {
    if shared.answers(&message) && Command::parse(&message.text).is_some_and(|c| c.name == "stop") {
        stop(shared, courier, message, done);
        return;
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
