//! natter-llama benchmark on the default model: prompt and generation speed,
//! time to first token for a cold ~1,000-token conversation and for its
//! follow-up turn in a warm slot, the time of a tool call (both grammar
//! stages) and of the Auto choice before a reply in words; then a bare
//! llama.cpp decode loop for reference. The bare loop runs after natter's
//! figures and reads low (see `BENCH_LLAMA_BENCH` below): compare natter with
//! `BENCH_LLAMA_BENCH=1` or `llama-bench` itself.
//!
//! ```text
//! scripts/fetch-model.sh
//! cargo bench -p natter-llama --bench llama
//! ```
//! Environment: `NATTER_LLAMA_MODEL` (another GGUF), `BENCH_THREADS` (default 2),
//! `BENCH_GENERATION_THREADS` (default: natter's own choice), `BENCH_RUNS`
//! (default 5), `BENCH_LLAMA_BENCH=1` (instead of natter's figures, generation
//! set up as `llama-bench -n 64 -d 32,1024 -t 1,2` does, to compare with its
//! own figures measured in the same window).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use natter_core::test_utils::conformance;
use natter_core::{
    ChatMessage, ChatRequest, ConversationKey, FinishReason, GenerationParams, ModelBackend,
    Platform, StreamEvent, ToolChoice,
};
use natter_llama::{LlamaBackend, LlamaSettings, runtime};

const CONTEXT: u32 = 2048;
const GENERATE: u32 = 128;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of this process now, in MB (Linux; 0 elsewhere).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn greedy(max_tokens: u32) -> GenerationParams {
    GenerationParams {
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        top_p: None,
        stop: Vec::new(),
        seed: Some(1),
    }
}

/// A conversation of at least `tokens` prompt tokens, ending in a user turn.
fn long_conversation(backend: &LlamaBackend, tokens: usize, salt: usize) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::system(format!(
        "You are a helpful assistant. Session {salt}."
    ))];
    let mut turn = 0;
    loop {
        messages.push(ChatMessage::user(format!(
            "Question {turn}: what is one interesting fact about the number {}?",
            turn * 7 + salt
        )));
        if backend.tokenize(&messages, true).unwrap().len() >= tokens {
            return messages;
        }
        messages.push(ChatMessage::assistant(format!(
            "The number {} is the sum of {} and {}, and it appears in many puzzles, \
             calendars and games that people enjoy around the world.",
            turn * 7 + salt,
            turn * 3,
            turn * 4 + salt
        )));
        turn += 1;
    }
}

/// Streams `request`; returns (time to first delta, time from first delta to
/// Done, completion tokens, reply text).
async fn timed(backend: &LlamaBackend, request: ChatRequest) -> (Duration, Duration, u32, String) {
    let start = Instant::now();
    let mut stream = backend.stream(request).await.expect("stream starts");
    let mut first = None;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            StreamEvent::Delta(d) => {
                first.get_or_insert_with(Instant::now);
                text.push_str(&d);
            }
            StreamEvent::Done(c) => {
                let first = first.expect("a delta before Done");
                let tokens = c.usage.map_or(0, |u| u.completion_tokens);
                return (first - start, first.elapsed(), tokens, text);
            }
        }
    }
    panic!("stream ended without Done");
}

/// Time to the first delta of `request`, or `None` when it answered with a
/// tool call instead of words.
async fn first_words(backend: &LlamaBackend, request: ChatRequest) -> Option<Duration> {
    let start = Instant::now();
    let mut stream = backend.stream(request).await.expect("stream starts");
    let mut first = None;
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            StreamEvent::Delta(_) => {
                first.get_or_insert_with(|| start.elapsed());
            }
            StreamEvent::Done(c) => return first.filter(|_| c.tool_calls.is_empty()),
        }
    }
    panic!("stream ended without Done");
}

/// `request` in a conversation of its own, so its slot starts cold.
fn in_cold_conversation(mut request: ChatRequest, name: String) -> ChatRequest {
    request.conversation = Some(ConversationKey::new(Platform::new("bench"), name));
    request
}

