//! Counting a 100-turn history the way the engine's history fitting does —
//! each message on its own, through `ModelBackend::count_tokens` — on the
//! OpenAI backend with tiktoken (`gpt-4o-mini`): once on a fresh backend
//! (cold: every message runs through the BPE) and again (cached). Prints the
//! median of each over the rounds and their ratio. No server is contacted.
//!
//! `cargo bench -p natter-openai --bench tokens`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use natter_core::{ChatMessage, ModelBackend, ToolCall};
use natter_openai::{OpenAiBackend, OpenAiSettings};

const TURNS: usize = 100;
const ROUNDS: usize = 25;

const WORDS: &[&str] = &[
    "the",
    "model",
    "answers",
    "questions",
    "about",
    "tea",
    "history",
    "and",
    "rust",
    "code",
    "while",
    "people",
    "chat",
    "in",
    "a",
    "busy",
    "channel",
    "with",
    "emoji",
    "🙂",
    "links",
    "https://example.com/docs",
    "numbers",
    "42",
    "3.14",
    "`inline`",
    "functions",
    "return",
    "Result<T, E>",
    "so",
    "errors",
    "are",
    "values",
    "not",
    "panics",
    "über",
    "naïve",
    "日本語",
];

/// `words` pseudo-random words, deterministic in `seed`.
fn text(seed: usize, words: usize) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..words)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            WORDS[(state >> 33) % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A user message and an answer per turn; every tenth turn calls a tool.
fn history() -> Vec<ChatMessage> {
    let mut messages = Vec::new();
    for turn in 0..TURNS {
        messages.push(ChatMessage::user(text(turn, 20 + turn % 60)).with_name("Ana"));
        if turn % 10 == 9 {
            let id = format!("call_{turn}");
            let arguments = format!(r#"{{"when":"in {turn} minutes","text":"stretch"}}"#);
            messages.push(ChatMessage::tool_calls(
                "",
                vec![ToolCall::new(&id, "remind_set", arguments)],
            ));
            messages.push(ChatMessage::tool_result(&id, "reminder set"));
        }
        messages.push(ChatMessage::assistant(text(turn + 1000, 80 + turn % 170)));
    }
    messages
}

/// Counts each message on its own, as `natter_core::history::fit` does.
fn count_each(backend: &OpenAiBackend, messages: &[ChatMessage]) -> (usize, Duration) {
    let started = Instant::now();
    let total = messages
        .iter()
        .map(|m| backend.count_tokens(std::slice::from_ref(m)))
        .sum();
    (total, started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let messages = history();
    let settings = OpenAiSettings {
        model: "gpt-4o-mini".into(),
        ..OpenAiSettings::default()
    };
    let mut cold = Vec::new();
    let mut cached = Vec::new();
    let mut tokens = 0;
    for _ in 0..ROUNDS {
        let backend = OpenAiBackend::new(settings.clone()).unwrap();
        // Load the BPE tables first: that happens once per process, not per turn.
        backend.count_tokens(&[ChatMessage::user("warm up")]);
        let (first, cold_time) = count_each(&backend, &messages);
        let (second, cached_time) = count_each(&backend, &messages);
        assert_eq!(first, second, "the cache changes no count");
        tokens = first;
        cold.push(cold_time);
        cached.push(cached_time);
    }
    let (cold, cached) = (median(cold), median(cached));
    println!(
        "{TURNS} turns, {} messages, {tokens} tokens; median of {ROUNDS} rounds",
        messages.len()
    );
    println!("cold (every message through tiktoken): {cold:?}");
    println!("cached (second count of the same history): {cached:?}");
    println!(
        "ratio cold / cached: {:.1}x",
        cold.as_secs_f64() / cached.as_secs_f64()
    );
}
