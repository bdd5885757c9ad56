//! A fake OpenAI-compatible Chat Completions server (`POST /v1/chat/completions`,
//! streaming over SSE or not), with a deterministic "model": it answers
//! `echo: <last user message>` one word per chunk, honours `max_tokens`
//! (a word is a token) and `stop` like a real server, and can be scripted to
//! reply with given text or to fail the ways real servers do. Told to
//! ([`FakeOpenAi::sample_unless_greedy`]), it varies its replies as a sampling
//! model does, unless a request is greedy (`temperature` 0) or seeded. `POST
//! /v1/moderations` flags inputs containing words set with
//! [`FakeOpenAi::flag_words`], under the category `harassment`.
//!
//! Tools: scripted calls ([`Behaviour::ToolCalls`], or
//! [`Behaviour::ToolCallsStyled`] for the shapes other servers send) are
//! streamed in pieces as OpenAI streams them and returned whole when not
//! streamed; unscripted, a request whose `tool_choice` is `required` or names
//! a function gets one call of that (or the first) tool with arguments made
//! from its schema. [`FakeOpenAi::reject_tools`] makes it refuse every
//! request offering tools, as Ollama does for a model without them. Requests
//! that get the tool parts of the protocol wrong are refused as OpenAI
//! refuses them (`validate`). Every request is recorded whole
//! ([`Recorded::body`], [`Recorded::tool_names`], [`Recorded::tool_choice`]).
//!
//! Where servers say a model's context window, it answers as OpenAI (the
//! default), Ollama, vLLM or llama.cpp's server does ([`FakeOpenAi::act_as`],
//! `discovery`).
//!
//! Below HTTP: [`FakeOpenAi::hang_up`] makes it accept a connection, read the
//! request and hang up without answering (`hang_up`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Value, json};

mod discovery;
mod hang_up;
mod media;
mod schema;
mod tools;
mod validate;

pub use discovery::{DiscoveryRequest, Server};
pub use hang_up::HangUp;
use hang_up::HangUps;
pub use media::{PICTURE_PNG_BASE64, TranscriptionRequest};
use tools::FakeCall;
pub use tools::ToolCallStyle;

/// What the fake does with the next request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer with this text (split into word chunks when streaming).
    Reply(String),
    /// Answer with this HTTP status and error message; `retry_after` sets the header.
    Status {
        status: u16,
        message: String,
        retry_after: Option<u64>,
    },
    /// Stream `chunks` word chunks, then close the connection without `[DONE]`.
    CutAfter(usize),
    /// Stream one good chunk, then a chunk that is not JSON.
    Malformed,
    /// Wait this long before sending anything.
    Stall(Duration),
    /// Call these tools — (name, arguments as JSON text) — as OpenAI does:
    /// streamed in pieces, id and name first, the arguments in fragments, the
    /// calls interleaved by index; whole when not streamed.
    ToolCalls(Vec<(String, String)>),
    /// Call these tools, sent in `style` (whole calls, no ids, `stop`, …).
    ToolCallsStyled(Vec<(String, String)>, ToolCallStyle),
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub body: Value,
    /// The first `Authorization` header.
    pub authorization: Option<String>,
    /// Every `Authorization` header, in order (a client should send one).
    pub authorizations: Vec<String>,
}

impl Recorded {
    /// The names of the tools it offered, in order (none when it had no `tools`).
    pub fn tool_names(&self) -> Vec<String> {
        self.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| tool["function"]["name"].as_str())
            .map(str::to_owned)
            .collect()
    }

    /// The `data:` URLs of every picture its messages carry, in order.
    pub fn image_urls(&self) -> Vec<String> {
        self.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .filter(|part| part["type"] == "image_url")
            .filter_map(|part| part["image_url"]["url"].as_str())
            .map(str::to_owned)
            .collect()
    }

    /// Its `tool_choice`, if it had one.
    pub fn tool_choice(&self) -> Option<&Value> {
        self.body.get("tool_choice")
    }
}