/// A bare llama.cpp loop: prompt eval, then greedy sample + decode per token.
/// Returns (prompt tok/s, generation seconds per token).
fn raw_llama(
    model: &LlamaModel,
    prompt: &[LlamaToken],
    threads: i32,
    generation_threads: i32,
) -> (f64, f64) {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(CONTEXT))
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(generation_threads)
        .with_n_threads_batch(threads);
    let mut ctx = runtime::new_context(model, params).expect("context");
    let mut batch = LlamaBatch::new(512, 1);
    let started = Instant::now();
    let mut pos = 0;
    for chunk in prompt.chunks(512) {
        batch.clear();
        for (i, &t) in chunk.iter().enumerate() {
            let last = pos + i + 1 == prompt.len();
            batch.add(t, (pos + i) as i32, &[0], last).unwrap();
        }
        ctx.decode(&mut batch).unwrap();
        pos += chunk.len();
    }
    let prompt_tps = prompt.len() as f64 / started.elapsed().as_secs_f64();

    let mut sampler = LlamaSampler::greedy();
    let started = Instant::now();
    for _ in 0..GENERATE {
        let token = sampler.sample(&ctx, -1);
        batch.clear();
        batch.add(token, pos as i32, &[0], true).unwrap();
        ctx.decode(&mut batch).unwrap();
        pos += 1;
    }
    (
        prompt_tps,
        started.elapsed().as_secs_f64() / f64::from(GENERATE),
    )
}

/// Generation as `llama-bench -n 64 -d DEPTH -t THREADS` measures it: a
/// context just large enough, `DEPTH` tokens evaluated first, then 64
/// single-token decodes of arbitrary tokens with no sampling, the same thread
/// count for prompt and generation. Returns tokens per second.
fn llama_bench_like(model: &LlamaModel, threads: i32, depth: usize) -> f64 {
    const N_GEN: usize = 64;
    let n_ctx = u32::try_from(depth + N_GEN).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(2048)
        .with_n_ubatch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = runtime::new_context(model, params).expect("context");
    let n_vocab = model.n_vocab();
    let token = |i: usize| LlamaToken::new((i as i32 * 7919 + 13) % n_vocab);
    let mut batch = LlamaBatch::new(2048, 1);
    for i in 0..depth {
        batch.add(token(i), i as i32, &[0], i + 1 == depth).unwrap();
    }
    if depth > 0 {
        ctx.decode(&mut batch).unwrap();
    }
    let started = Instant::now();
    for i in 0..N_GEN {
        batch.clear();
        batch
            .add(token(depth + i), (depth + i) as i32, &[0], true)
            .unwrap();
        ctx.decode(&mut batch).unwrap();
    }
    N_GEN as f64 / started.elapsed().as_secs_f64()
}

