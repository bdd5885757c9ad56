//! A fake Discord: the REST API under `/api/v10/...` (reached the way a bot
//! behind an HTTP rate-limit proxy reaches it: `proxy_url` = [`FakeDiscord::proxy_url`])
//! and the gateway websocket at [`FakeDiscord::gateway_url`], speaking plain
//! `ws://` with uncompressed JSON text frames.
//!
//! REST: `GET gateway`, `GET gateway/bot`, `GET users/@me`, `GET channels/{id}`,
//! `POST channels/{id}/messages`, `PATCH channels/{id}/messages/{id}`,
//! `POST channels/{id}/typing`, `POST interactions/{id}/{token}/callback`.
//! Every call is recorded with its JSON body and the time it arrived; every
//! call checks the `Authorization: Bot <token>` header.
//!
//! Message components: the action rows of a create or edit are checked as
//! Discord checks them (rows of 1–5 buttons, custom ids of 1–100
//! characters) and kept on the message ([`Posted::buttons`]); an edit
//! without `components` leaves them as they were, as Discord does.
//! [`FakeDiscord::press`] dispatches an INTERACTION_CREATE (message
//! component) from a given user, and its callback is accepted once.
//!
//! Files: [`FakeDiscord::add_attachment`] and [`FakeDiscord::add_voice_message`]
//! serve bytes from the fake's own HTTP server (`GET /attachments/…`,
//! recorded in [`FakeDiscord::downloads`]) and return the attachment object
//! for a [`Post`] to carry ([`Post::with_attachment`]; a voice message also
//! sets the message's IS_VOICE_MESSAGE flag, [`Post::as_voice_message`]). A
//! message create may come as `multipart/form-data` (`payload_json` and
//! `files[n]`, each matched by an `attachments` entry of the payload): the
//! uploads are on the [`Call`] and the [`Posted`] message (`files`), and the
//! answer lists them as attachments served by the fake. A create with no
//! content, files or components is refused (50006), as Discord refuses it.
//!
//! Gateway: HELLO → IDENTIFY → READY, heartbeat → ACK, dispatches with
//! sequence numbers kept in a log; [`FakeDiscord::request_reconnect`] sends
//! RECONNECT, and a RESUME replays every dispatch after the client's sequence
//! number, then RESUMED. Events posted while no connection is live wait in the
//! log, as Discord holds them for a resumable session.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::form::{form_parts, percent_decode};
pub use crate::telegram::Upload;

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-discord-token";
/// The bot's user id.
pub const BOT_ID: u64 = 700_000_000_000_000_001;
/// Discord's epoch (2015-01-01) in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// How long `wait_*` helpers wait before failing the test.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// The message flag of a voice message (`1 << 13`).
pub const IS_VOICE_MESSAGE: u64 = 1 << 13;

/// One REST call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    /// `GET`, `POST`, `PATCH`, …
    pub method: String,
    /// The path after `/api/v10`, e.g. `/channels/10/messages`.
    pub path: String,
    /// The JSON body (`Value::Null` if none; `payload_json` of a multipart body).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// The files of a multipart body (`files[n]`), in order.
    pub files: Vec<Upload>,
}

impl Call {
    /// True for message creates and edits (what Discord rate-limits per channel).
    pub fn is_write(&self) -> bool {
        self.path.contains("/messages") && (self.method == "POST" || self.method == "PATCH")
    }

    /// The channel id in `/channels/{id}/…`, if any.
    pub fn channel(&self) -> Option<u64> {
        let mut parts = self.path.split('/').skip(1);
        match (parts.next(), parts.next()) {
            (Some("channels"), Some(id)) => id.parse().ok(),
            _ => None,
        }
    }
}

/// A message the bot posted, as it stands now.
#[derive(Clone, Debug, PartialEq)]
pub struct Posted {
    /// Its id.
    pub id: u64,
    /// The channel (or thread) it was posted in.
    pub channel: u64,
    /// Its current text.
    pub content: String,
    /// The message it replies to.
    pub reply_to: Option<u64>,
    /// The `allowed_mentions` it was created with.
    pub allowed_mentions: Value,
    /// How many times it was edited.
    pub edits: usize,
    /// Its action rows now (`[]` for none).
    pub components: Value,
    /// The files uploaded with it.
    pub files: Vec<Upload>,
}

