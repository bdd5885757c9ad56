//! Stage 1, receive: what happens to a message before it waits its turn.
//!
//! - A message the bot will not answer — group chatter its channel's trigger
//!   rule does not answer (`triggers`), another bot, a channel cooling down —
//!   is let go at once: it never takes a place in a queue or a parallel slot.
//! - `/stop`, `/yes` and `/no` act at once, ahead of the queue: `/stop`
//!   cancels the reply in flight and drops the asker's messages still
//!   waiting (someone else's reply only by an admin); `/yes` and `/no` answer the confirmation a reply is waiting
//!   for. (`/reset` keeps its place in line: a script's "/reset" between two
//!   questions must fall between them; the bounded queue keeps the wait short.)
//! - Everything else is counted against its author's rate
//!   (`[limits] user_messages_per_minute`) and joins its conversation's lane,
//!   which holds at most `[engine] max_queue` waiting messages; a flood is
//!   told once that the bot is busy, not queued for hours.
//! - A lane's messages are handled in arrival order, one at a time per
//!   conversation, conversations in parallel under `max_parallel`.

use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::exchange::Exchange;
use super::lanes::{Cancelled, Pushed};
use super::limiter::Rate;
use super::monitor::Event;
use super::pipeline;
use super::shared::{Queued, Shared};
use super::triggers::TriggerState;
use crate::approval::{Answered, Decision};
use crate::command::Command;
use crate::delivery::Courier;
use crate::message::{ConversationKey, Incoming};
use crate::store::{LockGuard, conversation_lock};
use crate::telemetry;

/// Told to someone sending faster than `[limits] user_messages_per_minute`.
const TOO_FAST: &str = "You're sending messages faster than I can answer them; \
     I'll skip some for a minute. Please slow down.";
/// Told to someone who `/stop`s a reply to another person.
const NOT_YOURS: &str = "The reply being written answers someone else: only they \
     or an admin can stop it.";
/// Told once when a conversation's queue is full.
const BUSY: &str = "I'm still working through the messages before this one, so I'm \
     skipping new ones until I catch up. /stop drops what's waiting.";

/// Takes `message` in: let go, acted on at once, refused, or queued.
pub(crate) fn submit(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    done: oneshot::Sender<()>,
) {
    telemetry::message_received(message.key.platform());
    shared.monitor.count(Event::Received);
    TriggerState::refresh_if_stale(shared);
    if !shared.triggers.admits(&message) {
        debug!(
            key = %message.key,
            bot = message.author.is_bot,
            addressed = ?message.addressed,
            "not answering"
        );
        return;
    }
    match Command::parse(&message.text).map(|command| command.name) {
        Some(name) if name == "stop" => return stop(shared, courier, message, done),
        Some(name) if name == "yes" => {
            return answer(shared, courier, message, Decision::Approve, done);
        }
        Some(name) if name == "no" => {
            return answer(shared, courier, message, Decision::Deny, done);
        }
        _ => {}
    }
    if let Rate::Exceeded { tell } = shared.limiter.check(&message) {
        info!(key = %message.key, user = %message.author.id, "over the message rate; not answered");
        if tell {
            say(shared, courier, message, TOO_FAST.to_owned(), done);
        }
        return;
    }
    let key = message.key.clone();
    let queued = Queued {
        message,
        courier: Arc::clone(courier),
        _done: done,
    };
    match shared.lanes.push(&key, queued, shared.settings.max_queue) {
        Pushed::StartWorker => {
            shared.tasks.spawn(run_lane(Arc::clone(shared), key));
        }
        Pushed::Queued => {}
        Pushed::Full { job, first } => {
            info!(%key, "queue full; message not kept");
            if first {
                let Queued { message, _done, .. } = job;
                say(shared, courier, message, BUSY.to_owned(), _done);
            }
        }
    }
}

