//! A fake Telegram Bot API server: `POST /bot<token>/<method>` with a JSON body,
//! answered the way Telegram answers (`{"ok":true,"result":…}` or an error with
//! `error_code`, `description` and, for 429, `parameters.retry_after`).
//!
//! - Method names match case-insensitively (teloxide sends `SendMessage`).
//! - `getUpdates` long-polls: it answers as soon as an injected update is there,
//!   or after `min(timeout, 5 s)` with none — well inside teloxide's 17 s HTTP timeout.
//! - Every call is recorded ([`FakeTelegram::calls`]); tests wait on them with
//!   [`FakeTelegram::wait_for`] instead of sleeping.
//! - `parse_mode: "HTML"` text is checked the way Telegram does (known tags,
//!   balanced, escaped `&`/`<`, at most 4096 UTF-16 units of visible text);
//!   a bad one gets 400 "can't parse entities".
//! - Failures can be queued per method ([`Failure`]), and per-chat / per-group
//!   rate limits enforced with 429 `retry_after` ([`FakeTelegram::enforce`]).
//! - Webhook mode: `setWebhook` is recorded and [`FakeTelegram::deliver_webhook`]
//!   posts an update to the registered URL with the secret header.
//! - `allowed_updates` (of `getUpdates` and `setWebhook`) is honoured: an
//!   update of a kind the bot did not ask for is never delivered.
//! - Inline keyboards: `reply_markup` of `sendMessage` / `editMessageText` is
//!   checked (callback data of 1–64 bytes) and kept on the message
//!   ([`BotMessage::buttons`]); an edit without one removes the keyboard, as
//!   Telegram does. [`FakeTelegram::press`] injects a `callback_query` update,
//!   and `answerCallbackQuery` is accepted once per query.
//! - `getChatAdministrators` answers the creator and administrators a test
//!   set with [`FakeTelegram::set_admins`] (ChatMember objects as Telegram
//!   sends them: [`updates::creator`], [`updates::administrator`]); none for
//!   a group it knows of otherwise, 400 "chat not found" for one it does
//!   not, and 400 for a private chat, as Telegram does.
//! - [`FakeTelegram::delay`] makes a method answer late (a slow Bot API).
//! - Files: [`FakeTelegram::add_file`] / [`FakeTelegram::add_file_at`]
//!   register bytes under a new `file_id` ([`FakeFile`]); `getFile` answers
//!   `file_id`, `file_unique_id`, `file_size` and `file_path` (400 "invalid
//!   file_id" for unknown ids, 400 "file is too big" over the cloud API's
//!   20 MB), and `GET /file/bot<token>/<file_path>` serves the bytes
//!   (recorded in [`FakeTelegram::downloads`]). [`FakeTelegram::set_file_size`]
//!   makes `getFile` declare another size, or none.
//! - `sendPhoto` takes the picture as a `multipart/form-data` upload (by
//!   `attach://` reference, as teloxide sends it, or as the `photo` part) or
//!   a known `file_id`; the caption is checked like a message's text (HTML,
//!   at most 1024 UTF-16 units). The upload is on the [`Call`]
//!   ([`Call::file`], [`Call::files`]) and the message ([`BotMessage::photo`]),
//!   and becomes a file the bot can `getFile` again; the answer is a Message
//!   with a `photo` array and the `caption`. An `editMessageText` of it is
//!   refused, as Telegram refuses it.
//! - Media updates: [`updates::photo`], [`updates::voice`], [`updates::audio`]
//!   and [`updates::document`] make messages carrying a [`FakeFile`];
//!   [`updates::with_entity`] marks up a caption as well as a text.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::form::{form_parts, percent_decode};

/// The token tests give the adapter.
pub const TOKEN: &str = "123456:TEST-token_for-the-fake";
/// The fake bot's user id.
pub const BOT_ID: i64 = 123_456;
/// The fake bot's username.
pub const BOT_USERNAME: &str = "natter_test_bot";
/// Longest a `getUpdates` call is held open.
const MAX_POLL: Duration = Duration::from_secs(5);
/// Telegram's message length limit, in UTF-16 code units of visible text.
const MAX_TEXT: usize = 4096;
/// Telegram's caption length limit, in UTF-16 code units of visible text.
pub const MAX_CAPTION: usize = 1024;
/// The largest file the cloud Bot API hands out with `getFile`.
pub const MAX_DOWNLOAD: u64 = 20 * 1024 * 1024;
/// Tags Telegram's HTML parse mode accepts.
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// One recorded Bot API call.
#[derive(Clone, Debug)]
pub struct Call {
    /// The method, lowercased (`sendmessage`).
    pub method: String,
    /// The JSON parameters.
    pub params: Value,
    /// When it arrived.
    pub at: Instant,
    /// The HTTP status answered.
    pub status: u16,
    /// The `result` answered (the sent message for `sendMessage`), or null.
    pub result: Value,
    /// The files uploaded with it (`multipart/form-data`), in order.
    pub files: Vec<Upload>,
}

impl Call {
    /// The `chat_id` parameter, if any.
    pub fn chat(&self) -> Option<i64> {
        self.params.get("chat_id").and_then(Value::as_i64)
    }

    /// The `text` parameter, if any.
    pub fn text(&self) -> Option<&str> {
        self.params.get("text").and_then(Value::as_str)
    }

    /// The `caption` parameter, if any.
    pub fn caption(&self) -> Option<&str> {
        self.params.get("caption").and_then(Value::as_str)
    }

    /// The first file uploaded with it: (file name, bytes).
    pub fn file(&self) -> Option<(String, Vec<u8>)> {
        self.files
            .first()
            .map(|f| (f.file_name.clone(), f.bytes.clone()))
    }

    /// True for sends and edits of messages (what Telegram rate-limits).
    pub fn is_write(&self) -> bool {
        matches!(
            self.method.as_str(),
            "sendmessage" | "editmessagetext" | "sendphoto"
        )
    }

    /// True if it succeeded.
    pub fn ok(&self) -> bool {
        self.status == 200
    }

    /// True for an `answerCallbackQuery` of query `id`.
    pub fn answers(&self, id: &str) -> bool {
        self.method == "answercallbackquery"
            && self.params.get("callback_query_id").and_then(Value::as_str) == Some(id)
    }
}

