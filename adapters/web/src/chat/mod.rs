//! The web chat, natter's browser platform: each logged-in browser is one
//! private conversation (`web:chat/ID`) with the same engine, plugins and
//! personas as every platform. The page posts messages (`/commands` too:
//! the persona and model pickers and the Stop button send `/persona`,
//! `/model` and `/stop`), pictures with a caption (`/chat/picture`), and
//! follows its conversation's [`Feeds`] over Server-Sent Events as replies
//! stream in.
//!
//! | module | owns |
//! |---|---|
//! | `feeds` | each conversation's live events |
//! | `outbox` | [`WebOutbox`]: the engine's messages as feed events |
//! | `pictures` | [`Pictures`]: pictures sent from browsers, until the engine fetches them |

mod feeds;
mod outbox;
mod pictures;

pub use feeds::{FeedEvent, Feeds};
pub use outbox::WebOutbox;
pub use pictures::Pictures;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use futures::{Stream, StreamExt};
use natter_core::{
    Addressed, Attachment, AttachmentKind, Author, ChannelRef, ChatMessage, ConversationKey,
    Decision, ImagePart, Incoming, MessageId,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tracing::instrument;

use crate::PLATFORM;
use crate::auth::{Authed, CSRF_HEADER};
use crate::markdown::to_safe_html;
use crate::pages::{page, store_down};
use crate::state::Web;

/// Who writes in the web chat: whoever holds the token, the operator.
pub const OPERATOR_ID: &str = "operator";
/// Longest message accepted, in bytes.
const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest picture accepted from a browser, in bytes.
const MAX_PICTURE_BYTES: usize = 20 * 1024 * 1024;
/// Turns shown when the page opens.
const TURNS_SHOWN: usize = 100;

/// The chat routes.
pub(crate) fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/chat") }))
        .route("/chat", get(chat_page))
        .route("/chat/send", post(send))
        .route(
            "/chat/picture",
            post(picture).layer(DefaultBodyLimit::max(MAX_PICTURE_BYTES + 64 * 1024)),
        )
        .route("/chat/events", get(events))
        .route("/chat/approval", post(approval))
}

/// The conversation key of browser conversation `id`.
pub fn conversation_key(id: &str) -> ConversationKey {
    ConversationKey::new(PLATFORM, format!("chat/{id}"))
}

/// A turn as the page shows it.
#[derive(Serialize)]
pub(crate) struct ShownTurn {
    pub(crate) user: String,
    pub(crate) assistant: String,
}

async fn chat_page(State(web): State<Web>, authed: Authed) -> Response {
    let key = conversation_key(&authed.session.conversation);
    let turns = match web
        .engine
        .store()
        .history
        .load_turns(&key, TURNS_SHOWN)
        .await
    {
        Ok(turns) => turns,
        Err(error) => return store_down(&web, &error),
    };
    let turns: Vec<ShownTurn> = turns
        .iter()
        .map(|turn| ShownTurn {
            user: user_html(&turn.user),
            assistant: to_safe_html(&turn.assistant.content),
        })
        .collect();
    let personas = web.persona_names();
    let models = web.model_names();
    page(
        &web,
        "chat.html",
        minijinja::context! {
            csrf => authed.session.csrf,
            turns => minijinja::Value::from(minijinja::value::Serde(turns)),
            personas,
            models,
            section => "chat",
        },
    )
}

/// A stored user message as the pages show it: its pictures, then its text
/// as safe HTML.
pub(crate) fn user_html(message: &ChatMessage) -> String {
    format!(
        "{}{}",
        pictures_html(&message.images),
        to_safe_html(&message.content)
    )
}

