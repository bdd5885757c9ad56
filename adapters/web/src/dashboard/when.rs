//! Times as the dashboard shows them: UTC, to the minute.

use std::time::SystemTime;

/// `unix_ms` as `2025-01-31 14:05 UTC`.
pub(crate) fn utc(unix_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(unix_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| "—".into())
}

/// `time` as `2025-01-31 14:05 UTC`.
pub(crate) fn utc_of(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time)
        .map(|t| utc(t.as_millisecond()))
        .unwrap_or_else(|_| "—".into())
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