/// A failure to answer the next call of a method with.
#[derive(Clone, Debug)]
pub enum Failure {
    /// 429 Too Many Requests with `retry_after` seconds.
    RetryAfter(u64),
    /// 400 Bad Request: can't parse entities.
    CantParseEntities,
    /// 400 Bad Request: message is not modified.
    NotModified,
    /// 500 Internal Server Error.
    ServerError,
    /// 400 Bad Request: chat not found (the bot was removed, the id is wrong).
    ChatNotFound,
}

/// The limits the fake enforces, each as (count, window).
#[derive(Clone, Debug, Default)]
pub struct Limits {
    /// Per chat.
    pub per_chat: Option<(u32, Duration)>,
    /// Per group chat (negative chat id), on top of `per_chat`.
    pub per_group: Option<(u32, Duration)>,
    /// Slack for request jitter: a write counts against windows shortened by this.
    pub tolerance: Duration,
}

/// A message the bot posted, as it stands now.
#[derive(Clone, Debug, PartialEq)]
pub struct BotMessage {
    /// The chat.
    pub chat: i64,
    /// Its id.
    pub id: i64,
    /// Its current text (as sent, with markup).
    pub text: String,
    /// Its parse mode, if any.
    pub parse_mode: Option<String>,
    /// The forum topic it is in.
    pub thread: Option<i64>,
    /// The message it replies to.
    pub reply_to: Option<i64>,
    /// The inline keyboard under it now, if any (`{"inline_keyboard": […]}`).
    pub reply_markup: Option<Value>,
    /// The picture, for a `sendPhoto` (then `text` is its caption, maybe empty).
    pub photo: Option<Photo>,
}

/// A file uploaded in a `multipart/form-data` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The form field it came in: `photo`, the id of an `attach://` reference.
    pub field: String,
    /// Its file name, as the client gave it (may be empty).
    pub file_name: String,
    /// Its content type, if the client gave one.
    pub content_type: Option<String>,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A file the fake holds, as `getFile` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeFile {
    /// Its `file_id`, to put in updates and give to `getFile`.
    pub id: String,
    /// Its `file_unique_id`.
    pub unique_id: String,
    /// Its `file_path` (served at `/file/bot<token>/<file_path>`).
    pub path: String,
    /// Its size in bytes, when it was added.
    pub size: u64,
}

/// A picture the bot posted with `sendPhoto`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    /// The file it became at the fake (downloadable with `getFile`).
    pub file: FakeFile,
    /// The upload's file name.
    pub file_name: String,
    /// The bytes uploaded.
    pub bytes: Vec<u8>,
}

/// A file registered with the fake.
struct StoredFile {
    file: FakeFile,
    bytes: Vec<u8>,
    /// What `getFile` declares instead of the real size; `Some(None)` leaves it out.
    declared: Option<Option<u64>>,
    /// No longer served at its path.
    expired: bool,
}

impl BotMessage {
    /// Its buttons now, row by row flattened: (text, callback data).
    pub fn buttons(&self) -> Vec<(String, String)> {
        let rows = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"))
            .and_then(Value::as_array);
        rows.into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .map(|button| {
                let field = |name: &str| button[name].as_str().unwrap_or_default().to_owned();
                (field("text"), field("callback_data"))
            })
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    updates: VecDeque<Value>,
    next_update: i64,
    next_message: i64,
    failures: HashMap<String, VecDeque<Failure>>,
    limits: Limits,
    writes: HashMap<i64, VecDeque<Instant>>,
    messages: BTreeMap<(i64, i64), BotMessage>,
    chats: HashMap<i64, Value>,
    webhook: Option<(String, Option<String>)>,
    /// The update kinds the bot last asked for; `None`: Telegram's default.
    allowed_updates: Option<Vec<String>>,
    /// Callback queries sent, and whether each was answered.
    queries: HashMap<String, bool>,
    poll_delay: Duration,
    forget_calls: bool,
    /// Sends whose text contains one of these are never answered ([`FakeTelegram::hold_sends`]).
    holds: Vec<String>,
    /// Sends being held.
    held: usize,
    watchers: Vec<tokio::sync::mpsc::UnboundedSender<Call>>,
    /// Per group, its creator and administrators as ChatMember objects.
    admins: HashMap<i64, Vec<Value>>,
    /// Per method (lowercase), how long its calls wait before they are answered.
    delays: HashMap<String, Duration>,
    /// Files by `file_id`.
    files: BTreeMap<String, StoredFile>,
    /// Files added so far (for fresh ids).
    files_added: u64,
    /// The paths of file downloads asked for, in order.
    downloads: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    updates_ready: Notify,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Bot API. Dropping it stops the server.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTelegram {
    /// Starts a fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next_update: 1,
                next_message: 1_000,
                ..Inner::default()
            }),
            updates_ready: Notify::new(),
            changed: Notify::new(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Bot API");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// The base URL to give the adapter as `api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Enforces rate limits with 429 answers from now on.
    pub fn enforce(&self, limits: Limits) {
        self.shared.lock().limits = limits;
    }

    /// Answers the next call of `method` (case-insensitive) with `failure`.
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.shared
            .lock()
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default()
            .push_back(failure);
    }