struct Inner {
    script: VecDeque<Behaviour>,
    requests: Vec<Recorded>,
    chunk_delay: Duration,
    received: tokio::sync::watch::Sender<usize>,
    flagged_words: Vec<String>,
    moderation_requests: Vec<Value>,
    sampling: bool,
    tools_refusal: Option<String>,
    calls_made: usize,
    server: Server,
    discovery_stalled: bool,
    discovery: Vec<DiscoveryRequest>,
    /// True while requests wait before being answered ([`FakeOpenAi::hold_replies`]).
    holding: tokio::sync::watch::Sender<bool>,
    /// Requests counted but not kept (see [`FakeOpenAi::forget_requests`]).
    forgotten: usize,
    forget_requests: bool,
    /// What the transcription endpoint hears.
    transcript: String,
    transcriptions: Vec<TranscriptionRequest>,
    refused_image_words: Vec<String>,
    image_requests: Vec<Value>,
    /// Whether discovery says the model sees pictures.
    vision: bool,
}

/// The running fake. Dropping it leaves the server running until the runtime ends.
#[derive(Clone)]
pub struct FakeOpenAi {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    hang_ups: Arc<Mutex<HangUps>>,
}

impl FakeOpenAi {
    /// Starts a fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            script: VecDeque::new(),
            requests: Vec::new(),
            chunk_delay: Duration::ZERO,
            received: tokio::sync::watch::channel(0).0,
            flagged_words: Vec::new(),
            moderation_requests: Vec::new(),
            sampling: false,
            tools_refusal: None,
            calls_made: 0,
            server: Server::default(),
            discovery_stalled: false,
            discovery: Vec::new(),
            holding: tokio::sync::watch::channel(false).0,
            forgotten: 0,
            forget_requests: false,
            transcript: "hello from a voice note".into(),
            transcriptions: Vec::new(),
            refused_image_words: Vec::new(),
            image_requests: Vec::new(),
            vision: false,
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/moderations", post(moderations))
            .route("/v1/audio/transcriptions", post(media::transcriptions))
            .route("/v1/images/generations", post(media::generations))
            .route("/v1/models", get(discovery::models))
            .route("/api/show", post(discovery::ollama_show))
            .route("/props", get(discovery::props))
            .with_state(Arc::clone(&inner));
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = tcp.local_addr().expect("local addr");
        let hang_ups = Arc::new(Mutex::new(HangUps::default()));
        let listener = hang_up::Listener {
            tcp,
            hang_ups: Arc::clone(&hang_ups),
        };
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake server runs");
        });
        Self {
            addr,
            inner,
            hang_ups,
        }
    }

    /// The next new connection is hung up on: its request read, then closed
    /// or reset without an answer ([`HangUp`]). Queue several for several.
    pub fn hang_up(&self, how: HangUp) {
        self.hang_ups.lock().unwrap().queued.push_back(how);
    }

    /// From now on, answer where servers say a model's context window as
    /// `server` does (`discovery`).
    pub fn act_as(&self, server: Server) {
        self.inner.lock().unwrap().server = server;
    }

    /// From now on, take every request where servers say a model's context
    /// window and never answer it.
    pub fn stall_discovery(&self) {
        self.inner.lock().unwrap().discovery_stalled = true;
    }

    /// The requests to those endpoints so far.
    pub fn discovery_requests(&self) -> Vec<DiscoveryRequest> {
        self.inner.lock().unwrap().discovery.clone()
    }

    /// How many connections the fake has hung up on.
    pub fn hung_up(&self) -> usize {
        self.hang_ups.lock().unwrap().done
    }

    /// The base URL a client is configured with: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues what the next request gets.
    pub fn push(&self, behaviour: Behaviour) {
        self.inner.lock().unwrap().script.push_back(behaviour);
    }

    /// Queues a reply.
    pub fn reply(&self, text: &str) {
        self.push(Behaviour::Reply(text.to_owned()));
    }

    /// Queues a reply calling these tools: (name, arguments as JSON text).
    pub fn call_tools(&self, calls: &[(&str, &str)]) {
        self.push(Behaviour::ToolCalls(
            calls
                .iter()
                .map(|(name, arguments)| ((*name).to_owned(), (*arguments).to_owned()))
                .collect(),
        ));
    }

    /// From now on, every request offering tools is refused with HTTP 400
    /// and `message`, as Ollama refuses them for a model without tool
    /// support (`MODEL does not support tools`).
    /// Requests without tools are answered as usual; a refused request
    /// leaves the script as it was.
    pub fn reject_tools(&self, message: &str) {
        self.inner.lock().unwrap().tools_refusal = Some(message.to_owned());
    }

    /// From now on, replies vary from request to request as a sampling
    /// model's do, unless the request is greedy (`temperature` 0, as OpenAI
    /// documents it) or carries a `seed` (which then picks the variation, so
    /// the same seed gives the same reply). Without this the fake always
    /// answers the same.
    pub fn sample_unless_greedy(&self) {
        self.inner.lock().unwrap().sampling = true;
    }

    /// Waits this long between streamed chunks.
    pub fn set_chunk_delay(&self, delay: Duration) {
        self.inner.lock().unwrap().chunk_delay = delay;
    }

    /// From now on, requests are recorded (and counted by
    /// [`FakeOpenAi::wait_for_requests`]) but not answered until
    /// [`FakeOpenAi::release_replies`]: a model busy thinking, for as long as
    /// a test needs.
    pub fn hold_replies(&self) {
        self.inner.lock().unwrap().holding.send_replace(true);
    }

    /// What the user said in request `n`, oldest first (the user messages of its prompt).
    pub fn user_messages(&self, n: usize) -> Vec<String> {
        self.messages(n)
            .into_iter()
            .filter(|(role, _)| role == "user")
            .map(|(_, content)| content)
            .collect()
    }

    /// Answers the requests held by [`FakeOpenAi::hold_replies`], and all later ones at once.
    pub fn release_replies(&self) {
        self.inner.lock().unwrap().holding.send_replace(false);
    }

    /// Stops keeping requests in memory (for long benchmarks: a soak's
    /// requests would otherwise fill gigabytes); they are still counted.
    pub fn forget_requests(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.forget_requests = true;
        inner.forgotten += inner.requests.len();
        inner.requests = Vec::new();
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        let mut received = self.inner.lock().unwrap().received.subscribe();
        let _ = received.wait_for(|count| *count >= n).await;
    }

    /// Inputs containing any of `words` (case-insensitive) are flagged by `/moderations`.
    pub fn flag_words(&self, words: &[&str]) {
        self.inner.lock().unwrap().flagged_words = words.iter().map(|w| w.to_lowercase()).collect();
    }

    /// The bodies `/moderations` received.
    pub fn moderation_requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().moderation_requests.clone()
    }

    /// What the transcription endpoint answers from now on.
    pub fn set_transcript(&self, text: &str) {
        self.inner.lock().unwrap().transcript = text.to_owned();
    }

    /// Every transcription request so far.
    pub fn transcriptions(&self) -> Vec<TranscriptionRequest> {
        self.inner.lock().unwrap().transcriptions.clone()
    }

    /// Image prompts containing any of `words` are refused from now on, as
    /// OpenAI's safety system refuses them.
    pub fn refuse_image_words(&self, words: &[&str]) {
        self.inner.lock().unwrap().refused_image_words =
            words.iter().map(|w| w.to_lowercase()).collect();
    }

    /// Every image generation request so far (its JSON, with the
    /// `authorization` it came with added).
    pub fn image_requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().image_requests.clone()
    }

    /// From now on, say in discovery that the model sees pictures (llama.cpp's
    /// `/props` `modalities.vision`, Ollama's `capabilities`).
    pub fn advertise_vision(&self, vision: bool) {
        self.inner.lock().unwrap().vision = vision;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The `messages` of request `n` as (role, content) pairs.
    pub fn messages(&self, n: usize) -> Vec<(String, String)> {
        self.requests()[n].body["messages"]
            .as_array()
            .expect("messages array")
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap_or_default().to_owned(),
                    text_of(&m["content"]),
                )
            })
            .collect()
    }
}

