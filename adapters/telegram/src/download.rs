//! Fetching the file behind an attachment: `getFile` for its path and
//! declared size, then `GET {api_url}/file/bot<token>/<file_path>` through
//! the bot's own client (so a self-hosted Bot API server, or a test's fake,
//! is reached through the same `api_url` setting), never past the caller's
//! limit.
//!
//! - A file declared larger than the limit is refused before any byte is
//!   fetched; one that turns out larger while streaming is dropped there.
//! - The cloud Bot API hands out files up to 20 MB: a larger one is
//!   [`DownloadError::Refused`] with a sentence saying so.
//! - A Bot API server started with `--local` answers an absolute
//!   `file_path` on its own disk: it is read from there (which works when
//!   natter runs on the same machine or shares the volume).
//! - Errors never carry the URL, which holds the token.

use std::path::Path;

use futures::StreamExt;
use natter_core::{Attachment, DownloadError, Received};
use teloxide::net::Download;
use teloxide::prelude::Requester;
use teloxide::types::FileId;
use teloxide::{ApiError, Bot, RequestError};
use tokio::io::AsyncReadExt;

use crate::media::declared_size;

/// The bytes of `file` (its `reference` is a Telegram `file_id`), at most
/// `limit` of them.
pub(crate) async fn download(
    bot: &Bot,
    file: &Attachment,
    limit: u64,
) -> Result<Vec<u8>, DownloadError> {
    // What the message declared, then what getFile declares.
    Received::check(limit, file.size)?;
    let found = bot
        .get_file(FileId(file.reference.clone()))
        .await
        .map_err(get_file_failed)?;
    let declared = declared_size(&found.meta);
    Received::check(limit, declared)?;
    if Path::new(&found.path).is_absolute() {
        return read_local(&found.path, limit).await;
    }
    let mut received = Received::new(limit, declared)?;
    let mut body = bot.download_file_stream(&found.path);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| {
            // The URL holds the token: leave it out.
            let error = error.without_url();
            match error.status() {
                Some(status) if status.is_client_error() => {
                    DownloadError::Refused(format!("Telegram would not hand out the file: {error}"))
                }
                _ => DownloadError::Failed(error.to_string()),
            }
        })?;
        received.push(&chunk)?;
    }
    Ok(received.finish())
}

/// Why `getFile` failed, for the caller.
fn get_file_failed(error: RequestError) -> DownloadError {
    match error {
        RequestError::Api(ApiError::Unknown(reason)) if reason.contains("file is too big") => {
            DownloadError::Refused(
                "Telegram's Bot API hands bots files of at most 20 MB, and this one is larger \
                 (a self-hosted Bot API server started with --local has no such limit)"
                    .into(),
            )
        }
        RequestError::Api(api) => DownloadError::Refused(api.to_string()),
        RequestError::MigrateToChatId(_) => {
            DownloadError::Refused("the chat moved to a supergroup".into())
        }
        RequestError::RetryAfter(wait) => DownloadError::Failed(format!(
            "Telegram asked to wait {:?} before asking again",
            wait.duration()
        )),
        // teloxide strips the URL (and with it the token) from network errors.
        RequestError::Network(e) => DownloadError::Failed(e.to_string()),
        RequestError::InvalidJson { source, .. } => {
            DownloadError::Failed(format!("unreadable answer from the Bot API: {source}"))
        }
        RequestError::Io(e) => DownloadError::Failed(e.to_string()),
    }
}

/// A file a `--local` Bot API server keeps at `path` on its disk.
async fn read_local(path: &str, limit: u64) -> Result<Vec<u8>, DownloadError> {
    let unreadable = |e: std::io::Error| {
        DownloadError::Refused(format!(
            "the Bot API server (run with --local) keeps the file at {path}, which natter \
             cannot read: {e}"
        ))
    };
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let size = file.metadata().await.map_err(unreadable)?.len();
    Received::check(limit, Some(size))?;
    let mut bytes = Vec::new();
    // The file may grow meanwhile: read one byte past the limit at most.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(unreadable)?;
    DownloadError::within(bytes, limit)
}
