//! The reminders as tools the model can call, so "remind me tomorrow at 9 to
//! call Ana" works in plain words: `remind_set`, `remind_list`,
//! `remind_cancel`, and `time_now` (what time it is for the user, so the
//! model can reason about "tonight" or "in two hours").

use jiff::{Timestamp, ZonedDateTime};
use natter_core::{PluginError, ToolSpec};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::when;
use crate::zone::Zone;

/// Sets a reminder.
pub(crate) const SET: &str = "remind_set";
/// Lists the user's reminders.
pub(crate) const LIST: &str = "remind_list";
/// Cancels one.
pub(crate) const CANCEL: &str = "remind_cancel";
/// The time now, in the user's zone.
pub(crate) const NOW: &str = "time_now";

/// Arguments of `remind_set`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SetArgs {
    /// When, in the user's words: "in 10 minutes", "tomorrow 9:00",
    /// "friday 17:30", "18:00", "2026-12-24 18:00".
    pub(crate) when: String,
    /// What to remind the user of, e.g. "call Ana".
    pub(crate) text: String,
}

/// Arguments of `remind_cancel`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CancelArgs {
    /// The reminder's number, as `remind_list` or `remind_set` gave it.
    pub(crate) number: i64,
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct NoArgs {}

/// The tools, as the model is told about them.
pub(crate) fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec::new::<SetArgs>(
            SET,
            "Set a reminder for the user: at the time given, the reminder is posted in this chat.",
        )
        .side_effect(),
        ToolSpec::new::<NoArgs>(LIST, "List the user's pending reminders, by number."),
        ToolSpec::new::<CancelArgs>(CANCEL, "Cancel one of the user's pending reminders.")
            .side_effect(),
        ToolSpec::new::<NoArgs>(NOW, "The current date and time in the user's time zone."),
    ]
}

/// When a `remind_set` call is due, and its text. A model may put the whole
/// sentence in `when` ("tomorrow 9:00 call Ana"): what follows the time then
/// becomes the text if `text` is empty.
pub(crate) fn due(
    args: &SetArgs,
    now: Timestamp,
    zone: &Zone,
    max_days_ahead: u32,
) -> Result<(ZonedDateTime, String), PluginError> {
    let read = when::parse(&args.when, now, &zone.tz, max_days_ahead)
        .map_err(|e| PluginError::usage(format!("when: {e}")))?;
    let text = match (args.text.trim(), read.text.trim()) {
        ("", "") => {
            return Err(PluginError::usage("text: say what to remind the user of"));
        }
        ("", rest) => rest.to_owned(),
        (text, _) => text.to_owned(),
    };
    Ok((read.due, text))
}

/// `It is Wed 2026-01-14 10:30 CET in Europe/Berlin.`
pub(crate) fn now(now: Timestamp, zone: &Zone) -> String {
    let here = now.to_zoned_datetime(zone.tz.clone());
    format!(
        "It is {} in {} (UTC{}).",
        here.strftime("%A %Y-%m-%d %H:%M"),
        zone.name,
        here.strftime("%:z")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn berlin() -> Zone {
        Zone::lookup("Europe/Berlin").unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_time_is_read_in_the_users_zone() {
        let args = SetArgs {
            when: "tomorrow 9:00".into(),
            text: "call Ana".into(),
        };
        let (due, text) = due(&args, at("2026-01-14T10:00:00Z"), &berlin(), 366).unwrap();
        assert_eq!(due.to_string(), "2026-01-15T09:00:00+01:00[Europe/Berlin]");
        assert_eq!(text, "call Ana");
    }

    #[test]
    fn a_whole_sentence_in_when_is_read_as_time_then_text() {
        let args = SetArgs {
            when: "in 10 minutes to stretch".into(),
            text: String::new(),
        };
        let (due, text) = due(&args, at("2026-01-14T10:00:00Z"), &berlin(), 366).unwrap();
        assert_eq!(due.timestamp(), at("2026-01-14T10:10:00Z"));
        assert_eq!(text, "stretch");
    }

    #[test]
    fn unreadable_times_and_missing_text_say_which_argument() {
        let bad = SetArgs {
            when: "someday".into(),
            text: "x".into(),
        };
        let error = due(&bad, at("2026-01-14T10:00:00Z"), &berlin(), 366).unwrap_err();
        assert!(
            error.to_string().starts_with("when: I can't read a time"),
            "{error}"
        );
        let empty = SetArgs {
            when: "10m".into(),
            text: " ".into(),
        };
        let error = due(&empty, at("2026-01-14T10:00:00Z"), &berlin(), 366).unwrap_err();
        assert!(error.to_string().starts_with("text: "), "{error}");
    }

    #[test]
    fn now_says_the_local_time_and_zone() {
        assert_eq!(
            now(at("2026-01-14T10:30:00Z"), &berlin()),
            "It is Wednesday 2026-01-14 11:30 in Europe/Berlin (UTC+01:00)."
        );
    }
}
