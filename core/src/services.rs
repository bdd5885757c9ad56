//! [`Services`]: what the engine's stages and plugins both reach — the model,
//! the stores, the personas, the attached platforms and the clock — and the
//! two things built from them that both need: the persona in force for a
//! channel and the prompt of a chat turn (with the conversation's rolling
//! summary, when it has one, and the turns it dropped that none covers yet).
//!
//! It sits below both the engine and the plugin contexts, so neither has to
//! reach into the other: the engine owns one `Services` and hands plugins a
//! view of it through [`crate::PluginContext`] and [`crate::JobContext`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use tracing::warn;

use crate::backend::ModelError;
use crate::budget::{BudgetSettings, Periods, Prices, thousands, until};
use crate::chat::{ChatMessage, ChatRequest, GenerationParams, ImagePart, Usage};
use crate::clock::Clock;
use crate::delivery::Courier;
use crate::history::{self, Window};
use crate::live::Live;
use crate::media::{ImageGenerator, MediaSettings, Transcriber};
use crate::message::{ConversationKey, Incoming, Platform};
use crate::models::{Models, NamedModel};
use crate::persona::{Persona, Personas};
use crate::place::Place;
use crate::plugin::PluginError;
use crate::settings::ModelDefaults;
use crate::store::{RollingSummary, StoreError, Stores, Turn, UsageRecord, UsageScope, UsageTotal};
use crate::summary::{self, Forgotten};
use crate::telemetry;

/// The shared reach of the engine and its plugins.
pub(crate) struct Services {
    /// The models, by name.
    pub(crate) models: Models,
    pub(crate) stores: Stores,
    /// The personas in force (a reload replaces them).
    pub(crate) personas: Live<Personas>,
    pub(crate) defaults: ModelDefaults,
    /// Most turns loaded from the store for one prompt.
    pub(crate) max_history_turns: usize,
    /// Prompts carry the conversation's rolling summary (`[engine] summarize`).
    pub(crate) summarize: bool,
    pub(crate) clock: Arc<dyn Clock>,
    /// The courier of each attached platform, for posts across channels and jobs.
    couriers: RwLock<HashMap<Platform, Arc<Courier>>>,
    /// Wakes the job scheduler when a job is added.
    pub(crate) job_added: Notify,
    /// What models cost.
    pub(crate) prices: Prices,
    /// How much one person or chat may spend (a reload replaces it).
    pub(crate) budget: Live<BudgetSettings>,
    /// Pictures and voice: limits, and the services that hear and draw.
    pub(crate) media: MediaServices,
}

/// What pictures and voice need beside the chat model.
#[derive(Default)]
pub(crate) struct MediaServices {
    /// `[vision]` and the voice limits.
    pub(crate) settings: MediaSettings,
    /// Speech to text, when `[transcription]` is set up.
    pub(crate) transcriber: Option<Arc<dyn Transcriber>>,
    /// Text to picture, when `[image_generation]` is set up.
    pub(crate) generator: Option<Arc<dyn ImageGenerator>>,
}