/// A button on a bot message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    /// Its label.
    pub label: String,
    /// Its emoji (a Unicode emoji's name), if any.
    pub emoji: Option<String>,
    /// Its custom id, handed back when it is pressed.
    pub custom_id: String,
    /// Its style: 1 primary, 2 secondary, 3 success, 4 danger, 5 link.
    pub style: u64,
}

impl Posted {
    /// Its buttons now, row after row.
    pub fn buttons(&self) -> Vec<Button> {
        let rows = self.components.as_array().into_iter().flatten();
        rows.flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["type"] == 2)
            .map(|button| Button {
                label: button["label"].as_str().unwrap_or_default().to_owned(),
                emoji: button["emoji"]["name"].as_str().map(str::to_owned),
                custom_id: button["custom_id"].as_str().unwrap_or_default().to_owned(),
                style: button["style"].as_u64().unwrap_or_default(),
            })
            .collect()
    }
}

/// A component interaction dispatched by [`FakeDiscord::press`].
#[derive(Clone, Debug)]
struct Pressed {
    token: String,
    /// The callback's body, once the bot answered.
    response: Option<Value>,
}

/// Someone who writes in the fake.
#[derive(Clone, Debug)]
pub struct User {
    /// User id.
    pub id: u64,
    /// Username.
    pub name: String,
    /// A bot account.
    pub bot: bool,
}

impl User {
    /// A human.
    pub fn human(id: u64, name: &str) -> Self {
        Self {
            id,
            name: name.to_owned(),
            bot: false,
        }
    }

    /// Another bot.
    pub fn bot(id: u64, name: &str) -> Self {
        Self {
            bot: true,
            ..Self::human(id, name)
        }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(), "username": self.name, "discriminator": "0",
            "global_name": null, "avatar": null, "bot": self.bot,
        })
    }
}

/// A MESSAGE_CREATE to post into the fake gateway.
#[derive(Clone, Debug)]
pub struct Post {
    guild: Option<u64>,
    channel: u64,
    author: User,
    content: String,
    mentions: Vec<Value>,
    reply_to: Option<Value>,
    attachments: Vec<Value>,
    flags: u64,
}

impl Post {
    /// A message in server channel (or thread) `channel` of `guild`.
    pub fn in_guild(guild: u64, channel: u64, author: &User, content: &str) -> Self {
        Self {
            guild: Some(guild),
            channel,
            author: author.clone(),
            content: content.to_owned(),
            mentions: Vec::new(),
            reply_to: None,
            attachments: Vec::new(),
            flags: 0,
        }
    }

    /// Attaches `attachment` (from [`FakeDiscord::add_attachment`] or
    /// [`FakeDiscord::add_voice_message`]).
    pub fn with_attachment(mut self, attachment: Value) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Marks it a voice message (flag [`IS_VOICE_MESSAGE`]), as Discord sends
    /// one recorded in the app: no content, one Ogg Opus attachment with a length.
    pub fn as_voice_message(mut self) -> Self {
        self.flags |= IS_VOICE_MESSAGE;
        self
    }

    /// A direct message in DM channel `channel`.
    pub fn direct(channel: u64, author: &User, content: &str) -> Self {
        Self {
            guild: None,
            ..Self::in_guild(0, channel, author, content)
        }
    }

    /// Prefixes `<@bot>` and lists the bot in `mentions`, as Discord does for a mention.
    pub fn mentioning_bot(mut self) -> Self {
        self.content = format!("<@{BOT_ID}> {}", self.content);
        self.mentions.push(bot_user().json());
        self
    }

    /// Makes it a reply to `message` (the bot's), as Discord sends it.
    pub fn replying_to(mut self, message: &Posted) -> Self {
        self.reply_to = Some(json!({
            "id": message.id.to_string(), "channel_id": message.channel.to_string(),
            "author": bot_user().json(), "content": message.content,
            "timestamp": timestamp(), "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0,
        }));
        self
    }
}

fn bot_user() -> User {
    User::bot(BOT_ID, "natter")
}

