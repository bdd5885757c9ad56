//! Settings: `natter.toml` plus environment overrides, typed and validated.
//!
//! Lookup: `--config FILE`, else `NATTER_CONFIG`, else `config/natter.toml` if
//! present, else built-in defaults. Any key can be overridden from the
//! environment as `NATTER__SECTION__KEY` (e.g. `NATTER__MODEL__OPENAI__BASE_URL`).
//! Unknown keys are errors that name them, so a typo never silently does nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use natter_core::secret::non_empty;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing_subscriber::filter::LevelFilter;

use natter_console::ConsoleSettings;
use natter_core::{
    BudgetSettings, EngineSettings, GroupSettings, LimitSettings, ModelDefaults, Persona,
    PersonaSettings, Personas, Place, Platform, ToolSettings, TriggerSettings, Triggers,
};
use natter_discord::DiscordSettings;
use natter_llama::LlamaSettings;
use natter_mcp::McpSettings;
use natter_openai::OpenAiSettings;
use natter_store::StoreSettings;
use natter_telegram::TelegramSettings;
use natter_web::WebSettings;

use crate::plugin_section::PluginSection;

/// The default settings file, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "config/natter.toml";

/// Where `[model.openai] api_key` comes from when unset.
pub const OPENAI_API_KEY_VAR: &str = "OPENAI_API_KEY";
/// Where `[telegram] token` comes from when unset.
pub const TELEGRAM_TOKEN_VAR: &str = "TELEGRAM_BOT_TOKEN";
/// Where `[discord] token` comes from when unset.
pub const DISCORD_TOKEN_VAR: &str = "DISCORD_TOKEN";
/// Where `[web] token` comes from when unset.
pub const WEB_TOKEN_VAR: &str = "NATTER_WEB_TOKEN";
/// Every variable a secret may come from (besides `NATTER__…` overrides).
pub const SECRET_VARIABLES: [&str; 4] = [
    OPENAI_API_KEY_VAR,
    TELEGRAM_TOKEN_VAR,
    DISCORD_TOKEN_VAR,
    WEB_TOKEN_VAR,
];

/// The platforms natter runs on: what a place in settings may name.
pub const PLATFORMS: [Platform; 4] = [
    natter_telegram::PLATFORM,
    natter_discord::PLATFORM,
    natter_console::PLATFORM,
    natter_web::PLATFORM,
];

/// Everything natter can be configured with.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[engine]`: parallelism, history loading and summaries, bots, shutdown.
    pub engine: EngineSettings,
    /// `[model]`: which backend, and generation defaults.
    pub model: ModelSettings,
    /// `[persona]`: the default persona and per-channel assignments.
    pub persona: PersonaSettings,
    /// `[models.NAME]`: further models, by name.
    pub models: BTreeMap<String, BackendSettings>,
    /// `[personas.NAME]`: the personas.
    pub personas: BTreeMap<String, Persona>,
    /// `[triggers]`: when natter answers in groups, by place.
    pub triggers: TriggerSettings,
    /// `[groups]`: which commands only admins may use in groups.
    pub groups: GroupSettings,
    /// `[store]`: where history and state live (SQLite by default).
    pub store: StoreSettings,
    /// `[console]`: the terminal chat.
    pub console: ConsoleSettings,
    /// `[telegram]`: starts when a token is set (or `TELEGRAM_BOT_TOKEN`).
    pub telegram: TelegramSettings,
    /// `[discord]`: starts when a token is set (or `DISCORD_TOKEN`).
    pub discord: DiscordSettings,
    /// `[web]`: the browser chat and dashboard; starts when `listen` is set.
    pub web: WebSettings,
    /// `[log]`: log level and format.
    pub log: LogSettings,
    /// `[tools]`: the tool loop's guards and who may run which tool where.
    pub tools: ToolSettings,
    /// `[limits]`: how much one person may ask.
    pub limits: LimitSettings,
    /// `[budget]`: how many tokens (or dollars) a user or chat may spend.
    pub budget: BudgetSettings,
    /// `[mcp.servers.NAME]`: MCP servers whose tools the model may call.
    pub mcp: McpSettings,
    /// `[vision]`: how many pictures of what size reach a model that sees.
    pub vision: natter_core::ImageLimits,
    /// `[transcription]`: voice notes to text (on when it names a model).
    pub transcription: crate::media::TranscriptionSettings,
    /// `[image_generation]`: `/image` pictures (on when it names a model).
    pub image_generation: crate::media::ImageGenerationSettings,
    /// `[plugins.NAME]`: natter's `enabled` switch and each plugin's own settings.
    #[serde(deserialize_with = "crate::plugin_section::deserialize_sections")]
    pub plugins: BTreeMap<String, PluginSection>,
}

