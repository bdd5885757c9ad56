//! Conversations on every platform: search by text and platform, read one
//! (its turns with the tool calls and results on the way), reset it, choose
//! its persona and model. A conversation's choices are stored under its key
//! (`platform:scope`), where the engine looks first.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use natter_core::{ConversationFilter, ConversationKey, Platform, Role};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::when;
use crate::auth::{Authed, Refused};
use crate::chat::user_html;
use crate::markdown::to_safe_html;
use crate::pages::{error_page, page, store_down};
use crate::state::Web;

/// Conversations listed at most.
const LISTED: usize = 100;
/// Turns shown of one conversation.
const TURNS_SHOWN: usize = 200;
/// Characters of the newest message shown in the list.
const PREVIEW_CHARS: usize = 100;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    platform: String,
}

#[derive(Serialize)]
struct Row {
    key: String,
    platform: String,
    scope: String,
    turns: u64,
    last_active: String,
    preview: String,
}

/// The list, searched.
pub(super) async fn list(
    State(web): State<Web>,
    authed: Authed,
    Query(query): Query<ListQuery>,
) -> Response {
    let platform = match query.platform.trim() {
        "" => None,
        name => match name.parse::<Platform>() {
            Ok(platform) => Some(platform),
            Err(e) => return error_page(&web, StatusCode::BAD_REQUEST, &e.to_string()),
        },
    };
    let text = Some(query.q.trim().to_owned()).filter(|q| !q.is_empty());
    let filter = ConversationFilter { platform, text };
    let found = match web
        .engine
        .store()
        .history
        .list_conversations(&filter, LISTED)
        .await
    {
        Ok(found) => found,
        Err(error) => return store_down(&web, &error),
    };
    let rows: Vec<Row> = found
        .into_iter()
        .map(|c| {
            let mut preview: String = c.last_user_text.chars().take(PREVIEW_CHARS).collect();
            if preview.len() < c.last_user_text.len() {
                preview.push('…');
            }
            Row {
                key: c.key.to_string(),
                platform: c.key.platform().to_string(),
                scope: c.key.scope().to_owned(),
                turns: c.turns,
                last_active: when::utc(c.last_active_ms),
                preview,
            }
        })
        .collect();
    let mut platforms: Vec<String> = web.expected.iter().map(|p| p.to_string()).collect();
    for status in web.engine.stats().platforms {
        let name = status.platform.to_string();
        if !platforms.contains(&name) {
            platforms.push(name);
        }
    }
    page(
        &web,
        "conversations.html",
        minijinja::context! {
            section => "conversations",
            csrf => authed.session.csrf,
            rows => minijinja::Value::from(minijinja::value::Serde(rows)),
            q => query.q,
            platform => query.platform,
            platforms,
            limit => LISTED,
        },
    )
}

/// `platform:scope` read back into a key.
fn parse_key(key: &str) -> Option<ConversationKey> {
    let (platform, scope) = key.split_once(':')?;
    let platform: Platform = platform.parse().ok()?;
    (!scope.is_empty()).then(|| ConversationKey::new(platform, scope))
}

#[derive(Deserialize)]
pub(super) struct KeyQuery {
    key: String,
}

#[derive(Serialize)]
struct Step {
    kind: &'static str,
    name: String,
    text: String,
}

#[derive(Serialize)]
struct ShownTurn {
    user: String,
    user_name: Option<String>,
    steps: Vec<Step>,
    assistant: String,
}