fn timestamp() -> String {
    // RFC 3339 without pulling in a date crate: whole seconds are enough here.
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// An injected REST failure.
#[derive(Clone, Debug)]
struct Failure {
    method: String,
    path_end: String,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct Inner {
    token: String,
    calls: Vec<Call>,
    posted: BTreeMap<u64, Posted>,
    channels: HashMap<u64, Value>,
    failures: VecDeque<Failure>,
    snowflakes: u64,
    /// The gateway session: id and its dispatch log.
    session: Option<String>,
    sessions_started: u32,
    log: Vec<(u64, Value)>,
    /// The connection events go to, once it has identified or resumed.
    live: Option<(u64, mpsc::UnboundedSender<WsMessage>)>,
    connections: u64,
    identifies: u32,
    resumes: u32,
    reconnects_requested: u32,
    shard: Value,
    /// Close IDENTIFY with 4014 (the app lacks a privileged intent).
    refuse_intents: bool,
    /// Interactions dispatched, by id.
    interactions: HashMap<u64, Pressed>,
    /// Files served at `/attachments/…`, by path: content type and bytes.
    attachments: HashMap<String, (Option<String>, Vec<u8>)>,
    /// Attachment paths asked for, in order.
    downloads: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
    gateway_url: String,
    /// `http://127.0.0.1:PORT`: where REST calls and attachments are served.
    base_url: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

/// A running fake Discord on `127.0.0.1`.
pub struct FakeDiscord {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDiscord {
    /// Starts the fake on a free port, accepting [`TOKEN`].
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Discord");
        let addr = listener.local_addr().expect("local addr");
        let (version, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                token: TOKEN.to_owned(),
                ..Inner::default()
            }),
            version,
            gateway_url: format!("ws://{addr}/gateway"),
            base_url: format!("http://{addr}"),
        });
        let app = Router::new()
            .route("/gateway", get(gateway))
            .route("/attachments/{*rest}", get(attachment))
            .route("/api/v10/{*rest}", any(rest))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake Discord serves");
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// The base URL to give as `proxy_url` (REST goes to `{proxy_url}/api/v10/…`).
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway URL to give as `gateway_url`.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url.clone()
    }

    /// Registers a server text channel (answered at `GET /channels/{id}`).
    pub fn add_channel(&self, guild: u64, channel: u64) {
        self.shared.lock().channels.insert(
            channel,
            json!({"id": channel.to_string(), "type": 0, "guild_id": guild.to_string(),
                   "name": format!("channel-{channel}"), "position": 0,
                   "permission_overwrites": [], "nsfw": false, "parent_id": null}),
        );
    }

    /// Serves `bytes` as an attachment named `filename` of `content_type`
    /// and returns the attachment object for [`Post::with_attachment`], its
    /// `url` pointing at the fake.
    pub fn add_attachment(
        &self,
        filename: &str,
        content_type: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> Value {
        let mut inner = self.shared.lock();
        serve_attachment(
            &mut inner,
            self.addr,
            filename,
            Some(content_type),
            bytes.into(),
        )
    }

    /// Serves `bytes` as the Ogg Opus file of a voice message lasting
    /// `duration_secs`, and returns its attachment object (with
    /// `duration_secs` and a `waveform`); post it with
    /// [`Post::with_attachment`] and [`Post::as_voice_message`].
    pub fn add_voice_message(&self, bytes: impl Into<Vec<u8>>, duration_secs: f64) -> Value {
        let mut attachment = self.add_attachment("voice-message.ogg", "audio/ogg", bytes);
        attachment["duration_secs"] = json!(duration_secs);
        attachment["waveform"] = json!("AAAAAAAAAAAA");
        attachment
    }

    /// The attachment paths fetched from the fake (`/attachments/…`), in
    /// order, served or not.
    pub fn downloads(&self) -> Vec<String> {
        self.shared.lock().downloads.clone()
    }

    /// Registers a public thread `thread` in `parent`.
    pub fn add_thread(&self, guild: u64, parent: u64, thread: u64) {
        self.shared.lock().channels.insert(
            thread,
            json!({"id": thread.to_string(), "type": 11, "guild_id": guild.to_string(),
                   "name": format!("thread-{thread}"), "parent_id": parent.to_string(),
                   "owner_id": "1", "message_count": 0, "member_count": 1,
                   "thread_metadata": {"archived": false, "auto_archive_duration": 1440,
                                       "archive_timestamp": timestamp(), "locked": false}}),
        );
    }

    /// Answers every IDENTIFY with close code 4014 (disallowed intents), as
    /// Discord does when Message Content is not enabled for the application.
    pub fn refuse_privileged_intents(&self) {
        self.shared.lock().refuse_intents = true;
    }

    /// Makes the next REST call with `method` and a path ending in `path_end`
    /// (e.g. `"POST"`, `"/messages"`) fail with `status` and `body`.
    pub fn fail_next(&self, method: &str, path_end: &str, status: u16, body: Value) {
        self.shared.lock().failures.push_back(Failure {
            method: method.to_owned(),
            path_end: path_end.to_owned(),
            status,
            body,
        });
    }

    /// Posts a MESSAGE_CREATE to the gateway; returns the message id.
    pub fn post(&self, post: Post) -> u64 {
        let mut inner = self.shared.lock();
        let id = next_snowflake(&mut inner);
        let mut d = json!({
            "id": id.to_string(), "channel_id": post.channel.to_string(),
            "author": post.author.json(), "content": post.content,
            "timestamp": timestamp(), "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": post.mentions, "mention_roles": [],
            "attachments": post.attachments, "embeds": [], "pinned": false, "type": 0,
            "flags": post.flags,
        });
        if let Some(guild) = post.guild {
            d["guild_id"] = json!(guild.to_string());
            d["member"] = json!({"roles": [], "joined_at": timestamp(), "deaf": false,
                                 "mute": false, "nick": null});
        }
        if let Some(reply) = post.reply_to {
            d["message_reference"] =
                json!({"message_id": reply["id"], "channel_id": reply["channel_id"]});
            d["referenced_message"] = reply;
            d["type"] = json!(19);
        }
        dispatch(&mut inner, "MESSAGE_CREATE", d);
        drop(inner);
        self.shared.changed();
        id
    }

    /// `user` presses the button with `custom_id` on the bot's `message`:
    /// an INTERACTION_CREATE (type 3, message component) on the gateway,
    /// from a server member when the message's channel is a registered
    /// server channel or thread, else from a DM. Returns the interaction id.
    /// Like a client still showing the button, it does not check that the
    /// message shows it now.
    pub fn press(&self, user: &User, message: &Posted, custom_id: &str) -> u64 {
        let mut inner = self.shared.lock();
        let id = next_snowflake(&mut inner);
        let token = format!("fake-interaction-token-{id}");
        let guild = inner
            .channels
            .get(&message.channel)
            .and_then(|c| c["guild_id"].as_str())
            .map(str::to_owned);
        let mut d = json!({
            "id": id.to_string(), "application_id": BOT_ID.to_string(), "type": 3,
            "data": {"custom_id": custom_id, "component_type": 2},
            "channel_id": message.channel.to_string(),
            "token": token, "version": 1, "message": message_json(message, &self.shared.base_url),
            "locale": "en-US", "entitlements": [], "attachment_size_limit": 10_485_760,
        });
        match guild {
            Some(guild) => {
                d["guild_id"] = json!(guild);
                d["guild_locale"] = json!("en-US");
                d["context"] = json!(0);
                d["member"] = json!({
                    "user": user.json(), "roles": [], "joined_at": timestamp(),
                    "deaf": false, "mute": false, "flags": 0, "nick": null,
                    "permissions": "0",
                });
            }
            None => {
                d["context"] = json!(1);
                d["user"] = user.json();
            }
        }
        inner.interactions.insert(
            id,
            Pressed {
                token,
                response: None,
            },
        );
        dispatch(&mut inner, "INTERACTION_CREATE", d);
        drop(inner);
        self.shared.changed();
        id
    }

    /// Waits for the bot's callback to interaction `id` and returns its body.
    pub async fn wait_interaction_response(&self, id: u64) -> Value {
        self.wait_until(&format!("the response to interaction {id}"), |v| {
            v.interaction_response(id).is_some()
        })
        .await;
        self.shared
            .lock()
            .interactions
            .get(&id)
            .and_then(|p| p.response.clone())
            .unwrap_or_default()
    }

    /// Sends RECONNECT (op 7) on the live connection: the client must resume.
    pub fn request_reconnect(&self) {
        let mut inner = self.shared.lock();
        if let Some((_, tx)) = inner.live.take() {
            let _ = tx.send(text(&json!({"op": 7, "d": null})));
        }
        inner.reconnects_requested += 1;
        drop(inner);
        self.shared.changed();
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// The bot's messages in `channel`, oldest first, as they stand now.
    pub fn posted_in(&self, channel: u64) -> Vec<Posted> {
        self.shared
            .lock()
            .posted
            .values()
            .filter(|p| p.channel == channel)
            .cloned()
            .collect()
    }

    /// How many times a client identified (new sessions) and resumed.
    pub fn identifies_and_resumes(&self) -> (u32, u32) {
        let inner = self.shared.lock();
        (inner.identifies, inner.resumes)
    }

    /// Waits until `check` holds for the fake's state; fails the test after 30 s.
    pub async fn wait_until(&self, what: &str, mut check: impl FnMut(&FakeView<'_>) -> bool) {
        let mut version = self.shared.version.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            {
                let inner = self.shared.lock();
                if check(&FakeView { inner: &inner }) {
                    return;
                }
            }
            match tokio::time::timeout_at(deadline, version.changed()).await {
                Ok(Ok(())) => {}
                _ => {
                    let calls = self.calls();
                    panic!(
                        "fake Discord: gave up waiting for {what}; REST calls so far: {:#?}",
                        calls
                            .iter()
                            .map(|c| format!("{} {} {}", c.method, c.path, c.body))
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    /// Waits until a client has identified and received READY.
    pub async fn wait_ready(&self) {
        self.wait_until("READY", |v| {
            v.inner.identifies >= 1 && v.inner.live.is_some()
        })
        .await;
    }

    /// Waits until `channel` holds `count` bot messages and none of them ends
    /// with the streaming marker `…` (i.e. the reply is finished).
    pub async fn wait_replies(&self, channel: u64, count: usize) -> Vec<Posted> {
        self.wait_until(&format!("{count} finished replies in {channel}"), |v| {
            let posted = v.posted_in(channel);
            posted.len() >= count && posted.iter().all(|p| !p.content.ends_with(" …"))
        })
        .await;
        self.posted_in(channel)
    }
}

/// A read-only look at the fake's state inside [`FakeDiscord::wait_until`].
pub struct FakeView<'a> {
    inner: &'a Inner,
}

impl FakeView<'_> {
    /// The REST calls so far.
    pub fn calls(&self) -> &[Call] {
        &self.inner.calls
    }

    /// The bot's messages in `channel`, oldest first.
    pub fn posted_in(&self, channel: u64) -> Vec<Posted> {
        self.inner
            .posted
            .values()
            .filter(|p| p.channel == channel)
            .cloned()
            .collect()
    }

    /// The bot's callback to interaction `id`, once it answered.
    pub fn interaction_response(&self, id: u64) -> Option<&Value> {
        self.inner.interactions.get(&id)?.response.as_ref()
    }

    /// Completed resumes.
    pub fn resumes(&self) -> u32 {
        self.inner.resumes
    }

    /// True while a connection receives events.
    pub fn connected(&self) -> bool {
        self.inner.live.is_some()
    }
}

fn next_snowflake(inner: &mut Inner) -> u64 {
    inner.snowflakes += 1;
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(DISCORD_EPOCH_MS);
    (ms << 22) | (inner.snowflakes & 0x3f_ffff)
}

fn text(value: &Value) -> WsMessage {
    WsMessage::Text(value.to_string().into())
}

/// Logs a dispatch and sends it if a connection is live.
fn dispatch(inner: &mut Inner, kind: &str, d: Value) {
    let seq = inner.log.last().map_or(1, |(s, _)| s + 1);
    let event = json!({"op": 0, "t": kind, "s": seq, "d": d});
    if let Some((_, tx)) = &inner.live {
        let _ = tx.send(text(&event));
    }
    inner.log.push((seq, event));
}

// ---------------------------------------------------------------- gateway

async fn gateway(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| connection(socket, shared))
}

async fn connection(mut socket: WebSocket, shared: Arc<Shared>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<WsMessage>();
    let id = {
        let mut inner = shared.lock();
        inner.connections += 1;
        inner.connections
    };
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 41_250}});
    if socket.send(text(&hello)).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(message) => {
                    let closing = matches!(message, WsMessage::Close(_));
                    if socket.send(message).await.is_err() || closing {
                        break;
                    }
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(frame))) => {
                    let Ok(value) = serde_json::from_str::<Value>(frame.as_str()) else { continue };
                    on_frame(&shared, id, &tx, &value);
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let mut inner = shared.lock();
    if inner.live.as_ref().is_some_and(|(live, _)| *live == id) {
        inner.live = None;
    }
    drop(inner);
    shared.changed();
}

fn strip_bot(token: &str) -> &str {
    token.strip_prefix("Bot ").unwrap_or(token)
}

fn on_frame(shared: &Shared, id: u64, tx: &mpsc::UnboundedSender<WsMessage>, frame: &Value) {
    let mut inner = shared.lock();
    match frame["op"].as_u64() {
        Some(1) => {
            let _ = tx.send(text(&json!({"op": 11})));
        }
        Some(2) => {
            let token = frame["d"]["token"].as_str().unwrap_or_default();
            if strip_bot(token) != inner.token {
                let _ = tx.send(WsMessage::Close(Some(CloseFrame {
                    code: 4004,
                    reason: "Authentication failed.".into(),
                })));
                return;
            }
            if inner.refuse_intents {
                let _ = tx.send(WsMessage::Close(Some(CloseFrame {
                    code: 4014,
                    reason: "Disallowed intent(s).".into(),
                })));
                return;
            }
            inner.identifies += 1;
            inner.sessions_started += 1;
            let session = format!("fake-session-{}", inner.sessions_started);
            inner.session = Some(session.clone());
            inner.log.clear();
            inner.shard = frame["d"]["shard"].clone();
            inner.live = Some((id, tx.clone()));
            let ready = json!({
                "v": 10, "user": bot_user().json(), "guilds": [],
                "session_id": session, "resume_gateway_url": shared.gateway_url,
                "application": {"id": BOT_ID.to_string(), "flags": 0},
                "shard": inner.shard,
            });
            dispatch(&mut inner, "READY", ready);
        }
        Some(6) => {
            let d = &frame["d"];
            let resumable = inner.session.as_deref() == d["session_id"].as_str()
                && strip_bot(d["token"].as_str().unwrap_or_default()) == inner.token;
            if !resumable {
                let _ = tx.send(text(&json!({"op": 9, "d": false})));
                return;
            }
            let from = d["seq"].as_u64().unwrap_or(0);
            for (seq, event) in &inner.log {
                if *seq > from {
                    let _ = tx.send(text(event));
                }
            }
            inner.live = Some((id, tx.clone()));
            inner.resumes += 1;
            dispatch(&mut inner, "RESUMED", json!({}));
        }
        _ => {}
    }
    drop(inner);
    shared.changed();
}

// ---------------------------------------------------------------- REST

fn error(status: StatusCode, message: &str, code: u64) -> Response {
    (
        status,
        axum::Json(json!({"message": message, "code": code})),
    )
        .into_response()
}

async fn rest(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_owned();
    let boundary = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_owned());
    let (body, files) = match boundary {
        Some(boundary) => multipart_body(body.clone(), &boundary).await,
        None => (
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            Vec::new(),
        ),
    };
    let mut inner = shared.lock();
    inner.calls.push(Call {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
        at: Instant::now(),
        files: files.clone(),
    });
    let response = answer(&shared, &mut inner, &method, &path, &headers, body, files);
    drop(inner);
    shared.changed();
    response
}