/// Which model backend answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum BackendKind {
    /// llama.cpp in-process on a local GGUF model (`[model.llama]`): no API key, no network.
    #[default]
    Llama,
    /// Any OpenAI-compatible HTTP API (`[model.openai]`).
    Openai,
}

impl BackendKind {
    /// The name settings use.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Llama => "local",
            BackendKind::Openai => "OpenAI-compatible",
        }
    }
}

impl TryFrom<String> for BackendKind {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        natter_core::settings::one_of(
            &value,
            &[
                ("llama", BackendKind::Llama),
                ("openai", BackendKind::Openai),
            ],
            "a backend",
        )
    }
}

/// The `[model]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// The backend.
    pub backend: BackendKind,
    /// Most tokens in a reply (personas may override).
    pub max_tokens: u32,
    /// Sampling temperature, 0–2 (personas may override).
    pub temperature: f32,
    /// Nucleus sampling (personas may override).
    pub top_p: Option<f32>,
    /// Seed for reproducible sampling.
    pub seed: Option<u64>,
    /// Dollars per million prompt tokens (for `/usage` and cost budgets).
    pub price_in: Option<f64>,
    /// Dollars per million generated tokens.
    pub price_out: Option<f64>,
    /// `[model.llama]`.
    pub llama: LlamaSettings,
    /// `[model.openai]`.
    pub openai: OpenAiSettings,
    /// Models (names from `[models]`) to try in order when this one fails
    /// before saying anything.
    pub fallback: Vec<String>,
}

/// A `[models.NAME]` section: another model a persona, `/model` or the
/// fallback may use — the same keys as `[model]`'s backend part.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendSettings {
    /// The backend.
    pub backend: BackendKind,
    /// Dollars per million prompt tokens.
    pub price_in: Option<f64>,
    /// Dollars per million generated tokens.
    pub price_out: Option<f64>,
    /// `[models.NAME.llama]`.
    pub llama: LlamaSettings,
    /// `[models.NAME.openai]`.
    pub openai: OpenAiSettings,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            backend: BackendKind::Llama,
            max_tokens: 512,
            temperature: 0.7,
            top_p: None,
            seed: None,
            price_in: None,
            price_out: None,
            llama: LlamaSettings::default(),
            openai: OpenAiSettings::default(),
            fallback: Vec::new(),
        }
    }
}

/// Conversations answered at once on an OpenAI-compatible API when
/// `[engine] max_parallel` is unset: a server takes dozens of requests in
/// flight, and each waits mostly on the network.
pub const API_MAX_PARALLEL: usize = 32;

impl ModelSettings {
    /// `[engine] max_parallel` when unset, sized for the default model's
    /// backend: an API takes [`API_MAX_PARALLEL`]; the local model generates
    /// for one conversation at a time and keeps `slots` of them warm, so
    /// more in parallel would only evict each other's state or be refused
    /// as busy beyond its `queue`.
    pub fn default_max_parallel(&self) -> usize {
        match self.backend {
            BackendKind::Openai => API_MAX_PARALLEL,
            BackendKind::Llama => self.llama.slots.clamp(1, self.llama.queue + 1),
        }
    }

    /// The backend part of `[model]`, as a `[models.NAME]` section has it.
    pub fn backend_settings(&self) -> BackendSettings {
        BackendSettings {
            backend: self.backend,
            price_in: self.price_in,
            price_out: self.price_out,
            llama: self.llama.clone(),
            openai: self.openai.clone(),
        }
    }

    /// The generation defaults the engine applies.
    pub fn defaults(&self) -> ModelDefaults {
        ModelDefaults {
            max_tokens: self.max_tokens,
            temperature: Some(self.temperature),
            top_p: self.top_p,
            seed: self.seed,
        }
    }
}

/// The `[log]` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter (`info`, `natter=debug,warn`, …), checked at load;
    /// `RUST_LOG` wins when it is set and valid. Default: `warn` in the
    /// console, `info` otherwise.
    pub level: Option<String>,
    /// `text` or `json`.
    pub format: LogFormat,
}

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        natter_core::settings::one_of(
            &value,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
            "a log format",
        )
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The named settings file does not exist.
    #[error("settings file {0} does not exist")]
    Missing(PathBuf),
    /// The named settings file is a directory.
    #[error("{} is a directory; give the settings file in it, e.g. {}", .0.display(), .0.join("natter.toml").display())]
    NotAFile(PathBuf),
    /// The file or an environment override is malformed or has unknown keys.
    #[error("invalid settings{}: {reason}", source_note(.file))]
    Invalid {
        /// What is wrong, naming the key.
        reason: String,
        /// The file, if one was read.
        file: Option<PathBuf>,
    },
    /// A value is out of range or refers to something that does not exist.
    #[error("invalid setting {key}: {reason}")]
    Value {
        /// The key, e.g. `model.temperature`.
        key: String,
        /// Why.
        reason: String,
    },
}