/// One conversation.
pub(super) async fn show(
    State(web): State<Web>,
    authed: Authed,
    Query(query): Query<KeyQuery>,
) -> Response {
    let Some(key) = parse_key(&query.key) else {
        return error_page(
            &web,
            StatusCode::BAD_REQUEST,
            "Not a conversation key (platform:scope).",
        );
    };
    let history = &web.engine.store().history;
    let scope = key.to_string();
    let read = async {
        let turns = history.load_turns(&key, TURNS_SHOWN).await?;
        let persona = history.persona_override(&scope).await?;
        let model = history.model_override(&scope).await?;
        Ok::<_, natter_core::StoreError>((turns, persona, model))
    };
    let (turns, persona, model) = match read.await {
        Ok(read) => read,
        Err(error) => return store_down(&web, &error),
    };
    let turns: Vec<ShownTurn> = turns
        .iter()
        .map(|turn| ShownTurn {
            user: user_html(&turn.user),
            user_name: turn.user.name.clone(),
            steps: turn
                .steps
                .iter()
                .flat_map(|message| {
                    let calls = message.tool_calls.iter().map(|call| Step {
                        kind: "call",
                        name: call.name.clone(),
                        text: call.arguments.clone(),
                    });
                    let result = (message.role == Role::Tool).then(|| Step {
                        kind: "result",
                        name: message.name.clone().unwrap_or_default(),
                        text: message.content.clone(),
                    });
                    calls.chain(result).collect::<Vec<_>>()
                })
                .collect(),
            assistant: to_safe_html(&turn.assistant.content),
        })
        .collect();
    let personas = web.persona_names();
    let models = web.model_names();
    page(
        &web,
        "conversation.html",
        minijinja::context! {
            section => "conversations",
            csrf => authed.session.csrf,
            key => scope,
            platform => key.platform().to_string(),
            scope_name => key.scope().to_owned(),
            turns => minijinja::Value::from(minijinja::value::Serde(turns)),
            personas,
            models,
            persona,
            model,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct ChoiceForm {
    key: String,
    csrf: Option<String>,
    #[serde(default)]
    choice: String,
}

/// Checks a dashboard form: its anti-forgery token and its key.
fn checked(
    authed: &Authed,
    headers: &HeaderMap,
    form: &ChoiceForm,
) -> Result<(ConversationKey, Redirect), Refused> {
    authed.check_csrf(headers, form.csrf.as_deref())?;
    let key = parse_key(&form.key).ok_or(Refused(
        StatusCode::BAD_REQUEST,
        "not a conversation key (platform:scope)",
    ))?;
    let back = Redirect::to(&format!(
        "/dashboard/conversation?key={}",
        encode_query(&form.key)
    ));
    Ok((key, back))
}

/// `text` as a URL query value.
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Forgets a conversation's history.
pub(super) async fn reset(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<ChoiceForm>,
) -> Response {
    let (key, back) = match checked(&authed, &headers, &form) {
        Ok(checked) => checked,
        Err(refused) => return refused.into_response(),
    };
    match web.engine.clear_history(&key).await {
        Ok(()) => {
            info!(%key, "history reset from the dashboard");
            back.into_response()
        }
        Err(error) => store_down(&web, &error),
    }
}

/// Chooses a conversation's persona ("" for the one its channel has).
pub(super) async fn persona(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<ChoiceForm>,
) -> Response {
    choose(&web, &authed, &headers, &form, Choice::Persona).await
}

/// Chooses a conversation's model ("" for the default).
pub(super) async fn model(
    State(web): State<Web>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<ChoiceForm>,
) -> Response {
    choose(&web, &authed, &headers, &form, Choice::Model).await
}

/// What a dashboard choice sets.
#[derive(Clone, Copy)]
enum Choice {
    Persona,
    Model,
}

/// Checks and keeps a persona or model choice, then goes back to the
/// conversation.
async fn choose(
    web: &Web,
    authed: &Authed,
    headers: &HeaderMap,
    form: &ChoiceForm,
    what: Choice,
) -> Response {
    let (key, back) = match checked(authed, headers, form) {
        Ok(checked) => checked,
        Err(refused) => return refused.into_response(),
    };
    let choice = Some(form.choice.as_str()).filter(|c| !c.is_empty());
    let unknown = choice.and_then(|name| match what {
        Choice::Persona => {
            (web.engine.personas().get(name).is_none()).then_some("There is no such persona.")
        }
        Choice::Model => {
            (web.engine.models().get(name).is_none()).then_some("There is no such model.")
        }
    });
    if let Some(message) = unknown {
        return error_page(web, StatusCode::BAD_REQUEST, message);
    }
    let history = &web.engine.store().history;
    let scope = key.to_string();
    let kept = match what {
        Choice::Persona => history.set_persona_override(&scope, choice).await,
        Choice::Model => history.set_model_override(&scope, choice).await,
    };
    match kept {
        Ok(()) => back.into_response(),
        Err(error) => store_down(web, &error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_with_slashes_and_colons_in_the_scope() {
        let key = parse_key("telegram:chat/42/topic:7").unwrap();
        assert_eq!(key.platform().as_str(), "telegram");
        assert_eq!(key.scope(), "chat/42/topic:7");
        assert!(parse_key("nocolon").is_none());
        assert!(parse_key("BAD NAME:x").is_none());
        assert!(parse_key("web:").is_none());
        assert_eq!(encode_query("web:chat/a b"), "web%3Achat%2Fa%20b");
    }
}
