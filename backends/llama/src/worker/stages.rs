//! The tool stages on the worker: stage one's constrained choice, stage
//! two's constrained arguments (see `crate::tools`), both greedy: the most
//! likely token the grammar allows.
//!
//! Sampling stops the moment a stage's text ends with its terminator, which
//! its grammar allows only at the very end: a grammar sampler is never asked
//! for a token after it completed (llama.cpp aborts on that in some
//! versions). `max_tokens` counts every token sampled in the stages, and
//! a dropped stream stops them within one token, like a reply.

use std::time::{SystemTime, UNIX_EPOCH};

use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use natter_core::{Completion, FinishReason, ModelError, ToolCall};

use super::{Counters, Job, Outcome, ToolJob, Worker, engine, usage};
use crate::tools::{Choice, Chosen, STAGE_END};

/// Where the tool stages left a request.
pub(super) enum Staged {
    /// Finished: a call, cancelled, or out of tokens.
    Finished(Outcome),
    /// Stage one chose to answer in words; `sampled` tokens were spent.
    Answer {
        /// Tokens sampled in stage one.
        sampled: usize,
    },
}

/// How one constrained stage ended.
enum Constrained {
    /// The grammar is complete: `text` ends with the terminator; `last`, its
    /// final token, is not evaluated yet.
    Complete {
        text: String,
        last: LlamaToken,
        sampled: usize,
    },
    /// `max_tokens` or the context ran out first.
    OutOfTokens { sampled: usize },
    /// The reader went away.
    Cancelled,
}

/// Ids for the calls the model makes: unique in this process, and unlikely
/// to repeat those of an earlier run still in a conversation's history.
pub(super) struct CallIds {
    run: u32,
    next: u64,
}

impl CallIds {
    pub(super) fn new() -> Self {
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        Self { run, next: 0 }
    }

    fn next(&mut self) -> String {
        self.next += 1;
        format!("call_{:08x}_{}", self.run, self.next)
    }
}

