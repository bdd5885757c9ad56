//! The generation worker: one OS thread owns the llama.cpp context (it is
//! `Send` but not `Sync`, and generation is blocking work that must stay off
//! the async runtime). It takes requests from a bounded queue one at a time,
//! evaluates each prompt into a warm slot — only the tokens after what the
//! slot already holds — and streams the reply back over a channel, checking
//! after every token whether the reader is still there. Each slot is its own
//! KV-cache stream of `n_ctx` cells.
//!
//! A request offering tools first runs the tool stages (`stages`): it either
//! ends there with a call, or goes on to the plain reply.

mod stages;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use natter_core::{
    Completion, ConversationKey, FinishReason, GenerationParams, ModelError, StreamEvent, Usage,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::LlamaError;
use crate::output::ReplyText;
use crate::runtime;
use crate::sampler::{self, SamplingDefaults};
use crate::slots::Slots;
use crate::tools::ToolPlan;

/// Where a job's events go; closed when the caller dropped the stream.
pub type Events = UnboundedSender<Result<StreamEvent, ModelError>>;

/// One generation request, already tokenized.
pub struct Job {
    /// The templated prompt.
    pub prompt: Vec<LlamaToken>,
    /// The tool stages to run first, when the request offers tools.
    pub tools: Option<ToolJob>,
    /// The conversation, to pick its warm slot.
    pub conversation: Option<ConversationKey>,
    /// Sampling, length and stop strings.
    pub params: GenerationParams,
    /// The reply stream.
    pub events: Events,
}

/// The tool stages of a request, tokenized.
pub struct ToolJob {
    /// The conversation with the tools' instruction, ending in the stages'
    /// lead-in.
    pub prompt: Vec<LlamaToken>,
    /// `Arguments:`, evaluated after stage one picked a tool.
    pub arguments_lead_in: Vec<LlamaToken>,
    /// The stages.
    pub plan: ToolPlan,
}

/// How the worker's context is set up.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// Context window of each slot (each has its own KV-cache stream).
    pub n_ctx: u32,
    /// Most tokens evaluated in one call.
    pub n_batch: u32,
    /// CPU threads for prompt evaluation.
    pub threads: i32,
    /// CPU threads for generating one token at a time.
    pub generation_threads: i32,
    /// Warm slots (KV-cache sequences).
    pub slots: usize,
    /// Sampling settings not carried by requests.
    pub sampling: SamplingDefaults,
}

/// Counters the worker keeps, for tests, benchmarks and logs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Prompt tokens evaluated.
    pub evaluated: AtomicU64,
    /// Prompt tokens taken from a warm slot instead of being evaluated.
    pub reused: AtomicU64,
    /// Tokens sampled (including end-of-generation tokens).
    pub generated: AtomicU64,
    /// Requests that finished with `Done`.
    pub completed: AtomicU64,
    /// Requests whose stream was dropped before they finished.
    pub cancelled: AtomicU64,
    /// Requests that failed.
    pub failed: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// How a job ended, short of an error.
enum Outcome {
    Done(Completion),
    Cancelled,
}

/// Starts the worker thread for `model`; returns once its context exists.
pub fn spawn(
    model: Arc<LlamaModel>,
    config: WorkerConfig,
    counters: Arc<Counters>,
    jobs: Receiver<Job>,
) -> Result<(), LlamaError> {
    let (ready_tx, ready_rx) = sync_channel(1);
    std::thread::Builder::new()
        .name("natter-llama".into())
        .spawn(move || {
            let ctx = match runtime::new_context(&model, context_params(&config)) {
                Ok(ctx) => ctx,
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut worker = Worker {
                model: &model,
                ctx,
                batch: LlamaBatch::new(config.n_batch as usize, 1),
                slots: Slots::new(config.slots),
                config,
                counters,
                calls: stages::CallIds::new(),
            };
            while let Ok(job) = jobs.recv() {
                worker.run(job);
            }
            tracing::debug!("llama worker stopped: the backend was dropped");
        })
        .map_err(|e| LlamaError::Engine(format!("starting the worker thread: {e}")))?;
    ready_rx
        .recv()
        .map_err(|_| LlamaError::Engine("the worker thread stopped while starting".into()))?
}

fn context_params(config: &WorkerConfig) -> LlamaContextParams {
    let slots = u32::try_from(config.slots).unwrap_or(1).max(1);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(config.n_ctx.saturating_mul(slots)))
        .with_n_batch(config.n_batch)
        .with_n_ubatch(config.n_batch)
        .with_n_seq_max(slots)
        // One KV stream per slot: a conversation attends over its own cells
        // only. (A unified cache made every prompt and token attend over all
        // warm conversations' cells: 3x slower prompts with four warm slots.)
        .with_kv_unified(false)
        .with_n_threads(config.generation_threads)
        .with_n_threads_batch(config.threads)
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    slots: Slots,
    config: WorkerConfig,
    counters: Arc<Counters>,
    calls: stages::CallIds,
}

