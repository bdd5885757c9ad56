//! A platform core has never heard of, added from outside core: its own
//! name, its own outbox, its own rule for which chats share a rate limit —
//! and the engine answers on it, paces it by that rule, and lets plugins post
//! to it by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::test_utils::{OutboxEvent, RecordingOutbox, ScriptedBackend};
use natter_core::{
    Addressed, Author, ChannelRef, Command, CommandSpec, ConversationKey, DeliveryError, Engine,
    Inbox, Incoming, MessageId, Outbox, Platform, PlatformLimits, Plugin, PluginContext,
    PluginError, Rate, Rendered,
};

/// The new platform, named by its adapter.
const MATRIX: Platform = Platform::new("matrix");

/// An adapter for a platform whose rooms live in spaces, and whose rate limit
/// counts per space: every room of a space shares one budget.
struct SpaceOutbox {
    recorded: RecordingOutbox,
}

impl SpaceOutbox {
    fn new() -> Self {
        Self {
            recorded: RecordingOutbox::new(PlatformLimits {
                per_chat: vec![Rate::new(1, Duration::from_secs(1))],
                ..PlatformLimits::unlimited()
            }),
        }
    }
}

#[async_trait]
impl Outbox for SpaceOutbox {
    fn limits(&self) -> PlatformLimits {
        self.recorded.limits()
    }

    fn pacing_key<'a>(&self, to: &'a ChannelRef) -> &'a str {
        to.server.as_deref().unwrap_or(&to.channel)
    }

    async fn typing(&self, to: &ChannelRef) -> Result<(), DeliveryError> {
        self.recorded.typing(to).await
    }

    async fn send(
        &self,
        to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        self.recorded.send(to, text, reply_to).await
    }

    async fn edit(
        &self,
        to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError> {
        self.recorded.edit(to, id, text).await
    }
}

/// `/announce platform:channel text` posts across platforms.
struct Announcer;

#[async_trait]
impl Plugin for Announcer {
    fn name(&self) -> &str {
        "announcer"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new("announce", "Post somewhere else")]
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        let (to, text) = cmd
            .args
            .split_once(' ')
            .ok_or_else(|| PluginError::usage("Usage: /announce WHERE TEXT"))?;
        let to: ChannelRef = to.parse().map_err(|e| PluginError::usage(format!("{e}")))?;
        cx.post(&to, text).await?;
        cx.reply("Posted.").await
    }
}

fn engine() -> (Engine, Inbox, Arc<SpaceOutbox>) {
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .plugin(Arc::new(Announcer), serde_json::Value::Null)
        .build()
        .unwrap();
    let outbox = Arc::new(SpaceOutbox::new());
    let inbox = engine.attach(MATRIX, outbox.clone());
    (engine, inbox, outbox)
}

fn in_room(space: &str, room: &str, text: &str) -> Incoming {
    Incoming {
        key: ConversationKey::new(MATRIX, format!("{space}/{room}")),
        channel: ChannelRef::group(MATRIX, room).in_server(space),
        id: MessageId(format!("{room}-1")),
        author: Author::user("u", "Una"),
        text: text.to_owned(),
        addressed: Addressed::Mentioned,
        replied_to_text: None,
        attachments: Vec::new(),
    }
}

fn send_times(outbox: &SpaceOutbox) -> Vec<(String, tokio::time::Instant)> {
    outbox
        .recorded
        .events()
        .into_iter()
        .filter_map(|event| match event {
            OutboxEvent::Send { to, at, .. } => Some((to.channel, at)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn rooms_of_one_space_share_the_adapters_rate_limit() {
    let (_engine, inbox, outbox) = engine();
    let start = tokio::time::Instant::now();
    let first = inbox.submit(in_room("space", "a", "hello"));
    let second = inbox.submit(in_room("space", "b", "hello"));
    first.handled().await;
    second.handled().await;
    let mut times: Vec<Duration> = send_times(&outbox)
        .into_iter()
        .map(|(_, at)| at - start)
        .collect();
    times.sort();
    assert_eq!(times, [Duration::ZERO, Duration::from_secs(1)]);
}

#[tokio::test(start_paused = true)]
async fn rooms_of_different_spaces_do_not_wait_for_each_other() {
    let (_engine, inbox, outbox) = engine();
    let start = tokio::time::Instant::now();
    let first = inbox.submit(in_room("one", "a", "hello"));
    let second = inbox.submit(in_room("two", "b", "hello"));
    first.handled().await;
    second.handled().await;
    let times: Vec<Duration> = send_times(&outbox)
        .into_iter()
        .map(|(_, at)| at - start)
        .collect();
    assert_eq!(times, [Duration::ZERO, Duration::ZERO]);
    assert_eq!(outbox.recorded.messages(), ["echo: hello", "echo: hello"]);
}

#[tokio::test(start_paused = true)]
async fn plugins_post_to_the_new_platform_by_its_name() {
    let (_engine, inbox, outbox) = engine();
    inbox
        .submit(in_room("space", "a", "/announce matrix:lobby hello all"))
        .handled()
        .await;
    let sent = send_times(&outbox);
    let rooms: Vec<&str> = sent.iter().map(|(room, _)| room.as_str()).collect();
    assert_eq!(rooms, ["lobby", "a"]);
    assert_eq!(outbox.recorded.messages(), ["hello all", "Posted."]);
}
