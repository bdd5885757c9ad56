//! Rows as the database holds them and the natter-core values they stand for.

use natter_core::store::{LeasedJob, ScheduledJob};
use natter_core::{ChatMessage, ImagePart, Role, StoreError, Turn};

use crate::error::corrupt_json;

/// A turn row: role, name and content of the user message, then of the
/// reply, then the tool steps and the user message's pictures as JSON (NULL
/// for none).
pub(crate) type TurnRow = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// A job row: id, namespace, owner, due time, JSON payload.
pub(crate) type JobRow = (i64, String, String, i64, String);

/// A leased job row: a job row and the times it was taken.
pub(crate) type LeasedJobRow = (i64, String, String, i64, String, i32);

/// The stored name of a role.
pub(crate) fn role_name(role: Role) -> &'static str {
    role.as_str()
}

fn role(name: &str) -> Result<Role, StoreError> {
    match name {
        "system" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "tool" => Ok(Role::Tool),
        other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
    }
}

fn message(
    role_name: &str,
    name: Option<String>,
    content: String,
) -> Result<ChatMessage, StoreError> {
    let mut message = ChatMessage::new(role(role_name)?, content);
    message.name = name;
    Ok(message)
}

/// The turn a row stands for.
pub(crate) fn turn(row: TurnRow) -> Result<Turn, StoreError> {
    let (
        user_role,
        user_name,
        user_content,
        assistant_role,
        assistant_name,
        assistant_content,
        steps,
        images,
    ) = row;
    let steps = match steps {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| corrupt_json("the tool steps of a turn", e))?
        }
        None => Vec::new(),
    };
    let images = match images {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| corrupt_json("the pictures of a turn", e))?
        }
        None => Vec::new(),
    };
    Ok(Turn {
        user: message(&user_role, user_name, user_content)?.with_images(images),
        steps,
        assistant: message(&assistant_role, assistant_name, assistant_content)?,
    })
}

/// A turn's tool steps as stored: a JSON array, or NULL for none.
pub(crate) fn steps_text(steps: &[ChatMessage]) -> Result<Option<String>, StoreError> {
    if steps.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(steps)
        .map(Some)
        .map_err(|e| StoreError::Query(format!("cannot store a turn's tool steps: {e}")))
}

/// A user message's pictures as stored: a JSON array of image parts (each a
/// reference with its small copy), or NULL for none.
pub(crate) fn images_text(images: &[ImagePart]) -> Result<Option<String>, StoreError> {
    if images.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(images)
        .map(Some)
        .map_err(|e| StoreError::Query(format!("cannot store a turn's pictures: {e}")))
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

/// A stored count or sum as a count (never negative; a negative one is 0).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The job a leased row stands for, held by `holder` until `until_unix_ms`.
pub(crate) fn leased_job(
    row: LeasedJobRow,
    holder: &str,
    until_unix_ms: i64,
) -> Result<LeasedJob, StoreError> {
    let (id, namespace, owner, due_unix_ms, payload, attempts) = row;
    Ok(LeasedJob {
        job: job((id, namespace, owner, due_unix_ms, payload))?,
        holder: holder.to_owned(),
        until_unix_ms,
        attempt: u32::try_from(attempts).unwrap_or(1).max(1),
    })
}
