//! [`Courier`]: delivers text and streamed replies through one [`Outbox`],
//! split to the platform's length, paced by its [`Pacer`], with the latest text
//! winning over edits that had to wait, and the final text always delivered.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::pacer::{PaceKey, Pacer, Priority};
use super::screen::{OutputFilter, Released, Screen, screen_whole};
use super::split::split_once;
use crate::approval::ApprovalRequest;
use crate::backend::ModelError;
use crate::chat::{ChatStream, Completion, StreamEvent};
use crate::message::{ChannelRef, MessageId, Platform};
use crate::outbox::{DeliveryError, Outbox, OutgoingImage, PlatformLimits, Rendered};
use crate::telemetry;

/// Attempts at delivering one final part before giving up.
const FINAL_ATTEMPTS: u32 = 8;
/// First back-off after a transient failure; doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Shown when a model finishes without saying anything.
const EMPTY_REPLY: &str = "(The model returned an empty reply.)";
/// Appended to a reply stopped with `/stop`.
const STOPPED_NOTE: &str = "(stopped)";

/// One event of a reply being made: the model's text, a passing status line
/// (a tool at work), and how it ended.
#[derive(Debug)]
pub enum ReplyEvent {
    /// More of the reply's text.
    Text(String),
    /// A line shown under the text while the reply is being made (where the
    /// platform streams), until the next text or the end replaces it.
    Status(String),
    /// A short line to add at the end of the reply (not part of its text:
    /// history keeps what the model said), e.g. which model answered.
    Note(String),
    /// The reply is complete.
    Done(Completion),
    /// The model failed.
    Failed(ModelError),
}

impl From<Result<StreamEvent, ModelError>> for ReplyEvent {
    fn from(event: Result<StreamEvent, ModelError>) -> Self {
        match event {
            Ok(StreamEvent::Delta(text)) => ReplyEvent::Text(text),
            Ok(StreamEvent::Done(completion)) => ReplyEvent::Done(completion),
            Err(error) => ReplyEvent::Failed(error),
        }
    }
}

/// How a streamed reply ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// The model finished and the whole reply was delivered.
    Completed(Completion),
    /// `/stop` or shutdown cancelled it; what had arrived was delivered, marked as stopped.
    Cancelled,
    /// The model failed; what had arrived was delivered with a short notice.
    ModelFailed(ModelError),
    /// The platform would not take the final text.
    DeliveryFailed(DeliveryError),
    /// An output filter blocked the reply; its notice was shown instead.
    Blocked,
}

/// The outcome of [`Courier::stream_reply`].
#[derive(Debug)]
pub struct Streamed {
    /// What the user was shown of the model's text, screened by the output
    /// filters (without notices added for the user).
    pub text: String,
    /// How it ended.
    pub end: StreamEnd,
    /// The platform messages the reply occupies, in order.
    pub messages: Vec<MessageId>,
}

/// Delivers replies through one outbox within its platform limits.
pub struct Courier {
    /// The platform, for metrics' labels.
    platform: Platform,
    outbox: Arc<dyn Outbox>,
    limits: PlatformLimits,
    pacer: Pacer,
    filters: Arc<[Arc<dyn OutputFilter>]>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Whether a put is the last word for its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// An intermediate edit: skipped when the platform pushes back.
    Partial,
    /// Must arrive: retried through rate limits and transient failures.
    Final,
}

/// One reply being delivered, possibly across several messages.
struct Reply<'a> {
    reply_to: Option<&'a MessageId>,
    /// Users the messages may notify (see [`Rendered::notify`]).
    notify: &'a [String],
    messages: Vec<MessageId>,
    current: Option<MessageId>,
    shown: Option<Rendered>,
    pending: String,
    /// A passing status line, shown under the text of partial edits only.
    status: Option<String>,
}

impl<'a> Reply<'a> {
    fn new(reply_to: Option<&'a MessageId>, notify: &'a [String], pending: String) -> Self {
        Self {
            reply_to,
            notify,
            messages: Vec::new(),
            current: None,
            shown: None,
            pending,
            status: None,
        }
    }

    fn has_visible_text(&self) -> bool {
        !self.pending.trim().is_empty()
    }

    /// What a partial edit shows: the text so far, then the status line.
    fn partial(&self, suffix: &str) -> String {
        match &self.status {
            Some(status) if self.has_visible_text() => {
                format!("{}\n\n{status}{suffix}", self.pending)
            }
            Some(status) => format!("{status}{suffix}"),
            None => format!("{}{suffix}", self.pending),
        }
    }
}

