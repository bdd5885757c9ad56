//! The sampler chain for one request: greedy at temperature 0, otherwise
//! top-k, top-p and temperature, seeded; a repetition penalty either way.

use llama_cpp_2::sampling::LlamaSampler;
use natter_core::GenerationParams;

/// Temperature when a request leaves it unset (llama.cpp's own default).
pub const DEFAULT_TEMPERATURE: f32 = 0.8;
/// llama.cpp's "pick a random seed" value.
const RANDOM_SEED: u32 = u32::MAX;

/// Sampling settings that come from `[model.llama]` rather than the request.
#[derive(Clone, Copy, Debug)]
pub struct SamplingDefaults {
    /// Top-k cut-off (0 disables it).
    pub top_k: u32,
    /// Repetition penalty (1.0 disables it).
    pub repeat_penalty: f32,
    /// Window of the repetition penalty.
    pub repeat_last_n: u32,
}

/// Whether `params` ask for greedy decoding.
pub fn is_greedy(params: &GenerationParams) -> bool {
    params.temperature.unwrap_or(DEFAULT_TEMPERATURE) <= 0.0
}

/// The sampler chain for `params`.
pub fn build(params: &GenerationParams, defaults: SamplingDefaults, n_vocab: i32) -> LlamaSampler {
    let mut chain = Vec::with_capacity(5);
    if defaults.repeat_penalty != 1.0 && defaults.repeat_last_n > 0 {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            i32::try_from(defaults.repeat_last_n).unwrap_or(i32::MAX),
            defaults.repeat_penalty,
            0.0,
            0.0,
        ));
    }
    if is_greedy(params) {
        chain.push(LlamaSampler::greedy());
        return LlamaSampler::chain_simple(chain);
    }
    if defaults.top_k > 0 {
        chain.push(LlamaSampler::top_k(
            i32::try_from(defaults.top_k).unwrap_or(i32::MAX),
        ));
    }
    if let Some(p) = params.top_p.filter(|p| *p > 0.0 && *p < 1.0) {
        chain.push(LlamaSampler::top_p(p, 1));
    }
    chain.push(LlamaSampler::temp(
        params.temperature.unwrap_or(DEFAULT_TEMPERATURE),
    ));
    let seed = params.seed.map_or(RANDOM_SEED, |s| {
        u32::try_from(s % u64::from(u32::MAX)).unwrap_or(0)
    });
    chain.push(LlamaSampler::dist(seed));
    LlamaSampler::chain_simple(chain)
}
