//! [`EngineBuilder`]: puts an engine together — backend, stores, personas,
//! plugins, failure handler, clock — and checks what can be checked before
//! the first message: plugin names and commands.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::limiter::Limiter;
use super::scheduler::JobHolder;
use super::shared::Shared;
use super::triggers::TriggerState;
use super::{Engine, builtin};
use crate::approval::Approvals;
use crate::backend::ModelBackend;
use crate::budget::{BudgetSettings, Prices};
use crate::clock::{Clock, SystemClock};
use crate::command::{Command, CommandSpec};
use crate::delivery::OutputFilter;
use crate::live::Live;
use crate::media::{ImageGenerator, MediaSettings, Transcriber};
use crate::models::{Models, UnknownModel};
use crate::persona::Personas;
use crate::plugin::{DefaultErrorHandler, Plugin, PluginErrorHandler, Registered};
use crate::services::{MediaServices, Services};
use crate::settings::{EngineSettings, GroupSettings, LimitSettings, ModelDefaults};
use crate::store::{MemoryStore, Stores};
use crate::tool::ToolSettings;
use crate::trigger::{TriggerSettings, Triggers};

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
    /// A fallback, a persona or the summary model names a model there is not.
    #[error("{place}: {error}")]
    UnknownModel {
        /// Where the name was given (`fallback`, `personas.NAME.model`,
        /// `engine.summary_model`).
        place: String,
        /// Which name, and the models there are.
        error: UnknownModel,
    },
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    models: Models,
    fallback: Vec<String>,
    stores: Stores,
    settings: EngineSettings,
    defaults: ModelDefaults,
    personas: Personas,
    plugins: Vec<Registered>,
    on_error: Arc<dyn PluginErrorHandler>,
    tools: ToolSettings,
    limits: LimitSettings,
    prices: Prices,
    budget: BudgetSettings,
    triggers: Option<Triggers>,
    groups: GroupSettings,
    clock: Arc<dyn Clock>,
    media: MediaServices,
}

impl EngineBuilder {
    pub(crate) fn new(backend: Arc<dyn ModelBackend>) -> Self {
        Self {
            models: Models::new(backend),
            fallback: Vec::new(),
            stores: Stores::new(Arc::new(MemoryStore::new())),
            settings: EngineSettings::default(),
            defaults: ModelDefaults::default(),
            personas: Personas::default(),
            plugins: Vec::new(),
            on_error: Arc::new(DefaultErrorHandler),
            tools: ToolSettings::default(),
            limits: LimitSettings {
                user_messages_per_minute: 0,
            },
            prices: Prices::new(),
            budget: BudgetSettings::default(),
            triggers: None,
            groups: GroupSettings::default(),
            clock: Arc::new(SystemClock),
            media: MediaServices::default(),
        }
    }

    /// The limits on pictures and voice (`[vision]`, `[transcription]`).
    pub fn media(mut self, settings: MediaSettings) -> Self {
        self.media.settings = settings;
        self
    }

    /// The speech-to-text service voice notes go through; without one,
    /// their senders are asked to write instead.
    pub fn transcriber(mut self, transcriber: Arc<dyn Transcriber>) -> Self {
        self.media.transcriber = Some(transcriber);
        self
    }

    /// The service plugins make pictures with
    /// ([`PluginContext::generate_image`](crate::PluginContext::generate_image)).
    pub fn image_generator(mut self, generator: Arc<dyn ImageGenerator>) -> Self {
        self.media.generator = Some(generator);
        self
    }

    /// The clock scheduled jobs run by (default: the system clock; tests use
    /// [`crate::clock::TokioClock`] to drive it with tokio's paused time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where history and state live (default: in memory). Takes a whole
    /// [`crate::Store`] (`Arc<SqlStore>`, `Arc<MemoryStore>`) or [`Stores`]
    /// assembled part by part.
    pub fn store(mut self, stores: impl Into<Stores>) -> Self {
        self.stores = stores.into();
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

    /// The `[tools]` settings: loop guards and permissions.
    pub fn tools(mut self, tools: ToolSettings) -> Self {
        self.tools = tools;
        self
    }

    /// The `[limits]` settings (default here: none; natter's settings file
    /// defaults to [`LimitSettings::default`]).
    pub fn limits(mut self, limits: LimitSettings) -> Self {
        self.limits = limits;
        self
    }

    /// What models cost, by model name (for `/usage` and cost budgets).
    pub fn prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }

    /// The `[budget]` settings: how much a user or chat may spend.
    pub fn budget(mut self, budget: BudgetSettings) -> Self {
        self.budget = budget;
        self
    }

    /// Adds a model called `name`, which a persona (`model = "name"`) or
    /// `/model name` may choose; the builder's own backend is `default`.
    pub fn model(mut self, name: impl Into<String>, backend: Arc<dyn ModelBackend>) -> Self {
        self.models = self.models.with(name, backend);
        self
    }

