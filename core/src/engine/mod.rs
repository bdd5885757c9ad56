//! The [`Engine`]: decides, per message, whether to ignore it, run a command or
//! a plugin, or chat with the model — one conversation's messages in order,
//! different conversations in parallel under a global limit.
//!
//! Adapters call [`Engine::attach`] once with their platform and [`Outbox`],
//! and submit messages to the [`Inbox`] they get back.
//!
//! A message goes through five stages, each in its own module, each calling
//! only the stages after it (see `pipeline` for the list):
//!
//! | stage | module |
//! |---|---|
//! | 1. receive: addressed? `/stop` `/yes` `/no`, rate, bounded lanes, order | `intake` (`lanes`, `limiter`) |
//! | 2. screen: input filters | `pipeline`, `screen` |
//! | 3. route: built-in, plugin command, message hook, chat | `route`, `builtin` |
//! | 4. deliver: prompt, model and tools, courier | `chat`, `agent`, `toolbox`, `calls` |
//! | 5. record: history, usage, after-reply hooks | `record` |
//!
//! After them, in the background: `summarize` (the rolling summary of the
//! turns that no longer fit the context window).
//!
//! Beside them: `exchange` (the message on its way, with its helpers),
//! `shared` (the state they read), `builder`, `scheduler` (jobs), and
//! `monitor` (what [`Engine::stats`] reads: connections, load, activity).

mod agent;
mod builder;
mod builtin;
mod calls;
mod chat;
mod exchange;
mod intake;
mod lanes;
mod limiter;
mod monitor;
mod pending;
mod pipeline;
mod record;
mod reloads;
mod route;
mod scheduler;
mod screen;
mod shared;
mod summarize;
mod toolbox;
mod trigger_command;
mod triggers;
mod usage;

pub use builder::{EngineBuilder, EngineError};
pub use monitor::{ACTIVITY_MINUTES, Connection, EngineStats, MinuteActivity, PlatformStatus};
pub use reloads::{ReloadRefused, ReloadReport, ReloadRequest};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::approval::{Answered, Decision};
use crate::backend::ModelBackend;
use crate::budget::{BudgetSettings, Prices};
use crate::command::CommandSpec;
use crate::delivery::Courier;
use crate::message::{ConversationKey, Incoming, Platform};
use crate::models::Models;
use crate::outbox::Outbox;
use crate::persona::Personas;
use crate::place::Place;
use crate::settings::GroupSettings;
use crate::store::{StoreError, Stores};
use crate::tool::ToolSpec;
use crate::trigger::{TriggerRule, Triggers, Verdict};
use shared::Shared;