/// A message's content as text: the string, or its text parts with
/// `[image]` for each picture part.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part["type"].as_str() {
                Some("text") => part["text"].as_str().unwrap_or_default().to_owned(),
                Some("image_url") => "[image]".to_owned(),
                _ => String::new(),
            })
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Which variation a sampling fake answers request number `count` with:
/// none when greedy, the seed when seeded, else a new one each time.
fn variation(body: &Value, count: usize) -> Option<u64> {
    let temperature = body["temperature"].as_f64().unwrap_or(1.0);
    if temperature == 0.0 {
        None
    } else {
        Some(body["seed"].as_u64().unwrap_or(count as u64))
    }
}

/// The fake model's answer to `body`, as (chunks, finish_reason).
fn generate(
    body: &Value,
    scripted: Option<String>,
    variation: Option<u64>,
) -> (Vec<String>, &'static str) {
    let text = scripted.unwrap_or_else(|| {
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .map(|m| text_of(&m["content"]))
            .unwrap_or_default();
        format!("echo: {last}")
    });
    let mut text = match variation {
        Some(n) => format!("{text} (take {n})"),
        None => text,
    };
    let mut finish = "stop";
    if let Some(stops) = body["stop"].as_array() {
        for stop in stops.iter().filter_map(Value::as_str) {
            if let Some(at) = text.find(stop) {
                text.truncate(at);
            }
        }
    }
    let mut chunks: Vec<String> = Vec::new();
    for (i, word) in text.split_inclusive(char::is_whitespace).enumerate() {
        if body["max_tokens"]
            .as_u64()
            .is_some_and(|max| i as u64 >= max)
        {
            finish = "length";
            break;
        }
        chunks.push(word.to_owned());
    }
    (chunks, finish)
}