fn source_note(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

/// Settings and where they came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The settings.
    pub settings: Settings,
    /// The file read, if any.
    pub source: Option<PathBuf>,
}

/// Loads settings from `explicit` (or the default lookup) and the process environment.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, SettingsError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    load_with_env(explicit, &env)
}

/// [`load`] with a given environment (for tests). The only place natter
/// reads the environment for settings: `NATTER__…` overrides, the secrets'
/// standard variables ([`SECRET_VARIABLES`]) and `USER`.
pub fn load_with_env(
    explicit: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, SettingsError> {
    let source = match explicit {
        Some(path) if !path.exists() => return Err(SettingsError::Missing(path.to_owned())),
        Some(path) if path.is_dir() => return Err(SettingsError::NotAFile(path.to_owned())),
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists()),
    };
    let mut builder = Config::builder();
    if let Some(path) = &source {
        builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Toml));
    }
    let overrides: config::Map<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("NATTER__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        Environment::with_prefix("NATTER")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(overrides)),
    );
    let invalid = |e: config::ConfigError| SettingsError::Invalid {
        reason: e.to_string(),
        file: source.clone(),
    };
    let config = builder.build().map_err(invalid)?;
    let max_parallel_given = config.get::<config::Value>("engine.max_parallel").is_ok();
    let mut settings: Settings = config.try_deserialize().map_err(invalid)?;
    if !max_parallel_given {
        settings.engine.max_parallel = settings.model.default_max_parallel();
    }
    fill_from_env(&mut settings, env);
    settings.validate()?;
    Ok(Loaded { settings, source })
}

/// Fills what is unset (or blank) from its standard variable: secrets from
/// [`SECRET_VARIABLES`], the console user's name from `USER`. A blank
/// variable counts as unset.
fn fill_from_env(settings: &mut Settings, env: &BTreeMap<String, String>) {
    let var = |name: &str| env.get(name).filter(|v| !v.trim().is_empty()).cloned();
    let secret = |slot: &mut Option<SecretString>, name: &str| {
        if non_empty(slot).is_none() {
            *slot = var(name).map(SecretString::from);
        }
    };
    secret(&mut settings.model.openai.api_key, OPENAI_API_KEY_VAR);
    secret(&mut settings.telegram.token, TELEGRAM_TOKEN_VAR);
    secret(&mut settings.discord.token, DISCORD_TOKEN_VAR);
    secret(&mut settings.web.token, WEB_TOKEN_VAR);
    let console = &mut settings.console;
    if console.user.as_deref().is_none_or(|u| u.trim().is_empty()) {
        console.user = var("USER");
    }
}

/// Checks a `[log] level` filter: tracing's filter syntax, where a directive
/// without `=` must be a level (a bare word would silently mean "everything
/// from a module of that name", so `level = "loud"` logs nothing).
fn check_log_level(level: &str) -> Result<(), String> {
    crate::logging::parse_filter(level)
        .map_err(|e| format!("`{level}` is not a log filter ({e})"))?;
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains('=') && !directive.contains('[');
        if bare && directive.parse::<LevelFilter>().is_err() {
            return Err(format!(
                "`{directive}` is not a level: use trace, debug, info, warn, error or off, \
                 or TARGET=LEVEL (e.g. \"natter=debug,warn\")"
            ));
        }
    }
    Ok(())
}

