//! A reminder as the store keeps it: the payload of a scheduled job, holding
//! everything its delivery needs (where, whom to mention, what, in which zone),
//! and the owner string that lists and cancels a user's reminders.

use natter_core::store::ScheduledJob;
use natter_core::{Author, ChannelRef, Incoming, MessageId, PluginError};
use serde::{Deserialize, Serialize};

/// One pending reminder: the payload of its scheduled job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// The conversation it was set in, where it is delivered.
    pub channel: ChannelRef,
    /// The platform id of the user who set it (mentioned on delivery).
    pub author_id: String,
    /// Their display name when they set it.
    pub author_name: String,
    /// What to remind them of.
    pub text: String,
    /// The `/remind` message, for platforms that can reply to it.
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// The IANA time zone it was set in (`Europe/Berlin`), for showing the
    /// due time on delivery.
    pub timezone: String,
    /// When it was due, in milliseconds since the Unix epoch. Kept here
    /// because the job's own due time moves when a delivery is retried, and
    /// lateness counts from this one.
    pub due_unix_ms: i64,
}

impl Reminder {
    /// A reminder of `text` set by `message`'s author, due at `due_unix_ms`,
    /// set in `timezone`.
    pub fn new(message: &Incoming, text: &str, timezone: &str, due_unix_ms: i64) -> Self {
        Self {
            channel: message.channel.clone(),
            author_id: message.author.id.clone(),
            author_name: message.author.display_name.clone(),
            text: text.to_owned(),
            reply_to: Some(message.id.clone()),
            timezone: timezone.to_owned(),
            due_unix_ms,
        }
    }

    /// Who to mention on delivery.
    pub fn author(&self) -> Author {
        Author::user(self.author_id.clone(), self.author_name.clone())
    }

    /// As a job payload.
    pub fn to_payload(&self) -> Result<serde_json::Value, PluginError> {
        serde_json::to_value(self).map_err(PluginError::internal)
    }

    /// Read back from a job.
    pub fn from_job(job: &ScheduledJob) -> Result<Self, PluginError> {
        serde_json::from_value(job.payload.clone())
            .map_err(|e| PluginError::internal(format!("reminder #{} is unreadable: {e}", job.id)))
    }
}

/// The owner of a user's reminders: their platform and id (`telegram:123`),
/// the same in every chat they use on that platform.
pub fn owner(message: &Incoming) -> String {
    format!("{}:{}", message.channel.platform, message.author.id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use natter_core::{Addressed, ConversationKey, Platform};

    use super::*;

    fn message() -> Incoming {
        Incoming {
            key: ConversationKey::new(Platform::new("telegram"), "chat/-100"),
            channel: ChannelRef::group(Platform::new("telegram"), "-100").in_thread("7"),
            id: MessageId("55".into()),
            author: Author::user("123", "Alice"),
            text: "/remind 10m tea".into(),
            addressed: Addressed::Command,
            replied_to_text: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn the_payload_round_trips_through_a_job() {
        let reminder = Reminder::new(&message(), "tea", "Europe/Berlin", 1);
        let job = ScheduledJob {
            id: 9,
            namespace: "remind".into(),
            owner: owner(&message()),
            due_unix_ms: 1,
            payload: reminder.to_payload().unwrap(),
        };
        assert_eq!(Reminder::from_job(&job).unwrap(), reminder);
        assert_eq!(job.owner, "telegram:123");
        assert_eq!(reminder.author(), Author::user("123", "Alice"));
        assert_eq!(job.payload["channel"]["thread"], "7");
        assert_eq!(job.payload["reply_to"], "55");
    }

    #[test]
    fn an_unreadable_payload_is_an_error_naming_the_job() {
        let job = ScheduledJob {
            id: 9,
            namespace: "remind".into(),
            owner: "telegram:123".into(),
            due_unix_ms: 1,
            payload: serde_json::json!({"text": "tea"}),
        };
        let error = Reminder::from_job(&job).unwrap_err().to_string();
        assert!(error.contains("#9"), "{error}");
    }
}