    /// Streams every call from now on to the returned receiver.
    pub fn watch(&self) -> tokio::sync::mpsc::UnboundedReceiver<Call> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.shared.lock().watchers.push(tx);
        rx
    }

    /// Stops keeping calls in memory (for benchmarks, with [`FakeTelegram::watch`]).
    pub fn forget_calls(&self) {
        let mut inner = self.shared.lock();
        inner.forget_calls = true;
        inner.calls = Vec::new();
    }

    /// Sets the creator and administrators of group `chat` that
    /// `getChatAdministrators` answers: ChatMember objects such as
    /// [`updates::creator`] and [`updates::administrator`] make.
    pub fn set_admins(&self, chat: i64, members: Vec<Value>) {
        self.shared.lock().admins.insert(chat, members);
    }

    /// Makes every call of `method` (case-insensitive, not `getUpdates`)
    /// wait `delay` before it is answered; zero for none again.
    pub fn delay(&self, method: &str, delay: Duration) {
        self.shared
            .lock()
            .delays
            .insert(method.to_ascii_lowercase(), delay);
    }

    /// Makes every answered `getUpdates` wait `delay` first (0 by default).
    pub fn set_poll_delay(&self, delay: Duration) {
        self.shared.lock().poll_delay = delay;
    }

    /// Registers `bytes` as a file under a new `file_id`, at file path
    /// `documents/file_<n>`; put it in an update with [`updates::photo`],
    /// [`updates::voice`] and the like.
    pub fn add_file(&self, bytes: impl Into<Vec<u8>>) -> FakeFile {
        let mut inner = self.shared.lock();
        let path = format!("documents/file_{}", inner.files_added);
        store_file(&mut inner, &path, bytes.into())
    }

    /// Registers `bytes` as a file under a new `file_id` at file path `path`
    /// (`voice/file_3.oga`; an absolute path is what a Bot API server
    /// started with `--local` answers).
    pub fn add_file_at(&self, path: &str, bytes: impl Into<Vec<u8>>) -> FakeFile {
        store_file(&mut self.shared.lock(), path, bytes.into())
    }

    /// Makes `getFile` of `file_id` declare `size` bytes (`None`: leave
    /// `file_size` out, as Telegram rarely does) whatever the file holds;
    /// over [`MAX_DOWNLOAD`], `getFile` refuses it as "file is too big".
    pub fn set_file_size(&self, file_id: &str, size: Option<u64>) {
        if let Some(stored) = self.shared.lock().files.get_mut(file_id) {
            stored.declared = Some(size);
        }
    }

    /// Stops serving `file_id`'s bytes at its path (404, as for a
    /// `file_path` older than the hour Telegram keeps it); `getFile` still answers.
    pub fn expire_file(&self, file_id: &str) {
        if let Some(stored) = self.shared.lock().files.get_mut(file_id) {
            stored.expired = true;
        }
    }

    /// The file paths asked for at `/file/bot<token>/…`, in order (found or not).
    pub fn downloads(&self) -> Vec<String> {
        self.shared.lock().downloads.clone()
    }

    /// Queues an update (its `update_id` is filled in) and returns its id.
    pub fn inject(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let id = inner.next_update;
            inner.next_update += 1;
            update["update_id"] = json!(id);
            remember_query(&mut inner, &update);
            if let Some(chat) = update.pointer("/message/chat")
                && let Some(chat_id) = chat.get("id").and_then(Value::as_i64)
            {
                inner.chats.insert(chat_id, chat.clone());
            }
            inner.updates.push_back(update);
            id
        };
        self.shared.updates_ready.notify_waiters();
        id
    }

    /// A fresh message id for an injected user message.
    pub fn next_message_id(&self) -> i64 {
        let mut inner = self.shared.lock();
        inner.next_message += 1;
        inner.next_message
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Calls of `method` (case-insensitive).
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        let method = method.to_ascii_lowercase();
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// How many calls were answered 429.
    pub fn too_many_requests(&self) -> usize {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.status == 429)
            .count()
    }

    /// The bot's messages in `chat`, oldest first, with their current text.
    pub fn messages(&self, chat: i64) -> Vec<BotMessage> {
        self.shared
            .lock()
            .messages
            .values()
            .filter(|m| m.chat == chat)
            .cloned()
            .collect()
    }

    /// Waits until `done` holds for the calls so far (checked after every
    /// call; `done` may query the fake); panics after `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let calls = self.calls();
            if done(&calls) {
                return calls;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let calls = self.calls();
                panic!(
                    "condition not met within {within:?}; calls: {:#?}",
                    calls
                        .iter()
                        .map(|c| (&c.method, c.status, c.params.to_string()))
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    /// A press of the button carrying `data` under bot message `message_id`
    /// in `chat`, by user `from` (see [`updates::user`]): the
    /// `callback_query` update, queued like any other; returns the query's
    /// id. Like a client still showing the button, it does not check that
    /// the message shows it now.
    pub fn press(&self, from: Value, chat: i64, message_id: i64, data: &str) -> String {
        let (id, update) = self.callback_query(from, chat, message_id, data);
        self.inject(update);
        id
    }

    /// The `callback_query` update [`FakeTelegram::press`] injects, and its
    /// id, to deliver some other way (by webhook).
    pub fn callback_query(
        &self,
        from: Value,
        chat: i64,
        message_id: i64,
        data: &str,
    ) -> (String, Value) {
        let mut inner = self.shared.lock();
        let message = inner
            .messages
            .get(&(chat, message_id))
            .cloned()
            .expect("press a button of a message the bot sent");
        let id = format!(
            "{}",
            4_000_000_000_000_000_000_u64 + inner.queries.len() as u64
        );
        inner.queries.insert(id.clone(), false);
        let update = json!({
            "callback_query": {
                "id": id,
                "from": from,
                "message": message_json(&inner, &message),
                "chat_instance": format!("instance{chat}"),
                "data": data,
            }
        });
        (id, update)
    }

    /// Waits for the `answerCallbackQuery` of query `id` and returns it.
    pub async fn wait_for_answer(&self, id: &str, within: Duration) -> Call {
        let calls = self
            .wait_for(within, |calls| calls.iter().any(|c| c.answers(id)))
            .await;
        calls
            .into_iter()
            .find(|c| c.answers(id))
            .expect("the answer waited for")
    }

    /// The webhook URL and secret the bot registered, if any.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        self.shared.lock().webhook.clone()
    }

    /// From now on, a `sendMessage` whose text contains `needle` is taken
    /// and never answered, nor recorded: a request lost on the way, its
    /// sender left waiting (until it gives up or dies).
    pub fn hold_sends(&self, needle: &str) {
        self.shared.lock().holds.push(needle.to_owned());
    }

    /// Sends are answered again ([`FakeTelegram::hold_sends`] no longer applies
    /// to new ones; those held stay unanswered).
    pub fn stop_holding(&self) {
        self.shared.lock().holds.clear();
    }

    /// Waits until `n` sends are being held.
    pub async fn wait_held(&self, n: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.changed.notified();
            if self.shared.lock().held >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("{n} sends were not held within {within:?}");
            }
        }
    }

    /// Posts `update` to the registered webhook as Telegram would; returns the HTTP status.
    pub async fn deliver_webhook(&self, update: Value) -> u16 {
        let (_, secret) = self.webhook().expect("no webhook registered");
        self.deliver_webhook_with(update, secret).await
    }

    /// Posts `update` to the registered webhook with `secret` in the header
    /// (as an impostor would, when it is not the registered one).
    pub async fn deliver_webhook_with(&self, update: Value, secret: Option<String>) -> u16 {
        let (url, _) = self.webhook().expect("no webhook registered");
        self.deliver_webhook_to(&url, update, secret).await
    }

    /// Posts `update` to `url` as Telegram would post it to a webhook (a load
    /// balancer in front of several instances picks one; a test picks `url`).
    pub async fn deliver_webhook_to(
        &self,
        url: &str,
        mut update: Value,
        secret: Option<String>,
    ) -> u16 {
        {
            let mut inner = self.shared.lock();
            let kind = update_kind(&update).unwrap_or_default().to_owned();
            assert!(
                wanted(inner.allowed_updates.as_deref(), &kind),
                "Telegram would not post a {kind} update: the webhook's allowed_updates are {:?}",
                inner.allowed_updates
            );
            update["update_id"] = json!(inner.next_update);
            inner.next_update += 1;
        }
        let url: Uri = url.parse().expect("webhook url");
        let authority = url.authority().expect("webhook host").to_string();
        let path = url.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let body = update.to_string();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(secret) = secret {
            request.push_str(&format!("X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connect to the webhook");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("post to the webhook");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

/// Updates that tests inject: users, chats and messages as Telegram sends them.
pub mod updates {
    use serde_json::{Value, json};

    use super::FakeFile;

    /// A human user.
    pub fn user(id: i64, first_name: &str) -> Value {
        json!({"id": id, "is_bot": false, "first_name": first_name})
    }

    /// Another bot.
    pub fn bot_user(id: i64, username: &str) -> Value {
        json!({"id": id, "is_bot": true, "first_name": username, "username": username})
    }

    /// This bot (the fake's getMe).
    pub fn me() -> Value {
        json!({
            "id": super::BOT_ID, "is_bot": true, "first_name": "Natter",
            "username": super::BOT_USERNAME
        })
    }

    /// Group member `user` (see [`user`]) as the group's creator, the way
    /// `getChatAdministrators` lists them.
    pub fn creator(user: Value) -> Value {
        json!({"status": "creator", "user": user, "is_anonymous": false})
    }

    /// Group member `user` (see [`user`]) as one of the group's
    /// administrators, with the rights Telegram gives a new admin by
    /// default, the way `getChatAdministrators` lists them.
    pub fn administrator(user: Value) -> Value {
        json!({
            "status": "administrator", "user": user,
            "can_be_edited": false, "is_anonymous": false,
            "can_manage_chat": true, "can_delete_messages": true,
            "can_manage_video_chats": true, "can_restrict_members": true,
            "can_promote_members": false, "can_change_info": true,
            "can_invite_users": true, "can_post_stories": false,
            "can_edit_stories": false, "can_delete_stories": false,
            "can_pin_messages": true, "can_manage_topics": false
        })
    }

    /// A private chat with user `id`.
    pub fn private_chat(id: i64, first_name: &str) -> Value {
        json!({"id": id, "type": "private", "first_name": first_name})
    }

    /// A supergroup; a forum when `forum`.
    pub fn group_chat(id: i64, title: &str, forum: bool) -> Value {
        json!({"id": id, "type": "supergroup", "title": title, "is_forum": forum})
    }

    /// A text message update.
    pub fn text(message_id: i64, chat: Value, from: Value, text: &str) -> Value {
        json!({
            "message": {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": chat,
                "from": from,
                "text": text,
            }
        })
    }

    /// The same update with message field `key` set to `value`.
    pub fn with(mut update: Value, key: &str, value: Value) -> Value {
        update["message"][key] = value;
        update
    }

    /// The same update with entities found by `needle` (first occurrence) of
    /// `kind`: in its text, or in its caption (`caption_entities`) if it has none.
    pub fn with_entity(update: Value, kind: &str, needle: &str) -> Value {
        let (field, list) = if update["message"]["text"].is_string() {
            ("text", "entities")
        } else {
            ("caption", "caption_entities")
        };
        let text = update["message"][field].as_str().unwrap_or_default();
        let start = text.find(needle).expect("needle in text");
        let offset = text[..start].encode_utf16().count();
        let length = needle.encode_utf16().count();
        let mut entities = update["message"][list]
            .as_array()
            .cloned()
            .unwrap_or_default();
        entities.push(json!({"type": kind, "offset": offset, "length": length}));
        with(update, list, Value::Array(entities))
    }

    /// A message in forum topic `thread` of `chat`.
    pub fn in_topic(update: Value, thread: i64) -> Value {
        let update = with(update, "message_thread_id", json!(thread));
        with(update, "is_topic_message", json!(true))
    }

    /// A message without text, carrying `field` = `value` (a photo, a voice note…).
    fn media(message_id: i64, chat: Value, from: Value, field: &str, value: Value) -> Value {
        let mut update = text(message_id, chat, from, "");
        if let Some(message) = update["message"].as_object_mut() {
            message.remove("text");
            message.insert(field.to_owned(), value);
        }
        update
    }

    /// `file`'s ids and size, as every file object in an update starts.
    fn file_fields(file: &FakeFile) -> serde_json::Map<String, Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("file_id".into(), json!(file.id));
        fields.insert("file_unique_id".into(), json!(file.unique_id));
        fields.insert("file_size".into(), json!(file.size));
        fields
    }

    /// A photo message: `file` as the largest of its sizes (1280×960, after
    /// a 90×90 thumbnail whose id the fake does not know), with `caption`.
    pub fn photo(
        message_id: i64,
        chat: Value,
        from: Value,
        file: &FakeFile,
        caption: Option<&str>,
    ) -> Value {
        let thumbnail = json!({
            "file_id": format!("{}-thumb", file.id),
            "file_unique_id": format!("{}-thumb", file.unique_id),
            "file_size": 1_000, "width": 90, "height": 90,
        });
        let mut large = file_fields(file);
        large.insert("width".into(), json!(1280));
        large.insert("height".into(), json!(960));
        let update = media(
            message_id,
            chat,
            from,
            "photo",
            json!([thumbnail, Value::Object(large)]),
        );
        match caption {
            Some(caption) => with(update, "caption", json!(caption)),
            None => update,
        }
    }

    /// A voice note `seconds` long, of type `mime` (Telegram's are `audio/ogg`).
    pub fn voice(
        message_id: i64,
        chat: Value,
        from: Value,
        file: &FakeFile,
        seconds: u32,
        mime: &str,
    ) -> Value {
        let mut voice = file_fields(file);
        voice.insert("duration".into(), json!(seconds));
        voice.insert("mime_type".into(), json!(mime));
        media(message_id, chat, from, "voice", Value::Object(voice))
    }

    /// An audio file (a song, a recording sent as a file) `seconds` long.
    pub fn audio(
        message_id: i64,
        chat: Value,
        from: Value,
        file: &FakeFile,
        seconds: u32,
        file_name: &str,
        mime: &str,
    ) -> Value {
        let mut audio = file_fields(file);
        audio.insert("duration".into(), json!(seconds));
        audio.insert("file_name".into(), json!(file_name));
        audio.insert("mime_type".into(), json!(mime));
        media(message_id, chat, from, "audio", Value::Object(audio))
    }

    /// A file sent as a document (an image sent uncompressed, a PDF).
    pub fn document(
        message_id: i64,
        chat: Value,
        from: Value,
        file: &FakeFile,
        file_name: &str,
        mime: &str,
    ) -> Value {
        let mut document = file_fields(file);
        document.insert("file_name".into(), json!(file_name));
        document.insert("mime_type".into(), json!(mime));
        media(message_id, chat, from, "document", Value::Object(document))
    }
}

fn ok(result: Value) -> (u16, Value) {
    (200, json!({"ok": true, "result": result}))
}

fn err(code: u16, description: &str) -> (u16, Value) {
    (
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

fn too_many(retry_after: u64) -> (u16, Value) {
    (
        429,
        json!({
            "ok": false, "error_code": 429,
            "description": format!("Too Many Requests: retry after {retry_after}"),
            "parameters": {"retry_after": retry_after}
        }),
    )
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(rest) = path.strip_prefix("file/bot") {
        return serve_file(&shared, rest);
    }
    let Some((token, method)) = path
        .strip_prefix("bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return (StatusCode::NOT_FOUND, "not a Bot API path").into_response();
    };
    let method = method.to_ascii_lowercase();
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (params, files) = if body.is_empty() {
        (json!({}), Vec::new())
    } else if let Some(boundary) = content_type.split("boundary=").nth(1) {
        form_fields(body.clone(), boundary.trim_matches('"')).await
    } else {
        (
            serde_json::from_slice(&body).unwrap_or(json!({})),
            Vec::new(),
        )
    };
    let arrived = Instant::now();
    if method != "getupdates"
        && let Some(delay) = delayed(&shared, &method)
    {
        tokio::time::sleep(delay).await;
    }
    let (status, answer) = if token != TOKEN {
        err(401, "Unauthorized")
    } else if method == "getupdates" {
        get_updates(&shared, &params).await
    } else if held(&shared, &method, &params) {
        shared.changed.notify_waiters();
        // Never answered: the sender waits until it gives up or dies.
        return std::future::pending::<Response>().await;
    } else {
        answer(&mut shared.lock(), &method, &params, &files, arrived)
    };
    let call = Call {
        method,
        params,
        at: arrived,
        status,
        result: answer.get("result").cloned().unwrap_or(Value::Null),
        files,
    };
    {
        let mut inner = shared.lock();
        inner.watchers.retain(|w| w.send(call.clone()).is_ok());
        if !inner.forget_calls {
            inner.calls.push(call);
        }
    }
    shared.changed.notify_waiters();
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(answer)).into_response()
}

/// How long a call of `method` waits before it is answered, if at all.
fn delayed(shared: &Shared, method: &str) -> Option<Duration> {
    shared
        .lock()
        .delays
        .get(method)
        .copied()
        .filter(|d| !d.is_zero())
}

/// True (and counted) when `method` is a send [`FakeTelegram::hold_sends`] holds.
fn held(shared: &Shared, method: &str, params: &Value) -> bool {
    let mut inner = shared.lock();
    let text = params["text"].as_str().unwrap_or_default();
    let hold = method == "sendmessage" && inner.holds.iter().any(|needle| text.contains(needle));
    if hold {
        inner.held += 1;
    }
    hold
}

/// The fields of a `multipart/form-data` body (teloxide uses it for methods
/// that may carry files, such as `setWebhook` and `sendPhoto`): text fields
/// as parameters, JSON values decoded (but `text` and `caption` kept as
/// written), and file parts as uploads.
async fn form_fields(body: Bytes, boundary: &str) -> (Value, Vec<Upload>) {
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    for part in form_parts(body, boundary).await {
        match part.file_name {
            Some(file_name) => files.push(Upload {
                field: part.name,
                file_name,
                content_type: part.content_type,
                bytes: part.body,
            }),
            None => {
                let value = String::from_utf8_lossy(&part.body).into_owned();
                let decoded = match part.name.as_str() {
                    "text" | "caption" => json!(value),
                    _ => serde_json::from_str(&value).unwrap_or_else(|_| json!(value)),
                };
                fields.insert(part.name, decoded);
            }
        }
    }
    (Value::Object(fields), files)
}

/// Registers `bytes` as a new file at `path`.
fn store_file(inner: &mut Inner, path: &str, bytes: Vec<u8>) -> FakeFile {
    inner.files_added += 1;
    let n = inner.files_added;
    let file = FakeFile {
        id: format!("FAKE-file-{n:06}"),
        unique_id: format!("FAKE-unique-{n:06}"),
        path: path.to_owned(),
        size: bytes.len() as u64,
    };
    inner.files.insert(
        file.id.clone(),
        StoredFile {
            file: file.clone(),
            bytes,
            declared: None,
            expired: false,
        },
    );
    file
}

/// `GET /file/bot<token>/<file_path>`: the file's bytes, as Telegram serves them.
fn serve_file(shared: &Shared, rest: &str) -> Response {
    let (token, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = percent_decode(path);
    let found = {
        let mut inner = shared.lock();
        inner.downloads.push(path.clone());
        inner
            .files
            .values()
            .find(|stored| stored.file.path == path && !stored.expired)
            .map(|stored| stored.bytes.clone())
            .filter(|_| token == TOKEN)
    };
    shared.changed.notify_waiters();
    match found {
        Some(bytes) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        None => {
            let (status, body) = err(404, "Not Found");
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND),
                axum::Json(body),
            )
                .into_response()
        }
    }
}

/// `getFile`: the file's ids, size and path, or why not.
fn get_file(inner: &Inner, params: &Value) -> (u16, Value) {
    let id = params
        .get("file_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(stored) = inner.files.get(id) else {
        return err(400, "Bad Request: invalid file_id");
    };
    let size = stored.declared.unwrap_or(Some(stored.file.size));
    if size.is_some_and(|size| size > MAX_DOWNLOAD) {
        return err(400, "Bad Request: file is too big");
    }
    let mut file = json!({
        "file_id": stored.file.id,
        "file_unique_id": stored.file.unique_id,
        "file_path": stored.file.path,
    });
    if let Some(size) = size {
        file["file_size"] = json!(size);
    }
    ok(file)
}

async fn get_updates(shared: &Shared, params: &Value) -> (u16, Value) {
    let offset = params.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    let timeout = params.get("timeout").and_then(Value::as_u64).unwrap_or(0);
    let wait = Duration::from_secs(timeout).min(MAX_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    if let Some(kinds) = params.get("allowed_updates").and_then(Value::as_array) {
        // Telegram keeps the last list given, for later calls without one.
        shared.lock().allowed_updates = Some(
            kinds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        );
    }
    loop {
        let ready = shared.updates_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        let (batch, delay) = {
            let mut inner = shared.lock();
            // Kinds the bot did not ask for are never delivered.
            let allowed = inner.allowed_updates.clone();
            inner
                .updates
                .retain(|u| wanted(allowed.as_deref(), update_kind(u).unwrap_or_default()));
            // Updates below the offset are confirmed: forget them.
            while inner
                .updates
                .front()
                .and_then(|u| u["update_id"].as_i64())
                .is_some_and(|id| id < offset)
            {
                inner.updates.pop_front();
            }
            let batch: Vec<Value> = inner.updates.iter().take(limit).cloned().collect();
            (batch, inner.poll_delay)
        };
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            return ok(Value::Array(batch));
        }
        let _ = tokio::time::timeout_at(deadline, ready).await;
    }
}

fn answer(
    inner: &mut Inner,
    method: &str,
    params: &Value,
    files: &[Upload],
    now: Instant,
) -> (u16, Value) {
    if let Some(failure) = inner.failures.get_mut(method).and_then(VecDeque::pop_front) {
        return match failure {
            Failure::RetryAfter(secs) => too_many(secs),
            Failure::CantParseEntities => err(
                400,
                "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
            ),
            Failure::NotModified => err(
                400,
                "Bad Request: message is not modified: specified new message content and reply \
                 markup are exactly the same as a current content and reply markup of the message",
            ),
            Failure::ServerError => err(500, "Internal Server Error"),
            Failure::ChatNotFound => err(400, "Bad Request: chat not found"),
        };
    }
    match method {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Natter", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        })),
        "getwebhookinfo" => {
            let url = inner.webhook.as_ref().map_or("", |(u, _)| u.as_str());
            ok(json!({"url": url, "has_custom_certificate": false, "pending_update_count": 0}))
        }
        "deletewebhook" => {
            inner.webhook = None;
            ok(json!(true))
        }
        "setwebhook" => {
            let Some(url) = params.get("url").and_then(Value::as_str) else {
                return err(
                    400,
                    "Bad Request: bad webhook: an HTTPS URL must be provided",
                );
            };
            let secret = params
                .get("secret_token")
                .and_then(Value::as_str)
                .map(str::to_owned);
            inner.webhook = Some((url.to_owned(), secret));
            if let Some(kinds) = params.get("allowed_updates").and_then(Value::as_array) {
                inner.allowed_updates = Some(
                    kinds
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                );
            }
            ok(json!(true))
        }
        "setmycommands" | "deletemycommands" | "sendchataction" => ok(json!(true)),
        "sendmessage" => send_message(inner, params, now),
        "sendphoto" => send_photo(inner, params, files, now),
        "getfile" => get_file(inner, params),
        "editmessagetext" => edit_message(inner, params, now),
        "answercallbackquery" => answer_callback_query(inner, params),
        "getchatadministrators" => chat_administrators(inner, params),
        _ => err(404, "Not Found: method not found"),
    }
}

fn chat_administrators(inner: &Inner, params: &Value) -> (u16, Value) {
    let Some(chat) = params.get("chat_id").and_then(Value::as_i64) else {
        return err(400, "Bad Request: chat not found");
    };
    if chat > 0 {
        return err(
            400,
            "Bad Request: there are no administrators in the private chat",
        );
    }
    match inner.admins.get(&chat) {
        Some(members) => ok(Value::Array(members.clone())),
        None if inner.chats.contains_key(&chat) => ok(json!([])),
        None => err(400, "Bad Request: chat not found"),
    }
}

fn check_text(params: &Value) -> Result<String, (u16, Value)> {
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| err(400, "Bad Request: message text is empty"))?;
    let visible = visible_text(params, text)?;
    if visible.trim().is_empty() {
        return Err(err(400, "Bad Request: message text is empty"));
    }
    if visible.encode_utf16().count() > MAX_TEXT {
        return Err(err(400, "Bad Request: message is too long"));
    }
    Ok(visible)
}

/// Checks a `caption` (which may be left out, or empty) as Telegram does.
fn check_caption(params: &Value) -> Result<(), (u16, Value)> {
    let Some(caption) = params.get("caption").and_then(Value::as_str) else {
        return Ok(());
    };
    let visible = visible_text(params, caption)?;
    if visible.encode_utf16().count() > MAX_CAPTION {
        return Err(err(400, "Bad Request: message caption is too long"));
    }
    Ok(())
}

/// The text a reader sees of `text` under the `parse_mode` of `params`.
fn visible_text(params: &Value, text: &str) -> Result<String, (u16, Value)> {
    Ok(match params.get("parse_mode").and_then(Value::as_str) {
        Some("HTML") => parse_html(text)
            .map_err(|why| err(400, &format!("Bad Request: can't parse entities: {why}")))?,
        Some(other) => {
            return Err(err(
                400,
                &format!("Bad Request: unsupported parse_mode {other}"),
            ));
        }
        None => text.to_owned(),
    })
}

/// Checks Telegram HTML and returns the visible text.
pub fn parse_html(html: &str) -> Result<String, String> {
    let mut visible = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        visible.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('&') {
            let end = rest
                .find(';')
                .ok_or_else(|| "unterminated entity".to_owned())?;
            let entity = &rest[1..end];
            visible.push(match entity {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                _ => entity
                    .strip_prefix('#')
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("unsupported entity &{entity};"))?,
            });
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').ok_or_else(|| "unclosed tag".to_owned())?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            match open.pop() {
                Some(top) if top == name => {}
                other => return Err(format!("unmatched end tag {name} (open: {other:?})")),
            }
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or_default();
        if !TAGS.contains(&name) {
            return Err(format!("Unsupported start tag \"{name}\""));
        }
        if open
            .iter()
            .any(|o| o == "pre" || o == "code" || (o == "a" && name == "a"))
            && !(name == "code" && open.last().is_some_and(|o| o == "pre"))
        {
            return Err(format!("tag {name} can't be nested in {open:?}"));
        }
        if name == "blockquote" && open.iter().any(|o| o == "blockquote") {
            return Err("blockquotes can't be nested".into());
        }
        open.push(name.to_owned());
    }
    visible.push_str(rest);
    match open.last() {
        Some(tag) => Err(format!(
            "can't find end tag corresponding to start tag {tag}"
        )),
        None => Ok(visible),
    }
}

