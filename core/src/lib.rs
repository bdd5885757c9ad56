//! # natter-core — the conversation engine and its contracts
//!
//! natter is a framework for LLM chat bots. This crate holds everything that is
//! the same on every platform and every model; the other crates plug into the
//! traits defined here and never into each other.
//!
//! | module | owns |
//! |---|---|
//! | [`message`] | who said what, where: [`Incoming`], [`ConversationKey`], [`ChannelRef`] |
//! | [`chat`] | what a model sees and says: [`ChatMessage`], [`ChatRequest`], [`StreamEvent`] |
//! | [`clock`] | wall-clock time for scheduled jobs, drivable by tests |
//! | [`backend`] | the [`ModelBackend`] trait every model implements |
//! | [`budget`] | model prices, the `[budget]` section, days and months for `/usage` |
//! | [`tool`] | tools the model may call: [`ToolSpec`], [`ToolCall`], the `[tools]` settings |
//! | [`approval`] | confirmations a person gives before a `confirm` tool runs |
//! | [`models`] | the models by name: default, others a persona or `/model` chooses, fallback order |
//! | [`moderator`] | the [`Moderator`] trait: a provider's moderation service |
//! | [`outbox`] | the [`Outbox`] trait every platform adapter implements |
//! | [`store`] | the store traits ([`HistoryStore`], [`StateStore`], [`JobStore`], [`UsageStore`]), the in-memory [`MemoryStore`], the bounded [`CachedStore`] |
//! | [`settings`] | the `[engine]` section and the generation defaults |
//! | [`persona`] | system prompts per conversation, channel and server |
//! | [`place`] | one syntax for where settings apply: platform, server, channel, thread |
//! | [`trigger`] | when natter answers in groups: mention, all, keywords, cooldown |
//! | [`live`] | settings a reload replaces while messages are handled |
//! | [`media`] | pictures and voice: preparing pictures for models, transcription and image services, their limits |
//! | [`history`] | fitting a conversation into the model's token budget |
//! | [`summary`] | rolling summaries of the turns that no longer fit: the request, the cut, the prompt |
//! | [`command`] | parsing `/commands` and describing them for `/help` |
//! | [`plugin`] | the [`Plugin`] trait, the [`PluginContext`] plugins work through, and the one path of plugin failures |
//! | `services` | what the engine and plugins both reach: model, stores, personas, platforms |
//! | [`telemetry`] | the metrics natter records, through the `metrics` facade |
//! | [`delivery`] | getting a (streaming) reply onto a platform: splitting, pacing, coalescing |
//! | [`engine`] | the [`Engine`]: ordering, parallelism, cancellation, built-in commands |
//! | `test_utils` | (feature `test-utils`) a scripted backend and a recording outbox |
//!
//! An adapter turns platform events into [`Incoming`] messages and hands them to
//! an [`Inbox`] it got from [`Engine::attach`]; the engine decides whether and how
//! to answer and talks back through the adapter's [`Outbox`]. Core knows no
//! platform by name: an adapter names its own [`Platform`] and says how its
//! chats are paced ([`Outbox::pacing_key`]).

pub mod approval;
pub mod backend;
pub mod budget;
pub mod chat;
pub mod clock;
pub mod command;
pub mod delivery;
pub mod engine;
pub mod history;
pub mod live;
pub mod media;
pub mod message;
pub mod models;
pub mod moderator;
pub mod outbox;
pub mod persona;
pub mod place;
pub mod plugin;
pub mod secret;
mod services;
pub mod settings;
pub mod store;
pub mod summary;
pub mod telemetry;
#[cfg(feature = "test-utils")]
pub mod test_utils;
pub mod tool;
pub mod trigger;

pub use approval::{Answered, ApprovalRequest, Decision, button_data, parse_button_data};
pub use backend::{Capabilities, ModelBackend, ModelError, estimate_tokens};
pub use budget::{BudgetSettings, Price, Prices, UserLimits};
pub use chat::{
    ChatMessage, ChatRequest, ChatResponse, ChatStream, Completion, FinishReason, GenerationParams,
    ImagePart, Role, StreamEvent, Usage,
};
pub use clock::{Clock, SystemClock, TokioClock};
pub use command::{Command, CommandSpec};
pub use delivery::{OutputFilter, ReplyEvent, Screened};
pub use engine::{
    Connection, Engine, EngineBuilder, EngineError, EngineStats, Inbox, MinuteActivity,
    PlatformStatus, PluginInfo, Receipt, Reload, ReloadRefused, ReloadReport, ReloadRequest,
};
pub use media::{
    AudioClip, GeneratedImage, ImageGenerator, ImageLimits, MediaError, MediaSettings, Transcriber,
    Transcript, VoiceLimits,
};
pub use message::{
    Addressed, Attachment, AttachmentKind, Author, ChannelKind, ChannelRef, ChannelRefError,
    ConversationKey, Incoming, MessageId, Platform,
};
pub use models::{DEFAULT_MODEL, Models, NamedModel, UnknownModel};
pub use moderator::{Moderation, Moderator};
pub use outbox::{
    DeliveryError, DownloadError, LengthUnit, Outbox, OutgoingImage, PlatformLimits, Rate,
    Received, Rendered, TextFormat,
};
pub use persona::{Persona, PersonaError, PersonaSettings, Personas};
pub use place::{Place, PlaceError};
pub use plugin::{
    DefaultErrorHandler, Flow, Hook, JobContext, Plugin, PluginContext, PluginError,
    PluginErrorHandler, PluginFailure, PluginState,
};
pub use settings::{EngineSettings, GroupSettings, LimitSettings, ModelDefaults};
pub use store::{
    CachedStore, ConversationFilter, ConversationSummary, HistoryStore, JobStore, LeasedJob,
    LockGuard, Locks, MemoryStore, NoLocks, RollingSummary, ScheduledJob, StateStore, Store,
    StoreError, Stores, Turn, UsageRecord, UsageScope, UsageStore, UsageTotal, UserTotal,
};
pub use tool::{
    Effect, Permission, ToolCall, ToolChoice, ToolDefinition, ToolInvocation, ToolSettings,
    ToolSpec,
};
pub use trigger::{Answer, TriggerError, TriggerRule, TriggerSettings, Triggers};