fn answer(
    shared: &Shared,
    inner: &mut Inner,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Value,
    files: Vec<Upload>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bot {}", inner.token) {
        return error(StatusCode::UNAUTHORIZED, "401: Unauthorized", 0);
    }
    let failing = inner
        .failures
        .iter()
        .position(|f| f.method == method.as_str() && path.ends_with(&f.path_end));
    if let Some(failure) = failing.and_then(|at| inner.failures.remove(at)) {
        let status =
            StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, axum::Json(failure.body)).into_response();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["gateway"]) => axum::Json(json!({"url": shared.gateway_url})).into_response(),
        ("GET", ["gateway", "bot"]) => axum::Json(json!({
            "url": shared.gateway_url, "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                    "max_concurrency": 1},
        }))
        .into_response(),
        ("GET", ["users", "@me"]) => axum::Json(bot_user().json()).into_response(),
        ("GET", ["channels", id]) => match id.parse().ok().and_then(|id| inner.channels.get(&id)) {
            Some(channel) => axum::Json(channel.clone()).into_response(),
            None => error(StatusCode::NOT_FOUND, "Unknown Channel", 10_003),
        },
        ("POST", ["channels", _, "typing"]) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["channels", channel, "messages"]) => {
            let Ok(channel) = channel.parse::<u64>() else {
                return error(StatusCode::NOT_FOUND, "Unknown Channel", 10_003);
            };
            let content = body["content"].as_str().unwrap_or_default().to_owned();
            if content.chars().count() > 2000 {
                return error(StatusCode::BAD_REQUEST, "Invalid Form Body", 50_035);
            }
            let components = body.get("components").cloned().unwrap_or(json!([]));
            if !components_ok(&components) || !files_described(&body, &files) {
                return error(StatusCode::BAD_REQUEST, "Invalid Form Body", 50_035);
            }
            let shows_nothing = components.as_array().is_none_or(Vec::is_empty);
            if content.is_empty() && files.is_empty() && shows_nothing {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Cannot send an empty message",
                    50_006,
                );
            }
            let id = next_snowflake(inner);
            let posted = Posted {
                id,
                channel,
                content,
                reply_to: body["message_reference"]["message_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| body["message_reference"]["message_id"].as_u64()),
                allowed_mentions: body["allowed_mentions"].clone(),
                edits: 0,
                components,
                files,
            };
            for (index, file) in posted.files.iter().enumerate() {
                inner.attachments.insert(
                    upload_path(&posted, index, file),
                    (file.content_type.clone(), file.bytes.clone()),
                );
            }
            let json = message_json(&posted, &shared.base_url);
            inner.posted.insert(id, posted);
            axum::Json(json).into_response()
        }
        ("PATCH", ["channels", _, "messages", id]) => {
            let Some(posted) = id.parse().ok().and_then(|id| inner.posted.get_mut(&id)) else {
                return error(StatusCode::NOT_FOUND, "Unknown Message", 10_008);
            };
            if let Some(content) = body["content"].as_str() {
                if content.chars().count() > 2000 {
                    return error(StatusCode::BAD_REQUEST, "Invalid Form Body", 50_035);
                }
                posted.content = content.to_owned();
            }
            // Left out, components stay as they were.
            if let Some(components) = body.get("components") {
                if !components_ok(components) {
                    return error(StatusCode::BAD_REQUEST, "Invalid Form Body", 50_035);
                }
                posted.components = components.clone();
            }
            posted.edits += 1;
            axum::Json(message_json(posted, &shared.base_url)).into_response()
        }
        ("POST", ["interactions", id, token, "callback"]) => {
            interaction_callback(inner, id, token, body)
        }
        _ => error(StatusCode::NOT_FOUND, "404: Not Found", 0),
    }
}

