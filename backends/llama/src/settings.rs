//! The `[model.llama]` settings section: which GGUF file to run and how.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the default model lands when `scripts/fetch-model.sh` fetches it.
pub const DEFAULT_MODEL_PATH: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Context window used when `context = 0` and the model was trained for more.
pub const DEFAULT_CONTEXT_CAP: u32 = 2048;

/// The `[model.llama]` settings section.
///
/// ```toml
/// [model.llama]
/// path = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
/// threads = 0        # 0 = every core
/// context = 0        # per conversation; 0 = the model's own, at most 2048
/// slots = 4          # conversations kept warm
/// gpu_layers = 0
/// queue = 8          # requests waiting beyond the one generating
/// tools = true       # offer plugin and MCP tools to this model
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlamaSettings {
    /// The GGUF model file, relative to the working directory or absolute.
    pub path: PathBuf,
    /// CPU threads for evaluating prompts; 0 uses every core.
    pub threads: usize,
    /// CPU threads for generating, one token at a time; 0 uses every core,
    /// as llama.cpp's own tools do. On a 2-core machine two threads generate
    /// 1.7× as fast as one in natter's stream (docs/local-model.md).
    pub generation_threads: usize,
    /// Context window of each conversation in tokens; 0 uses the model's
    /// training context, capped at 2,048. The KV cache holds `context × slots`
    /// tokens.
    pub context: u32,
    /// Conversations whose evaluated prompt is kept, so a follow-up turn only
    /// evaluates its new tokens. At least 1.
    pub slots: usize,
    /// Layers offloaded to a GPU (needs a GPU-enabled build of llama.cpp).
    pub gpu_layers: u32,
    /// Requests that may wait while one generates; more are refused as busy.
    pub queue: usize,
    /// Top-k sampling cut-off (0 disables it). Unused when greedy.
    pub top_k: u32,
    /// Repetition penalty over the last `repeat_last_n` generated tokens (1.0 disables it).
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    pub repeat_last_n: u32,
    /// Whether the engine offers this model tools. With tools on offer,
    /// every reply first decides between a tool and words, which costs a
    /// small model about half a second before its first word; `false` saves
    /// that where the model's tool choices are not worth it.
    pub tools: bool,
}

impl Default for LlamaSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_MODEL_PATH),
            threads: 0,
            generation_threads: 0,
            context: 0,
            slots: 4,
            gpu_layers: 0,
            queue: 8,
            top_k: 40,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            tools: true,
        }
    }
}

impl LlamaSettings {
    /// Settings for the model at `path`, everything else default.
    pub fn for_model(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// Threads to use: the setting, or every core when it is 0.
    pub fn effective_threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }

    /// Threads for generation: the setting, or every core when it is 0.
    pub fn effective_generation_threads(&self) -> usize {
        if self.generation_threads > 0 {
            return self.generation_threads;
        }
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }

    /// The context window for a model trained on `trained` tokens.
    pub fn effective_context(&self, trained: u32) -> u32 {
        let trained = if trained == 0 {
            DEFAULT_CONTEXT_CAP
        } else {
            trained
        };
        match self.context {
            0 => trained.min(DEFAULT_CONTEXT_CAP),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_defaults_to_the_models_capped() {
        let s = LlamaSettings::default();
        assert_eq!(s.effective_context(8192), 2048);
        assert_eq!(s.effective_context(1024), 1024);
        assert_eq!(s.effective_context(0), 2048);
        let s = LlamaSettings {
            context: 1024,
            ..LlamaSettings::default()
        };
        assert_eq!(s.effective_context(8192), 1024);
    }

    #[test]
    fn zero_threads_means_every_core() {
        let s = LlamaSettings::default();
        assert!(s.effective_threads() >= 1);
        let s = LlamaSettings {
            threads: 3,
            ..LlamaSettings::default()
        };
        assert_eq!(s.effective_threads(), 3);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(
            LlamaSettings::default().effective_generation_threads(),
            cores
        );
        let s = LlamaSettings {
            generation_threads: 1,
            ..LlamaSettings::default()
        };
        assert_eq!(s.effective_generation_threads(), 1);
    }
}
