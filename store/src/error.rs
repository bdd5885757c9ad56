//! Mapping sqlx errors onto natter-core's [`StoreError`], whose variants say
//! what a caller can do: retry later (`Unavailable`), report a bug or a broken
//! database (`Query`, `Corrupt`). Messages never contain the database URL.

use natter_core::StoreError;

/// A failure while connecting or preparing the database.
pub(crate) fn unavailable(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// A failure of a query against an open database.
pub(crate) fn query_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            StoreError::Corrupt(error.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Configuration(_) => StoreError::Unavailable(error.to_string()),
        other => StoreError::Query(other.to_string()),
    }
}

/// Stored JSON that does not parse.
pub(crate) fn corrupt_json(what: &str, error: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what} is not valid JSON: {error}"))
}