    /// The models to try, in order, when a model fails before saying
    /// anything (down, timing out, refusing).
    pub fn fallback(mut self, names: Vec<String>) -> Self {
        self.fallback = names;
        self
    }

    /// The personas.
    pub fn personas(mut self, personas: Personas) -> Self {
        self.personas = personas;
        self
    }

    /// The `[triggers]` rules: when natter answers in groups (default:
    /// mentions, replies and commands; `[engine] answer_bots` for bots).
    pub fn triggers(mut self, triggers: Triggers) -> Self {
        self.triggers = Some(triggers);
        self
    }

    /// The `[groups]` settings: which commands are for admins in groups.
    pub fn groups(mut self, groups: GroupSettings) -> Self {
        self.groups = groups;
        self
    }

    /// Adds a plugin with its settings section (`serde_json::Value::Null` for none).
    pub fn plugin(mut self, plugin: Arc<dyn Plugin>, config: serde_json::Value) -> Self {
        self.plugins.push(Registered::new(plugin, config));
        self
    }

    /// What to do when a plugin hook fails (default: [`DefaultErrorHandler`]).
    /// A closure `|failure: &PluginFailure| -> Option<String>` will do: it
    /// logs as it likes and returns the sentence the user sees, if any.
    pub fn on_plugin_error(mut self, handler: impl PluginErrorHandler + 'static) -> Self {
        self.on_error = Arc::new(handler);
        self
    }

    /// Checks the plugins' commands and builds the engine.
    pub fn build(self) -> Result<Engine, EngineError> {
        let plugin_commands = resolve_commands(&self.plugins)?;
        let models = self.models.with_fallback(self.fallback).map_err(|error| {
            EngineError::UnknownModel {
                place: "fallback".into(),
                error,
            }
        })?;
        if let Some(name) = &self.settings.summary_model {
            models
                .check(name)
                .map_err(|error| EngineError::UnknownModel {
                    place: "engine.summary_model".into(),
                    error,
                })?;
        }
        check_persona_models(&self.personas, &models)?;
        let triggers = self.triggers.unwrap_or_else(|| {
            Triggers::new(TriggerSettings::default(), &[], self.settings.answer_bots)
                .unwrap_or_default()
        });
        let filters: Vec<Arc<dyn OutputFilter>> = self
            .plugins
            .iter()
            .filter_map(|registered| registered.plugin.output_filter())
            .collect();
        let services = Services::new(
            models,
            self.stores.metered(),
            self.personas,
            self.defaults,
            self.settings.max_history_turns,
            self.clock,
        )
        .with_money(self.prices, self.budget)
        .with_summaries(self.settings.summarize)
        .with_media(self.media);
        let job_holder = JobHolder::new(services.clock.now_unix_ms());
        let shared = Shared {
            services,
            parallel: Semaphore::new(self.settings.max_parallel.max(1)),
            settings: self.settings,
            plugins: self.plugins,
            plugin_commands,
            filters: Arc::from(filters),
            on_error: self.on_error,
            tools: self.tools,
            approvals: Approvals::default(),
            limiter: Limiter::new(self.limits.user_messages_per_minute),
            scheduler_started: AtomicBool::new(false),
            job_holder,
            scheduler_stop: CancellationToken::new(),
            lanes: Default::default(),
            tasks: TaskTracker::new(),
            summaries: Default::default(),
            shutdown: CancellationToken::new(),
            closed: AtomicBool::new(false),
            monitor: Default::default(),
            triggers: TriggerState::new(triggers),
            groups: Live::new(self.groups),
            reloads: Default::default(),
        };
        Ok(Engine {
            shared: Arc::new(shared),
        })
    }
}

/// Checks that every persona's model is one of `models`.
pub(crate) fn check_persona_models(
    personas: &Personas,
    models: &Models,
) -> Result<(), EngineError> {
    for (name, persona) in personas.iter() {
        if let Some(model) = &persona.model {
            models
                .check(model)
                .map_err(|error| EngineError::UnknownModel {
                    place: format!("personas.{name}.model"),
                    error,
                })?;
        }
    }
    Ok(())
}

/// Each plugin command's owner and spec, checked: names valid, unique among
/// plugins and built-ins.
fn resolve_commands(
    plugins: &[Registered],
) -> Result<HashMap<String, (usize, CommandSpec)>, EngineError> {
    let mut owners: BTreeMap<String, String> = builtin::specs()
        .into_iter()
        .map(|spec| (spec.name, "natter".to_owned()))
        .collect();
    let mut names = HashSet::new();
    let mut commands = HashMap::new();
    for (index, registered) in plugins.iter().enumerate() {
        if !names.insert(registered.name.clone()) {
            return Err(EngineError::DuplicatePlugin(registered.name.clone()));
        }
        for spec in registered.plugin.commands() {
            if Command::parse(&format!("/{}", spec.name)).map(|c| c.name) != Some(spec.name.clone())
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
            commands.insert(spec.name.clone(), (index, spec));
        }
    }
    Ok(commands)
}