/// The conversation engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl Engine {
    /// Starts building an engine around `backend`.
    pub fn builder(backend: Arc<dyn ModelBackend>) -> EngineBuilder {
        EngineBuilder::new(backend)
    }

    /// Connects `platform`: returns the inbox its messages go to. Replies go
    /// out through `outbox`, paced by one pacer for the whole platform and
    /// screened by the plugins' output filters. Plugins can post to the
    /// platform from now on, and scheduled jobs start running (the first
    /// attach starts the scheduler; it needs a tokio runtime).
    pub fn attach(&self, platform: Platform, outbox: Arc<dyn Outbox>) -> Inbox {
        let courier = Arc::new(
            Courier::new(outbox, Arc::clone(&self.shared.filters)).with_platform(platform),
        );
        self.shared.services.attach(platform, Arc::clone(&courier));
        self.shared
            .monitor
            .set_connection(platform, Connection::Connected);
        self.start_scheduler();
        triggers::TriggerState::refresh_if_stale(&self.shared);
        // Messages kept at the last shutdown are answered (or excused) now.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(pending::resume(
                Arc::clone(&self.shared),
                Arc::clone(&courier),
                platform,
            ));
        }
        Inbox {
            shared: Arc::clone(&self.shared),
            courier,
            platform,
        }
    }

    fn start_scheduler(&self) {
        if self.shared.scheduler_started.swap(true, Ordering::SeqCst) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // Under the task tracker: shutdown waits for the jobs in hand.
                self.shared
                    .tasks
                    .spawn_on(scheduler::run(Arc::clone(&self.shared)), &runtime);
            }
            Err(_) => {
                warn!("no tokio runtime: scheduled jobs will not run");
                self.shared.scheduler_started.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Wakes the scheduler to look for due jobs now (e.g. after a test moved
    /// the clock, or another process added jobs).
    pub fn wake_scheduler(&self) {
        self.shared.services.job_added.notify_one();
    }

    /// Every command: built-ins, then plugins' (for `/help` and platform menus).
    pub fn commands(&self) -> Vec<CommandSpec> {
        builtin::all(&self.shared)
    }

    /// The default language model.
    pub fn backend(&self) -> &Arc<dyn ModelBackend> {
        &self.shared.services.models.default_model().backend
    }

    /// Every model, by name.
    pub fn models(&self) -> &Models {
        &self.shared.services.models
    }

    /// The stores in use.
    pub fn store(&self) -> &Stores {
        &self.shared.services.stores
    }

    /// Forgets `key`'s history and its summary, as `/reset` does: a summary
    /// being written for it is stopped first, so it cannot be saved over
    /// the fresh start.
    pub async fn clear_history(&self, key: &ConversationKey) -> Result<(), StoreError> {
        self.shared.summaries.stop(key).await;
        self.shared.services.stores.history.clear_history(key).await
    }

    /// What models cost (for usage reports).
    pub fn prices(&self) -> &Prices {
        &self.shared.services.prices
    }

    /// The personas in force.
    pub fn personas(&self) -> Arc<Personas> {
        self.shared.services.personas.get()
    }

    /// The trigger rules: the `[triggers]` settings in force, and the rules
    /// admins set with `/trigger`, by place (as this process last read them).
    pub fn trigger_rules(&self) -> (Arc<Triggers>, Vec<(Place, TriggerRule)>) {
        let triggers = &self.shared.triggers;
        (triggers.settings.get(), triggers.all_set())
    }

    /// Puts `reload`'s settings in force for every message from now on;
    /// replies under way finish with the settings they started with.
    /// Refused, changing nothing, when a persona names a model there is not.
    pub fn reload(&self, reload: Reload) -> Result<(), EngineError> {
        let shared = &self.shared;
        builder::check_persona_models(&reload.personas, &shared.services.models)?;
        shared.services.personas.set(reload.personas);
        shared.services.budget.set(reload.budget);
        shared.triggers.settings.set(reload.triggers);
        shared.groups.set(reload.groups);
        info!("settings reloaded");
        Ok(())
    }

    /// Every plugin, with its commands and tools, in registration order.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.shared
            .plugins
            .iter()
            .map(|registered| PluginInfo {
                name: registered.name.clone(),
                commands: registered.plugin.commands(),
                tools: registered.plugin.tools(),
            })
            .collect()
    }

    /// What the engine is doing: platforms' connections, replies in
    /// flight, messages waiting, and the last hour's activity.
    pub fn stats(&self) -> EngineStats {
        let shared = &self.shared;
        shared
            .monitor
            .stats(shared.lanes.waiting(), shared.lanes.active())
    }

    /// Stops accepting messages, keeps the ones still waiting in the store
    /// (the next start answers them), lets replies in flight finish until
    /// `grace` after the call, then cancels the rest (each cancelled reply is
    /// finished as "stopped" and never enters history) and waits for them to
    /// wind down. Keeping a long backlog counts against the grace: it is not
    /// added to it.
    pub async fn shutdown(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.scheduler_stop.cancel();
        let waiting = self.shared.lanes.drain_waiting();
        pending::keep(&self.shared, waiting).await;
        self.shared.tasks.close();
        if tokio::time::timeout_at(deadline, self.shared.tasks.wait())
            .await
            .is_err()
        {
            info!("cancelling replies still in flight");
            self.shared.shutdown.cancel();
            self.shared.lanes.cancel_all();
            self.shared.tasks.wait().await;
        }
        debug!("engine stopped");
    }

    /// The reload requests made through [`Engine::request_reload`], for the
    /// one part of the process that can read the settings again (the natter
    /// binary's reloader); `None` after the first call.
    pub fn serve_reloads(&self) -> Option<tokio::sync::mpsc::Receiver<ReloadRequest>> {
        self.shared.reloads.serve()
    }

    /// Asks whoever serves reloads to read the settings again and put them
    /// in force (a dashboard's button); says what changed, or why nothing did.
    pub async fn request_reload(&self) -> Result<ReloadReport, ReloadRefused> {
        self.shared.reloads.request().await
    }

    /// Conversations with messages being handled or waiting right now.
    pub fn active_conversations(&self) -> usize {
        self.shared.lanes.active()
    }

    /// True once [`Engine::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }
}