/// The `llama-bench`-equivalent rows: 1 and 2 threads at depth 32 and 1,024.
fn print_llama_bench_like(path: &std::path::Path, runs: usize) {
    let model = LlamaModel::load_from_file(
        runtime::backend().unwrap(),
        path,
        &LlamaModelParams::default(),
    )
    .unwrap();
    for threads in [1, 2] {
        for depth in [32, 1024] {
            // One warm-up, as llama-bench does.
            llama_bench_like(&model, threads, depth);
            let tps = median(
                (0..runs)
                    .map(|_| llama_bench_like(&model, threads, depth))
                    .collect(),
            );
            println!(
                "generation, llama-bench setup, {threads} thread{}: {tps:>7.1} tok/s (tg64 @ d{depth})",
                if threads == 1 { " " } else { "s" }
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let path = std::env::var_os("NATTER_LLAMA_MODEL").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        },
        PathBuf::from,
    );
    if !path.is_file() {
        eprintln!(
            "model {} missing: run scripts/fetch-model.sh",
            path.display()
        );
        return;
    }
    let runs = env_usize("BENCH_RUNS", 5).max(1);
    // In a process of their own: decoding from two threads in one process
    // (natter's worker and a reference loop here) slowed both by up to 15%
    // in this bench, which the bot, where only the worker decodes, never does.
    if std::env::var_os("BENCH_LLAMA_BENCH").is_some() {
        print_llama_bench_like(&path, runs);
        return;
    }
    let threads = env_usize("BENCH_THREADS", 2);
    // 0: natter's default (every core); set it to compare.
    let generation_threads = env_usize("BENCH_GENERATION_THREADS", 0);
    let settings = LlamaSettings {
        threads,
        generation_threads,
        context: CONTEXT,
        slots: 4,
        // Pure greedy, so natter and the bare loop sample the same way.
        repeat_penalty: 1.0,
        ..LlamaSettings::for_model(&path)
    };
    let gen_threads = settings.effective_generation_threads() as i32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    let load_start = Instant::now();
    let backend = LlamaBackend::load(&settings).expect("model loads");
    let load = load_start.elapsed();
    println!(
        "natter-llama bench: {} ({} MB), {threads} threads ({gen_threads} generating), context {CONTEXT}, {runs} runs, load {:.0} ms",
        backend.capabilities().model,
        backend.file_bytes() / 1_000_000,
        load.as_secs_f64() * 1e3
    );

    // natter: generation speed (first delta → Done) on a short prompt.
    let mut nat_gen = Vec::new();
    let mut nat_tokens = 0;
    for i in 0..runs {
        let request = ChatRequest::new(vec![
            ChatMessage::system("You are a helpful assistant."),
            ChatMessage::user(format!("Write a very long essay about rivers, part {i}.")),
        ])
        .with_params(greedy(GENERATE));
        let (_, rest, tokens, _) = rt.block_on(timed(&backend, request));
        nat_tokens = tokens;
        if tokens > 1 {
            nat_gen.push(rest.as_secs_f64() / f64::from(tokens - 1));
        }
    }
    let nat_gen = median(nat_gen);

    // Time to first token: cold ~1,000-token conversation, then its follow-up, warm.
    let (mut cold, mut warm, mut cold_len, mut warm_new) = (Vec::new(), Vec::new(), 0, 0);
    let mut long_gen = Vec::new();
    for i in 0..runs {
        let key = ConversationKey::new(Platform::new("test"), format!("bench/{i}"));
        let messages = long_conversation(&backend, 1000, i + 1);
        cold_len = backend.tokenize(&messages, true).unwrap().len();
        let mut request = ChatRequest::new(messages.clone()).with_params(greedy(64));
        request.conversation = Some(key.clone());
        let (ttft, rest, tokens, reply) = rt.block_on(timed(&backend, request));
        cold.push(ttft.as_secs_f64());
        if tokens > 1 {
            long_gen.push(rest.as_secs_f64() / f64::from(tokens - 1));
        }

        let mut follow = messages;
        follow.push(ChatMessage::assistant(reply));
        follow.push(ChatMessage::user("Thanks! And one more fact, please?"));
        let before = backend.stats();
        let mut request = ChatRequest::new(follow).with_params(greedy(24));
        request.conversation = Some(key);
        let (ttft, _, _, _) = rt.block_on(timed(&backend, request));
        warm.push(ttft.as_secs_f64());
        warm_new = backend.stats().prompt_tokens_evaluated - before.prompt_tokens_evaluated;
    }
    let (cold, warm) = (median(cold), median(warm));

    // The bare llama.cpp references run only now: natter's figures above come
    // from a process where, as in the bot, only its worker thread has decoded.
    // Bare llama.cpp on the same ~1,000-token prompt.
    let raw_model = LlamaModel::load_from_file(
        runtime::backend().unwrap(),
        &path,
        &LlamaModelParams::default(),
    )
    .unwrap();
    let conversation = long_conversation(&backend, 1000, 0);
    let prompt = backend.tokenize(&conversation, true).unwrap();
    let (mut raw_prompt, mut raw_gen) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (p, g) = raw_llama(&raw_model, &prompt, threads as i32, gen_threads);
        raw_prompt.push(p);
        raw_gen.push(g);
    }
    drop(raw_model);
    let raw_prompt = median(raw_prompt);
    let raw_gen = median(raw_gen);

    // Raw generation on the short prompt too.
    let raw_model = LlamaModel::load_from_file(
        runtime::backend().unwrap(),
        &path,
        &LlamaModelParams::default(),
    )
    .unwrap();
    let short = backend
        .tokenize(
            &[
                ChatMessage::system("You are a helpful assistant."),
                ChatMessage::user("Write a very long essay about rivers, part 0."),
            ],
            true,
        )
        .unwrap();
    let raw_gen_short = median(
        (0..runs)
            .map(|_| raw_llama(&raw_model, &short, threads as i32, gen_threads).1)
            .collect(),
    );
    drop(raw_model);

    println!(
        "prompt (bare llama.cpp, {} tokens):     {:>7.1} tok/s",
        prompt.len(),
        raw_prompt
    );
    println!(
        "generation, bare loop (ran after):      {:>7.1} tok/s ({GENERATE} tokens after a {}-token prompt)",
        1.0 / raw_gen,
        prompt.len()
    );
    println!(
        "generation, bare loop (ran after):      {:>7.1} tok/s ({GENERATE} tokens after a {}-token prompt)",
        1.0 / raw_gen_short,
        short.len()
    );
    println!(
        "generation, natter stream:              {:>7.1} tok/s ({nat_tokens} tokens after a {}-token prompt)",
        1.0 / nat_gen,
        short.len()
    );
    println!(
        "generation, natter stream:              {:>7.1} tok/s (up to 64 tokens after a ~1,020-token conversation)",
        1.0 / median(long_gen)
    );
    println!(
        "TTFT cold, {cold_len}-token conversation:    {:>7.1} ms",
        cold * 1e3
    );
    println!(
        "TTFT warm follow-up ({warm_new} new tokens):   {:>7.1} ms  ({:.2}× cold)",
        warm * 1e3,
        warm / cold
    );
    // Tool calls: the conformance suite's required reminder call (choice and
    // arguments stages), each in a cold conversation.
    let mut call_secs = Vec::new();
    let (mut call_prompt, mut call_sampled, mut call_text) = (0, 0, String::new());
    for i in 0..runs {
        let request = in_cold_conversation(conformance::tool_request(), format!("call/{i}"));
        let started = Instant::now();
        let response = rt.block_on(backend.complete(request)).expect("the call");
        call_secs.push(started.elapsed().as_secs_f64());
        assert_eq!(response.completion.finish_reason, FinishReason::ToolCalls);
        let usage = response.completion.usage.expect("usage");
        (call_prompt, call_sampled) = (usage.prompt_tokens, usage.completion_tokens);
        call_text = response.completion.tool_calls[0].arguments.clone();
    }
    // The Auto choice before words: first delta with the tool offered, and
    // without, each cold.
    let (mut auto_words, mut plain_words, mut auto_called) = (Vec::new(), Vec::new(), 0);
    for i in 0..runs {
        let question = conformance::request("Hi! How are you today?", 16);
        let offered = question
            .clone()
            .with_tools(vec![conformance::reminder_tool()], ToolChoice::Auto);
        match rt.block_on(first_words(
            &backend,
            in_cold_conversation(offered, format!("auto/{i}")),
        )) {
            Some(ttft) => auto_words.push(ttft.as_secs_f64()),
            None => auto_called += 1,
        }
        let plain = rt.block_on(first_words(
            &backend,
            in_cold_conversation(question, format!("plain/{i}")),
        ));
        plain_words.push(plain.expect("words").as_secs_f64());
    }
    println!(
        "tool call, required (reminder):         {:>7.1} ms  ({call_prompt}-token prompt, {call_sampled} tokens sampled: {call_text})",
        median(call_secs) * 1e3
    );
    if auto_words.is_empty() {
        println!("Auto choice before words:               the model called the tool every time");
    } else {
        let (auto, plain) = (median(auto_words), median(plain_words));
        println!(
            "TTFT with Auto choosing words:          {:>7.1} ms  (without tools {:.1} ms: +{:.1} ms; {auto_called} of {runs} runs called instead)",
            auto * 1e3,
            plain * 1e3,
            (auto - plain) * 1e3
        );
    }
    // The bare-loop models are dropped by now: this is natter's backend with
    // every slot warm.
    println!(
        "RSS with 4 warm slots × {CONTEXT} context:  {:>7.0} MB",
        rss_mb()
    );
}
