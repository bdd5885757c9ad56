//! A chat turn: resolve the persona, fit the history into the token budget,
//! let plugins adjust the request, stream the reply, and — only if it completed
//! and was delivered — store the turn and its usage.

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::Shared;
use super::dispatch::{context, send};
use crate::backend::{ModelError, estimate_tokens};
use crate::chat::{ChatMessage, ChatRequest};
use crate::delivery::{Courier, StreamEnd};
use crate::history::{self, Window};
use crate::message::{Addressed, Incoming};
use crate::persona::Persona;
use crate::plugin::PluginError;
use crate::store::{StoreError, Turn, UsageRecord};

impl Shared {
    /// The persona in force for `message`: a run-time override of its thread,
    /// channel or server, else the settings' assignment, else the default.
    pub(crate) async fn resolve_persona(
        &self,
        message: &Incoming,
    ) -> Result<(String, Persona), StoreError> {
        let scopes = message.channel.scopes();
        for scope in &scopes {
            if let Some(name) = self.store.persona_override(scope).await? {
                match self.personas.get(&name) {
                    Some(persona) => return Ok((name, persona.clone())),
                    None => warn!(scope, name, "stored persona no longer exists; ignoring it"),
                }
            }
        }
        let name = self.personas.configured_for(&scopes);
        let persona = self
            .personas
            .get(name)
            .cloned()
            .unwrap_or_else(|| Persona::new("You are a helpful assistant."));
        Ok((name.to_owned(), persona))
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

    /// The request a chat turn sends for `text` in `message`'s conversation.
    pub(crate) async fn prompt_for(
        &self,
        message: &Incoming,
        text: &str,
    ) -> Result<(ChatRequest, Window), PluginError> {
        let (_, persona) = self.resolve_persona(message).await?;
        let turns = self
            .store
            .load_turns(&message.key, self.settings.max_history_turns)
            .await?;
        let params = self.defaults.params_for(&persona);
        let reply_budget = params.max_tokens.unwrap_or(self.defaults.max_tokens) as usize;
        let window = history::fit(
            self.backend.as_ref(),
            self.capabilities.context_window,
            ChatMessage::system(persona.system),
            &turns,
            Self::user_message(message, text),
            reply_budget,
        )?;
        let mut window = window;
        let request = ChatRequest {
            messages: std::mem::take(&mut window.messages),
            params,
            conversation: Some(message.key.clone()),
        };
        Ok((request, window))
    }
}

/// Answers `message` with the model.
pub(crate) async fn chat(
    shared: &Shared,
    courier: &Courier,
    message: &Incoming,
    cancel: &CancellationToken,
) {
    let text = turn_text(message);
    let (mut request, window) = match shared.prompt_for(message, &text).await {
        Ok(prepared) => prepared,
        Err(PluginError::Model(error)) => {
            warn!(%error, "message does not fit the model");
            send(courier, message, &error.user_message()).await;
            return;
        }
        Err(error) => {
            error!(%error, "could not prepare the prompt");
            let text = "Sorry, I couldn't load this conversation. Please try again.";
            send(courier, message, text).await;
            return;
        }
    };
    let user = Shared::user_message(message, &text);
    for registered in &shared.plugins {
        let mut cx = context(shared, courier, message, registered, cancel);
        if let Err(error) = registered.plugin.before_model(&mut cx, &mut request).await {
            error!(plugin = %registered.name, %error, "plugin failed before the model");
            let text = format!(
                "Sorry, something went wrong in the {} plugin.",
                registered.name
            );
            send(courier, message, &text).await;
            return;
        }
    }
    if window.dropped_turns > 0 {
        info!(
            dropped = window.dropped_turns,
            "oldest turns left out to fit the context window"
        );
    }

    let stream = tokio::select! {
        () = cancel.cancelled() => return,
        stream = shared.backend.stream(request) => stream,
    };
    let stream = match stream {
        Ok(stream) => stream,
        Err(error) => {
            warn!(%error, "model request failed");
            send(courier, message, &error.user_message()).await;
            return;
        }
    };
    let streamed = courier
        .stream_reply(&message.channel, Some(&message.id), stream, cancel)
        .await;
    match streamed.end {
        StreamEnd::Completed(completion) => {
            if streamed.text.trim().is_empty() {
                warn!("the model returned an empty reply; not kept in history");
                return;
            }
            let usage = completion.usage;
            let completion_tokens = usage.map_or_else(
                || estimate_tokens(&streamed.text) as u32,
                |u| u.completion_tokens,
            );
            let prompt_tokens = usage.map_or(window.prompt_tokens as u32, |u| u.prompt_tokens);
            let turn = Turn {
                user,
                assistant: ChatMessage::assistant(streamed.text),
            };
            if let Err(error) = shared.store.append_turn(&message.key, &turn).await {
                error!(%error, "could not save the turn; it will be missing from history");
            }
            record_usage(shared, message, prompt_tokens, completion_tokens).await;
            after_reply(shared, courier, message, cancel, &turn.assistant.content).await;
        }
        StreamEnd::Cancelled => info!("reply stopped; not kept in history"),
        StreamEnd::Blocked => info!("reply blocked by an output filter; not kept in history"),
        StreamEnd::ModelFailed(error) => log_model_failure(&error),
        StreamEnd::DeliveryFailed(error) => {
            error!(%error, "the reply could not be delivered; not kept in history");
        }
    }
}

/// Lets every plugin see a delivered reply; a failing plugin is reported and
/// the others still run.
async fn after_reply(
    shared: &Shared,
    courier: &Courier,
    message: &Incoming,
    cancel: &CancellationToken,
    reply: &str,
) {
    for registered in &shared.plugins {
        let mut cx = context(shared, courier, message, registered, cancel);
        if let Err(error) = registered.plugin.after_reply(&mut cx, reply).await {
            error!(plugin = %registered.name, %error, "plugin failed after the reply");
            if let PluginError::Usage(text) = &error {
                send(courier, message, text).await;
            }
        }
    }
}

/// Longest quoted message carried into a turn, in characters.
const MAX_QUOTE_CHARS: usize = 2000;

/// What a chat turn says for `message`: its text, after the message it
/// replies to, quoted, when that is someone else's (a user asking the bot about
/// another message). The bot's own messages are in history already.
fn turn_text(message: &Incoming) -> String {
    let quoted = match (&message.replied_to_text, message.addressed) {
        (Some(quoted), addressed) if addressed != Addressed::ReplyToBot => quoted.trim(),
        _ => return message.text.clone(),
    };
    if quoted.is_empty() {
        return message.text.clone();
    }
    let mut quote: String = quoted.chars().take(MAX_QUOTE_CHARS).collect();
    if quote.len() < quoted.len() {
        quote.push('…');
    }
    let quote: Vec<String> = quote.lines().map(|line| format!("> {line}")).collect();
    format!("{}\n\n{}", quote.join("\n"), message.text)
}

fn log_model_failure(error: &ModelError) {
    warn!(%error, "the model failed mid-reply; not kept in history");
}

async fn record_usage(shared: &Shared, message: &Incoming, prompt: u32, completion: u32) {
    let capabilities = &shared.capabilities;
    let record = UsageRecord {
        key: message.key.clone(),
        user_id: message.author.id.clone(),
        backend: capabilities.backend.clone(),
        model: capabilities.model.clone(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        at_unix_ms: shared.clock.now_unix_ms(),
    };
    if let Err(error) = shared.store.record_usage(&record).await {
        warn!(%error, "could not record usage");
    }
}