/// Counts a write in `chat` against the limits, or says how long to wait.
fn rate_check(inner: &mut Inner, chat: i64, now: Instant) -> Option<u64> {
    let limits = inner.limits.clone();
    let stamps = inner.writes.entry(chat).or_default();
    let mut wait: Option<Duration> = None;
    let rates = [
        Some(limits.per_chat),
        Some(limits.per_group.filter(|_| chat < 0)),
    ];
    for (count, per) in rates.into_iter().flatten().flatten() {
        let window = per.saturating_sub(limits.tolerance);
        let recent: Vec<&Instant> = stamps
            .iter()
            .filter(|&&t| now.duration_since(t) < window)
            .collect();
        if recent.len() >= count as usize {
            let oldest = **recent.first().expect("non-empty window");
            let free_in = window.saturating_sub(now.duration_since(oldest));
            wait = Some(wait.map_or(free_in, |w| w.max(free_in)));
        }
    }
    if let Some(wait) = wait {
        return Some(wait.as_secs_f64().ceil().max(1.0) as u64);
    }
    stamps.push_back(now);
    let keep = [limits.per_chat, limits.per_group]
        .into_iter()
        .flatten()
        .map(|(_, per)| per)
        .max()
        .unwrap_or_default();
    while stamps
        .front()
        .is_some_and(|&t| now.duration_since(t) > keep)
    {
        stamps.pop_front();
    }
    None
}

