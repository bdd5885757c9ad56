//! [`LlamaBackend`]: a GGUF model loaded in-process, serving
//! [`ModelBackend`] through the worker thread.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use natter_core::backend::estimate_message_tokens;
use natter_core::{
    Capabilities, ChatMessage, ChatRequest, ChatStream, ModelBackend, ModelError, ToolChoice,
    ToolDefinition,
};
use tracing::instrument;

use crate::error::LlamaError;
use crate::runtime;
use crate::sampler::SamplingDefaults;
use crate::settings::LlamaSettings;
use crate::template::ChatTemplate;
use crate::tools::ToolPlan;
use crate::tools::prompt::ARGUMENTS_LEAD_IN;
use crate::worker::{self, Counters, Job, ToolJob, WorkerConfig};

/// Most tokens evaluated by one llama.cpp call.
const BATCH: u32 = 512;
/// Every GGUF file starts with these bytes.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// What the backend has done so far (monotonic counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LlamaStats {
    /// Prompt tokens evaluated by the model.
    pub prompt_tokens_evaluated: u64,
    /// Prompt tokens found already evaluated in a warm slot.
    pub prompt_tokens_reused: u64,
    /// Tokens sampled, end-of-generation tokens included.
    pub tokens_generated: u64,
    /// Requests that finished.
    pub completed: u64,
    /// Requests whose stream was dropped before they finished.
    pub cancelled: u64,
    /// Requests that failed.
    pub failed: u64,
}

/// A local GGUF model run by llama.cpp in this process.
///
/// Requests are served one at a time by a dedicated thread; up to
/// `queue` more may wait, beyond that [`ModelError::Busy`] is returned.
/// Dropping a reply stream stops its generation within one token.
pub struct LlamaBackend {
    model: Arc<LlamaModel>,
    template: ChatTemplate,
    /// Prepended when the model wants a BOS token and the template gave none.
    bos: Option<LlamaToken>,
    jobs: SyncSender<Job>,
    counters: Arc<Counters>,
    capabilities: Capabilities,
    path: PathBuf,
    file_bytes: u64,
}

