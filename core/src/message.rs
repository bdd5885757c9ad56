//! Who said what, where: the platform-neutral message types adapters fill in.
//!
//! Adapters translate platform events into an [`Incoming`]; they decide nothing
//! else. Whether to answer, with which persona and history, is the engine's job.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The chat platform a message came from, named by the adapter that serves
/// it: `telegram`, `discord`, `console`, or any other (`web`, `matrix`, `test`).
///
/// Core knows no platform by name; each adapter declares its own with the
/// `const` [`Platform::new`], and a name read at run time (a channel reference
/// in settings, a stored job) is checked and interned by
/// [`Platform::from_str`](std::str::FromStr). Platforms are `Copy` and
/// compare by name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform(&'static str);

/// Longest platform name.
const MAX_PLATFORM_NAME: usize = 32;
/// Distinct platform names read at run time that one process keeps; a
/// deployment has a handful, so more means the input is not platform names.
const MAX_INTERNED_PLATFORMS: usize = 256;

impl Platform {
    /// The platform called `name`: lowercase ASCII letters, digits, `_` and
    /// `-`, starting with a letter (adapters name theirs in a `const`).
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// The lowercase name used in keys, scopes and logs.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    fn is_valid_name(name: &str) -> bool {
        let mut bytes = name.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && name.len() <= MAX_PLATFORM_NAME
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }

    /// The interned copy of a valid `name`, leaked once per distinct name.
    fn intern(name: &str) -> Result<Self, ChannelRefError> {
        use std::collections::BTreeSet;
        use std::sync::{Mutex, OnceLock, PoisonError};

        static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
        let mut names = NAMES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = names.get(name) {
            return Ok(Self(known));
        }
        if names.len() >= MAX_INTERNED_PLATFORMS {
            return Err(ChannelRefError::UnknownPlatform(name.to_owned()));
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(leaked);
        Ok(Self(leaked))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Platform({})", self.0)
    }
}

impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Who a conversation belongs to: one history, one queue, one persona override.
///
/// The adapter derives the scope from a platform message by its session policy
/// (per chat, per channel, per thread or per member); the engine treats it as opaque.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationKey {
    platform: Platform,
    scope: String,
}

impl ConversationKey {
    /// A key for `scope` on `platform`, e.g. `(telegram, "chat/42/topic/7")`.
    pub fn new(platform: Platform, scope: impl Into<String>) -> Self {
        Self {
            platform,
            scope: scope.into(),
        }
    }

    /// The platform this conversation lives on.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The adapter-defined scope within the platform.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.scope)
    }
}

/// Whether a channel is a one-to-one chat with the bot or shared with others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A private chat or DM: only the user and the bot.
    Private,
    /// A group, supergroup, guild channel or thread.
    Group,
}

/// Where a message was posted and where its reply goes, with the places that
/// contain it (server, channel, thread) for persona inheritance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The platform.
    pub platform: Platform,
    /// The server (Discord guild) containing the channel, if any.
    pub server: Option<String>,
    /// The chat or channel id.
    pub channel: String,
    /// The thread or forum topic within the channel, if any.
    pub thread: Option<String>,
    /// Private chat or group.
    pub kind: ChannelKind,
}

impl ChannelRef {
    /// A private chat with id `channel`.
    pub fn private(platform: Platform, channel: impl Into<String>) -> Self {
        Self {
            platform,
            server: None,
            channel: channel.into(),
            thread: None,
            kind: ChannelKind::Private,
        }
    }

    /// A group chat or channel with id `channel`.
    pub fn group(platform: Platform, channel: impl Into<String>) -> Self {
        Self {
            kind: ChannelKind::Group,
            ..Self::private(platform, channel)
        }
    }

    /// The same channel, inside server `server`.
    pub fn in_server(mut self, server: impl Into<String>) -> Self {
        self.server = Some(server.into());
        self
    }

