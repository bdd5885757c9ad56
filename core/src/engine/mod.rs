//! The [`Engine`]: decides, per message, whether to ignore it, run a command or
//! a plugin, or chat with the model — one conversation's messages in order,
//! different conversations in parallel under a global limit.
//!
//! Adapters call [`Engine::attach`] once with their [`Outbox`] and submit
//! messages to the [`Inbox`] they get back.

mod builtin;
mod dispatch;
mod lanes;
mod scheduler;
mod turn;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::backend::ModelBackend;
use crate::chat::GenerationParams;
use crate::clock::{Clock, SystemClock};
use crate::command::{Command, CommandSpec};
use crate::delivery::{Courier, OutputFilter};
use crate::message::{Incoming, Platform};
use crate::outbox::Outbox;
use crate::persona::{Persona, Personas};
use crate::plugin::{Plugin, Registered};
use crate::store::{ConversationStore, MemoryStore};

use lanes::Lanes;

/// The `[engine]` settings section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Conversations handled at the same time; further ones wait their turn.
    pub max_parallel: usize,
    /// Most turns loaded from the store for one prompt (the token budget usually binds first).
    pub max_history_turns: usize,
    /// Answer messages from other bots (off: bot-to-bot loops burn money).
    pub answer_bots: bool,
    /// On shutdown, how long replies in flight may take to finish before they are cancelled.
    pub shutdown_grace_secs: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_parallel: 16,
            max_history_turns: 100,
            answer_bots: false,
            shutdown_grace_secs: 10,
        }
    }
}

/// Generation settings from `[model]`, which personas may override.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDefaults {
    /// Reply budget in tokens.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Seed for reproducible sampling.
    pub seed: Option<u64>,
}

impl Default for ModelDefaults {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: Some(0.7),
            top_p: None,
            seed: None,
        }
    }
}

impl ModelDefaults {
    /// The parameters for a reply in `persona`.
    pub fn params_for(&self, persona: &Persona) -> GenerationParams {
        GenerationParams {
            max_tokens: Some(persona.max_tokens.unwrap_or(self.max_tokens)),
            temperature: persona.temperature.or(self.temperature),
            top_p: persona.top_p.or(self.top_p),
            stop: Vec::new(),
            seed: self.seed,
        }
    }
}

/// A problem with how the engine was put together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Two plugins, or a plugin and a built-in, claim the same command.
    #[error("command /{command} is claimed by both {first} and {second}")]
    CommandClash {
        /// The command.
        command: String,
        /// Who claimed it first.
        first: String,
        /// Who claimed it again.
        second: String,
    },
    /// Two plugins have the same name.
    #[error("two plugins are named `{0}`")]
    DuplicatePlugin(String),
    /// A command name platforms would refuse.
    #[error("plugin {plugin} declares an invalid command name `{command}` (use a-z, 0-9, _)")]
    InvalidCommand {
        /// The plugin.
        plugin: String,
        /// The name.
        command: String,
    },
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    backend: Arc<dyn ModelBackend>,
    store: Arc<dyn ConversationStore>,
    settings: EngineSettings,
    defaults: ModelDefaults,
    personas: Personas,
    plugins: Vec<Registered>,
    clock: Arc<dyn Clock>,
}

impl EngineBuilder {
    /// The clock scheduled jobs run by (default: the system clock; tests use
    /// [`crate::clock::TokioClock`] to drive it with tokio's paused time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where history and state live (default: in memory).
    pub fn store(mut self, store: Arc<dyn ConversationStore>) -> Self {
        self.store = store;
        self
    }