fn chat_object(inner: &Inner, chat: i64) -> Value {
    inner.chats.get(&chat).cloned().unwrap_or_else(|| {
        if chat > 0 {
            json!({"id": chat, "type": "private", "first_name": "User"})
        } else {
            json!({"id": chat, "type": "supergroup", "title": "Group"})
        }
    })
}

fn message_json(inner: &Inner, m: &BotMessage) -> Value {
    let mut message = json!({
        "message_id": m.id,
        "date": 1_700_000_000,
        "chat": chat_object(inner, m.chat),
        "from": updates::me(),
    });
    let shown = parse_html_or_plain(&m.text, m.parse_mode.as_deref());
    match &m.photo {
        Some(photo) => {
            message["photo"] = json!([{
                "file_id": photo.file.id, "file_unique_id": photo.file.unique_id,
                "file_size": photo.file.size, "width": 512, "height": 512,
            }]);
            if !shown.is_empty() {
                message["caption"] = json!(shown);
            }
        }
        None => message["text"] = json!(shown),
    }
    if let Some(thread) = m.thread {
        message["message_thread_id"] = json!(thread);
        message["is_topic_message"] = json!(true);
    }
    if let Some(markup) = &m.reply_markup {
        message["reply_markup"] = markup.clone();
    }
    message
}