/// The answer to an interaction: once, with its token, of a type a button
/// press may get (4 message, 5 deferred message, 6 deferred update, 7
/// update, 9 modal); 204 No Content.
fn interaction_callback(inner: &mut Inner, id: &str, token: &str, body: Value) -> Response {
    let Some(pressed) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.interactions.get_mut(&id))
    else {
        return error(StatusCode::NOT_FOUND, "Unknown interaction", 10_062);
    };
    if pressed.token != token {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid interaction token",
            50_027,
        );
    }
    if pressed.response.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "Interaction has already been acknowledged.",
            40_060,
        );
    }
    let kind_ok = matches!(body["type"].as_u64(), Some(4 | 5 | 6 | 7 | 9));
    let content = body["data"]["content"].as_str().unwrap_or_default();
    if !kind_ok || content.chars().count() > 2000 {
        return error(StatusCode::BAD_REQUEST, "Invalid Form Body", 50_035);
    }
    pressed.response = Some(body);
    StatusCode::NO_CONTENT.into_response()
}

/// True for action rows Discord accepts: at most 5 rows of 1–5 buttons,
/// each with a label of at most 80 characters or an emoji, and a custom id
/// of 1–100 characters (a URL instead for link buttons).
fn components_ok(components: &Value) -> bool {
    let Some(rows) = components.as_array() else {
        return false;
    };
    rows.len() <= 5
        && rows.iter().all(|row| {
            let buttons = row["components"].as_array();
            row["type"] == 1
                && buttons.is_some_and(|b| (1..=5).contains(&b.len()))
                && buttons.into_iter().flatten().all(button_ok)
        })
}