impl Services {
    pub(crate) fn new(
        models: Models,
        stores: Stores,
        personas: Personas,
        defaults: ModelDefaults,
        max_history_turns: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            models,
            stores,
            personas: Live::new(personas),
            defaults,
            max_history_turns,
            summarize: false,
            clock,
            couriers: RwLock::new(HashMap::new()),
            job_added: Notify::new(),
            prices: Prices::new(),
            budget: Live::new(BudgetSettings::default()),
            media: MediaServices::default(),
        }
    }

    /// The same services with pictures and voice set up as `media` says.
    pub(crate) fn with_media(mut self, media: MediaServices) -> Self {
        self.media = media;
        self
    }

    /// The same services, prompts carrying rolling summaries when `summarize`.
    pub(crate) fn with_summaries(mut self, summarize: bool) -> Self {
        self.summarize = summarize;
        self
    }

    /// The same services with `prices` and `budget`.
    pub(crate) fn with_money(mut self, prices: Prices, budget: BudgetSettings) -> Self {
        self.prices = prices;
        self.budget = Live::new(budget);
        self
    }

    /// The model `message`'s conversation answers with: its `/model`
    /// choice, else its persona's model, else the default. A stored or
    /// configured name that names no model (any more) is skipped.
    pub(crate) async fn model_for(&self, message: &Incoming) -> NamedModel {
        let chosen = match self
            .stores
            .history
            .model_override(&message.key.to_string())
            .await
        {
            Ok(chosen) => chosen,
            Err(error) => {
                warn!(%error, "could not read the conversation's model choice");
                None
            }
        };
        let persona = match self.resolve_persona(message).await {
            Ok((_, persona)) => persona.model,
            Err(error) => {
                warn!(%error, "could not read the persona");
                None
            }
        };
        for name in chosen.iter().chain(persona.iter()) {
            match self.models.get(name) {
                Some(model) => return model.clone(),
                None => warn!(model = %name, "chosen model does not exist (any more); ignoring it"),
            }
        }
        self.models.default_model().clone()
    }

    /// Adds one call of `model` made for `message` to the usage ledger.
    pub(crate) async fn record_usage(&self, message: &Incoming, model: &NamedModel, usage: Usage) {
        telemetry::tokens(
            &model.capabilities.model,
            usage.prompt_tokens,
            usage.completion_tokens,
        );
        self.record(UsageRecord {
            key: message.key.clone(),
            user_id: message.author.id.clone(),
            backend: model.capabilities.backend.clone(),
            model: model.capabilities.model.clone(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            audio_seconds: 0,
            images: 0,
            at_unix_ms: self.clock.now_unix_ms(),
        })
        .await;
    }

    /// Adds one call of a media service (`service` is `transcription` or
    /// `images`) made for `message` to the usage ledger: the seconds of
    /// voice it heard or the pictures it made.
    pub(crate) async fn record_media_usage(
        &self,
        message: &Incoming,
        service: &str,
        model: &str,
        audio_seconds: u32,
        images: u32,
    ) {
        self.record(UsageRecord {
            key: message.key.clone(),
            user_id: message.author.id.clone(),
            backend: service.to_owned(),
            model: model.to_owned(),
            prompt_tokens: 0,
            completion_tokens: 0,
            audio_seconds,
            images,
            at_unix_ms: self.clock.now_unix_ms(),
        })
        .await;
    }

    async fn record(&self, record: UsageRecord) {
        if let Err(error) = self.stores.usage.record_usage(&record).await {
            warn!(%error, "could not record usage");
        }
    }

    /// The sentence refusing `message` when its author or chat has spent
    /// a budget; `None` when it may go on (admins always may).
    pub(crate) async fn over_budget(
        &self,
        message: &Incoming,
    ) -> Result<Option<String>, StoreError> {
        let budget = self.budget.get();
        if budget.is_unlimited() || message.author.is_admin {
            return Ok(None);
        }
        let now = self.clock.now_unix_ms();
        let periods = Periods::around(now);
        let platform = message.key.platform();
        let limits = budget.limits_of(platform.as_str(), &message.author.id);
        let user = UsageScope::User {
            platform,
            user_id: message.author.id.clone(),
        };
        let tokens = |totals: &[UsageTotal]| -> u64 {
            totals
                .iter()
                .map(|t| t.prompt_tokens + t.completion_tokens)
                .sum()
        };
        let tomorrow = format!("at 00:00 UTC ({})", until(now, periods.day_end));
        let next_month = format!(
            "on the 1st at 00:00 UTC ({})",
            until(now, periods.month_end)
        );
        if let Some(limit) = limits.user_daily_tokens {
            let used = self
                .usage(&user, periods.day_start, periods.day_end)
                .await?;
            if tokens(&used) >= limit {
                return Ok(Some(format!(
                    "You've used your daily budget of {} tokens; it resets {tomorrow}.",
                    thousands(limit)
                )));
            }
        }
        if limits.user_monthly_tokens.is_some() || limits.user_monthly_cost.is_some() {
            let used = self
                .usage(&user, periods.month_start, periods.month_end)
                .await?;
            if let Some(limit) = limits
                .user_monthly_tokens
                .filter(|limit| tokens(&used) >= *limit)
            {
                return Ok(Some(format!(
                    "You've used your monthly budget of {} tokens; it resets {next_month}.",
                    thousands(limit)
                )));
            }
            let spent: f64 = used
                .iter()
                .filter_map(|total| Some(self.prices.get(&total.model)?.cost(total)))
                .sum();
            if let Some(limit) = limits.user_monthly_cost.filter(|limit| spent >= *limit) {
                return Ok(Some(format!(
                    "You've used your monthly budget of ${limit:.2}; it resets {next_month}."
                )));
            }
        }
        if let Some(limit) = budget.chat_daily_tokens {
            let chat = UsageScope::Conversation(message.key.clone());
            let used = self
                .usage(&chat, periods.day_start, periods.day_end)
                .await?;
            if tokens(&used) >= limit {
                return Ok(Some(format!(
                    "This chat has used its daily budget of {} tokens; it resets {tomorrow}.",
                    thousands(limit)
                )));
            }
        }
        Ok(None)
    }

    async fn usage(
        &self,
        scope: &UsageScope,
        since: i64,
        until: i64,
    ) -> Result<Vec<UsageTotal>, StoreError> {
        self.stores.usage.usage_totals(scope, since, until).await
    }

    /// Makes `courier` the way to reach `platform`.
    pub(crate) fn attach(&self, platform: Platform, courier: Arc<Courier>) {
        match self.couriers.write() {
            Ok(mut couriers) => couriers.insert(platform, courier),
            Err(poisoned) => poisoned.into_inner().insert(platform, courier),
        };
    }

    /// The courier of `platform`, if it is attached.
    pub(crate) fn courier_for(&self, platform: Platform) -> Option<Arc<Courier>> {
        match self.couriers.read() {
            Ok(couriers) => couriers.get(&platform).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&platform).cloned(),
        }
    }

    /// The persona in force for `message`: a run-time choice for its
    /// conversation (the key, `platform:scope`, as a dashboard sets it), else
    /// for its thread, channel or server (`/persona`), else the settings'
    /// assignment, else the default.
    pub(crate) async fn resolve_persona(
        &self,
        message: &Incoming,
    ) -> Result<(String, Persona), StoreError> {
        let personas = self.personas.get();
        let scopes = message.channel.scopes();
        let conversation = message.key.to_string();
        for scope in std::iter::once(&conversation).chain(&scopes) {
            if let Some(name) = self.stores.history.persona_override(scope).await? {
                match personas.get(&name) {
                    Some(persona) => return Ok((name, persona.clone())),
                    None => warn!(scope, name, "stored persona no longer exists; ignoring it"),
                }
            }
        }
        let name = personas.configured_for(&Place::containing(&message.channel));
        let persona = personas
            .get(name)
            .cloned()
            .unwrap_or_else(|| Persona::new("You are a helpful assistant."));
        Ok((name.to_owned(), persona))
    }

    /// The request a chat turn sends for `text` in `message`'s conversation:
    /// the persona (with the conversation's rolling summary appended, when
    /// there is one), as much of the history the summary does not cover as
    /// fits, and `text` as the new message. `reserved` tokens are kept free
    /// besides the reply's (the tools' definitions, which go with the request).
    pub(crate) async fn prompt_for(
        &self,
        message: &Incoming,
        text: &str,
        images: &[ImagePart],
        reserved: usize,
        model: &NamedModel,
    ) -> Result<Prompt, PluginError> {
        let (_, persona) = self.resolve_persona(message).await?;
        let key = &message.key;
        let turns = self
            .stores
            .history
            .load_turns(key, self.max_history_turns)
            .await?;
        let params = self.defaults.params_for(&persona);
        let reply_budget = params.max_tokens.unwrap_or(self.defaults.max_tokens) as usize;
        let reply_budget = reply_budget.saturating_add(reserved);
        let fit = |system: String, turns: &[Turn]| {
            history::fit(
                model.backend.as_ref(),
                model.capabilities.context_window,
                ChatMessage::system(system),
                turns,
                user_message(message, text).with_images(images.to_vec()),
                reply_budget,
            )
            .map(|window| without_pictures_unless(model.capabilities.vision, window))
        };
        // Every turn loaded fits: the whole history goes word for word, and
        // no summary is looked up (most conversations, most of the time).
        let whole = fit(persona.system.clone(), &turns)?;
        let everything_loaded = turns.len() < self.max_history_turns;
        if !self.summarize || (whole.dropped_turns == 0 && everything_loaded) {
            return Ok(Prompt::new(whole, params, key, None));
        }
        let recalled = self.recall(message, &turns).await;
        let uncovered = &turns[recalled.covered..];
        let (window, dropped_uncovered) = match &recalled.summary {
            Some(summary) => {
                match fit(
                    summary::with_summary(&persona.system, &summary.text),
                    uncovered,
                ) {
                    Ok(window) => (window, true),
                    Err(ModelError::ContextOverflow { .. }) => {
                        warn!("the summary leaves no room for the message; leaving it out");
                        (whole, false)
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            // No summary covers anything: the window is the whole history's.
            None => (whole, true),
        };
        let forgotten = match window.dropped_turns {
            0 => None,
            _ if !dropped_uncovered => None,
            dropped => self.forgotten(message, &turns, recalled, dropped).await,
        };
        Ok(Prompt::new(window, params, key, forgotten))
    }

    /// `message`'s rolling summary, if it has one, and how many of `turns`
    /// (its newest, as loaded) it covers. A store failure is logged and the
    /// prompt goes without the summary.
    async fn recall(&self, message: &Incoming, turns: &[Turn]) -> Recalled {
        let history = &self.stores.history;
        let summary = match history.summary(&message.key).await {
            Ok(Some(summary)) => summary,
            Ok(None) => return Recalled::default(),
            Err(error) => {
                warn!(%error, "could not read the conversation's summary; going without");
                return Recalled::default();
            }
        };
        let count = match history.turn_count(&message.key).await {
            Ok(count) => count,
            Err(error) => {
                warn!(%error, "could not count the conversation's turns; going without its summary");
                return Recalled::default();
            }
        };
        if summary.turns_covered > count {
            // Saved for a history that was cleared meanwhile.
            warn!(
                covered = summary.turns_covered,
                count, "the summary covers turns the conversation does not have; ignoring it"
            );
            return Recalled::default();
        }
        let before = count.saturating_sub(turns.len() as u64);
        let covered = summary.turns_covered.saturating_sub(before);
        Recalled {
            covered: usize::try_from(covered).map_or(turns.len(), |c| c.min(turns.len())),
            before: Some(before),
            summary: Some(summary),
        }
    }

    /// What the next summary should take in: the summary so far and the
    /// `dropped` oldest of `turns` it does not cover. `None` when the turns
    /// cannot be numbered (the store failed; logged).
    async fn forgotten(
        &self,
        message: &Incoming,
        turns: &[Turn],
        recalled: Recalled,
        dropped: usize,
    ) -> Option<Forgotten> {
        let before = match recalled.before {
            Some(before) => before,
            None => match self.stores.history.turn_count(&message.key).await {
                Ok(count) => count.saturating_sub(turns.len() as u64),
                Err(error) => {
                    warn!(%error, "could not count the conversation's turns; no summary this time");
                    return None;
                }
            },
        };
        // Summarise a few of the oldest turns still in the window with the
        // dropped ones: the prompts after leave them out, which makes room,
        // so a summary is written every few turns rather than after every
        // reply — always keeping the newest turns word for word.
        let kept = turns.len() - recalled.covered - dropped;
        let ahead = SUMMARIZE_AHEAD.min(kept.saturating_sub(KEEP_VERBATIM));
        let taken = dropped + ahead;
        let forgotten = &turns[recalled.covered..recalled.covered + taken];
        // Turns older than the ones loaded can never return to a prompt:
        // the new summary counts them as covered too.
        let turns_covered = before + (recalled.covered + taken) as u64;
        Some(Forgotten {
            previous: recalled.summary,
            turns: forgotten.to_vec(),
            turns_covered,
        })
    }
}

/// Turns still in the window that a summary takes in beside the dropped ones.
const SUMMARIZE_AHEAD: usize = 3;
/// Newest turns a summary never takes in while they fit the window.
const KEEP_VERBATIM: usize = 2;

/// A chat turn's prompt, as [`Services::prompt_for`] builds it.
pub(crate) struct Prompt {
    /// The request.
    pub(crate) request: ChatRequest,
    /// How the history was fitted (its messages moved into `request`).
    pub(crate) window: Window,
    /// Turns left out that no summary covers yet, when summaries are on.
    pub(crate) forgotten: Option<Forgotten>,
}

impl Prompt {
    /// The prompt of `window` with `params`, for conversation `key`.
    fn new(
        mut window: Window,
        params: GenerationParams,
        key: &ConversationKey,
        forgotten: Option<Forgotten>,
    ) -> Self {
        let request = ChatRequest {
            messages: std::mem::take(&mut window.messages),
            params,
            conversation: Some(key.clone()),
            ..ChatRequest::default()
        };
        Self {
            request,
            window,
            forgotten,
        }
    }
}

/// A conversation's summary as a prompt uses it.
#[derive(Default)]
struct Recalled {
    summary: Option<RollingSummary>,
    /// How many of the loaded turns (the oldest of them) it covers.
    covered: usize,
    /// Turns older than the loaded ones, when counted.
    before: Option<u64>,
}

/// `window` as a model sees it: pictures only for one that can see (the
/// history of a conversation that moved to a model without vision keeps
/// them, but they are not sent), and only those history kept a copy of.
fn without_pictures_unless(vision: bool, mut window: Window) -> Window {
    for message in &mut window.messages {
        message
            .images
            .retain(|image| vision && !image.base64.is_empty());
    }
    window
}

/// The user message as history stores it: named in group chats.
pub(crate) fn user_message(message: &Incoming, text: &str) -> ChatMessage {
    let user = ChatMessage::user(text);
    if message.channel.is_private() {
        user
    } else {
        user.with_name(message.author.display_name.clone())
    }
}