/// The kind of an update: its one field besides `update_id`.
fn update_kind(update: &Value) -> Option<&str> {
    update
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|key| *key != "update_id")
}

/// True when an update of `kind` reaches a bot that asked for `allowed`
/// (`None` or empty: every kind but the three Telegram sends only on request).
fn wanted(allowed: Option<&[String]>, kind: &str) -> bool {
    match allowed {
        Some(kinds) if !kinds.is_empty() => kinds.iter().any(|k| k == kind),
        _ => !matches!(
            kind,
            "chat_member" | "message_reaction" | "message_reaction_count"
        ),
    }
}

/// Registers the id of an injected `callback_query`, so it can be answered.
fn remember_query(inner: &mut Inner, update: &Value) {
    if let Some(id) = update.pointer("/callback_query/id").and_then(Value::as_str) {
        inner.queries.entry(id.to_owned()).or_insert(false);
    }
}

/// The inline keyboard `params` set, checked as Telegram checks it; `None`
/// for none (no `reply_markup`, or an empty keyboard).
fn check_keyboard(params: &Value) -> Result<Option<Value>, (u16, Value)> {
    let Some(markup) = params.get("reply_markup") else {
        return Ok(None);
    };
    let Some(rows) = markup.get("inline_keyboard").and_then(Value::as_array) else {
        return Err(err(
            400,
            "Bad Request: can't parse reply keyboard markup JSON object",
        ));
    };
    for button in rows
        .iter()
        .flat_map(|row| row.as_array().into_iter().flatten())
    {
        let text = button
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if text.is_empty() {
            return Err(err(
                400,
                "Bad Request: text buttons are unallowed in the inline keyboard",
            ));
        }
        if let Some(data) = button.get("callback_data") {
            let size = data.as_str().map_or(0, str::len);
            if !(1..=64).contains(&size) {
                return Err(err(400, "Bad Request: BUTTON_DATA_INVALID"));
            }
        }
    }
    let buttons = rows.iter().filter_map(Value::as_array).flatten().count();
    Ok((buttons > 0).then(|| markup.clone()))
}