impl std::fmt::Debug for LlamaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaBackend")
            .field("path", &self.path)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl LlamaBackend {
    /// Loads the model `settings.path` names and starts its worker thread.
    ///
    /// Blocking (about a quarter of a second for the default model); call it
    /// from `spawn_blocking` inside an async runtime. A missing or invalid
    /// file is an error naming the path and how to get the default model.
    pub fn load(settings: &LlamaSettings) -> Result<Self, LlamaError> {
        if settings.slots == 0 {
            return Err(LlamaError::Settings("slots must be at least 1".into()));
        }
        if settings.context != 0 && settings.context < 64 {
            return Err(LlamaError::Settings(format!(
                "context {} is too small (at least 64 tokens, or 0 for the model's own)",
                settings.context
            )));
        }
        let path = settings.path.clone();
        let file_bytes = check_gguf_file(&path)?;
        let name = model_name(&path);
        tracing::info!(
            model = %name,
            path = %path.display(),
            "loading model ({} MB)…",
            file_bytes.div_ceil(1024 * 1024)
        );
        let started = Instant::now();

        let backend = runtime::backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(settings.gpu_layers);
        let model = LlamaModel::load_from_file(backend, &path, &params).map_err(|e| {
            LlamaError::InvalidModel {
                path: path.clone(),
                reason: format!("llama.cpp could not load it: {e}"),
            }
        })?;
        let model = Arc::new(model);

        let vocab = model.vocab();
        let token_text = |token: LlamaToken| {
            if token.0 < 0 || token.0 >= vocab.n_tokens() {
                return String::new();
            }
            vocab
                .text(token)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let template = ChatTemplate::new(
            model.meta_val_str("tokenizer.chat_template").ok(),
            token_text(vocab.bos()),
            token_text(vocab.eos()),
        );
        let bos = (vocab.should_add_bos() && vocab.bos().0 >= 0).then(|| vocab.bos());

        let n_ctx = settings.effective_context(model.n_ctx_train());
        let threads = i32::try_from(settings.effective_threads()).unwrap_or(1);
        let generation_threads =
            i32::try_from(settings.effective_generation_threads()).unwrap_or(1);
        let config = WorkerConfig {
            n_ctx,
            n_batch: BATCH.min(n_ctx),
            threads,
            generation_threads,
            slots: settings.slots,
            sampling: SamplingDefaults {
                top_k: settings.top_k,
                repeat_penalty: settings.repeat_penalty,
                repeat_last_n: settings.repeat_last_n,
            },
        };
        let counters = Arc::new(Counters::default());
        let (jobs, queue) = sync_channel(settings.queue);
        worker::spawn(Arc::clone(&model), config, Arc::clone(&counters), queue)?;

        tracing::info!(
            model = %name,
            context = n_ctx,
            threads,
            generation_threads,
            slots = settings.slots,
            template = if template.is_fallback() { "ChatML (fallback)" } else { "the model's" },
            tool_history = if template.knows_tools() { "the template's" } else { "as text" },
            elapsed_ms = started.elapsed().as_millis(),
            "model loaded"
        );
        Ok(Self {
            model,
            template,
            bos,
            jobs,
            counters,
            capabilities: Capabilities::new("llama", name, n_ctx as usize)
                .with_tools(settings.tools),
            path,
            file_bytes,
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the model file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Counters of what the backend has done so far.
    pub fn stats(&self) -> LlamaStats {
        let c = &self.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        LlamaStats {
            prompt_tokens_evaluated: get(&c.evaluated),
            prompt_tokens_reused: get(&c.reused),
            tokens_generated: get(&c.generated),
            completed: get(&c.completed),
            cancelled: get(&c.cancelled),
            failed: get(&c.failed),
        }
    }

    /// The prompt tokens for `messages`, templated the model's way.
    pub fn tokenize(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<Vec<LlamaToken>, ModelError> {
        self.prompt_tokens(messages, &[], add_generation_prompt, "")
    }

    /// The prompt tokens for `messages` showing `tools` (to templates that
    /// know tools), followed by the assistant text `lead_in`.
    fn prompt_tokens(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolDefinition],
        add_generation_prompt: bool,
        lead_in: &str,
    ) -> Result<Vec<LlamaToken>, ModelError> {
        let mut text = self
            .template
            .render(messages, tools, add_generation_prompt)
            .map_err(|e| ModelError::Engine(format!("the chat template failed: {e}")))?;
        text.push_str(lead_in);
        let mut tokens = self.model.vocab().tokenize(text.as_bytes(), false, true);
        if let Some(bos) = self.bos
            && tokens.first() != Some(&bos)
        {
            tokens.insert(0, bos);
        }
        Ok(tokens)
    }

    /// Refuses a prompt that leaves no room in the context window.
    fn check_fits(&self, prompt: &[LlamaToken]) -> Result<(), ModelError> {
        let window = self.capabilities.context_window;
        if prompt.len() >= window {
            return Err(ModelError::ContextOverflow {
                needed: prompt.len(),
                available: window.saturating_sub(1),
            });
        }
        Ok(())
    }

    /// The tool stages of `request`, tokenized, when it offers tools.
    fn tool_job(
        &self,
        request: &ChatRequest,
        plan: Option<ToolPlan>,
        shown: &[ToolDefinition],
    ) -> Result<Option<ToolJob>, ModelError> {
        let Some(plan) = plan else {
            return Ok(None);
        };
        let messages = plan.stage_messages(&request.messages);
        let prompt = self.prompt_tokens(&messages, shown, true, &plan.lead_in)?;
        self.check_fits(&prompt)?;
        let arguments_lead_in =
            self.model
                .vocab()
                .tokenize(ARGUMENTS_LEAD_IN.as_bytes(), false, true);
        Ok(Some(ToolJob {
            prompt,
            arguments_lead_in,
            plan,
        }))
    }
}

#[async_trait]
impl ModelBackend for LlamaBackend {
    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
        match self.tokenize(messages, false) {
            Ok(tokens) => tokens.len(),
            Err(error) => {
                tracing::warn!(%error, "token count falls back to an estimate");
                estimate_message_tokens(messages)
            }
        }
    }

    #[instrument(skip_all, fields(conversation = ?request.conversation, messages = request.messages.len()))]
    async fn stream(&self, mut request: ChatRequest) -> Result<ChatStream, ModelError> {
        // With `tools = false` the model is offered none, also when it
        // answers as another model's fallback; a call a plugin requires or
        // names is still made.
        if !self.capabilities.tools && request.tool_choice == ToolChoice::Auto {
            request.tools.clear();
        }
        let plan = ToolPlan::new(&request.tools, &request.tool_choice)
            .map_err(|e| ModelError::Engine(e.to_string()))?;
        // Templates that know tools show the callable ones in both prompts,
        // so the two share their prefix.
        let shown = plan.as_ref().map(ToolPlan::definitions).unwrap_or_default();
        let prompt = self.prompt_tokens(&request.messages, &shown, true, "")?;
        self.check_fits(&prompt)?;
        let tools = self.tool_job(&request, plan, &shown)?;
        let (events, replies) = tokio::sync::mpsc::unbounded_channel();
        let job = Job {
            prompt,
            tools,
            conversation: request.conversation,
            params: request.params,
            events,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ModelError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ModelError::Engine("the model worker has stopped".into()));
            }
        }
        Ok(futures::stream::unfold(replies, |mut replies| async move {
            replies.recv().await.map(|event| (event, replies))
        })
        .boxed())
    }
}

/// The model's name: its file name without `.gguf`.
fn model_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Checks that `path` is a readable GGUF file; returns its size.
fn check_gguf_file(path: &Path) -> Result<u64, LlamaError> {
    let io = |source: std::io::Error| LlamaError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LlamaError::MissingModel {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(LlamaError::InvalidModel {
            path: path.to_path_buf(),
            reason: "it is not a file".into(),
        });
    }
    let mut magic = [0u8; 4];
    let starts_right = file.read_exact(&mut magic).is_ok() && &magic == GGUF_MAGIC;
    if !starts_right {
        return Err(LlamaError::InvalidModel {
            path: path.to_path_buf(),
            reason: "it does not start with the GGUF signature".into(),
        });
    }
    Ok(metadata.len())
}
