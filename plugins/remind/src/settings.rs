//! The `[plugins.remind]` settings section.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// The `[plugins.remind]` settings section.
///
/// ```toml
/// [plugins.remind]
/// enabled = true
/// default_timezone = "UTC"   # for users who have not set theirs with /remind tz
/// max_pending = 25           # reminders one user may have waiting
/// max_days_ahead = 366       # how far ahead a reminder may be set
/// late_after_secs = 60       # a reminder delivered later than this says so
/// max_chars = 1000           # longest reminder text
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemindSettings {
    /// The IANA time zone (`Europe/Berlin`) of users who have not chosen one.
    pub default_timezone: String,
    /// Most reminders one user may have pending.
    pub max_pending: usize,
    /// Furthest ahead a reminder may be set, in days.
    pub max_days_ahead: u32,
    /// A reminder delivered more than this many seconds after it was due (say,
    /// natter was offline) carries a note saying it is late.
    pub late_after_secs: u64,
    /// Longest reminder text, in characters.
    pub max_chars: usize,
}

impl Default for RemindSettings {
    fn default() -> Self {
        Self {
            default_timezone: "UTC".to_owned(),
            max_pending: 25,
            max_days_ahead: 366,
            late_after_secs: 60,
            max_chars: 1000,
        }
    }
}

/// A problem in the `[plugins.remind]` settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemindError {
    /// `default_timezone` is not in the time zone database.
    #[error(
        "[plugins.remind] default_timezone `{0}` is not a known time zone \
         (use an IANA name such as UTC or Europe/Berlin)"
    )]
    UnknownTimezone(String),
    /// A limit that must be at least 1 is 0.
    #[error("[plugins.remind] {0} must be at least 1")]
    Zero(&'static str),
}

impl RemindSettings {
    /// Checks the settings; returns the default time zone.
    pub fn validate(&self) -> Result<TimeZone, RemindError> {
        for (name, value) in [
            ("max_pending", self.max_pending),
            ("max_days_ahead", self.max_days_ahead as usize),
            ("max_chars", self.max_chars),
        ] {
            if value == 0 {
                return Err(RemindError::Zero(name));
            }
        }
        TimeZone::get(&self.default_timezone)
            .map_err(|_| RemindError::UnknownTimezone(self.default_timezone.clone()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn defaults_are_what_the_docs_say() {
        let s: RemindSettings = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(s, RemindSettings::default());
        assert_eq!(s.default_timezone, "UTC");
        assert_eq!(s.max_pending, 25);
        assert_eq!(s.max_days_ahead, 366);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn a_typo_is_an_error() {
        let typo = serde_json::json!({"max_pendng": 3});
        assert!(serde_json::from_value::<RemindSettings>(typo).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let unknown = RemindSettings {
            default_timezone: "Mars/Olympus".into(),
            ..RemindSettings::default()
        };
        assert_eq!(
            unknown.validate().unwrap_err(),
            RemindError::UnknownTimezone("Mars/Olympus".into())
        );
        let zero = RemindSettings {
            max_days_ahead: 0,
            ..RemindSettings::default()
        };
        assert_eq!(
            zero.validate().unwrap_err(),
            RemindError::Zero("max_days_ahead")
        );
        let berlin = RemindSettings {
            default_timezone: "Europe/Berlin".into(),
            ..RemindSettings::default()
        };
        assert_eq!(
            berlin.validate().unwrap().iana_name(),
            Some("Europe/Berlin")
        );
    }
}