fn answer_callback_query(inner: &mut Inner, params: &Value) -> (u16, Value) {
    let id = params
        .get("callback_query_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.chars().count() > 200 {
        return err(400, "Bad Request: MESSAGE_TOO_LONG");
    }
    match inner.queries.get_mut(id) {
        Some(answered @ false) => {
            *answered = true;
            ok(json!(true))
        }
        _ => err(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
    }
}

fn parse_html_or_plain(text: &str, mode: Option<&str>) -> String {
    match mode {
        Some("HTML") => parse_html(text).unwrap_or_else(|_| text.to_owned()),
        _ => text.to_owned(),
    }
}

/// The bot's next message in `chat`, as `params` describe it: its text from
/// the parameter `text_key` (`text`, or a photo's `caption`), its parse
/// mode, topic and reply.
fn new_message(
    inner: &mut Inner,
    chat: i64,
    params: &Value,
    text_key: &str,
    reply_markup: Option<Value>,
    photo: Option<Photo>,
) -> BotMessage {
    inner.next_message += 1;
    BotMessage {
        chat,
        id: inner.next_message,
        text: params[text_key].as_str().unwrap_or_default().to_owned(),
        parse_mode: params
            .get("parse_mode")
            .and_then(Value::as_str)
            .map(str::to_owned),
        thread: params.get("message_thread_id").and_then(Value::as_i64),
        reply_to: params
            .pointer("/reply_parameters/message_id")
            .and_then(Value::as_i64),
        reply_markup,
        photo,
    }
}

fn send_message(inner: &mut Inner, params: &Value, now: Instant) -> (u16, Value) {
    let Some(chat) = params.get("chat_id").and_then(Value::as_i64) else {
        return err(400, "Bad Request: chat not found");
    };
    if let Err(e) = check_text(params) {
        return e;
    }
    let reply_markup = match check_keyboard(params) {
        Ok(markup) => markup,
        Err(e) => return e,
    };
    if let Some(wait) = rate_check(inner, chat, now) {
        return too_many(wait);
    }
    let message = new_message(inner, chat, params, "text", reply_markup, None);
    let json = message_json(inner, &message);
    inner.messages.insert((chat, message.id), message);
    ok(json)
}

/// `sendPhoto`: the picture uploaded (by `attach://` reference or as the
/// `photo` part) or a known `file_id`, with a checked caption.
fn send_photo(inner: &mut Inner, params: &Value, files: &[Upload], now: Instant) -> (u16, Value) {
    let Some(chat) = params.get("chat_id").and_then(Value::as_i64) else {
        return err(400, "Bad Request: chat not found");
    };
    let upload = match params.get("photo") {
        Some(Value::String(reference)) => match reference.strip_prefix("attach://") {
            Some(id) => files.iter().find(|f| f.field == id).cloned(),
            None => inner.files.get(reference).map(|stored| Upload {
                field: "photo".into(),
                file_name: stored
                    .file
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .into(),
                content_type: None,
                bytes: stored.bytes.clone(),
            }),
        },
        None => files.iter().find(|f| f.field == "photo").cloned(),
        Some(_) => None,
    };
    let Some(upload) = upload else {
        return err(400, "Bad Request: wrong file identifier/HTTP URL specified");
    };
    if upload.bytes.is_empty() {
        return err(400, "Bad Request: file must be non-empty");
    }
    if let Err(e) = check_caption(params) {
        return e;
    }
    let reply_markup = match check_keyboard(params) {
        Ok(markup) => markup,
        Err(e) => return e,
    };
    if let Some(wait) = rate_check(inner, chat, now) {
        return too_many(wait);
    }
    let path = format!("photos/file_{}.jpg", inner.files_added);
    let file = store_file(inner, &path, upload.bytes.clone());
    let photo = Photo {
        file,
        file_name: upload.file_name,
        bytes: upload.bytes,
    };
    let message = new_message(inner, chat, params, "caption", reply_markup, Some(photo));
    let json = message_json(inner, &message);
    inner.messages.insert((chat, message.id), message);
    ok(json)
}

fn edit_message(inner: &mut Inner, params: &Value, now: Instant) -> (u16, Value) {
    let (Some(chat), Some(id)) = (
        params.get("chat_id").and_then(Value::as_i64),
        params.get("message_id").and_then(Value::as_i64),
    ) else {
        return err(400, "Bad Request: message to edit not found");
    };
    let Some(existing) = inner.messages.get(&(chat, id)).cloned() else {
        return err(400, "Bad Request: message to edit not found");
    };
    if existing.photo.is_some() {
        return err(400, "Bad Request: there is no text in the message to edit");
    }
    if let Err(e) = check_text(params) {
        return e;
    }
    // No keyboard in the edit: the message loses the one it had.
    let reply_markup = match check_keyboard(params) {
        Ok(markup) => markup,
        Err(e) => return e,
    };
    let text = params["text"].as_str().unwrap_or_default().to_owned();
    let parse_mode = params
        .get("parse_mode")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if existing.text == text
        && existing.parse_mode == parse_mode
        && existing.reply_markup == reply_markup
    {
        return err(
            400,
            "Bad Request: message is not modified: specified new message content and reply \
             markup are exactly the same as a current content and reply markup of the message",
        );
    }
    if let Some(wait) = rate_check(inner, chat, now) {
        return too_many(wait);
    }
    let updated = BotMessage {
        text,
        parse_mode,
        reply_markup,
        ..existing
    };
    let json = message_json(inner, &updated);
    inner.messages.insert((chat, id), updated);
    ok(json)
}

#[cfg(test)]
mod tests {
    use super::{Bytes, form_fields, parse_html};

    #[tokio::test]
    async fn multipart_bodies_keep_binary_files_and_decode_fields() {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n123\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"a1\"; filename=\"p.png\"\r\n\
Content-Type: image/png\r\n\r\n"
            .to_vec();
        body.extend_from_slice(b"\x89PNG\r\n\x00\xff--X");
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let (fields, files) = form_fields(Bytes::from(body), "XyZ").await;
        assert_eq!(fields["chat_id"], -100);
        assert_eq!(fields["caption"], "123", "a caption stays text");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].field, "a1");
        assert_eq!(files[0].file_name, "p.png");
        assert_eq!(files[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(files[0].bytes, b"\x89PNG\r\n\x00\xff--X");
    }

    #[test]
    fn html_checks() {
        assert_eq!(parse_html("<b>a &amp; b</b>").unwrap(), "a & b");
        assert!(parse_html("<b>a</i>").is_err());
        assert!(parse_html("<div>x</div>").is_err());
        assert!(parse_html("a & b").is_err());
        assert!(parse_html("<pre><code class=\"language-rust\">x</code></pre>").is_ok());
        assert!(parse_html("<code><b>x</b></code>").is_err());
        assert!(parse_html("<b>open").is_err());
    }
}