fn chunk_json(content: Option<&str>, finish: Option<&str>) -> String {
    let delta = match content {
        Some(c) => json!({"content": c}),
        None => json!({}),
    };
    delta_chunk(delta, finish)
}

fn delta_chunk(delta: Value, finish: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
    .to_string()
}

fn role_chunk() -> String {
    delta_chunk(json!({"role": "assistant"}), None)
}

fn usage_chunk(usage: &Value) -> String {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": "fake",
           "choices": [], "usage": usage})
    .to_string()
}

/// An error answer in OpenAI's shape.
fn error_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

/// Token usage for a reply of `completion_tokens` to `body` (a word is a token).
fn usage_for(body: &Value, completion_tokens: usize) -> Value {
    let prompt_tokens: usize = body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| text_of(&m["content"]).split_whitespace().count())
                .sum()
        })
        .unwrap_or(0);
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

/// `frames` as a server-sent event stream, `delay` before each.
fn sse_response(frames: Vec<String>, delay: Duration) -> Response {
    let stream = futures::stream::iter(frames).then(move |frame| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(Bytes::from(format!("data: {frame}\n\n")))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// The answer calling `calls`, streamed or whole as `body` asks.
fn tool_call_response(
    body: &Value,
    calls: &[FakeCall],
    style: &ToolCallStyle,
    delay: Duration,
) -> Response {
    let text_chunks: Vec<&str> = style.text.split_inclusive(char::is_whitespace).collect();
    let usage = usage_for(body, text_chunks.len() + calls.len());
    if !body["stream"].as_bool().unwrap_or(false) {
        return axum::Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": "fake",
            "choices": [{
                "index": 0,
                "message": tools::call_message(calls, style),
                "finish_reason": style.finish_reason,
            }],
            "usage": usage,
        }))
        .into_response();
    }
    let mut frames = vec![role_chunk()];
    frames.extend(text_chunks.iter().map(|text| chunk_json(Some(text), None)));
    frames.extend(
        tools::call_deltas(calls, style)
            .into_iter()
            .map(|delta| delta_chunk(delta, None)),
    );
    frames.push(chunk_json(None, Some(&style.finish_reason)));
    if body["stream_options"]["include_usage"] == true {
        frames.push(usage_chunk(&usage));
    }
    frames.push("[DONE]".to_owned());
    sse_response(frames, delay)
}

