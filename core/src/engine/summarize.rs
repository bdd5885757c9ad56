//! After stage 5, in the background — memory beyond the window. When a
//! recorded reply's prompt left out turns no summary covers yet (with a few
//! of the oldest still in, summarised ahead: see `Services::prompt_for`), a task on
//! the engine's tracker asks the summary model (`[engine] summary_model`, else
//! the conversation's) to fold them into the conversation's rolling summary,
//! cuts what it wrote to `summary_max_tokens`, and saves it; the next prompt
//! carries it (see [`crate::summary`]).
//!
//! It never delays a reply: the task holds neither the conversation's lane
//! nor a parallel slot. At most one runs per conversation; a conversation
//! whose summary is still being written skips one, and the next reply picks
//! up the turns it would have taken. `/reset` stops it (and waits for a save
//! under way, so a summary of the old history is never saved over the new),
//! as does shutdown. Every failure is logged, and the conversation goes on
//! without the summary — the turns simply dropped, as with summaries off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span, warn};

use super::exchange::Exchange;
use super::shared::Shared;
use crate::backend::estimate_tokens;
use crate::chat::Usage;
use crate::message::{ConversationKey, Incoming};
use crate::models::NamedModel;
use crate::store::RollingSummary;
use crate::summary::{self, Forgotten};

/// The summaries being written, by conversation.
#[derive(Default)]
pub(crate) struct Summaries {
    running: Mutex<HashMap<ConversationKey, Arc<Running>>>,
}

/// One summary being written.
struct Running {
    /// Stops it: `/reset`, or shutdown (a child of the engine's token).
    cancel: CancellationToken,
    /// Held while it saves, so `/reset` can wait for a save under way.
    saving: tokio::sync::Mutex<()>,
}

impl Summaries {
    fn running(&self) -> MutexGuard<'_, HashMap<ConversationKey, Arc<Running>>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a summary of `key`; `None` when one is being written already.
    fn begin(&self, key: &ConversationKey, shutdown: &CancellationToken) -> Option<Arc<Running>> {
        let mut running = self.running();
        if running.contains_key(key) {
            return None;
        }
        let run = Arc::new(Running {
            cancel: shutdown.child_token(),
            saving: tokio::sync::Mutex::new(()),
        });
        running.insert(key.clone(), Arc::clone(&run));
        Some(run)
    }

    /// Forgets `run` of `key`, done.
    fn end(&self, key: &ConversationKey, run: &Arc<Running>) {
        let mut running = self.running();
        if running.get(key).is_some_and(|r| Arc::ptr_eq(r, run)) {
            running.remove(key);
        }
    }

    /// Stops the summary of `key` being written, if any, and waits until it
    /// can no longer save: call before clearing the conversation's history.
    pub(crate) async fn stop(&self, key: &ConversationKey) {
        let run = self.running().remove(key);
        if let Some(run) = run {
            run.cancel.cancel();
            drop(run.saving.lock().await);
        }
    }
}

/// Starts summarising `forgotten`, the turns `exchange`'s prompt left out, in
/// the background; does nothing when summaries are off or one of this
/// conversation is being written already.
pub(crate) fn start(exchange: &Exchange<'_>, forgotten: Forgotten) {
    let shared = exchange.engine;
    let settings = &shared.settings;
    if !settings.summarize || forgotten.turns.is_empty() {
        return;
    }
    let key = &exchange.message.key;
    let Some(run) = shared.summaries.begin(key, &shared.shutdown) else {
        debug!("a summary of this conversation is being written already");
        return;
    };
    let writer = settings
        .summary_model
        .as_deref()
        .and_then(|name| shared.services.models.get(name))
        .unwrap_or(&exchange.model)
        .clone();
    let job = Job {
        shared: Arc::clone(shared),
        message: exchange.message.clone(),
        writer,
        reader: exchange.model.clone(),
        forgotten,
    };
    let span = info_span!("summary", key = %key, turns = job.forgotten.turns.len());
    shared.tasks.spawn(
        async move {
            let written = tokio::select! {
                () = run.cancel.cancelled() => None,
                written = job.write() => written,
            };
            // Not raced against the token: a save is never dropped half-way.
            match written {
                Some(summary) => job.save(&run, &summary).await,
                None if run.cancel.is_cancelled() => debug!("summary stopped"),
                None => {}
            }
            job.shared.summaries.end(&job.message.key, &run);
        }
        .instrument(span),
    );
}

/// One summary to write.
struct Job {
    shared: Arc<Shared>,
    /// The message whose reply left the turns out: its author pays.
    message: Incoming,
    /// The model that writes the summary.
    writer: NamedModel,
    /// The model whose prompts carry it, by whose count it is cut.
    reader: NamedModel,
    forgotten: Forgotten,
}

impl Job {
    /// Saves `summary`, unless `run` was stopped meanwhile.
    async fn save(&self, run: &Running, summary: &RollingSummary) {
        let _saving = run.saving.lock().await;
        if run.cancel.is_cancelled() {
            debug!("summary stopped");
            return;
        }
        let history = &self.shared.services.stores.history;
        match history.save_summary(&self.message.key, summary).await {
            Ok(()) => debug!(covered = summary.turns_covered, "summary saved"),
            Err(error) => warn!(%error, "could not save the summary; the turns stay left out"),
        }
    }

    /// Asks the model for the summary and cuts it to its budget; `None`
    /// when there is none (logged).
    async fn write(&self) -> Option<RollingSummary> {
        let services = &self.shared.services;
        let max_tokens = self.shared.settings.summary_max_tokens.max(1);
        let writer = &self.writer;
        let Some((request, taken)) = summary::request(
            writer.backend.as_ref(),
            writer.capabilities.context_window,
            &self.forgotten,
            max_tokens,
        ) else {
            warn!(model = %writer.name, "the summary request does not fit the model; no summary");
            return None;
        };
        let asked = writer.backend.count_tokens(&request.messages);
        let response = match writer.backend.complete(request).await {
            Ok(response) => response,
            Err(error) => {
                warn!(model = %writer.name, %error, "the model could not write the summary; the turns stay left out");
                return None;
            }
        };
        let usage = response.completion.usage.unwrap_or_else(|| Usage {
            prompt_tokens: saturate(asked),
            completion_tokens: saturate(estimate_tokens(&response.text)),
        });
        services.record_usage(&self.message, writer, usage).await;
        let text = summary::clip(
            self.reader.backend.as_ref(),
            &response.text,
            max_tokens as usize,
        );
        if text.is_empty() {
            warn!(model = %writer.name, "the model wrote an empty summary; the turns stay left out");
            return None;
        }
        let left = self.forgotten.turns.len() - taken;
        Some(RollingSummary {
            text,
            // The turns that did not fit this request come next time.
            turns_covered: self.forgotten.turns_covered - left as u64,
        })
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
