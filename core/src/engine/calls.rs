//! Stage 4, deliver — running the tool calls of one model step. Every call
//! ends as a result message for the model, whatever happens: an unknown tool,
//! arguments that are not JSON, a repeat of a call already made, a refusal
//! (admins only, or the person said no or did not answer), a timeout or an
//! error are all results the model can explain. Read-only calls next to each
//! other run in parallel; a call with side effects runs alone, in order.
//! `/stop` (or the reply being given up) ends the step at once.

use std::collections::HashMap;

use futures::future::join_all;
use tokio::sync::mpsc;
use tracing::{debug, info, instrument};

use super::exchange::Exchange;
use super::toolbox::{Offered, Toolbox};
use crate::approval::Decision;
use crate::chat::ChatMessage;
use crate::delivery::ReplyEvent;
use crate::plugin::{Hook, PluginFailure};
use crate::tool::{Effect, Permission, ToolCall, ToolInvocation};

/// Longest status line shown for a call's arguments, in characters.
const STATUS_CHARS: usize = 60;

/// The step was cut short: `/stop`, shutdown, or nobody reads the reply.
#[derive(Debug)]
pub(crate) struct Stopped;

/// A call, checked and ready to run (or already answered).
enum Prepared<'t> {
    /// Answer the model with this, without running anything.
    Answer(String),
    /// Run `tool` with `arguments`.
    Run {
        tool: &'t Offered<'t>,
        arguments: serde_json::Value,
    },
}

/// Runs the calls of one reply's steps, remembering what was called.
pub(crate) struct Calls<'e, 't> {
    exchange: &'e Exchange<'e>,
    toolbox: &'t Toolbox<'t>,
    events: &'e mpsc::Sender<ReplyEvent>,
    /// How often each (tool, arguments) was called in this reply.
    made: HashMap<(String, String), u32>,
}

impl<'e, 't> Calls<'e, 't> {
    pub(crate) fn new(
        exchange: &'e Exchange<'e>,
        toolbox: &'t Toolbox<'t>,
        events: &'e mpsc::Sender<ReplyEvent>,
    ) -> Self {
        Self {
            exchange,
            toolbox,
            events,
            made: HashMap::new(),
        }
    }

    /// Runs `calls` and returns one result message per call, in call order.
    #[instrument(skip_all, fields(calls = calls.len()))]
    pub(crate) async fn step(&mut self, calls: &[ToolCall]) -> Result<Vec<ChatMessage>, Stopped> {
        let mut results = Vec::with_capacity(calls.len());
        let mut index = 0;
        while index < calls.len() {
            // A run of read-only calls goes together; anything else alone.
            let end = if self.effect(&calls[index]) == Effect::ReadOnly {
                calls[index..]
                    .iter()
                    .position(|call| self.effect(call) != Effect::ReadOnly)
                    .map_or(calls.len(), |n| index + n)
            } else {
                index + 1
            };
            let batch = &calls[index..end];
            let prepared: Vec<Prepared<'t>> = batch.iter().map(|call| self.prepare(call)).collect();
            self.status(batch).await;
            let ran = join_all(
                batch
                    .iter()
                    .zip(prepared)
                    .map(|(call, prepared)| self.execute(call, prepared)),
            );
            let contents = tokio::select! {
                contents = ran => contents,
                () = self.exchange.cancel.cancelled() => return Err(Stopped),
                () = self.events.closed() => return Err(Stopped),
            };
            let limit = self.exchange.engine.tools.max_result_chars;
            for (call, content) in batch.iter().zip(contents) {
                results.push(ChatMessage::tool_result(&call.id, cut(content?, limit)));
            }
            index = end;
        }
        Ok(results)
    }

    fn effect(&self, call: &ToolCall) -> Effect {
        self.toolbox
            .get(&call.name)
            .map_or(Effect::ReadOnly, Offered::effect)
    }