/// `POST /v1/moderations`: the shape OpenAI answers with.
async fn moderations(State(inner): State<Arc<Mutex<Inner>>>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad json: {e}")).into_response(),
    };
    let input = body["input"].as_str().unwrap_or_default().to_lowercase();
    let flagged = {
        let mut inner = inner.lock().unwrap();
        inner.moderation_requests.push(body.clone());
        inner
            .flagged_words
            .iter()
            .any(|w| input.contains(w.as_str()))
    };
    axum::Json(json!({
        "id": "modr-fake",
        "model": body["model"],
        "results": [{
            "flagged": flagged,
            "categories": {"harassment": flagged, "violence": false},
            "category_scores": {"harassment": if flagged { 0.97 } else { 0.01 }, "violence": 0.0},
        }],
    }))
    .into_response()
}

async fn completions(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad json: {e}")).into_response();
        }
    };
    let offers_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (behaviour, delay, variation, mut holding) = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(Recorded {
            body: body.clone(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            authorizations: headers
                .get_all(header::AUTHORIZATION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned)
                .collect(),
        });
        let count = inner.forgotten + inner.requests.len();
        inner.received.send_replace(count);
        if inner.forget_requests {
            inner.requests.clear();
            inner.forgotten = count;
        }
        if let Some(fault) = validate::fault(&body) {
            return error_response(StatusCode::BAD_REQUEST, &fault);
        }
        if let Some(refusal) = inner.tools_refusal.as_ref().filter(|_| offers_tools) {
            return error_response(StatusCode::BAD_REQUEST, refusal);
        }
        let variation = if inner.sampling {
            variation(&body, count)
        } else {
            None
        };
        (
            inner.script.pop_front(),
            inner.chunk_delay,
            variation,
            inner.holding.subscribe(),
        )
    };
    let _ = holding.wait_for(|held| !*held).await;
    let mut scripted = None;
    let mut cut_after = None;
    let mut malformed = false;
    let mut calls = None;
    match behaviour {
        Some(Behaviour::Status {
            status,
            message,
            retry_after,
        }) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(json!({"error": {"message": message, "type": "fake_error"}})),
            )
                .into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
            }
            return response;
        }
        Some(Behaviour::Stall(d)) => tokio::time::sleep(d).await,
        Some(Behaviour::Reply(text)) => scripted = Some(text),
        Some(Behaviour::CutAfter(n)) => cut_after = Some(n),
        Some(Behaviour::Malformed) => malformed = true,
        Some(Behaviour::ToolCalls(list)) => calls = Some((list, ToolCallStyle::default())),
        Some(Behaviour::ToolCallsStyled(list, style)) => calls = Some((list, style)),
        None => {
            calls = tools::forced_call(&body).map(|call| (vec![call], ToolCallStyle::default()));
        }
    }
    if let Some((list, style)) = calls {
        let calls = number_calls(&inner, list);
        return tool_call_response(&body, &calls, &style, delay);
    }
    let (chunks, finish) = generate(&body, scripted, variation);
    let usage = usage_for(&body, chunks.len());

    if !body["stream"].as_bool().unwrap_or(false) {
        return axum::Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": "fake",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": chunks.concat()},
                "finish_reason": finish,
            }],
            "usage": usage,
        }))
        .into_response();
    }

    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let mut frames = vec![role_chunk()];
    let total = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        if cut_after == Some(i) {
            break;
        }
        if malformed && i == 1 {
            frames.push("{\"choices\": [ this is not json".to_owned());
            break;
        }
        frames.push(chunk_json(Some(&chunk), None));
    }
    let complete = cut_after.is_none_or(|n| n >= total) && !malformed;
    if complete {
        frames.push(chunk_json(None, Some(finish)));
        if include_usage {
            frames.push(usage_chunk(&usage));
        }
        frames.push("[DONE]".to_owned());
    }
    sse_response(frames, delay)
}

/// `calls` with the ids the fake gives them: `call_fake_1`, `call_fake_2`, …
fn number_calls(inner: &Mutex<Inner>, calls: Vec<(String, String)>) -> Vec<FakeCall> {
    let mut inner = inner.lock().unwrap();
    calls
        .into_iter()
        .map(|(name, arguments)| {
            inner.calls_made += 1;
            FakeCall {
                id: format!("call_fake_{}", inner.calls_made),
                name,
                arguments,
            }
        })
        .collect()
}