    /// The same channel, in thread or topic `thread`.
    pub fn in_thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = Some(thread.into());
        self
    }

    /// True for private chats and DMs.
    pub fn is_private(&self) -> bool {
        self.kind == ChannelKind::Private
    }

    /// The persona scopes containing this channel, most specific first:
    /// `platform/thread/T`, `platform/channel/C`, `platform/server/S`.
    pub fn scopes(&self) -> Vec<String> {
        crate::place::Place::containing(self)
            .iter()
            .filter(|place| !matches!(place, crate::place::Place::Platform(_)))
            .map(crate::place::Place::scope)
            .collect()
    }
}

impl fmt::Display for ChannelRef {
    /// `platform:channel`, or `platform:channel/thread`: the form
    /// [`ChannelRef::from_str`](std::str::FromStr) reads back (settings use it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.channel)?;
        if let Some(thread) = &self.thread {
            write!(f, "/{thread}")?;
        }
        Ok(())
    }
}

/// Why a channel reference such as `telegram:-1001234` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelRefError {
    /// No `platform:` prefix.
    #[error(
        "`{0}` is not a channel reference; write platform:channel, e.g. telegram:-1001234 or discord:123456789"
    )]
    Malformed(String),
    /// The platform part is not a platform name.
    #[error("`{0}` is not a platform name (a lowercase name such as telegram, discord or console)")]
    UnknownPlatform(String),
}

impl std::str::FromStr for Platform {
    type Err = ChannelRefError;

    /// Reads a platform name (any case; surrounding space ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        if !Self::is_valid_name(&name) {
            return Err(ChannelRefError::UnknownPlatform(s.trim().to_owned()));
        }
        Self::intern(&name)
    }
}

impl std::str::FromStr for ChannelRef {
    type Err = ChannelRefError;

    /// Reads `platform:channel` or `platform:channel/thread` (a Telegram forum
    /// topic or a Discord thread). The channel is taken to be a group: a place
    /// natter posts to on its own, such as a support team's chat.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || ChannelRefError::Malformed(s.to_owned());
        let (platform, rest) = s.trim().split_once(':').ok_or_else(malformed)?;
        let platform: Platform = platform.parse()?;
        let (channel, thread) = match rest.split_once('/') {
            Some((channel, thread)) => (channel.trim(), Some(thread.trim())),
            None => (rest.trim(), None),
        };
        if channel.is_empty() || thread.is_some_and(str::is_empty) {
            return Err(malformed());
        }
        let mut channel = ChannelRef::group(platform, channel);
        channel.thread = thread.map(str::to_owned);
        Ok(channel)
    }
}

/// A platform's id for one message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub String);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The platform's user id.
    pub id: String,
    /// The name to show and to give the model in group chats.
    pub display_name: String,
    /// Bots are not answered unless the engine is configured to.
    pub is_bot: bool,
    /// May change settings (such as the persona) in group chats.
    pub is_admin: bool,
}

impl Author {
    /// A human, non-admin author.
    pub fn user(id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            display_name: display_name.into(),
            is_bot: false,
            is_admin: false,
        }
    }

    /// The same author, marked as an admin.
    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    /// The same author, marked as a bot.
    pub fn bot(mut self) -> Self {
        self.is_bot = true;
        self
    }
}

/// How a message reached the bot; decides whether the engine answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressed {
    /// A private chat: every message is for the bot.
    Private,
    /// The bot was @mentioned.
    Mentioned,
    /// The message replies to one of the bot's messages.
    ReplyToBot,
    /// A `/command` meant for this bot.
    Command,
    /// Group chatter not meant for the bot. Never answered (and not shown to plugins).
    NotAddressed,
}

/// What kind of file came with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A photo or an image file.
    Image,
    /// A voice note.
    Voice,
    /// An audio file.
    Audio,
    /// A video or a video note.
    Video,
    /// Any other file.
    File,
}

impl AttachmentKind {
    /// Reads a MIME type (`image/png`, `audio/ogg`): an image, audio, video, or a file.
    pub fn from_mime(mime: &str) -> Self {
        match mime.split('/').next().map(str::trim) {
            Some("image") => AttachmentKind::Image,
            Some("audio") => AttachmentKind::Audio,
            Some("video") => AttachmentKind::Video,
            _ => AttachmentKind::File,
        }
    }
}

