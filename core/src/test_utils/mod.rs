//! Test helpers (feature `test-utils`): a [`ScriptedBackend`] that answers from
//! a script, a [`RecordingOutbox`] that records every send and edit, a
//! [`TestBot`] wiring both to an engine, a picture service with a `/draw` plugin
//! ([`FixedPictures`], [`DrawPlugin`]), and the store conformance suite.
//!
//! ```
//! # tokio_test_shim::run(async {
//! use natter_core::test_utils::TestBot;
//!
//! let bot = TestBot::new();
//! bot.backend.reply("Hello there!");
//! assert_eq!(bot.say("hi").await, vec!["Hello there!"]);
//! # });
//! # mod tokio_test_shim {
//! #     pub fn run(f: impl std::future::Future<Output = ()>) {
//! #         tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! #     }
//! # }
//! ```
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

pub mod conformance;
mod drawing;
mod janitor;
mod store_suite;

pub use drawing::{DrawPlugin, FixedPictures, TINY_PNG};
pub use janitor::Janitor;

pub use store_suite::{
    history_conformance, job_conformance, state_conformance, store_conformance, stores_conformance,
    usage_conformance,
};

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::time::Instant;

use crate::backend::{Capabilities, ModelBackend, ModelError, estimate_message_tokens};
use crate::chat::{
    ChatMessage, ChatRequest, ChatStream, Completion, FinishReason, StreamEvent, Usage,
};
use crate::clock::TokioClock;
use crate::engine::{Engine, EngineBuilder, Inbox};
use crate::message::{
    Addressed, Attachment, Author, ChannelRef, ConversationKey, Incoming, MessageId, Platform,
};
use crate::outbox::{
    DeliveryError, DownloadError, Outbox, OutgoingImage, PlatformLimits, Rendered,
};
use crate::plugin::Plugin;
use crate::tool::ToolCall;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The platform [`TestBot`] attaches, and the one tests' messages come from.
pub const TEST_PLATFORM: Platform = Platform::new("test");

/// One step of a scripted reply.
#[derive(Clone, Debug)]
pub enum Step {
    /// Emit text.
    Delta(String),
    /// Wait (on tokio's clock, so paused-clock tests stay instant).
    Delay(Duration),
    /// Fail the stream with this error.
    Fail(ModelError),
    /// End the stream without `Done`, as a cut connection would.
    Cut,
    /// Never produce anything more (until the stream is dropped).
    Hang,
    /// End the reply calling these tools (`Done` with `FinishReason::ToolCalls`).
    Call(Vec<ToolCall>),
}

/// A model that answers from a script: each queued reply is used once, in
/// order; with the queue empty it echoes the last user message (`echo: …`).
pub struct ScriptedBackend {
    scripts: Mutex<VecDeque<Result<Vec<Step>, ModelError>>>,
    requests: Mutex<Vec<ChatRequest>>,
    model: String,
    context_window: usize,
    takes_tools: bool,
    sees: bool,
    dropped_streams: Arc<AtomicUsize>,
    record_requests: bool,
    next_call: AtomicU64,
    received: tokio::sync::watch::Sender<usize>,
}

impl Default for ScriptedBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedBackend {
    /// An echoing backend with a 4,096-token context window.
    pub fn new() -> Self {
        Self {
            scripts: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            model: "script".into(),
            context_window: 4096,
            takes_tools: true,
            sees: false,
            dropped_streams: Arc::new(AtomicUsize::new(0)),
            record_requests: true,
            next_call: AtomicU64::new(0),
            received: tokio::sync::watch::channel(0).0,
        }
    }