    /// The `[engine]` settings.
    pub fn settings(mut self, settings: EngineSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The `[model]` generation defaults.
    pub fn model_defaults(mut self, defaults: ModelDefaults) -> Self {
        self.defaults = defaults;
        self
    }

    /// The personas.
    pub fn personas(mut self, personas: Personas) -> Self {
        self.personas = personas;
        self
    }

    /// Adds a plugin with its settings section (`serde_json::Value::Null` for none).
    pub fn plugin(mut self, plugin: Arc<dyn Plugin>, config: serde_json::Value) -> Self {
        let name = plugin.name().to_owned();
        self.plugins.push(Registered {
            plugin,
            name,
            config,
        });
        self
    }

    /// Checks the plugins' commands and builds the engine.
    pub fn build(self) -> Result<Engine, EngineError> {
        let mut owners: BTreeMap<String, String> = builtin::specs()
            .into_iter()
            .map(|spec| (spec.name, "natter".to_owned()))
            .collect();
        let mut names = HashSet::new();
        let mut plugin_commands = HashMap::new();
        for (index, registered) in self.plugins.iter().enumerate() {
            if !names.insert(registered.name.clone()) {
                return Err(EngineError::DuplicatePlugin(registered.name.clone()));
            }
            for spec in registered.plugin.commands() {
                if Command::parse(&format!("/{}", spec.name)).map(|c| c.name)
                    != Some(spec.name.clone())
                {
                    return Err(EngineError::InvalidCommand {
                        plugin: registered.name.clone(),
                        command: spec.name,
                    });
                }
                if let Some(first) = owners.insert(spec.name.clone(), registered.name.clone()) {
                    return Err(EngineError::CommandClash {
                        command: spec.name,
                        first,
                        second: registered.name.clone(),
                    });
                }
                plugin_commands.insert(spec.name.clone(), (index, spec));
            }
        }
        let filters: Vec<Arc<dyn OutputFilter>> = self
            .plugins
            .iter()
            .filter_map(|registered| registered.plugin.output_filter())
            .collect();
        let shared = Shared {
            capabilities: self.backend.capabilities(),
            parallel: Semaphore::new(self.settings.max_parallel.max(1)),
            settings: self.settings,
            defaults: self.defaults,
            backend: self.backend,
            store: self.store,
            personas: self.personas,
            plugins: self.plugins,
            plugin_commands,
            filters: Arc::from(filters),
            clock: self.clock,
            couriers: RwLock::new(HashMap::new()),
            job_added: Notify::new(),
            scheduler_started: AtomicBool::new(false),
            scheduler_stop: CancellationToken::new(),
            lanes: Lanes::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            closed: AtomicBool::new(false),
        };
        Ok(Engine {
            shared: Arc::new(shared),
        })
    }
}

/// State every message handler shares.
pub(crate) struct Shared {
    pub(crate) settings: EngineSettings,
    pub(crate) defaults: ModelDefaults,
    pub(crate) backend: Arc<dyn ModelBackend>,
    /// Read once: the context window and names do not change while running.
    pub(crate) capabilities: crate::backend::Capabilities,
    pub(crate) store: Arc<dyn ConversationStore>,
    pub(crate) personas: Personas,
    pub(crate) plugins: Vec<Registered>,
    /// Each plugin command's owner (index into `plugins`) and spec, resolved
    /// once at build time rather than on every command.
    pub(crate) plugin_commands: HashMap<String, (usize, CommandSpec)>,
    /// Plugins' output filters, in plugin order; every courier screens with them.
    pub(crate) filters: Arc<[Arc<dyn OutputFilter>]>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The courier of each attached platform, for posts across channels and jobs.
    pub(crate) couriers: RwLock<HashMap<Platform, Arc<Courier>>>,
    /// Wakes the scheduler when a job is added.
    pub(crate) job_added: Notify,
    pub(crate) scheduler_started: AtomicBool,
    pub(crate) scheduler_stop: CancellationToken,
    pub(crate) lanes: Lanes<dispatch::Job>,
    pub(crate) parallel: Semaphore,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    pub(crate) closed: AtomicBool,
}

/// The conversation engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl Engine {
    /// Starts building an engine around `backend`.
    pub fn builder(backend: Arc<dyn ModelBackend>) -> EngineBuilder {
        EngineBuilder {
            backend,
            store: Arc::new(MemoryStore::new()),
            settings: EngineSettings::default(),
            defaults: ModelDefaults::default(),
            personas: Personas::default(),
            plugins: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Connects `platform`: returns the inbox its messages go to. Replies go
    /// out through `outbox`, paced by one pacer for the whole platform and
    /// screened by the plugins' output filters. Plugins can post to the
    /// platform from now on, and scheduled jobs start running (the first
    /// attach starts the scheduler; it needs a tokio runtime).
    pub fn attach(&self, platform: Platform, outbox: Arc<dyn Outbox>) -> Inbox {
        let courier = Arc::new(Courier::with_filters(
            outbox,
            Arc::clone(&self.shared.filters),
        ));
        match self.shared.couriers.write() {
            Ok(mut couriers) => {
                couriers.insert(platform, Arc::clone(&courier));
            }
            Err(poisoned) => {
                poisoned.into_inner().insert(platform, Arc::clone(&courier));
            }
        }
        self.start_scheduler();
        Inbox {
            shared: Arc::clone(&self.shared),
            courier,
        }
    }

    fn start_scheduler(&self) {
        if self.shared.scheduler_started.swap(true, Ordering::SeqCst) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(scheduler::run(Arc::clone(&self.shared)));
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
        self.shared.job_added.notify_one();
    }

    /// Every command: built-ins, then plugins' (for `/help` and platform menus).
    pub fn commands(&self) -> Vec<CommandSpec> {
        self.shared.commands()
    }

    /// The language model in use.
    pub fn backend(&self) -> &Arc<dyn ModelBackend> {
        &self.shared.backend
    }

    /// The store in use.
    pub fn store(&self) -> &Arc<dyn ConversationStore> {
        &self.shared.store
    }

    /// Stops accepting messages, lets replies in flight finish for up to `grace`,
    /// then cancels the rest (each cancelled reply is finished as "stopped" and
    /// never enters history) and waits for them to wind down.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.scheduler_stop.cancel();
        self.shared.tasks.close();
        if tokio::time::timeout(grace, self.shared.tasks.wait())
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

    /// Conversations with messages being handled or waiting right now.
    pub fn active_conversations(&self) -> usize {
        self.shared.lanes.active()
    }

    /// True once [`Engine::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }
}

impl Shared {
    /// The courier of `platform`, if it is attached.
    pub(crate) fn courier_for(&self, platform: Platform) -> Option<Arc<Courier>> {
        match self.couriers.read() {
            Ok(couriers) => couriers.get(&platform).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&platform).cloned(),
        }
    }

    pub(crate) fn commands(&self) -> Vec<CommandSpec> {
        let mut specs = builtin::specs();
        for registered in &self.plugins {
            specs.extend(registered.plugin.commands());
        }
        specs
    }
}

/// Where an adapter submits messages. Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    shared: Arc<Shared>,
    courier: Arc<Courier>,
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
        dispatch::submit(&self.shared, &self.courier, message, done);
        Receipt(receipt)
    }

    /// The engine this inbox feeds.
    pub fn engine(&self) -> Engine {
        Engine {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The courier replies go through (for adapters that post on their own, e.g. reminders).
    pub fn courier(&self) -> &Arc<Courier> {
        &self.courier
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