    /// Looks the call up, reads its arguments, and counts it.
    fn prepare(&mut self, call: &ToolCall) -> Prepared<'t> {
        let Some(tool) = self.toolbox.get(&call.name) else {
            return Prepared::Answer(format!(
                "error: there is no tool named {:?}; the tools are the ones offered",
                call.name
            ));
        };
        let text = call.arguments.trim();
        let arguments = if text.is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(arguments) => arguments,
                Err(error) => {
                    return Prepared::Answer(format!(
                        "error: the arguments are not valid JSON ({error}); call it again with a JSON object"
                    ));
                }
            }
        };
        let made = self
            .made
            .entry((call.name.clone(), arguments.to_string()))
            .or_insert(0);
        *made += 1;
        let limit = self.exchange.engine.tools.repeat_limit;
        if *made > limit {
            info!(tool = %call.name, times = *made, "repeated call not run");
            return Prepared::Answer(format!(
                "not run: this exact call was already made {limit} time(s) in this reply; \
                 use the result you have, or answer the user"
            ));
        }
        Prepared::Run { tool, arguments }
    }

    /// Shows which calls are at work.
    async fn status(&self, batch: &[ToolCall]) {
        let lines: Vec<String> = batch.iter().map(status_line).collect();
        let _ = self
            .events
            .send(ReplyEvent::Status(format!("🔧 {}", lines.join("; "))))
            .await;
    }

    /// The result of one prepared call; `Err` when the reply was stopped.
    async fn execute(&self, call: &ToolCall, prepared: Prepared<'t>) -> Result<String, Stopped> {
        let (tool, arguments) = match prepared {
            Prepared::Answer(text) => return Ok(text),
            Prepared::Run { tool, arguments } => (tool, arguments),
        };
        let message = &self.exchange.message;
        match tool.permission() {
            Permission::Everyone => {}
            Permission::Admins if message.may_administer() => {}
            Permission::Admins => {
                info!(tool = %call.name, user = %message.author.id, "admins-only tool refused");
                return Ok(format!(
                    "refused: only admins may use {} here, and {} is not one; tell them so",
                    call.name, message.author.display_name
                ));
            }
            Permission::Confirm => {
                if let Some(refused) = self.confirm(call, &arguments).await {
                    return Ok(refused);
                }
            }
        }
        Ok(self.run(tool, call, arguments).await)
    }

    /// Asks the author to allow the call; `None` when they did, else the
    /// result telling the model why it did not run.
    async fn confirm(&self, call: &ToolCall, arguments: &serde_json::Value) -> Option<String> {
        let exchange = self.exchange;
        let message = &exchange.message;
        let asker = &message.author;
        let mut asked = exchange.engine.approvals.ask(&message.key, asker);
        let what = format!("`{}` with `{}`", call.name, arguments);
        let request = crate::approval::ApprovalRequest {
            id: asked.id.clone(),
            question: format!("🔧 I'd like to run {what}. Allow it?"),
            asker: asker.display_name.clone(),
        };
        let shown = match exchange
            .courier
            .ask(&message.channel, &request, Some(&message.id))
            .await
        {
            Ok(id) => id,
            Err(error) => {
                info!(%error, "could not ask for a confirmation");
                return Some(format!(
                    "not run: I could not ask {} to confirm it",
                    asker.display_name
                ));
            }
        };
        let waited = tokio::time::timeout(exchange.engine.tools.approval_timeout(), asked.answer());
        let (outcome, result) = match waited.await {
            Ok(Some(Decision::Approve)) => {
                (format!("✅ {} allowed {what}.", asker.display_name), None)
            }
            Ok(Some(Decision::Deny)) => (
                format!("❌ {} refused {what}.", asker.display_name),
                Some(format!(
                    "refused: {} said no; do not try it again unasked",
                    asker.display_name
                )),
            ),
            Ok(None) | Err(_) => (
                format!("⌛ No answer in time: {what} was not run."),
                Some(format!(
                    "not run: {} did not answer in time",
                    asker.display_name
                )),
            ),
        };
        debug!(tool = %call.name, allowed = result.is_none(), "confirmation answered");
        // Withdrawn before the outcome shows: a late press finds nothing waiting.
        drop(asked);
        exchange
            .courier
            .settle(&message.channel, &shown, &outcome)
            .await;
        result
    }

    /// Runs the tool under the timeout; errors become the result.
    async fn run(
        &self,
        tool: &Offered<'_>,
        call: &ToolCall,
        arguments: serde_json::Value,
    ) -> String {
        let exchange = self.exchange;
        let mut cx = exchange.plugin(tool.plugin);
        let invocation = ToolInvocation {
            name: call.name.clone(),
            arguments,
        };
        let timeout = exchange.engine.tools.timeout();
        let running = tool.plugin.plugin.call_tool(&mut cx, invocation);
        match tokio::time::timeout(timeout, running).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => {
                let text = format!("error: {error}");
                let failure = PluginFailure::new(tool.plugin.name.clone(), Hook::Tool, error)
                    .in_conversation(exchange.message.key.clone());
                // The model reads the error and explains; the user hears it from the model.
                let _ = exchange.engine.on_error.handle(&failure);
                text
            }
            Err(_) => {
                info!(tool = %call.name, ?timeout, "tool call timed out");
                format!(
                    "error: {} did not finish within {} s",
                    call.name,
                    timeout.as_secs()
                )
            }
        }
    }
}