impl Courier {
    /// A courier for `outbox` (reading its limits once) that screens
    /// everything it sends through `filters`.
    pub fn new(outbox: Arc<dyn Outbox>, filters: Arc<[Arc<dyn OutputFilter>]>) -> Self {
        let limits = outbox.limits();
        let pacer = Pacer::new(&limits);
        Self {
            platform: Platform::new("unnamed"),
            outbox,
            limits,
            pacer,
            filters,
        }
    }

    /// The same courier, delivering to `platform` (named in metrics).
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// Markup mentioning a user on this platform (see [`Outbox::mention`]).
    pub fn mention(&self, user_id: &str, display_name: &str) -> String {
        self.outbox.mention(user_id, display_name)
    }

    /// The outbox this courier delivers through.
    pub fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.outbox
    }

    /// The platform limits in force.
    pub fn limits(&self) -> &PlatformLimits {
        &self.limits
    }

    /// The pacer shared by every delivery through this courier.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// The chat a delivery to `to` counts against, as the platform says.
    fn pace_key<'a>(&self, to: &'a ChannelRef) -> PaceKey<'a> {
        PaceKey {
            chat: self.outbox.pacing_key(to),
            group: !to.is_private(),
        }
    }

    fn fits(&self, markdown: &str) -> bool {
        if self.limits.max_len == usize::MAX {
            return true;
        }
        let unit = self.limits.unit;
        let rendered = unit.measure(&self.outbox.render(markdown).text);
        rendered.saturating_add(unit.measure(&self.limits.streaming_suffix)) <= self.limits.max_len
    }

    /// Sends `markdown` as one or more messages, the first replying to `reply_to`.
    /// Output filters screen it first.
    pub async fn send_text(
        &self,
        to: &ChannelRef,
        markdown: &str,
        reply_to: Option<&MessageId>,
    ) -> Result<Vec<MessageId>, DeliveryError> {
        self.send_notice(to, markdown, reply_to, &[]).await
    }

    /// [`Courier::send_text`] that may notify the users in `notify` (platform
    /// ids) mentioned in it, e.g. a reminder's owner.
    pub async fn send_notice(
        &self,
        to: &ChannelRef,
        markdown: &str,
        reply_to: Option<&MessageId>,
        notify: &[String],
    ) -> Result<Vec<MessageId>, DeliveryError> {
        let pending = match screen_whole(&self.filters, to, markdown) {
            Released::Text(text) => text,
            Released::Blocked(notice) => notice,
        };
        let mut reply = Reply::new(reply_to, notify, pending);
        self.flush(to, &mut reply, Mode::Final, false).await?;
        Ok(reply.messages)
    }

    /// Puts `approval` to its asker in `to` (paced like any send); returns
    /// the message asking it.
    pub async fn ask(
        &self,
        to: &ChannelRef,
        approval: &ApprovalRequest,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let question = match screen_whole(&self.filters, to, &approval.question) {
            Released::Text(text) => text,
            Released::Blocked(notice) => notice,
        };
        let approval = ApprovalRequest {
            question,
            ..approval.clone()
        };
        self.paced(to, || self.outbox.send_approval(to, &approval, reply_to))
            .await
    }

    /// Runs `post` (one new message in `to`) when the chat's pacing allows,
    /// again after the wait the platform asks for when it rate-limits, up to
    /// [`FINAL_ATTEMPTS`] times.
    async fn paced<F>(
        &self,
        to: &ChannelRef,
        post: impl Fn() -> F,
    ) -> Result<MessageId, DeliveryError>
    where
        F: Future<Output = Result<MessageId, DeliveryError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pacer.acquire(self.pace_key(to)).await;
            match post().await {
                Err(DeliveryError::RetryAfter(wait)) if attempt < FINAL_ATTEMPTS => {
                    telemetry::platform_rate_limited(self.platform);
                    telemetry::delivery_retry(self.platform);
                    self.pacer.hold(self.pace_key(to), wait);
                }
                result => return result,
            }
        }
    }

    /// Posts a picture in `to` with `caption` (Markdown, screened by the
    /// output filters like any text; a blocked caption is replaced by the
    /// filter's notice), paced and retried like any send.
    pub async fn send_image(
        &self,
        to: &ChannelRef,
        bytes: Vec<u8>,
        mime: &str,
        caption: &str,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let caption = match screen_whole(&self.filters, to, caption) {
            Released::Text(text) => text,
            Released::Blocked(notice) => notice,
        };
        let image = OutgoingImage::new(bytes, mime, self.outbox.render(&caption));
        self.paced(to, || self.outbox.send_image(to, &image, reply_to))
            .await
    }

    /// Replaces message `id` in `to` with `markdown` (and removes its
    /// buttons): how an approval shows its outcome. Failures are logged.
    pub async fn settle(&self, to: &ChannelRef, id: &MessageId, markdown: &str) {
        self.pacer.acquire(self.pace_key(to)).await;
        let rendered = self.outbox.render(markdown);
        if let Err(error) = self.outbox.edit(to, id, &rendered).await {
            debug!(%error, "could not update a settled message");
        }
    }

    /// Streams a model reply into `to`, editing the message as text arrives
    /// (where the platform streams), and always finishing with the whole text.
    ///
    /// Cancelling `cancel` stops reading the model (dropping its stream) and
    /// finishes the message with what had arrived, marked as stopped. Output
    /// filters screen the text before any of it is shown (see [`super::screen`]);
    /// a blocked reply stops and shows the filter's notice instead.
    pub async fn stream_reply(
        &self,
        to: &ChannelRef,
        reply_to: Option<&MessageId>,
        stream: ChatStream,
        cancel: &CancellationToken,
    ) -> Streamed {
        let events = stream.map(ReplyEvent::from).boxed();
        self.stream_events(to, reply_to, events, cancel).await
    }

    /// [`Courier::stream_reply`] for a reply made of more than one model
    /// call (tools at work between them), with status lines on the way.
    pub async fn stream_events(
        &self,
        to: &ChannelRef,
        reply_to: Option<&MessageId>,
        mut stream: BoxStream<'_, ReplyEvent>,
        cancel: &CancellationToken,
    ) -> Streamed {
        let mut reply = Reply::new(reply_to, &[], String::new());
        let mut screen = Screen::new(&self.filters, to);
        let mut dirty = false;
        let mut notes: Vec<String> = Vec::new();
        self.typing(to).await;
        // The first partial edit goes out as soon as pacing allows; later ones
        // keep `min_edit_interval` apart.
        let mut next_edit = tokio::time::Instant::now();
        let mut typing = self
            .limits
            .typing_every
            .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));

        let end = loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break StreamEnd::Cancelled,
                event = stream.next() => match event {
                    Some(ReplyEvent::Text(delta)) => match screen.push(&delta) {
                        Released::Text(shown) => {
                            if !shown.is_empty() {
                                reply.pending.push_str(&shown);
                                reply.status = None;
                                dirty = true;
                            }
                        }
                        Released::Blocked(notice) => {
                            reply.pending = notice;
                            break StreamEnd::Blocked;
                        }
                    },
                    Some(ReplyEvent::Status(status)) => {
                        reply.status = Some(match screen_whole(&self.filters, to, &status) {
                            Released::Text(text) => text,
                            Released::Blocked(_) => "🔧 …".into(),
                        });
                        dirty = true;
                    }
                    Some(ReplyEvent::Note(note)) => notes.push(note),
                    Some(ReplyEvent::Done(completion)) => break StreamEnd::Completed(completion),
                    Some(ReplyEvent::Failed(error)) => break StreamEnd::ModelFailed(error),
                    None => break StreamEnd::ModelFailed(ModelError::Protocol(
                        "the stream ended before the reply was complete".into(),
                    )),
                },
                () = async {
                    tokio::time::sleep_until(next_edit).await;
                    self.pacer.acquire_as(self.pace_key(to), Priority::Optional).await;
                }, if self.limits.streaming && dirty && (reply.has_visible_text() || reply.status.is_some()) => {
                    dirty = false;
                    if let Err(error) = self.flush(to, &mut reply, Mode::Partial, true).await {
                        debug!(%error, "streaming edit failed; the final text will follow");
                    }
                    next_edit = tokio::time::Instant::now() + self.limits.min_edit_interval;
                }
                Some(_) = tick(typing.as_mut()), if reply.messages.is_empty() => self.typing(to).await,
            }
        };
        drop(stream);
        reply.status = None;

        let mut end = end;
        if !screen.is_blocked() {
            match screen.finish() {
                Released::Text(rest) => reply.pending.push_str(&rest),
                Released::Blocked(notice) => {
                    reply.pending = notice;
                    end = StreamEnd::Blocked;
                }
            }
        }
        let text = if screen.is_blocked() {
            String::new()
        } else {
            screen.released().to_owned()
        };
        match &end {
            StreamEnd::Completed(_) if text.trim().is_empty() => reply.pending = EMPTY_REPLY.into(),
            StreamEnd::Completed(_) => {
                for note in &notes {
                    append_note(&mut reply.pending, note);
                }
            }
            StreamEnd::DeliveryFailed(_) | StreamEnd::Blocked => {}
            StreamEnd::Cancelled => append_note(&mut reply.pending, STOPPED_NOTE),
            // Nothing was said: the model's sentence alone.
            StreamEnd::ModelFailed(error) if text.trim().is_empty() => {
                reply.pending = error.user_message();
            }
            // A reply broke off: what came stays, marked.
            StreamEnd::ModelFailed(error) => {
                append_note(&mut reply.pending, &format!("⚠️ {}", error.user_message()));
            }
        }
        let end = match self.flush(to, &mut reply, Mode::Final, false).await {
            Ok(()) => end,
            Err(error) => StreamEnd::DeliveryFailed(error),
        };
        Streamed {
            text,
            end,
            messages: reply.messages,
        }
    }

    async fn typing(&self, to: &ChannelRef) {
        if let Err(error) = self.outbox.typing(to).await {
            debug!(%error, "typing indicator failed");
        }
    }

    /// Delivers what `reply` holds: freezes every complete part that no longer
    /// fits one message, then shows the rest (with the streaming suffix when partial).
    async fn flush(
        &self,
        to: &ChannelRef,
        reply: &mut Reply<'_>,
        mode: Mode,
        mut reserved: bool,
    ) -> Result<(), DeliveryError> {
        while let Some((head, rest)) = split_once(&reply.pending, &|s| self.fits(s)) {
            self.put(to, reply, &head, Mode::Final, reserved).await?;
            reserved = false;
            reply.current = None;
            reply.shown = None;
            reply.pending = rest;
        }
        if mode == Mode::Partial {
            let shown = reply.partial(&self.limits.streaming_suffix);
            self.put(to, reply, &shown, Mode::Partial, reserved).await
        } else if reply.has_visible_text() || reply.messages.is_empty() {
            let last = reply.pending.clone();
            self.put(to, reply, &last, Mode::Final, reserved).await
        } else {
            Ok(())
        }
    }

    /// Shows `markdown` as the reply's current message: sends it if there is
    /// none yet, edits it otherwise. A final put waits out rate limits and
    /// retries transient failures; a partial one gives up at the first pushback.
    async fn put(
        &self,
        to: &ChannelRef,
        reply: &mut Reply<'_>,
        markdown: &str,
        mode: Mode,
        mut reserved: bool,
    ) -> Result<(), DeliveryError> {
        let mut rendered = self.outbox.render(markdown);
        rendered.notify = reply.notify.to_vec();
        if reply.shown.as_ref() == Some(&rendered) {
            return Ok(());
        }
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if !reserved {
                self.pacer.acquire(self.pace_key(to)).await;
            }
            reserved = false;
            let result = match &reply.current {
                None => {
                    let reply_to = if reply.messages.is_empty() {
                        reply.reply_to
                    } else {
                        None
                    };
                    self.outbox.send(to, &rendered, reply_to).await.map(|id| {
                        reply.messages.push(id.clone());
                        reply.current = Some(id);
                    })
                }
                Some(id) => self.outbox.edit(to, id, &rendered).await,
            };
            let error = match result {
                Ok(()) => {
                    reply.shown = Some(rendered);
                    return Ok(());
                }
                Err(error) => error,
            };
            if mode == Mode::Partial || attempt >= FINAL_ATTEMPTS {
                if let DeliveryError::RetryAfter(wait) = error {
                    telemetry::platform_rate_limited(self.platform);
                    self.pacer.hold(self.pace_key(to), wait);
                }
                return Err(error);
            }
            if !matches!(&error, DeliveryError::Rejected(_) if reply.current.is_none()) {
                telemetry::delivery_retry(self.platform);
            }
            match &error {
                DeliveryError::RetryAfter(wait) => {
                    telemetry::platform_rate_limited(self.platform);
                    debug!(?wait, "platform asked to retry later");
                    self.pacer.hold(self.pace_key(to), *wait);
                }
                DeliveryError::Transient(reason) => {
                    warn!(%reason, attempt, "delivery failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                DeliveryError::Rejected(reason) if reply.current.is_some() => {
                    // The message we were editing is gone or frozen: post the text anew.
                    warn!(%reason, "edit refused; sending the text as a new message");
                    reply.current = None;
                }
                DeliveryError::Rejected(_) => return Err(error),
            }
        }
    }
}

fn append_note(text: &mut String, note: &str) {
    if !text.trim().is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(note);
}

/// The next tick of an optional interval; never, without one.
async fn tick(interval: Option<&mut tokio::time::Interval>) -> Option<tokio::time::Instant> {
    match interval {
        Some(interval) => Some(interval.tick().await),
        None => futures::future::pending().await,
    }
}