impl Worker<'_> {
    fn run(&mut self, job: Job) {
        if job.events.is_closed() {
            Counters::add(&self.counters.cancelled, 1);
            return;
        }
        match self.generate(&job) {
            Ok(Outcome::Done(completion)) => {
                Counters::add(&self.counters.completed, 1);
                let _ = job.events.send(Ok(StreamEvent::Done(completion)));
            }
            Ok(Outcome::Cancelled) => Counters::add(&self.counters.cancelled, 1),
            Err(error) => {
                Counters::add(&self.counters.failed, 1);
                tracing::warn!(%error, "local generation failed");
                let _ = job.events.send(Err(error));
            }
        }
    }

    fn n_ctx(&self) -> usize {
        self.config.n_ctx as usize
    }

    fn generate(&mut self, job: &Job) -> Result<Outcome, ModelError> {
        let mut seq = None;
        let result = self.generate_into(job, &mut seq);
        if result.is_err()
            && let Some(seq) = seq
        {
            self.slots.reset(seq);
            self.clear(seq, 0);
        }
        result
    }

    /// The tool stages if any, then the reply; `seq` is the slot in use.
    fn generate_into(&mut self, job: &Job, seq: &mut Option<usize>) -> Result<Outcome, ModelError> {
        let budget = job.params.max_tokens.map_or(usize::MAX, |m| m as usize);
        let mut sampled = 0;
        if let Some(tools) = &job.tools {
            match self.run_tool_stages(job, tools, budget, seq)? {
                stages::Staged::Finished(outcome) => return Ok(outcome),
                stages::Staged::Answer { sampled: n } => sampled = n,
            }
        }
        let Some(slot) = self.load_prompt(job, &job.prompt, seq)? else {
            return Ok(Outcome::Cancelled);
        };
        let room = self.n_ctx() - job.prompt.len();
        let max_new = budget.saturating_sub(sampled).min(room);
        self.sample_reply(job, slot, max_new, sampled)
    }

    /// Puts `prompt` into a slot — the conversation's own when warm —
    /// evaluating only what the slot does not already hold. `None` when the
    /// request was cancelled meanwhile.
    fn load_prompt(
        &mut self,
        job: &Job,
        prompt: &[LlamaToken],
        seq: &mut Option<usize>,
    ) -> Result<Option<usize>, ModelError> {
        if prompt.is_empty() {
            return Err(ModelError::Engine("the prompt is empty".into()));
        }
        if prompt.len() >= self.n_ctx() {
            return Err(ModelError::ContextOverflow {
                needed: prompt.len(),
                available: self.n_ctx() - 1,
            });
        }
        let assignment = self.slots.assign(job.conversation.as_ref(), prompt);
        *seq = Some(assignment.seq);
        self.clear(assignment.seq, assignment.reusable);
        Counters::add(&self.counters.reused, assignment.reusable);
        let rest = &prompt[assignment.reusable..];
        if !self.evaluate(job, assignment.seq, rest)? {
            return Ok(None);
        }
        Counters::add(&self.counters.evaluated, rest.len());
        Ok(Some(assignment.seq))
    }

    /// Evaluates `tokens` into `seq` after what it holds, in batches; the
    /// last token's logits are kept for sampling. False when cancelled.
    fn evaluate(
        &mut self,
        job: &Job,
        seq: usize,
        tokens: &[LlamaToken],
    ) -> Result<bool, ModelError> {
        let chunk_len = (self.config.n_batch as usize).max(1);
        let chunks = tokens.chunks(chunk_len);
        let last_chunk = chunks.len().saturating_sub(1);
        for (n, chunk) in chunks.enumerate() {
            if job.events.is_closed() {
                return Ok(false);
            }
            self.batch.clear();
            let pos = self.slots.len(seq);
            for (i, &token) in chunk.iter().enumerate() {
                let wants_logits = n == last_chunk && i + 1 == chunk.len();
                self.batch
                    .add(token, position(pos + i), &[seq_id(seq)], wants_logits)
                    .map_err(engine)?;
            }
            self.decode(seq)?;
            self.slots.extend(seq, chunk);
        }
        Ok(true)
    }

    /// Samples the reply token by token, streaming text as it settles.
    /// `already_sampled` tokens went to the tool stages before it.
    fn sample_reply(
        &mut self,
        job: &Job,
        seq: usize,
        max_new: usize,
        already_sampled: usize,
    ) -> Result<Outcome, ModelError> {
        let prompt_tokens = job.prompt.len();
        let done = |finish_reason, generated: usize| {
            Ok(Outcome::Done(Completion {
                usage: Some(usage(prompt_tokens, already_sampled + generated)),
                finish_reason,
                tool_calls: Vec::new(),
            }))
        };
        if max_new == 0 {
            return done(FinishReason::Length, 0);
        }
        let model = self.model;
        let vocab = model.vocab();
        let mut sampler = sampler::build(&job.params, self.config.sampling, model.n_vocab());
        let mut reply = ReplyText::new(&job.params.stop);
        let mut piece = Vec::with_capacity(32);
        let mut generated = 0;
        let send =
            |text: String| text.is_empty() || job.events.send(Ok(StreamEvent::Delta(text))).is_ok();

        let finish = loop {
            // The logits of the last token evaluated: the batch's only output.
            let token = sampler.sample(&self.ctx, -1);
            Counters::add(&self.counters.generated, 1);
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            generated += 1;
            piece.clear();
            vocab.token_to_piece_into(token, &mut piece, false, None);
            let pushed = reply.push(&piece);
            if !send(pushed.emit) {
                return Ok(Outcome::Cancelled);
            }
            if pushed.stopped {
                return done(FinishReason::Stop, generated);
            }
            if generated >= max_new || self.slots.len(seq) + 1 >= self.n_ctx() {
                break FinishReason::Length;
            }
            if job.events.is_closed() {
                return Ok(Outcome::Cancelled);
            }
            self.decode_one(seq, token)?;
        };
        if !send(reply.finish()) {
            return Ok(Outcome::Cancelled);
        }
        done(finish, generated)
    }

    /// Decodes one sampled token into `seq`, keeping its logits.
    fn decode_one(&mut self, seq: usize, token: LlamaToken) -> Result<(), ModelError> {
        self.batch.clear();
        self.batch
            .add(token, position(self.slots.len(seq)), &[seq_id(seq)], true)
            .map_err(engine)?;
        self.decode(seq)?;
        self.slots.extend(seq, &[token]);
        Ok(())
    }

    /// Decodes the batch into `seq`'s KV stream.
    fn decode(&mut self, seq: usize) -> Result<(), ModelError> {
        match self.ctx.decode(&mut self.batch) {
            Ok(()) => Ok(()),
            Err(DecodeError::NoKvCacheSlot) => Err(ModelError::ContextOverflow {
                needed: self.slots.len(seq) + usize::try_from(self.batch.n_tokens()).unwrap_or(0),
                available: self.n_ctx(),
            }),
            Err(error) => Err(engine(error)),
        }
    }

    /// Drops `seq`'s cached positions from `from` on.
    fn clear(&mut self, seq: usize, from: usize) {
        let from = u32::try_from(from).ok();
        if let Err(error) = self
            .ctx
            .clear_kv_cache_seq(u32::try_from(seq).ok(), from, None)
        {
            tracing::warn!(%error, seq, "could not clear a KV-cache sequence");
        }
    }
}

/// Token counts as a generation reports them.
fn usage(prompt_tokens: usize, completion_tokens: usize) -> Usage {
    Usage {
        prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
        completion_tokens: u32::try_from(completion_tokens).unwrap_or(u32::MAX),
    }
}

fn position(pos: usize) -> i32 {
    i32::try_from(pos).unwrap_or(i32::MAX)
}

fn seq_id(seq: usize) -> i32 {
    i32::try_from(seq).unwrap_or(0)
}

fn engine(error: impl std::fmt::Display) -> ModelError {
    ModelError::Engine(error.to_string())
}
