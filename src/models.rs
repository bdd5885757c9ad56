//! The models the settings name, built: `[model]` (the default, loaded at
//! start) and every `[models.NAME]`, with their prices. A local model named
//! more than once is loaded once; one that only a persona, `/model` or the
//! fallback uses is loaded the first time it answers — a deployment that
//! never uses it pays no memory for it.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use natter_core::{
    Capabilities, ChatMessage, ChatRequest, ChatResponse, ChatStream, ModelBackend, ModelError,
    Moderator, Price, Prices,
};
use natter_llama::{LlamaBackend, LlamaSettings};
use natter_openai::OpenAiBackend;
use tokio::sync::OnceCell;

use crate::settings::{BackendKind, BackendSettings, Settings};

/// The models, ready for the engine.
pub struct Built {
    /// `[model]`.
    pub default: Arc<dyn ModelBackend>,
    /// `[models.NAME]`, by name.
    pub named: Vec<(String, Arc<dyn ModelBackend>)>,
    /// The default's provider moderation service, when it has one.
    pub moderator: Option<Arc<dyn Moderator>>,
    /// Every model's price, by the model's own name.
    pub prices: Prices,
}

/// When a local default model is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// Now, so the first reply does not wait for it.
    Now,
    /// Not unless a reply needs it (`natter check` never asks for one).
    Never,
}

/// Builds every model the settings name; with [`Load::Now`] the default is
/// ready when this returns (a local default model is loaded now).
pub async fn build(settings: &Settings, load: Load) -> anyhow::Result<Built> {
    let default_settings = settings.model.backend_settings();
    let (default, moderator) = match default_settings.backend {
        BackendKind::Openai => {
            let openai = Arc::new(
                OpenAiBackend::connect(default_settings.openai.clone())
                    .await
                    .context("cannot set up the model")?,
            );
            (
                openai.clone() as Arc<dyn ModelBackend>,
                Some(openai as Arc<dyn Moderator>),
            )
        }
        BackendKind::Llama if load == Load::Now => {
            (load_llama(default_settings.llama.clone()).await?, None)
        }
        BackendKind::Llama => (
            Arc::new(LazyLlama::new(default_settings.llama.clone())) as Arc<dyn ModelBackend>,
            None,
        ),
    };
    let mut prices = Prices::new();
    add_price(&mut prices, &default, &default_settings);
    let mut named = Vec::new();
    for (name, model) in &settings.models {
        let backend: Arc<dyn ModelBackend> = match model.backend {
            BackendKind::Openai => Arc::new(
                OpenAiBackend::connect(model.openai.clone())
                    .await
                    .with_context(|| format!("cannot set up the model {name}"))?,
            ),
            BackendKind::Llama
                if default_settings.backend == BackendKind::Llama
                    && model.llama == default_settings.llama =>
            {
                Arc::clone(&default)
            }
            BackendKind::Llama => match named.iter().find(|(other, _)| {
                settings
                    .models
                    .get(other)
                    .is_some_and(|o: &BackendSettings| {
                        o.backend == BackendKind::Llama && o.llama == model.llama
                    })
            }) {
                Some((_, loaded)) => Arc::clone(loaded),
                None => Arc::new(LazyLlama::new(model.llama.clone())),
            },
        };
        add_price(&mut prices, &backend, model);
        named.push((name.clone(), backend));
    }
    Ok(Built {
        default,
        named,
        moderator,
        prices,
    })
}

fn add_price(prices: &mut Prices, backend: &Arc<dyn ModelBackend>, settings: &BackendSettings) {
    if settings.price_in.is_some() || settings.price_out.is_some() {
        prices.insert(
            backend.capabilities().model,
            Price {
                input: settings.price_in.unwrap_or(0.0),
                output: settings.price_out.unwrap_or(0.0),
            },
        );
    }
}

/// Loads a local model now (it takes a moment; a terminal is told).
async fn load_llama(settings: LlamaSettings) -> anyhow::Result<Arc<dyn ModelBackend>> {
    if std::io::stderr().is_terminal() {
        let size = std::fs::metadata(&settings.path)
            .map(|m| format!(" ({} MB)", m.len() / 1_000_000))
            .unwrap_or_default();
        eprintln!("loading model {}{size}…", settings.path.display());
    }
    let loaded = tokio::task::spawn_blocking(move || LlamaBackend::load(&settings))
        .await
        .context("the model loader stopped")?;
    Ok(Arc::new(loaded.context("cannot load the local model")?))
}

/// A local model loaded the first time it is asked for a reply.
struct LazyLlama {
    settings: LlamaSettings,
    /// What is known before loading: name and context window from settings.
    capabilities: Capabilities,
    loaded: OnceCell<Arc<LlamaBackend>>,
}

impl LazyLlama {
    fn new(settings: LlamaSettings) -> Self {
        let name = settings
            .path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| settings.path.display().to_string());
        let context = if settings.context == 0 {
            natter_llama::settings::DEFAULT_CONTEXT_CAP
        } else {
            settings.context
        };
        Self {
            capabilities: Capabilities::new("llama", name, context as usize)
                .with_tools(settings.tools),
            settings,
            loaded: OnceCell::new(),
        }
    }

    async fn backend(&self) -> Result<&Arc<LlamaBackend>, ModelError> {
        self.loaded
            .get_or_try_init(|| async {
                tracing::info!(path = %self.settings.path.display(), "loading a local model on first use");
                let settings = self.settings.clone();
                tokio::task::spawn_blocking(move || LlamaBackend::load(&settings))
                    .await
                    .map_err(|e| ModelError::Engine(format!("the model loader stopped: {e}")))?
                    .map(Arc::new)
                    .map_err(|e| ModelError::Engine(format!("cannot load the local model: {e}")))
            })
            .await
    }
}

#[async_trait]
impl ModelBackend for LazyLlama {
    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    /// Exact once loaded; estimated before.
    fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
        match self.loaded.get() {
            Some(backend) => backend.count_tokens(messages),
            None => natter_core::backend::estimate_message_tokens(messages),
        }
    }

    fn is_loaded(&self) -> bool {
        self.loaded.get().is_some()
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        self.backend().await?.stream(request).await
    }

    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.backend().await?.complete(request).await
    }
}