/// A file that came with a message, by reference: the platform's id or URL,
/// never its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// What it is.
    pub kind: AttachmentKind,
    /// The platform's file id or URL.
    pub reference: String,
    /// Its MIME type, where the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Its size in bytes, where the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// How long it plays, in seconds (voice, audio, video), where the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    /// Its file name, where the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

impl Attachment {
    /// An attachment of `kind` at `reference`.
    pub fn new(kind: AttachmentKind, reference: impl Into<String>) -> Self {
        Self {
            kind,
            reference: reference.into(),
            mime: None,
            size: None,
            seconds: None,
            file_name: None,
        }
    }

    /// The same attachment with MIME type `mime`.
    #[must_use]
    pub fn with_mime(mut self, mime: impl Into<String>) -> Self {
        self.mime = Some(mime.into());
        self
    }

    /// The same attachment, `seconds` long.
    #[must_use]
    pub fn with_seconds(mut self, seconds: u32) -> Self {
        self.seconds = Some(seconds);
        self
    }
}

/// A message the engine may answer. Adapters fill it in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incoming {
    /// The conversation this message belongs to.
    pub key: ConversationKey,
    /// Where it was posted; replies go here.
    pub channel: ChannelRef,
    /// The platform's id for this message (replies reference it).
    pub id: MessageId,
    /// Who wrote it.
    pub author: Author,
    /// The text, with the bot's mention already stripped.
    pub text: String,
    /// How it reached the bot.
    pub addressed: Addressed,
    /// The text of the message this one replies to, where the platform has one.
    pub replied_to_text: Option<String>,
    /// Photos, voice notes and other files that came with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl Incoming {
    /// True when the engine should consider answering it at all.
    pub fn is_addressed(&self) -> bool {
        self.addressed != Addressed::NotAddressed
    }

    /// True when the author may change settings here (the persona, admin-only
    /// commands): anyone in a private chat, admins in groups.
    pub fn may_administer(&self) -> bool {
        self.channel.is_private() || self.author.is_admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_references_read_back_what_they_print() {
        let topic: ChannelRef = "telegram:-1001234/7".parse().unwrap();
        assert_eq!(topic.platform, Platform::new("telegram"));
        assert_eq!(topic.channel, "-1001234");
        assert_eq!(topic.thread.as_deref(), Some("7"));
        assert_eq!(topic.to_string(), "telegram:-1001234/7");
        let plain: ChannelRef = " Discord:42 ".parse().unwrap();
        assert_eq!(plain, ChannelRef::group(Platform::new("discord"), "42"));
    }

    #[test]
    fn platforms_are_named_by_their_adapters_and_read_back() {
        const MATRIX: Platform = Platform::new("matrix");
        let read: Platform = " Matrix ".parse().unwrap();
        assert_eq!(read, MATRIX);
        assert_eq!(read.as_str(), "matrix");
        let json = serde_json::to_string(&MATRIX).unwrap();
        assert_eq!(json, "\"matrix\"");
        assert_eq!(serde_json::from_str::<Platform>(&json).unwrap(), MATRIX);
        assert!(serde_json::from_str::<Platform>("\"no such\"").is_err());
    }

    #[test]
    fn bad_channel_references_say_what_is_wrong() {
        assert!(matches!(
            "-1001234".parse::<ChannelRef>(),
            Err(ChannelRefError::Malformed(_))
        ));
        assert!(matches!(
            "sl@ck:C123".parse::<ChannelRef>(),
            Err(ChannelRefError::UnknownPlatform(p)) if p == "sl@ck"
        ));
        assert!("9lives:1".parse::<ChannelRef>().is_err());
        assert!("telegram:".parse::<ChannelRef>().is_err());
        assert!("telegram:1/".parse::<ChannelRef>().is_err());
    }
}
