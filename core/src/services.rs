//! [`Services`]: what the engine's stages and plugins both reach — the model,
//! the stores, the personas, the attached platforms and the clock — and the
//! two things built from them that both need: the persona in force for a
//! channel and the prompt of a chat turn.
//!
//! It sits below both the engine and the plugin contexts, so neither has to
//! reach into the other: the engine owns one `Services` and hands plugins a
//! view of it through [`crate::PluginContext`] and [`crate::JobContext`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use tracing::warn;

use crate::budget::{BudgetSettings, Periods, Prices, thousands, until};
use crate::chat::{ChatMessage, ChatRequest, Usage};
use crate::clock::Clock;
use crate::delivery::Courier;
use crate::history::{self, Window};
use crate::live::Live;
use crate::message::{Incoming, Platform};
use crate::models::{Models, NamedModel};
use crate::persona::{Persona, Personas};
use crate::place::Place;
use crate::plugin::PluginError;
use crate::settings::ModelDefaults;
use crate::store::{StoreError, Stores, UsageRecord, UsageScope, UsageTotal};
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
    pub(crate) clock: Arc<dyn Clock>,
    /// The courier of each attached platform, for posts across channels and jobs.
    couriers: RwLock<HashMap<Platform, Arc<Courier>>>,
    /// Wakes the job scheduler when a job is added.
    pub(crate) job_added: Notify,
    /// What models cost.
    pub(crate) prices: Prices,
    /// How much one person or chat may spend (a reload replaces it).
    pub(crate) budget: Live<BudgetSettings>,
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
            clock,
            couriers: RwLock::new(HashMap::new()),
            job_added: Notify::new(),
            prices: Prices::new(),
            budget: Live::new(BudgetSettings::default()),
        }
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
        let record = UsageRecord {
            key: message.key.clone(),
            user_id: message.author.id.clone(),
            backend: model.capabilities.backend.clone(),
            model: model.capabilities.model.clone(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            at_unix_ms: self.clock.now_unix_ms(),
        };
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
    /// the persona, as much history as fits, and `text` as the new message.
    /// `reserved` tokens are kept free besides the reply's (the tools'
    /// definitions, which go with the request).
    pub(crate) async fn prompt_for(
        &self,
        message: &Incoming,
        text: &str,
        reserved: usize,
        model: &NamedModel,
    ) -> Result<(ChatRequest, Window), PluginError> {
        let (_, persona) = self.resolve_persona(message).await?;
        let turns = self
            .stores
            .history
            .load_turns(&message.key, self.max_history_turns)
            .await?;
        let params = self.defaults.params_for(&persona);
        let reply_budget = params.max_tokens.unwrap_or(self.defaults.max_tokens) as usize;
        let reply_budget = reply_budget.saturating_add(reserved);
        let mut window = history::fit(
            model.backend.as_ref(),
            model.capabilities.context_window,
            ChatMessage::system(persona.system),
            &turns,
            user_message(message, text),
            reply_budget,
        )?;
        let request = ChatRequest {
            messages: std::mem::take(&mut window.messages),
            params,
            conversation: Some(message.key.clone()),
            ..ChatRequest::default()
        };
        Ok((request, window))
    }
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
