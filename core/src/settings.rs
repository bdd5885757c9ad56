//! The engine's settings: the `[engine]` section ([`EngineSettings`]), the
//! `[limits]` section ([`LimitSettings`]), the `[groups]` section
//! ([`GroupSettings`]), and the generation defaults of `[model]` that
//! personas may override ([`ModelDefaults`]).

use serde::{Deserialize, Serialize};

use crate::chat::GenerationParams;
use crate::persona::Persona;

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
    /// Messages that may wait in one conversation while a reply is being
    /// made; beyond that the sender is told the bot is busy, and the message
    /// is not kept.
    pub max_queue: usize,
    /// Messages still waiting at shutdown are kept and answered at the next
    /// start if it comes within this many seconds; older ones get a sentence
    /// saying they were not answered.
    pub resume_within_secs: u64,
    /// A scheduled job (a reminder) taken by a process is held for this
    /// long, renewed while it runs; if the process dies holding it, another
    /// process (or the next start) takes it once the lease runs out.
    pub job_lease_secs: u64,
    /// Keep a rolling summary of the turns that no longer fit the model's
    /// context window, written in the background after replies, and put it
    /// at the top of the prompt. Off: those turns are simply left out.
    pub summarize: bool,
    /// The model that writes summaries (a name from `[models]`, or
    /// `default`); unset: the conversation's own model.
    pub summary_model: Option<String>,
    /// Longest summary, in tokens: the summary request's `max_tokens`, and
    /// a hard cut should the model write more.
    pub summary_max_tokens: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_parallel: 16,
            max_history_turns: 100,
            answer_bots: false,
            shutdown_grace_secs: 10,
            max_queue: 50,
            resume_within_secs: 3600,
            job_lease_secs: 60,
            summarize: true,
            summary_model: None,
            summary_max_tokens: 200,
        }
    }
}

/// The `[limits]` section: how much one person may ask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Messages one user may send per minute (on one platform); more are
    /// not answered, and the user is told so at most once a minute. 0: no limit.
    pub user_messages_per_minute: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            user_messages_per_minute: 30,
        }
    }
}

/// The `[groups]` section: who may do what in group chats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupSettings {
    /// Commands only admins may use in group chats: built-ins (`persona`,
    /// `model` and `trigger` only when they change something; `reset`
    /// always) and plugins' commands. In private chats everyone may.
    pub admin_only: Vec<String>,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self {
            admin_only: ["persona", "model", "reset", "trigger"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl GroupSettings {
    /// True when `/command` is for admins only in groups.
    pub fn is_admin_only(&self, command: &str) -> bool {
        self.admin_only.iter().any(|name| name == command)
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

/// Reads `value` as one of `options` (name, value), or says which names
/// there are: `"gpt" is not a backend; use llama or openai`. For enums in
/// settings, whose deserialisers otherwise name neither the key's options
/// nor the value given in terms a user recognises.
pub fn one_of<T: Copy>(value: &str, options: &[(&str, T)], what: &str) -> Result<T, String> {
    let wanted = value.trim();
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
        .map(|(_, option)| *option)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            let list = match names.split_last() {
                Some((last, [])) => (*last).to_owned(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("\"{wanted}\" is not {what}; use {list}")
        })
}