/// What [`Engine::reload`] replaces: the settings that can change while
/// conversations go on.
#[derive(Clone, Debug)]
pub struct Reload {
    /// `[persona]` and `[personas]`.
    pub personas: Personas,
    /// `[triggers]`.
    pub triggers: Triggers,
    /// `[groups]`.
    pub groups: GroupSettings,
    /// `[budget]`.
    pub budget: BudgetSettings,
}

/// A plugin as [`Engine::plugins`] describes it.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    /// Its name (and settings section).
    pub name: String,
    /// The commands it answers.
    pub commands: Vec<CommandSpec>,
    /// The tools it offers the model.
    pub tools: Vec<ToolSpec>,
}

/// Where an adapter submits messages. Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    shared: Arc<Shared>,
    courier: Arc<Courier>,
    platform: Platform,
}

impl Inbox {
    /// Hands `message` to the engine. Returns at once; the [`Receipt`] resolves
    /// when the message has been handled (answered, ignored or refused).
    pub fn submit(&self, message: Incoming) -> Receipt {
        let (done, receipt) = oneshot::channel();
        if self.shared.closed.load(Ordering::SeqCst) {
            warn!(key = %message.key, "shutting down; message not handled");
            return Receipt(receipt);
        }
        intake::submit(&self.shared, &self.courier, message, done);
        Receipt(receipt)
    }

    /// Answers approval `approval_id` for user `user_id` (a platform's
    /// Allow/Refuse button). Only the person asked can answer, once; the
    /// result says what became of it, for the platform to show.
    pub fn answer_approval(
        &self,
        approval_id: &str,
        user_id: &str,
        decision: Decision,
    ) -> Answered {
        self.shared.approvals.answer(approval_id, user_id, decision)
    }

    /// True when the trigger rule of `message`'s channel may have it
    /// answered (before cooldowns and rates): addressed to the bot, or
    /// chatter the rule answers. Lets an adapter skip work — such as asking
    /// who the group's admins are — for messages that will be let go.
    pub fn may_answer(&self, message: &Incoming) -> bool {
        self.shared.triggers.verdict(message).0 != Verdict::Ignore
    }

    /// Reports the platform's connection to its service (dashboards and
    /// readiness checks show it). Attaching counts as connected; an adapter
    /// that connects later reports [`Connection::Connecting`] first.
    pub fn set_connection(&self, connection: Connection) {
        self.shared
            .monitor
            .set_connection(self.platform, connection);
    }

    /// The engine this inbox feeds.
    pub fn engine(&self) -> Engine {
        Engine {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Resolves when a submitted message has been handled.
#[derive(Debug)]
pub struct Receipt(oneshot::Receiver<()>);

impl Receipt {
    /// Waits until the message has been handled.
    pub async fn handled(self) {
        // The sender is dropped when handling ends, whichever way it ends.
        let _ = self.0.await;
    }
}
