//! Rows as the database holds them and the natter-core values they stand for.

use natter_core::store::ScheduledJob;
use natter_core::{ChatMessage, Role, StoreError, Turn};

use crate::error::corrupt_json;

/// A turn row: role, name and content of the user message, then of the reply.
pub(crate) type TurnRow = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
);

/// A job row: id, namespace, owner, due time, JSON payload.
pub(crate) type JobRow = (i64, String, String, i64, String);

/// The stored name of a role.
pub(crate) fn role_name(role: Role) -> &'static str {
    role.as_str()
}

fn role(name: &str) -> Result<Role, StoreError> {
    match name {
        "system" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
    }
}

fn message(
    role_name: &str,
    name: Option<String>,
    content: String,
) -> Result<ChatMessage, StoreError> {
    Ok(ChatMessage {
        role: role(role_name)?,
        content,
        name,
    })
}

/// The turn a row stands for.
pub(crate) fn turn(row: TurnRow) -> Result<Turn, StoreError> {
    let (user_role, user_name, user_content, assistant_role, assistant_name, assistant_content) =
        row;
    Ok(Turn {
        user: message(&user_role, user_name, user_content)?,
        assistant: message(&assistant_role, assistant_name, assistant_content)?,
    })
}

/// The job a row stands for.
pub(crate) fn job(row: JobRow) -> Result<ScheduledJob, StoreError> {
    let (id, namespace, owner, due_unix_ms, payload) = row;
    Ok(ScheduledJob {
        id,
        namespace,
        owner,
        due_unix_ms,
        payload: serde_json::from_str(&payload)
            .map_err(|e| corrupt_json(&format!("the payload of job {id}"), e))?,
    })
}

/// A plugin value from its stored text.
pub(crate) fn value(key: &str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt_json(&format!("plugin value {key:?}"), e))
}

/// A value as stored text.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

/// A count or limit as SQL's signed 64-bit integer.
pub(crate) fn sql_int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
