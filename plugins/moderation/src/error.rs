//! What can be wrong with the `[plugins.moderation]` settings.

/// A problem in the `[plugins.moderation]` settings. `at` is the key within the
/// section, e.g. `output.patterns` or `channels."telegram:-1001234".input.words`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModerationError {
    /// A pattern is not a valid regular expression.
    #[error("{at}: `{pattern}` is not a valid regular expression: {reason}")]
    Pattern {
        /// Where it is.
        at: String,
        /// The pattern as written.
        pattern: String,
        /// What the regex parser said.
        reason: String,
    },
    /// A word list could not be compiled (it is too large).
    #[error("{at}: the word list cannot be used: {reason}")]
    Words {
        /// Where it is.
        at: String,
        /// Why.
        reason: String,
    },
    /// An empty word or pattern, which would match everywhere.
    #[error("{at}: contains an empty entry, which would match everything")]
    Empty {
        /// Where it is.
        at: String,
    },
    /// A key of `channels` is not a channel reference.
    #[error("channels.\"{key}\": {reason}")]
    Channel {
        /// The key as written.
        key: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// Two keys of `channels` name the same channel.
    #[error("channels: \"{first}\" and \"{second}\" are the same channel")]
    DuplicateChannel {
        /// One key.
        first: String,
        /// The other.
        second: String,
    },
    /// A reply text is empty.
    #[error("{0}: must not be empty")]
    EmptyText(&'static str),
    /// The output rules match the redaction text itself, so redacted text would
    /// be redacted again and again while a reply streams.
    #[error("redaction: `{redaction}` matches the rules in {at}; choose a text they do not match")]
    RedactionMatches {
        /// The redaction text.
        redaction: String,
        /// The rules that match it.
        at: String,
    },
}