    /// The same backend reporting `model` as its model's name.
    pub fn with_model_name(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// The same backend with another context window.
    pub fn with_context_window(mut self, tokens: usize) -> Self {
        self.context_window = tokens;
        self
    }

    /// The same backend, saying in its capabilities that it takes no tools.
    pub fn without_tools(mut self) -> Self {
        self.takes_tools = false;
        self
    }

    /// The same backend, saying in its capabilities that it sees pictures.
    pub fn with_vision(mut self) -> Self {
        self.sees = true;
        self
    }

    /// The same backend, not keeping requests (for benchmarks).
    pub fn without_recording(mut self) -> Self {
        self.record_requests = false;
        self
    }

    /// Queues a reply of `text` in one delta.
    pub fn reply(&self, text: impl Into<String>) {
        self.script(vec![Step::Delta(text.into())]);
    }

    /// Queues a reply streamed as `chunks`, `every` apart.
    pub fn reply_chunks(&self, chunks: &[&str], every: Duration) {
        let steps = chunks
            .iter()
            .flat_map(|c| [Step::Delay(every), Step::Delta((*c).to_owned())])
            .collect();
        self.script(steps);
    }

    /// Queues a reply that calls tool `name` with `arguments` (JSON text).
    /// Call ids are `call-1`, `call-2`, … in the order calls are scripted.
    pub fn call(&self, name: &str, arguments: &str) {
        self.calls(&[(name, arguments)]);
    }

    /// Queues a reply that calls several tools at once.
    pub fn calls(&self, calls: &[(&str, &str)]) {
        let calls = calls
            .iter()
            .map(|(name, arguments)| {
                let n = self.next_call.fetch_add(1, Ordering::SeqCst) + 1;
                ToolCall::new(format!("call-{n}"), *name, *arguments)
            })
            .collect();
        self.script(vec![Step::Call(calls)]);
    }

    /// Queues a scripted reply. Unless it fails, cuts or hangs, it ends with `Done`.
    pub fn script(&self, steps: Vec<Step>) {
        lock(&self.scripts).push_back(Ok(steps));
    }

    /// Queues a request that fails before streaming starts.
    pub fn fail(&self, error: ModelError) {
        lock(&self.scripts).push_back(Err(error));
    }

    /// Waits until at least `n` requests have arrived (the model is at work).
    pub async fn wait_for_requests(&self, n: usize) {
        let mut received = self.received.subscribe();
        let _ = received.wait_for(|count| *count >= n).await;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> ChatRequest {
        lock(&self.requests)
            .last()
            .cloned()
            .expect("no request was made")
    }

    /// How many streams were dropped before they finished (cancellations).
    pub fn dropped_streams(&self) -> usize {
        self.dropped_streams.load(Ordering::SeqCst)
    }
}

/// Counts a stream as dropped unless it finished.
struct DropGuard {
    finished: bool,
    dropped: Arc<AtomicUsize>,
}

impl DropGuard {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl ModelBackend for ScriptedBackend {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("scripted", &self.model, self.context_window)
            .with_tools(self.takes_tools)
            .with_vision(self.sees)
    }

    fn count_tokens(&self, messages: &[ChatMessage]) -> usize {
        estimate_message_tokens(messages)
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let echo = request
            .messages
            .last()
            .map(|m| format!("echo: {}", m.content))
            .unwrap_or_default();
        if self.record_requests {
            lock(&self.requests).push(request);
        }
        self.received.send_modify(|count| *count += 1);
        let steps = lock(&self.scripts)
            .pop_front()
            .unwrap_or_else(|| Ok(vec![Step::Delta(echo)]))?;
        let guard = DropGuard {
            finished: false,
            dropped: Arc::clone(&self.dropped_streams),
        };
        let state = (VecDeque::from(steps), guard, 0u32, false);
        let stream = futures::stream::unfold(
            state,
            |(mut steps, mut guard, mut emitted, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    match steps.pop_front() {
                        Some(Step::Delta(text)) => {
                            emitted += 1;
                            return Some((
                                Ok(StreamEvent::Delta(text)),
                                (steps, guard, emitted, false),
                            ));
                        }
                        Some(Step::Delay(d)) => tokio::time::sleep(d).await,
                        Some(Step::Fail(error)) => {
                            guard.finished = true;
                            return Some((Err(error), (steps, guard, emitted, true)));
                        }
                        Some(Step::Cut) => {
                            guard.finish();
                            return None;
                        }
                        Some(Step::Hang) => futures::future::pending::<()>().await,
                        Some(Step::Call(calls)) => {
                            guard.finished = true;
                            let done = StreamEvent::Done(Completion {
                                usage: Some(Usage {
                                    prompt_tokens: 1,
                                    completion_tokens: emitted + 1,
                                }),
                                finish_reason: FinishReason::ToolCalls,
                                tool_calls: calls,
                            });
                            return Some((Ok(done), (steps, guard, emitted, true)));
                        }
                        None => {
                            guard.finished = true;
                            let done = StreamEvent::Done(Completion {
                                usage: Some(Usage {
                                    prompt_tokens: 1,
                                    completion_tokens: emitted,
                                }),
                                finish_reason: FinishReason::Stop,
                                tool_calls: Vec::new(),
                            });
                            return Some((Ok(done), (steps, guard, emitted, true)));
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }
}

/// One thing an outbox was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboxEvent {
    /// A typing indicator.
    Typing {
        /// Where.
        to: ChannelRef,
        /// When (tokio clock).
        at: Instant,
    },
    /// A new message.
    Send {
        /// Where.
        to: ChannelRef,
        /// Its id.
        id: MessageId,
        /// Its text.
        text: String,
        /// The message it replies to.
        reply_to: Option<MessageId>,
        /// Users it may notify ([`Rendered::notify`]).
        notify: Vec<String>,
        /// When (tokio clock).
        at: Instant,
    },
    /// An edit.
    Edit {
        /// Where.
        to: ChannelRef,
        /// Which message.
        id: MessageId,
        /// The new text.
        text: String,
        /// When (tokio clock).
        at: Instant,
    },
}

impl OutboxEvent {
    /// When it happened.
    pub fn at(&self) -> Instant {
        match self {
            OutboxEvent::Typing { at, .. }
            | OutboxEvent::Send { at, .. }
            | OutboxEvent::Edit { at, .. } => *at,
        }
    }

    /// True for sends and edits (what platforms rate-limit).
    pub fn is_write(&self) -> bool {
        !matches!(self, OutboxEvent::Typing { .. })
    }
}

/// Which outbox operation an injected failure hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`Outbox::send`].
    Send,
    /// [`Outbox::edit`].
    Edit,
}

/// An outbox that records everything and can be told to fail.
pub struct RecordingOutbox {
    limits: PlatformLimits,
    events: Mutex<Vec<OutboxEvent>>,
    texts: Mutex<BTreeMap<u64, String>>,
    next_id: AtomicU64,
    failures: Mutex<VecDeque<(Op, DeliveryError)>>,
    writes: tokio::sync::watch::Sender<usize>,
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    downloads: Mutex<Vec<String>>,
    images: Mutex<Vec<(ChannelRef, OutgoingImage)>>,
}

impl Default for RecordingOutbox {
    fn default() -> Self {
        Self::new(PlatformLimits::unlimited())
    }
}

impl RecordingOutbox {
    /// An outbox reporting `limits`.
    pub fn new(limits: PlatformLimits) -> Self {
        Self {
            limits,
            events: Mutex::new(Vec::new()),
            texts: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            failures: Mutex::new(VecDeque::new()),
            writes: tokio::sync::watch::channel(0).0,
            files: Mutex::new(BTreeMap::new()),
            downloads: Mutex::new(Vec::new()),
            images: Mutex::new(Vec::new()),
        }
    }

    /// Makes `bytes` downloadable as the attachment `reference`.
    pub fn add_file(&self, reference: &str, bytes: Vec<u8>) {
        lock(&self.files).insert(reference.to_owned(), bytes);
    }

    /// The references of every download asked for, in order.
    pub fn downloads(&self) -> Vec<String> {
        lock(&self.downloads).clone()
    }

    /// Every picture posted, with where.
    pub fn images(&self) -> Vec<(ChannelRef, OutgoingImage)> {
        lock(&self.images).clone()
    }

    /// Waits until at least `n` sends and edits have succeeded.
    pub async fn wait_for_writes(&self, n: usize) {
        let mut writes = self.writes.subscribe();
        let _ = writes.wait_for(|count| *count >= n).await;
    }

    fn count_write(&self) {
        self.writes.send_modify(|count| *count += 1);
    }

    /// Makes the next `op` fail with `error` (queued in order).
    pub fn fail_next(&self, op: Op, error: DeliveryError) {
        lock(&self.failures).push_back((op, error));
    }

    fn injected(&self, op: Op) -> Option<DeliveryError> {
        let mut failures = lock(&self.failures);
        let index = failures.iter().position(|(o, _)| *o == op)?;
        failures.remove(index).map(|(_, e)| e)
    }

    /// Everything recorded, in order.
    pub fn events(&self) -> Vec<OutboxEvent> {
        lock(&self.events).clone()
    }

    /// Sends and edits, in order.
    pub fn writes(&self) -> Vec<OutboxEvent> {
        self.events()
            .into_iter()
            .filter(OutboxEvent::is_write)
            .collect()
    }

    /// The current text of every message sent, in the order they were sent.
    pub fn messages(&self) -> Vec<String> {
        lock(&self.texts).values().cloned().collect()
    }

    /// How many messages were sent.
    pub fn message_count(&self) -> usize {
        lock(&self.texts).len()
    }
}

#[async_trait]
impl Outbox for RecordingOutbox {
    fn limits(&self) -> PlatformLimits {
        self.limits.clone()
    }

    async fn typing(&self, to: &ChannelRef) -> Result<(), DeliveryError> {
        lock(&self.events).push(OutboxEvent::Typing {
            to: to.clone(),
            at: Instant::now(),
        });
        Ok(())
    }

    async fn send(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        if let Some(error) = self.injected(Op::Send) {
            return Err(error);
        }
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let id = MessageId(n.to_string());
        lock(&self.texts).insert(n, text.text.clone());
        lock(&self.events).push(OutboxEvent::Send {
            to: to.clone(),
            id: id.clone(),
            text: text.text.clone(),
            reply_to: reply_to.cloned(),
            notify: text.notify.clone(),
            at: Instant::now(),
        });
        self.count_write();
        Ok(id)
    }

    async fn edit(
        &self,
        to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError> {
        if let Some(error) = self.injected(Op::Edit) {
            return Err(error);
        }
        let n: u64 =
            id.0.parse()
                .map_err(|_| DeliveryError::Rejected(format!("no message {id}")))?;
        match lock(&self.texts).get_mut(&n) {
            Some(current) => *current = text.text.clone(),
            None => return Err(DeliveryError::Rejected(format!("no message {id}"))),
        }
        lock(&self.events).push(OutboxEvent::Edit {
            to: to.clone(),
            id: id.clone(),
            text: text.text.clone(),
            at: Instant::now(),
        });
        self.count_write();
        Ok(())
    }

    async fn download(&self, file: &Attachment, limit: u64) -> Result<Vec<u8>, DownloadError> {
        lock(&self.downloads).push(file.reference.clone());
        let bytes = lock(&self.files)
            .get(&file.reference)
            .cloned()
            .ok_or_else(|| DownloadError::Refused(format!("no file {}", file.reference)))?;
        DownloadError::within(bytes, limit)
    }

    async fn send_image(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let _ = reply_to;
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        lock(&self.images).push((to.clone(), image.clone()));
        self.count_write();
        Ok(MessageId(n.to_string()))
    }
}

/// An engine wired to a [`ScriptedBackend`] and a [`RecordingOutbox`].
pub struct TestBot {
    /// The engine.
    pub engine: Engine,
    /// Where messages go in.
    pub inbox: Inbox,
    /// The scripted model.
    pub backend: Arc<ScriptedBackend>,
    /// The recording platform.
    pub outbox: Arc<RecordingOutbox>,
    next_message: AtomicU64,
}

impl Default for TestBot {
    fn default() -> Self {
        Self::new()
    }
}

impl TestBot {
    /// A bot with default settings, an echoing model and an unlimited outbox.
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// A bot with `plugin` registered (and an empty settings section): the
    /// quickest way to test a plugin.
    pub fn with_plugin(plugin: impl Plugin) -> Self {
        Self::with(|builder| builder.plugin(Arc::new(plugin), serde_json::Value::Null))
    }

    /// A bot whose engine `configure` adjusts (store, plugins, personas…).
    pub fn with(configure: impl FnOnce(EngineBuilder) -> EngineBuilder) -> Self {
        Self::with_parts(
            Arc::new(ScriptedBackend::new()),
            Arc::new(RecordingOutbox::default()),
            configure,
        )
    }

    /// A bot from given parts.
    pub fn with_parts(
        backend: Arc<ScriptedBackend>,
        outbox: Arc<RecordingOutbox>,
        configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
    ) -> Self {
        let builder = Engine::builder(backend.clone()).clock(Arc::new(TokioClock::new()));
        let engine = configure(builder).build().expect("engine builds");
        let inbox = engine.attach(TEST_PLATFORM, outbox.clone());
        Self {
            engine,
            inbox,
            backend,
            outbox,
            next_message: AtomicU64::new(1),
        }
    }

    /// A private-chat message from user `alice`.
    pub fn private(&self, text: &str) -> Incoming {
        self.message(
            ConversationKey::new(TEST_PLATFORM, "private/alice"),
            ChannelRef::private(TEST_PLATFORM, "alice"),
            Author::user("alice", "Alice"),
            Addressed::Private,
            text,
        )
    }

    /// A message in group `group` from `author`, addressed as given.
    pub fn group(&self, group: &str, author: Author, addressed: Addressed, text: &str) -> Incoming {
        self.message(
            ConversationKey::new(TEST_PLATFORM, format!("group/{group}")),
            ChannelRef::group(TEST_PLATFORM, group),
            author,
            addressed,
            text,
        )
    }

    /// A message with everything spelled out.
    pub fn message(
        &self,
        key: ConversationKey,
        channel: ChannelRef,
        author: Author,
        addressed: Addressed,
        text: &str,
    ) -> Incoming {
        let n = self.next_message.fetch_add(1, Ordering::SeqCst);
        Incoming {
            key,
            channel,
            id: MessageId(format!("in-{n}")),
            author,
            text: text.to_owned(),
            addressed,
            replied_to_text: None,
            attachments: Vec::new(),
        }
    }

    /// Submits `message`, waits until it is handled, and returns the final
    /// text of every message the bot sent while handling it.
    pub async fn send(&self, message: Incoming) -> Vec<String> {
        let before = self.outbox.message_count();
        self.inbox.submit(message).handled().await;
        self.outbox.messages().split_off(before)
    }

    /// [`TestBot::send`] of a private message.
    pub async fn say(&self, text: &str) -> Vec<String> {
        self.send(self.private(text)).await
    }
}