impl Settings {
    /// Checks ranges and references that types cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let value = |key: &str, reason: &str| SettingsError::Value {
            key: key.into(),
            reason: reason.into(),
        };
        if self.engine.max_parallel == 0 {
            return Err(value("engine.max_parallel", "must be at least 1"));
        }
        if self.engine.max_queue == 0 {
            return Err(value("engine.max_queue", "must be at least 1"));
        }
        if self.engine.job_lease_secs == 0 {
            return Err(value("engine.job_lease_secs", "must be at least 1"));
        }
        if self.engine.summary_max_tokens == 0 {
            return Err(value(
                "engine.summary_max_tokens",
                "must be at least 1 (to stop summaries, set summarize = false)",
            ));
        }
        if self.model.max_tokens == 0 {
            return Err(value("model.max_tokens", "must be at least 1"));
        }
        if !(0.0..=2.0).contains(&self.model.temperature) {
            return Err(value("model.temperature", "must be between 0 and 2"));
        }
        for (key, price) in [
            ("model.price_in", self.model.price_in),
            ("model.price_out", self.model.price_out),
            (
                "budget.user_monthly_cost",
                self.budget.user.user_monthly_cost,
            ),
        ] {
            if price.is_some_and(|p| !p.is_finite() || p < 0.0) {
                return Err(value(key, "must be a number of dollars, 0 or more"));
            }
        }
        self.check_models()?;
        for (user, limits) in &self.budget.users {
            if user
                .split_once(':')
                .is_none_or(|(p, id)| p.is_empty() || id.is_empty())
            {
                return Err(value(
                    &format!("budget.users.\"{user}\""),
                    "name users as platform:user_id, e.g. \"telegram:123456789\"",
                ));
            }
            if limits
                .user_monthly_cost
                .is_some_and(|p| !p.is_finite() || p < 0.0)
            {
                return Err(value(
                    &format!("budget.users.\"{user}\".user_monthly_cost"),
                    "must be a number of dollars, 0 or more",
                ));
            }
        }
        for (name, persona) in &self.personas {
            if persona
                .temperature
                .is_some_and(|t| !(0.0..=2.0).contains(&t))
            {
                return Err(value(
                    &format!("personas.{name}.temperature"),
                    "must be between 0 and 2",
                ));
            }
        }
        self.personas()?;
        for written in self.persona.channels.keys() {
            Place::parse_known(written, &PLATFORMS)
                .map_err(|e| value(&format!("persona.channels.\"{written}\""), &e.to_string()))?;
        }
        self.triggers()?;
        for (index, name) in self.groups.admin_only.iter().enumerate() {
            if name.trim().is_empty() || name.starts_with('/') {
                return Err(value(
                    &format!("groups.admin_only[{index}]"),
                    "name commands without the slash, e.g. \"persona\"",
                ));
            }
        }
        self.tools.validate().map_err(|e| SettingsError::Value {
            key: format!("tools.{}", e.key),
            reason: e.reason,
        })?;
        self.mcp.validate().map_err(|e| SettingsError::Value {
            key: e.key,
            reason: e.reason,
        })?;
        if let Some((key, reason)) = self.vision.invalid() {
            return Err(value(&format!("vision.{key}"), reason));
        }
        if self.transcription.enabled() && self.transcription.max_seconds == 0 {
            return Err(value("transcription.max_seconds", "must be at least 1"));
        }
        if self.image_generation.enabled() && self.image_generation.size.trim().is_empty() {
            return Err(value(
                "image_generation.size",
                "name a size, e.g. \"1024x1024\"",
            ));
        }
        if let Some(level) = &self.log.level {
            check_log_level(level).map_err(|reason| value("log.level", &reason))?;
        }
        if self.telegram.enabled() {
            self.telegram
                .validate()
                .map_err(|e| value("telegram", &e.to_string()))?;
        }
        self.web
            .validate()
            .map_err(|e| value("web.listen", &e.to_string()))?;
        Ok(())
    }

    /// Checks that every model name given names a model, and prices.
    fn check_models(&self) -> Result<(), SettingsError> {
        let value = |key: String, reason: String| SettingsError::Value { key, reason };
        let known = || {
            std::iter::once("default")
                .chain(self.models.keys().map(String::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let exists =
            |name: &str| name == natter_core::DEFAULT_MODEL || self.models.contains_key(name);
        if self.models.contains_key(natter_core::DEFAULT_MODEL) {
            return Err(value(
                "models.default".into(),
                "\"default\" is [model]; give this model another name".into(),
            ));
        }
        for name in &self.model.fallback {
            if !exists(name) {
                return Err(value(
                    "model.fallback".into(),
                    format!("there is no model called {name} (models: {})", known()),
                ));
            }
        }
        if let Some(name) = self
            .engine
            .summary_model
            .as_deref()
            .filter(|name| !exists(name))
        {
            return Err(value(
                "engine.summary_model".into(),
                format!("there is no model called {name} (models: {})", known()),
            ));
        }
        for (persona, settings) in &self.personas {
            if let Some(name) = settings.model.as_deref().filter(|name| !exists(name)) {
                return Err(value(
                    format!("personas.{persona}.model"),
                    format!("there is no model called {name} (models: {})", known()),
                ));
            }
        }
        for (name, model) in &self.models {
            for (key, price) in [("price_in", model.price_in), ("price_out", model.price_out)] {
                if price.is_some_and(|p| !p.is_finite() || p < 0.0) {
                    return Err(value(
                        format!("models.{name}.{key}"),
                        "must be a number of dollars, 0 or more".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The personas, checked against the assignments that use them.
    pub fn personas(&self) -> Result<Personas, SettingsError> {
        Personas::new(self.persona.clone(), self.personas.clone()).map_err(|e| {
            SettingsError::Value {
                key: e.setting().to_owned(),
                reason: e.to_string(),
            }
        })
    }

    /// The `[triggers]` rules, checked.
    pub fn triggers(&self) -> Result<Triggers, SettingsError> {
        Triggers::new(self.triggers.clone(), &PLATFORMS, self.engine.answer_bots).map_err(|e| {
            SettingsError::Value {
                key: e.setting.clone(),
                reason: e.reason,
            }
        })
    }

    /// A plugin's settings (its section without the `enabled` switch), or
    /// `Null` when it has no section.
    pub fn plugin_section(&self, name: &str) -> serde_json::Value {
        self.plugins
            .get(name)
            .map_or(serde_json::Value::Null, PluginSection::settings_value)
    }

    /// A plugin's settings as its own type (its defaults when it has no
    /// section); errors name `plugins.NAME`. Read them once, when building
    /// the plugin, so a bad section stops natter at start.
    pub fn plugin_settings<T: DeserializeOwned>(&self, name: &str) -> Result<T, SettingsError> {
        self.plugins
            .get(name)
            .map_or_else(PluginSection::default, Clone::clone)
            .parse(name)
    }

    /// True when `[plugins.NAME] enabled = true`.
    pub fn plugin_enabled(&self, name: &str) -> bool {
        self.plugins
            .get(name)
            .is_some_and(|section| section.enabled)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Write;

    use secrecy::ExposeSecret;

    use super::*;

    fn file(toml: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        f
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_without_a_file() {
        let missing = PathBuf::from("/nonexistent/natter.toml");
        assert!(matches!(
            load_with_env(Some(&missing), &env(&[])),
            Err(SettingsError::Missing(_))
        ));
        let f = file("");
        let loaded = load_with_env(Some(f.path()), &env(&[])).unwrap();
        assert_eq!(
            loaded.settings.engine.max_parallel, 4,
            "the local model's slots"
        );
        assert_eq!(loaded.settings.persona.default, "assistant");
    }

    #[test]
    fn max_parallel_is_sized_for_the_backend_unless_given() {
        let parallel = |toml: &str| {
            let f = file(toml);
            load_with_env(Some(f.path()), &env(&[]))
                .unwrap()
                .settings
                .engine
                .max_parallel
        };
        assert_eq!(
            parallel("[model]\nbackend = \"openai\"\n"),
            API_MAX_PARALLEL
        );
        assert_eq!(parallel("[model.llama]\nslots = 2\n"), 2);
        assert_eq!(
            parallel("[model.llama]\nslots = 6\nqueue = 1\n"),
            2,
            "never refused as busy"
        );
        assert_eq!(parallel("[engine]\nmax_parallel = 7\n"), 7);
        let f = file("");
        let given = load_with_env(
            Some(f.path()),
            &env(&[("NATTER__ENGINE__MAX_PARALLEL", "5")]),
        );
        assert_eq!(given.unwrap().settings.engine.max_parallel, 5);
    }

    #[test]
    fn environment_overrides_the_file() {
        let f = file("[model.openai]\nbase_url = \"http://file/v1\"\nmodel = \"m\"\n");
        let loaded = load_with_env(
            Some(f.path()),
            &env(&[
                ("NATTER__MODEL__OPENAI__BASE_URL", "http://env/v1"),
                ("NATTER__ENGINE__MAX_PARALLEL", "3"),
                ("NATTER__MODEL__OPENAI__API_KEY", "12345"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.settings.model.openai.base_url, "http://env/v1");
        assert_eq!(loaded.settings.model.openai.model, "m");
        assert_eq!(loaded.settings.engine.max_parallel, 3);
        let key = loaded.settings.model.openai.api_key.unwrap();
        assert_eq!(key.expose_secret(), "12345");
    }

    #[test]
    fn openai_api_key_falls_back_to_the_standard_variable() {
        let f = file("");
        let loaded = load_with_env(Some(f.path()), &env(&[("OPENAI_API_KEY", "sk-x")])).unwrap();
        let key = loaded.settings.model.openai.api_key.unwrap();
        assert_eq!(key.expose_secret(), "sk-x");
    }

    #[test]
    fn platform_tokens_come_from_their_variables_and_blank_is_unset() {
        let f = file("[telegram]\ntoken = \"\"\n[discord]\ntoken = \"  \"\n");
        let loaded = load_with_env(
            Some(f.path()),
            &env(&[
                ("TELEGRAM_BOT_TOKEN", "123:tg"),
                ("DISCORD_TOKEN", "dc"),
                ("OPENAI_API_KEY", " "),
                ("USER", "ana"),
            ]),
        )
        .unwrap()
        .settings;
        assert_eq!(loaded.telegram.token.unwrap().expose_secret(), "123:tg");
        assert_eq!(loaded.discord.token.unwrap().expose_secret(), "dc");
        assert!(
            loaded.model.openai.api_key.is_none(),
            "a blank variable is unset"
        );
        assert_eq!(loaded.console.user.as_deref(), Some("ana"));

        let f = file("[telegram]\ntoken = \"from-file\"\n[console]\nuser = \"Bo\"\n");
        let loaded = load_with_env(
            Some(f.path()),
            &env(&[
                ("TELEGRAM_BOT_TOKEN", "from-env"),
                ("NATTER__DISCORD__TOKEN", "from-override"),
                ("DISCORD_TOKEN", "from-env"),
                ("USER", "ana"),
            ]),
        )
        .unwrap()
        .settings;
        assert_eq!(loaded.telegram.token.unwrap().expose_secret(), "from-file");
        assert_eq!(
            loaded.discord.token.unwrap().expose_secret(),
            "from-override"
        );
        assert_eq!(loaded.console.user.as_deref(), Some("Bo"));

        let loaded = load_with_env(Some(file("").path()), &env(&[("USER", "")]))
            .unwrap()
            .settings;
        assert!(!loaded.telegram.enabled() && !loaded.discord.enabled());
        assert!(loaded.console.user.is_none());
    }

    #[test]
    fn the_web_token_comes_from_its_variable_and_open_addresses_need_one() {
        let f = file("[web]\nlisten = \"127.0.0.1:8787\"\n");
        let s = load_with_env(Some(f.path()), &env(&[("NATTER_WEB_TOKEN", "w3b")]))
            .unwrap()
            .settings;
        assert!(s.web.enabled());
        assert_eq!(s.web.token.unwrap().expose_secret(), "w3b");
        let shown = toml::to_string(
            &load_with_env(Some(f.path()), &env(&[("NATTER_WEB_TOKEN", "w3b")]))
                .unwrap()
                .settings,
        )
        .unwrap();
        assert!(!shown.contains("w3b"), "{shown}");
        let open = file("[web]\nlisten = \"0.0.0.0:8787\"\n");
        let err = load_with_env(Some(open.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("web.listen") && err.contains("token"), "{err}");
        assert!(
            load_with_env(Some(open.path()), &env(&[("NATTER_WEB_TOKEN", "w3b")])).is_ok(),
            "with a token it may listen anywhere"
        );
    }

    #[test]
    fn bad_tool_settings_are_named() {
        let f = file("[tools]\nmax_steps = 0\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tools.max_steps"), "{err}");
        let f = file("[tools.permissions]\nremind_set = \"root\"\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("root"), "{err}");
        let f = file("[tools.channels.\"-100\"]\nremind_set = \"admins\"\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tools.channels.\"-100\""), "{err}");
    }

    #[test]
    fn trigger_rules_and_places_load_and_typos_are_named() {
        let f = file(
            "[triggers]\ncooldown_secs = 5\n\
             [triggers.places.\"telegram:-100\"]\nanswer = \"all\"\n\
             [triggers.places.\"discord:server:42\"]\nanswer = \"keywords\"\nkeywords = [\"natter\"]\n\
             [groups]\nadmin_only = [\"persona\", \"remind\"]\n\
             [persona.channels]\n\"discord:123/456\" = \"assistant\"\n",
        );
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        assert_eq!(s.triggers.places.len(), 2);
        assert!(s.groups.is_admin_only("remind") && !s.groups.is_admin_only("reset"));
        for (toml, key, says) in [
            (
                "[triggers.places.\"telgram:-100\"]\nanswer = \"all\"\n",
                "triggers.places.\"telgram:-100\"",
                "natter knows only telegram, discord, console, web",
            ),
            (
                "[triggers.places.\"telegram:-100\"]\nanswer = \"everything\"\n",
                "triggers",
                "mention, all or keywords",
            ),
            (
                "[persona.channels]\n\"discord/channel/9\" = \"assistant\"\n",
                "persona.channels.\"discord/channel/9\"",
                "write discord:9",
            ),
            (
                "[persona.channels]\n\"dscord:9\" = \"assistant\"\n",
                "persona.channels.\"dscord:9\"",
                "names platform `dscord`",
            ),
            (
                "[groups]\nadmin_only = [\"/reset\"]\n",
                "groups.admin_only[0]",
                "without the slash",
            ),
        ] {
            let err = load_with_env(Some(file(toml).path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key) && err.contains(says), "{toml}: {err}");
        }
    }

    #[test]
    fn summaries_are_on_by_default_and_their_keys_are_checked() {
        let f = file("");
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        assert!(s.engine.summarize);
        assert_eq!(s.engine.summary_model, None);
        assert_eq!(s.engine.summary_max_tokens, 200);
        let f = file(
            "[engine]\nsummarize = false\nsummary_model = \"cheap\"\nsummary_max_tokens = 80\n\
             [models.cheap]\nbackend = \"openai\"\n",
        );
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        assert!(!s.engine.summarize);
        assert_eq!(s.engine.summary_model.as_deref(), Some("cheap"));
        assert_eq!(s.engine.summary_max_tokens, 80);
        for (toml, key) in [
            (
                "[engine]\nsummary_model = \"ghost\"\n",
                "engine.summary_model",
            ),
            (
                "[engine]\nsummary_max_tokens = 0\n",
                "engine.summary_max_tokens",
            ),
            ("[engine]\nsummarise = true\n", "summarise"),
        ] {
            let f = file(toml);
            let err = load_with_env(Some(f.path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn budgets_and_prices_load_and_bad_ones_are_named() {
        let f = file(
            "[model]\nprice_in = 0.15\nprice_out = 0.6\n[budget]\nuser_daily_tokens = 100\n\
             [budget.users.\"telegram:42\"]\nuser_daily_tokens = 1000\n",
        );
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        assert_eq!(s.budget.user.user_daily_tokens, Some(100));
        assert_eq!(
            s.budget.limits_of("telegram", "42").user_daily_tokens,
            Some(1000)
        );
        assert_eq!(
            (s.model.price_in, s.model.price_out),
            (Some(0.15), Some(0.6))
        );
        for (toml, key) in [
            ("[model]\nprice_in = -1.0\n", "model.price_in"),
            (
                "[budget.users.\"42\"]\nuser_daily_tokens = 1\n",
                "budget.users.\"42\"",
            ),
            ("[budget]\nuser_dailly_tokens = 1\n", "user_dailly_tokens"),
        ] {
            let f = file(toml);
            let err = load_with_env(Some(f.path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn named_models_and_fallbacks_are_checked() {
        let f = file(
            "[model]\nbackend = \"openai\"\nfallback = [\"local\"]\n\
             [models.local]\nbackend = \"llama\"\n\
             [persona]\ndefault = \"tutor\"\n\
             [personas.tutor]\nsystem = \"Teach.\"\nmodel = \"local\"\n",
        );
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        assert_eq!(s.model.fallback, ["local"]);
        assert_eq!(s.personas["tutor"].model.as_deref(), Some("local"));
        for (toml, key) in [
            ("[model]\nfallback = [\"ghost\"]\n", "model.fallback"),
            (
                "[persona]\ndefault = \"x\"\n[personas.x]\nsystem = \"x\"\nmodel = \"ghost\"\n",
                "personas.x.model",
            ),
            ("[models.default]\nbackend = \"llama\"\n", "models.default"),
            ("[models.x]\nbackend = \"gpt\"\n", "backend"),
        ] {
            let f = file(toml);
            let err = load_with_env(Some(f.path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn a_bad_choice_lists_the_good_ones_and_a_directory_is_not_a_file() {
        for (toml, says) in [
            (
                "[model]\nbackend = \"gpt\"\n",
                "\"gpt\" is not a backend; use llama or openai",
            ),
            (
                "[log]\nformat = \"xml\"\n",
                "\"xml\" is not a log format; use text or json",
            ),
            (
                "[tools.permissions]\nx = \"root\"\n",
                "\"root\" is not a permission; use everyone, admins or confirm",
            ),
        ] {
            let f = file(toml);
            let err = load_with_env(Some(f.path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{toml}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = load_with_env(Some(dir.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a directory"), "{err}");
        assert!(err.contains("natter.toml"), "{err}");
    }

    #[test]
    fn mcp_servers_load_with_their_env_and_bad_ones_are_named() {
        let f = file(
            "[mcp.servers.files]\ncommand = [\"python3\", \"fs.py\"]\nenv = { API_KEY = \"k-1\" }\n\
             permission = \"confirm\"\n",
        );
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        let files = &s.mcp.servers["files"];
        assert_eq!(files.permission, natter_core::Permission::Confirm);
        assert_eq!(
            files.env["API_KEY"].expose_secret(),
            "k-1",
            "names keep their case"
        );
        let shown = toml::to_string(&s).unwrap();
        assert!(shown.contains("API_KEY = \"[redacted]\""), "{shown}");
        assert!(!shown.contains("k-1"), "{shown}");
        let f = file("[mcp.servers.files]\ncommand = []\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mcp.servers.files.command"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let f = file("[engine]\nmax_paralel = 4\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_paralel"), "{err}");
        let f = file("[telegramm]\ntoken = \"x\"\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("telegramm"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let f = file("[engine]\nmax_parallel = \"many\"\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_parallel"), "{err}");
        let f = file("[model]\ntemperature = 7.0\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.temperature"), "{err}");
        let f = file("[persona]\ndefault = \"ghost\"\n");
        let err = load_with_env(Some(f.path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ghost") && err.contains("persona.default"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_log_level_is_named() {
        for bad in ["loud", "natter=loud", "info,[", "warn,chatty"] {
            let f = file(&format!("[log]\nlevel = \"{bad}\"\n"));
            let err = load_with_env(Some(f.path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("log.level"), "{bad}: {err}");
        }
        let err = load_with_env(
            Some(file("").path()),
            &env(&[("NATTER__LOG__LEVEL", "loud")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("log.level"), "{err}");
        for good in [
            "info",
            "WARN",
            "off",
            "natter=debug,warn",
            "natter_core::engine=trace",
        ] {
            let f = file(&format!("[log]\nlevel = \"{good}\"\n"));
            let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
            assert_eq!(s.log.level.as_deref(), Some(good));
        }
    }

    #[test]
    fn plugin_switches_must_be_true_or_false() {
        for bad in ["enabled = \"yes\"", "enabled = 1"] {
            let f = file(&format!("[plugins.generate]\n{bad}\n"));
            let err = load_with_env(Some(f.path()), &env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("plugins.generate.enabled"), "{bad}: {err}");
        }
        let err = load_with_env(
            Some(file("").path()),
            &env(&[("NATTER__PLUGINS__TUTOR__ENABLED", "yes")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("plugins.tutor.enabled"), "{err}");
        let s = load_with_env(
            Some(file("[plugins.tutor]\nlevels = [\"easy\"]\ndefault_level = \"easy\"\n").path()),
            &env(&[("NATTER__PLUGINS__TUTOR__ENABLED", "true")]),
        )
        .unwrap()
        .settings;
        assert!(s.plugin_enabled("tutor"));
        let err = load_with_env(Some(file("[plugins]\nnotes = 3\n").path()), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("plugins.notes"), "{err}");
    }

    #[test]
    fn plugins_get_their_section_without_the_switch() {
        let f = file("[plugins.notes]\nenabled = true\nmax_notes = 5\n");
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        let notes: natter_plugin_example::NotesSettings = s.plugin_settings("notes").unwrap();
        assert_eq!(notes.max_notes, 5);
        let absent: natter_plugin_example::NotesSettings = s.plugin_settings("dice").unwrap();
        assert_eq!(absent, natter_plugin_example::NotesSettings::default());
        let f = file("[plugins.notes]\nenabled = true\nmax_note = 5\n");
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        let err = s
            .plugin_settings::<natter_plugin_example::NotesSettings>("notes")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("plugins.notes") && err.contains("max_note"),
            "{err}"
        );
        let shown = toml::to_string(&s).unwrap();
        assert!(
            shown.contains("[plugins.notes]\nenabled = true\nmax_note = 5"),
            "{shown}"
        );
    }

    #[test]
    fn personas_and_plugin_sections_load() {
        let f = file(
            "[persona]\ndefault = \"pirate\"\n[personas.pirate]\nsystem = \"Arr.\"\ntemperature = 0.9\n\
             [plugins.generate]\nenabled = true\nwords = 300\n",
        );
        let s = load_with_env(Some(f.path()), &env(&[])).unwrap().settings;
        assert_eq!(s.personas["pirate"].temperature, Some(0.9));
        assert!(s.plugin_enabled("generate"));
        assert!(!s.plugin_enabled("tutor"));
        assert_eq!(
            s.plugin_section("generate"),
            serde_json::json!({"words": 300})
        );
    }
}