/// Answers `message` with `text`, off the queue.
fn say(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    text: String,
    done: oneshot::Sender<()>,
) {
    let courier = Arc::clone(courier);
    shared.tasks.spawn(async move {
        if let Err(error) = courier
            .send_text(&message.channel, &text, Some(&message.id))
            .await
        {
            warn!(key = %message.key, %error, "could not answer");
        }
        drop(done);
    });
}

/// Cancels the reply in flight in `message`'s conversation — if it answers
/// the asker, or the asker is an admin — drops the asker's messages still
/// waiting there, and says so.
fn stop(
    shared: &Arc<Shared>,
    courier: &Arc<Courier>,
    message: Incoming,
    done: oneshot::Sender<()>,
) {
    let asker = message.author.clone();
    let cancelled = shared
        .lanes
        .cancel(&message.key, |owner| owner == asker.id || asker.is_admin);
    let dropped = shared
        .lanes
        .drop_waiting(&message.key, |queued| queued.message.author.id == asker.id);
    say(
        shared,
        courier,
        message,
        stop_text(cancelled, dropped),
        done,
    );
}

/// What `/stop` answers when it `cancelled` the reply in flight (or not) and
/// dropped `dropped` waiting messages.
fn stop_text(cancelled: Cancelled, dropped: usize) -> String {
    let waiting = match dropped {
        0 => String::new(),
        1 => "1 message that was waiting".to_owned(),
        n => format!("{n} messages that were waiting"),
    };
    match (cancelled, dropped) {
        (Cancelled::Stopped, 0) => "Stopped.".to_owned(),
        (Cancelled::Stopped, _) => format!("Stopped, and dropped {waiting}."),
        (Cancelled::Nothing, 0) => "Nothing to stop.".to_owned(),
        (Cancelled::Nothing, _) => format!("Dropped {waiting}."),
        (Cancelled::NotAllowed, 0) => NOT_YOURS.to_owned(),
        (Cancelled::NotAllowed, _) => format!("Dropped {waiting}. {NOT_YOURS}"),
    }
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
        return;
    }
    say(shared, courier, message, answered.user_message(), done);
}

/// Handles one conversation's queued messages in order, then ends.
async fn run_lane(shared: Arc<Shared>, key: ConversationKey) {
    let owner = |queued: &Queued| queued.message.author.id.clone();
    while let Some((queued, cancel)) = shared.lanes.next(&key, &shared.shutdown, owner) {
        let permit = tokio::select! {
            permit = shared.parallel.acquire() => permit.ok(),
            () = cancel.cancelled() => None,
        };
        if permit.is_none() {
            continue;
        }
        // Other processes on the same database may hold a message of this
        // conversation too: one turn at a time across all of them.
        let Some(_turn) = lock_conversation(&shared, &key, &cancel).await else {
            continue;
        };
        let _handling = shared.monitor.handling();
        let Queued {
            message,
            courier,
            _done,
        } = queued;
        let model = shared.services.model_for(&message).await;
        let exchange = Exchange {
            engine: &shared,
            courier: &courier,
            message,
            cancel: &cancel,
            model,
        };
        pipeline::handle(exchange).await;
    }
}

/// Waits for `key`'s turn among the processes sharing the store; `None` if
/// the message was stopped meanwhile. A store that cannot lock is logged and
/// the turn goes ahead: refusing it would lose the message, and a store that
/// is down fails the turn visibly anyway.
async fn lock_conversation(
    shared: &Shared,
    key: &ConversationKey,
    cancel: &tokio_util::sync::CancellationToken,
) -> Option<LockGuard> {
    let locks = &shared.services.stores.locks;
    if !locks.shared() {
        // This process alone: its lane already orders the conversation.
        return Some(LockGuard::granted());
    }
    let name = conversation_lock(key);
    tokio::select! {
        locked = locks.lock(&name) => Some(locked.unwrap_or_else(|error| {
            warn!(%key, %error, "could not take the conversation's lock; answering anyway");
            LockGuard::granted()
        })),
        () = cancel.cancelled() => None,
    }
}