/// A sent turn's pictures as history kept them: each small copy inline,
/// or `[picture]` for one kept by reference alone. Only a JPEG or PNG copy
/// whose text is base64 becomes an image, whatever the store holds.
fn pictures_html(images: &[ImagePart]) -> String {
    images
        .iter()
        .map(|image| {
            let inline = matches!(image.mime.as_str(), "image/jpeg" | "image/png")
                && !image.base64.is_empty()
                && image
                    .base64
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if inline {
                format!(
                    "<img class=\"sent\" alt=\"your picture\" src=\"data:{};base64,{}\">",
                    image.mime, image.base64
                )
            } else {
                "<p class=\"tag\">[picture]</p>".to_owned()
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct SendForm {
    text: String,
    csrf: Option<String>,
}

#[derive(Serialize)]
struct Sent {
    id: String,
}

/// Takes a message typed in the page to the engine.
#[instrument(name = "web_message", skip_all)]
async fn send(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> Response {
    if let Err(refused) = authed.check_csrf(&headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let text = form.text.trim();
    if text.is_empty() {
        return (StatusCode::BAD_REQUEST, "empty message\n").into_response();
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, "message too long\n").into_response();
    }
    let (id, message) = incoming(&authed, text, Vec::new());
    // The reply arrives through the feed; the receipt is not needed.
    drop(web.inbox.submit(message));
    if headers.contains_key(CSRF_HEADER) {
        (StatusCode::ACCEPTED, Json(Sent { id })).into_response()
    } else {
        // A form posted without script: show the page again.
        Redirect::to("/chat").into_response()
    }
}

/// A message from the operator's browser, with its id.
fn incoming(authed: &Authed, text: &str, attachments: Vec<Attachment>) -> (String, Incoming) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = format!("u{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let conversation = &authed.session.conversation;
    let message = Incoming {
        key: conversation_key(conversation),
        channel: ChannelRef::private(PLATFORM, conversation.as_str()),
        id: MessageId(id.clone()),
        author: Author::user(OPERATOR_ID, "Operator").admin(),
        text: text.to_owned(),
        addressed: Addressed::Private,
        replied_to_text: None,
        attachments,
    };
    (id, message)
}

/// Takes a picture (multipart field `picture`) with an optional caption
/// (`text`) to the engine. Only the page's script posts it, with the CSRF
/// header.
#[instrument(name = "web_picture", skip_all)]
async fn picture(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Err(refused) = authed.check_csrf(&headers, None) {
        return refused.into_response();
    }
    let mut text = String::new();
    let mut picture = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                return (error.status(), format!("{}\n", error.body_text())).into_response();
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let mime = field.content_type().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                return (error.status(), format!("{}\n", error.body_text())).into_response();
            }
        };
        match name.as_str() {
            "text" => text = String::from_utf8_lossy(&bytes).trim().to_owned(),
            "picture" => picture = Some((bytes, mime, file_name)),
            _ => {}
        }
    }
    let Some((bytes, mime, file_name)) = picture else {
        return (StatusCode::BAD_REQUEST, "no picture\n").into_response();
    };
    if bytes.is_empty() {
        return (StatusCode::BAD_REQUEST, "empty picture\n").into_response();
    }
    if bytes.len() > MAX_PICTURE_BYTES || text.len() > MAX_MESSAGE_BYTES {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "picture or caption too large\n",
        )
            .into_response();
    }
    let mime = mime.filter(|m| m.starts_with("image/"));
    let Some(mime) = mime else {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not a picture\n").into_response();
    };
    let size = bytes.len() as u64;
    let reference = web.pictures.keep(bytes.to_vec());
    let mut attachment = Attachment::new(AttachmentKind::Image, reference).with_mime(mime);
    attachment.size = Some(size);
    attachment.file_name = file_name;
    let (id, message) = incoming(&authed, &text, vec![attachment]);
    drop(web.inbox.submit(message));
    (StatusCode::ACCEPTED, Json(Sent { id })).into_response()
}

/// The conversation's live events, as Server-Sent Events.
async fn events(
    State(web): State<Web>,
    authed: Authed,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = web.feeds.subscribe(&authed.session.conversation);
    let stopping = web.stopping.clone().cancelled_owned();
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let event = Event::default()
                        .json_data(&event)
                        .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                    return Some((Ok(event), receiver));
                }
                // Too slow a reader missed some edits; later edits carry the whole text.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    })
    .take_until(stopping);
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct ApprovalForm {
    approval: String,
    decision: String,
    csrf: Option<String>,
}

#[derive(Serialize)]
struct Answer {
    message: String,
}

/// An Allow or Refuse button pressed.
async fn approval(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<ApprovalForm>,
) -> Response {
    if let Err(refused) = authed.check_csrf(&headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let decision = match form.decision.as_str() {
        "allow" => Decision::Approve,
        "refuse" => Decision::Deny,
        _ => return (StatusCode::BAD_REQUEST, "decision is allow or refuse\n").into_response(),
    };
    let answered = web
        .inbox
        .answer_approval(&form.approval, OPERATOR_ID, decision);
    Json(Answer {
        message: answered.user_message(),
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(mime: &str, base64: &str) -> ImagePart {
        ImagePart {
            reference: "r".into(),
            mime: mime.into(),
            base64: base64.into(),
        }
    }

    #[test]
    fn only_a_well_formed_jpeg_or_png_copy_becomes_an_image() {
        assert!(pictures_html(&[part("image/jpeg", "/9j/4A==")]).starts_with("<img"));
        for hostile in [
            part("image/svg+xml", "PHN2Zz4="),
            part("image/png", "x\" onerror=\"alert(1)"),
            part("image/png", ""),
        ] {
            assert_eq!(pictures_html(&[hostile]), "<p class=\"tag\">[picture]</p>");
        }
    }
}