/// `text`, cut to `limit` characters with a note saying how much was left out.
fn cut(text: String, limit: usize) -> String {
    let total = text.chars().count();
    if total <= limit {
        return text;
    }
    let kept: String = text.chars().take(limit).collect();
    format!("{kept}\n…(cut: {} more characters)", total - limit)
}

/// `remind_set — in 10 min, tea`: the tool and its arguments' values, short,
/// in the order the model wrote them.
fn status_line(call: &ToolCall) -> String {
    let values = serde_json::from_str::<InOrder>(&call.arguments)
        .map(|InOrder(values)| {
            values
                .into_iter()
                .filter_map(|value| match value {
                    serde_json::Value::String(text) => Some(text),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    if values.is_empty() {
        return call.name.clone();
    }
    let mut short: String = values.chars().take(STATUS_CHARS).collect();
    if short.len() < values.len() {
        short.push('…');
    }
    format!("{} — {short}", call.name)
}

/// A JSON object's values in the order they were written (`serde_json`'s
/// own map sorts its keys).
struct InOrder(Vec<serde_json::Value>);

impl<'de> serde::Deserialize<'de> for InOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Values;
        impl<'de> serde::de::Visitor<'de> for Values {
            type Value = InOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<InOrder, M::Error> {
                let mut values = Vec::new();
                while let Some((_, value)) =
                    map.next_entry::<serde::de::IgnoredAny, serde_json::Value>()?
                {
                    values.push(value);
                }
                Ok(InOrder(values))
            }
        }
        deserializer.deserialize_map(Values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_results_are_cut_with_a_note() {
        assert_eq!(cut("short".into(), 100), "short");
        let long = "é".repeat(150);
        assert_eq!(
            cut(long, 100),
            format!("{}\n…(cut: 50 more characters)", "é".repeat(100))
        );
    }

    #[test]
    fn status_lines_show_the_values_briefly() {
        let call = ToolCall::new(
            "1",
            "remind_set",
            r#"{"when":"in 10 min","text":"tea","note":null}"#,
        );
        assert_eq!(status_line(&call), "remind_set — in 10 min, tea");
        let long = ToolCall::new(
            "2",
            "kb_search",
            format!(r#"{{"query":"{}"}}"#, "x".repeat(100)),
        );
        assert_eq!(
            status_line(&long),
            format!("kb_search — {}…", "x".repeat(60))
        );
        assert_eq!(
            status_line(&ToolCall::new("3", "time_now", "{}")),
            "time_now"
        );
        assert_eq!(status_line(&ToolCall::new("4", "broken", "{")), "broken");
    }
}