fn button_ok(button: &Value) -> bool {
    let label = button["label"].as_str().unwrap_or_default();
    let shows_something = !label.is_empty() || button["emoji"].is_object();
    let target_ok = match button["style"].as_u64() {
        Some(1..=4) => button["custom_id"]
            .as_str()
            .is_some_and(|id| (1..=100).contains(&id.chars().count())),
        Some(5) => button["url"].is_string(),
        _ => false,
    };
    button["type"] == 2 && label.chars().count() <= 80 && shows_something && target_ok
}

/// Where the fake serves upload `index` of `posted`.
fn upload_path(posted: &Posted, index: usize, file: &Upload) -> String {
    format!(
        "/attachments/{}/{}/{index}/{}",
        posted.channel, posted.id, file.file_name
    )
}

/// A `multipart/form-data` message create: the `payload_json` and the files.
async fn multipart_body(body: Bytes, boundary: &str) -> (Value, Vec<Upload>) {
    let mut payload = Value::Null;
    let mut files = Vec::new();
    for part in form_parts(body, boundary).await {
        match part.file_name {
            Some(file_name) => files.push(Upload {
                field: part.name,
                file_name,
                content_type: part.content_type,
                bytes: part.body,
            }),
            None if part.name == "payload_json" => {
                payload = serde_json::from_slice(&part.body).unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    (payload, files)
}

/// True when every uploaded `files[n]` has its `attachments` entry `{id: n}`
/// in the payload, as Discord requires.
fn files_described(body: &Value, files: &[Upload]) -> bool {
    let listed = body["attachments"].as_array().cloned().unwrap_or_default();
    files.iter().all(|file| {
        let Some(n) = file
            .field
            .strip_prefix("files[")
            .and_then(|rest| rest.strip_suffix(']'))
        else {
            return false;
        };
        listed.iter().any(|entry| match &entry["id"] {
            Value::Number(id) => id.to_string() == n,
            Value::String(id) => id == n,
            _ => false,
        })
    })
}

/// Registers `bytes` at a new `/attachments/{id}/{filename}` and returns
/// its attachment object.
fn serve_attachment(
    inner: &mut Inner,
    addr: SocketAddr,
    filename: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> Value {
    let id = next_snowflake(inner);
    let path = format!("/attachments/{id}/{filename}");
    // Discord's CDN links are signed and expire: the query says so.
    let url = format!("http://{addr}{path}?ex=6a000000&is=69000000&hm=fake");
    let attachment = json!({
        "id": id.to_string(), "filename": filename, "size": bytes.len(),
        "url": url, "proxy_url": url, "content_type": content_type,
    });
    inner
        .attachments
        .insert(path, (content_type.map(str::to_owned), bytes));
    attachment
}

/// `GET /attachments/…`: a file served by the fake, as Discord's CDN serves it.
async fn attachment(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let path = percent_decode(uri.path());
    let found = {
        let mut inner = shared.lock();
        inner.downloads.push(path.clone());
        inner.attachments.get(&path).cloned()
    };
    shared.changed();
    match found {
        Some((content_type, bytes)) => {
            let content_type =
                content_type.unwrap_or_else(|| "application/octet-stream".to_owned());
            ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "This content is no longer available.",
        )
            .into_response(),
    }
}

fn message_json(posted: &Posted, base_url: &str) -> Value {
    let attachments: Vec<Value> = posted
        .files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let url = format!("{base_url}{}", upload_path(posted, index, file));
            json!({
                "id": (posted.id + 1 + index as u64).to_string(),
                "filename": file.file_name, "size": file.bytes.len(),
                "url": url, "proxy_url": url, "content_type": file.content_type,
            })
        })
        .collect();
    json!({
        "id": posted.id.to_string(), "channel_id": posted.channel.to_string(),
        "author": bot_user().json(), "content": posted.content,
        "timestamp": timestamp(), "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": attachments, "embeds": [], "pinned": false,
        "type": if posted.reply_to.is_some() { 19 } else { 0 },
        "components": posted.components,
    })
}