impl Worker<'_> {
    /// Runs the stages of `tools` within `budget` sampled tokens.
    pub(super) fn run_tool_stages(
        &mut self,
        job: &Job,
        tools: &ToolJob,
        budget: usize,
        seq: &mut Option<usize>,
    ) -> Result<Staged, ModelError> {
        let Some(slot) = self.load_prompt(job, &tools.prompt, seq)? else {
            return Ok(Staged::Finished(Outcome::Cancelled));
        };
        let mut prompt_tokens = tools.prompt.len();
        let mut sampled = 0;
        let index = match &tools.plan.choice {
            Choice::Named(index) => *index,
            Choice::Model { grammar, .. } => {
                let (text, last) = match self.sample_constrained(job, slot, grammar, budget)? {
                    Constrained::Complete {
                        text,
                        last,
                        sampled: n,
                    } => {
                        sampled += n;
                        (text, last)
                    }
                    Constrained::OutOfTokens { sampled: n } => {
                        return Ok(out_of_tokens(prompt_tokens, n));
                    }
                    Constrained::Cancelled => return Ok(Staged::Finished(Outcome::Cancelled)),
                };
                let index = match tools.plan.chosen(&text) {
                    Some(Chosen::Answer) => return Ok(Staged::Answer { sampled }),
                    Some(Chosen::Tool(index)) => index,
                    None => {
                        return Err(engine(format!(
                            "the tool choice {text:?} matches no option of its grammar"
                        )));
                    }
                };
                let mut next = Vec::with_capacity(tools.arguments_lead_in.len() + 1);
                next.push(last);
                next.extend_from_slice(&tools.arguments_lead_in);
                if !self.evaluate(job, slot, &next)? {
                    return Ok(Staged::Finished(Outcome::Cancelled));
                }
                Counters::add(&self.counters.evaluated, tools.arguments_lead_in.len());
                prompt_tokens += tools.arguments_lead_in.len();
                index
            }
        };
        let tool = tools
            .plan
            .tools
            .get(index)
            .ok_or_else(|| engine("the tool plan has no tool at the chosen index"))?;
        let remaining = budget.saturating_sub(sampled);
        match self.sample_constrained(job, slot, &tool.arguments_grammar, remaining)? {
            Constrained::Complete {
                text, sampled: n, ..
            } => {
                sampled += n;
                let call =
                    ToolCall::new(self.calls.next(), tool.definition.name.clone(), text.trim());
                Ok(Staged::Finished(Outcome::Done(Completion {
                    usage: Some(usage(prompt_tokens, sampled)),
                    finish_reason: FinishReason::ToolCalls,
                    tool_calls: vec![call],
                })))
            }
            Constrained::OutOfTokens { sampled: n } => {
                Ok(out_of_tokens(prompt_tokens, sampled + n))
            }
            Constrained::Cancelled => Ok(Staged::Finished(Outcome::Cancelled)),
        }
    }

    /// Samples greedily under `grammar` until its text ends with the stage
    /// terminator, `budget` tokens are spent, or the reader goes away.
    fn sample_constrained(
        &mut self,
        job: &Job,
        seq: usize,
        grammar: &str,
        budget: usize,
    ) -> Result<Constrained, ModelError> {
        if budget == 0 {
            return Ok(Constrained::OutOfTokens { sampled: 0 });
        }
        let model = self.model;
        let vocab = model.vocab();
        let mut constraint = LlamaSampler::grammar(model, grammar, "root")
            .map_err(|e| engine(format!("llama.cpp refused a tool grammar ({e}): {grammar}")))?;
        let mut text = Vec::with_capacity(64);
        let mut sampled = 0;
        loop {
            let token = self.most_likely_allowed(&mut constraint)?;
            Counters::add(&self.counters.generated, 1);
            sampled += 1;
            if vocab.is_eog(token) {
                // The grammar allows an end only after its terminator, where
                // sampling has already stopped.
                return Err(engine(
                    "the model ended a tool stage before its grammar did",
                ));
            }
            vocab.token_to_piece_into(token, &mut text, false, None);
            if text.ends_with(STAGE_END.as_bytes()) {
                return Ok(Constrained::Complete {
                    text: String::from_utf8_lossy(&text).into_owned(),
                    last: token,
                    sampled,
                });
            }
            if sampled >= budget || self.slots.len(seq) + 1 >= self.n_ctx() {
                return Ok(Constrained::OutOfTokens { sampled });
            }
            if job.events.is_closed() {
                return Ok(Constrained::Cancelled);
            }
            self.decode_one(seq, token)?;
        }
    }

    /// The most likely next token `grammar` allows, accepted into it. The
    /// most likely token overall is checked first: inside a string the
    /// grammar nearly always allows it, and checking one token is far cheaper
    /// than masking the whole vocabulary (measured: masking cost as much as
    /// a decode step of the default model). Only when it is refused are all
    /// tokens masked.
    fn most_likely_allowed(&self, grammar: &mut LlamaSampler) -> Result<LlamaToken, ModelError> {
        let best = self
            .ctx
            .get_logits_ith(-1)
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .and_then(|(id, &logit)| {
                Some(LlamaTokenData::new(
                    LlamaToken(i32::try_from(id).ok()?),
                    logit,
                    0.0,
                ))
            })
            .ok_or_else(|| engine("the model gave no logits"))?;
        let mut candidate = LlamaTokenDataArray::new(vec![best], false);
        candidate.apply_sampler(grammar);
        let token = if candidate
            .data
            .first()
            .is_some_and(|d| d.logit() > f32::NEG_INFINITY)
        {
            best.id()
        } else {
            let mut all = self.ctx.token_data_array_ith(-1);
            all.apply_sampler(grammar);
            all.data
                .iter()
                .filter(|d| d.logit() > f32::NEG_INFINITY)
                .max_by(|a, b| a.logit().total_cmp(&b.logit()))
                .map(LlamaTokenData::id)
                .ok_or_else(|| engine("the tool grammar allows no token of this model"))?
        };
        grammar.accept(token);
        Ok(token)
    }
}

/// The stages ran out of tokens before a call was complete: the reply ends
/// for `Length`, with no text and no call.
fn out_of_tokens(prompt_tokens: usize, sampled: usize) -> Staged {
    Staged::Finished(Outcome::Done(Completion {
        usage: Some(usage(prompt_tokens, sampled)),
        finish_reason: FinishReason::Length,
        tool_calls: Vec::new(),
    }))
}
