//! Turning a Discord message into a [`natter_core::Incoming`]: which
//! conversation it belongs to, where it was posted, who wrote it, how it
//! reached the bot, and the text with the bot's mention taken out.
//!
//! Pure functions over what the handler looked up; the engine decides the rest.

use std::collections::HashSet;

use natter_core::{Addressed, Author, ChannelRef, ConversationKey, Incoming, MessageId};
use serenity::model::channel::{Message, MessageFlags};
use serenity::model::id::{ChannelId, GuildId, UserId};

use crate::settings::{DiscordSettings, Scope};

/// Where a message was posted: a DM, a server channel, or a thread in one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// A direct message channel.
    Direct(ChannelId),
    /// A server channel, or a thread (`thread`) whose parent is `channel`.
    Server {
        /// The server.
        guild: GuildId,
        /// The channel, or the thread's parent.
        channel: ChannelId,
        /// The thread, if the message is in one.
        thread: Option<ChannelId>,
    },
}

/// The adapter's translation rules, fixed at startup.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    bot: UserId,
    scope: Scope,
    admins: HashSet<u64>,
    allowed_guilds: HashSet<u64>,
    allowed_channels: HashSet<u64>,
    allowed_dm_users: HashSet<u64>,
    blocked_users: HashSet<u64>,
    blocked_guilds: HashSet<u64>,
    blocked_channels: HashSet<u64>,
}

impl Policy {
    /// Rules for the bot user `bot` under `settings`.
    pub(crate) fn new(bot: UserId, settings: &DiscordSettings) -> Self {
        let set = |ids: &[crate::settings::Snowflake]| ids.iter().map(|s| s.0).collect();
        Self {
            bot,
            scope: settings.scope,
            admins: set(&settings.admins),
            allowed_guilds: set(&settings.allowed_guilds),
            allowed_channels: set(&settings.allowed_channels),
            allowed_dm_users: set(&settings.allowed_dm_users),
            blocked_users: set(&settings.blocked_users),
            blocked_guilds: set(&settings.blocked_guilds),
            blocked_channels: set(&settings.blocked_channels),
        }
    }

    /// The bot's own user id.
    pub(crate) fn bot(&self) -> UserId {
        self.bot
    }

    /// True when the settings let the bot hear `user` at `place`: neither the
    /// user nor the place is blocked, the place is allowed, and a DM's author
    /// may write to the bot.
    pub(crate) fn allows(&self, place: &Place, user: UserId) -> bool {
        if self.blocked_users.contains(&user.get()) {
            return false;
        }
        match place {
            Place::Direct(_) => {
                self.allowed_dm_users.is_empty()
                    || self.allowed_dm_users.contains(&user.get())
                    || self.is_configured_admin(user)
            }
            Place::Server {
                guild,
                channel,
                thread,
            } => {
                let listed = |ids: &HashSet<u64>| {
                    ids.contains(&channel.get()) || thread.is_some_and(|t| ids.contains(&t.get()))
                };
                if self.blocked_guilds.contains(&guild.get()) || listed(&self.blocked_channels) {
                    return false;
                }
                let guild_ok =
                    self.allowed_guilds.is_empty() || self.allowed_guilds.contains(&guild.get());
                let channel_ok = self.allowed_channels.is_empty() || listed(&self.allowed_channels);
                guild_ok && channel_ok
            }
        }
    }

    /// True for user ids listed in `[discord] admins`.
    pub(crate) fn is_configured_admin(&self, user: UserId) -> bool {
        self.admins.contains(&user.get())
    }

    /// The message as the engine sees it. `manages_server`: the author has
    /// Manage Server (or owns the server) where the message was posted.
    pub(crate) fn translate(&self, msg: &Message, place: &Place, manages_server: bool) -> Incoming {
        let author = Author {
            id: msg.author.id.get().to_string(),
            display_name: display_name(msg),
            is_bot: msg.author.bot,
            is_admin: manages_server || self.is_configured_admin(msg.author.id),
        };
        let (key, channel, addressed) = match *place {
            Place::Direct(channel) => (
                format!("dm/{}", msg.author.id),
                ChannelRef::private(crate::PLATFORM, channel.get().to_string()),
                Addressed::Private,
            ),
            Place::Server {
                guild,
                channel,
                thread,
            } => {
                let mut key = match thread {
                    Some(thread) => format!("channel/{channel}/thread/{thread}"),
                    None => format!("channel/{channel}"),
                };
                if self.scope == Scope::Member {
                    key.push_str(&format!("/member/{}", msg.author.id));
                }
                let mut at = ChannelRef::group(crate::PLATFORM, channel.get().to_string())
                    .in_server(guild.get().to_string());
                if let Some(thread) = thread {
                    at = at.in_thread(thread.get().to_string());
                }
                (key, at, self.addressed_in_server(msg))
            }
        };
        Incoming {
            key: ConversationKey::new(crate::PLATFORM, key),
            channel,
            id: MessageId(msg.id.get().to_string()),
            author,
            text: strip_mention(&msg.content, self.bot),
            addressed,
            replied_to_text: msg.referenced_message.as_ref().map(|m| m.content.clone()),
            attachments: attachments(msg),
        }
    }

    fn addressed_in_server(&self, msg: &Message) -> Addressed {
        let tagged = mention_tags(self.bot)
            .iter()
            .any(|tag| msg.content.contains(tag.as_str()));
        let replied = msg
            .referenced_message
            .as_ref()
            .is_some_and(|m| m.author.id == self.bot);
        let listed = msg.mentions.iter().any(|u| u.id == self.bot);
        if tagged {
            Addressed::Mentioned
        } else if replied {
            Addressed::ReplyToBot
        } else if listed {
            Addressed::Mentioned
        } else {
            Addressed::NotAddressed
        }
    }
}

/// The name shown for the author: server nickname, else global name, else username.
fn display_name(msg: &Message) -> String {
    msg.member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| msg.author.global_name.clone())
        .unwrap_or_else(|| msg.author.name.clone())
}

/// `<@id>` and the older `<@!id>`.
fn mention_tags(bot: UserId) -> [String; 2] {
    [format!("<@{bot}>"), format!("<@!{bot}>")]
}

/// `text` without the bot's mentions, so `@bot /reset` reads as `/reset`.
/// Both forms are taken out together, earliest first, so taking one out
/// cannot leave the other behind (`<@<@!1>1>`).
pub(crate) fn strip_mention(text: &str, bot: UserId) -> String {
    let tags = mention_tags(bot);
    let mut out = text.to_owned();
    while let Some((at, len)) = tags
        .iter()
        .filter_map(|tag| out.find(tag.as_str()).map(|at| (at, tag.len())))
        .min()
    {
        let mut end = at + len;
        // Take one space after the mention with it, so no double space remains.
        if out[end..].starts_with(' ') && (at == 0 || out[..at].ends_with(' ')) {
            end += 1;
        }
        out.replace_range(at..end, "");
    }
    out.trim().to_owned()
}

/// The files of `msg` as the engine's attachments.
fn attachments(msg: &Message) -> Vec<natter_core::Attachment> {
    let voice_message = msg
        .flags
        .is_some_and(|flags| flags.contains(MessageFlags::IS_VOICE_MESSAGE));
    msg.attachments
        .iter()
        .map(|file| attachment(file, voice_message))
        .collect()
}

/// A Discord attachment as the engine's, by URL, with its size, name, type
/// and length; its kind by content type, or a voice note when it is the
/// recording of a voice message (`voice_message`: the message's flag) or
/// audio with a length (only voice messages have one).
fn attachment(
    file: &serenity::model::channel::Attachment,
    voice_message: bool,
) -> natter_core::Attachment {
    use natter_core::AttachmentKind;
    let mut mime = file.content_type.clone();
    let mut kind = mime
        .as_deref()
        .map_or(AttachmentKind::File, AttachmentKind::from_mime);
    let voice = voice_message
        || (kind == AttachmentKind::Audio && file.duration_secs.is_some_and(|d| d > 0.0));
    if voice {
        kind = AttachmentKind::Voice;
        // Voice messages are Ogg Opus.
        mime.get_or_insert_with(|| "audio/ogg".to_owned());
    }
    let mut attachment = natter_core::Attachment::new(kind, file.url.clone());
    attachment.mime = mime;
    attachment.size = Some(u64::from(file.size));
    attachment.file_name = Some(file.filename.clone());
    // Whole seconds, rounded up: a 0.4 s note still plays for a moment. The
    // cast saturates (a negative or NaN length reads as 0).
    attachment.seconds = file.duration_secs.map(|secs| secs.ceil() as u32);
    attachment
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn attachments_keep_their_url_and_kind_by_content_type() {
        let file = |name: &str, mime: Option<&str>| {
            let mut value = json!({
                "id": "1", "filename": name, "size": 10,
                "url": format!("https://cdn.example/{name}"),
                "proxy_url": format!("https://media.example/{name}"),
            });
            if let Some(mime) = mime {
                value["content_type"] = json!(mime);
            }
            serde_json::from_value::<serenity::model::channel::Attachment>(value).unwrap()
        };
        let image = attachment(&file("shot.png", Some("image/png")), false);
        assert_eq!(image.kind, natter_core::AttachmentKind::Image);
        assert_eq!(image.reference, "https://cdn.example/shot.png");
        assert_eq!(image.size, Some(10));
        assert_eq!(image.file_name.as_deref(), Some("shot.png"));
        assert_eq!(image.seconds, None);
        let song = attachment(&file("song.ogg", Some("audio/ogg")), false);
        assert_eq!(song.kind, natter_core::AttachmentKind::Audio);
        let unknown = attachment(&file("notes", None), false);
        assert_eq!(unknown.kind, natter_core::AttachmentKind::File);
        assert_eq!(unknown.mime, None);
    }

    #[test]
    fn voice_messages_are_voice_notes_with_their_length_rounded_up() {
        let recording = |mime: Option<&str>| {
            json!({
                "id": "1", "filename": "voice-message.ogg", "size": 4_321,
                "url": "https://cdn.discordapp.com/attachments/1/2/voice-message.ogg",
                "proxy_url": "https://media.discordapp.net/attachments/1/2/voice-message.ogg",
                "content_type": mime, "duration_secs": 3.2, "waveform": "AAAA",
            })
        };
        let flagged = message(
            "",
            json!({"flags": 8192, "attachments": [recording(Some("audio/ogg"))]}),
        );
        let incoming = policy(Scope::Channel).translate(&flagged, &server(None), false);
        let mut expected = natter_core::Attachment::new(
            natter_core::AttachmentKind::Voice,
            "https://cdn.discordapp.com/attachments/1/2/voice-message.ogg",
        )
        .with_mime("audio/ogg")
        .with_seconds(4);
        expected.size = Some(4_321);
        expected.file_name = Some("voice-message.ogg".into());
        assert_eq!(incoming.attachments, [expected.clone()]);
        // Flagged without a content type: Ogg Opus, as Discord records them.
        let bare = message("", json!({"flags": 8192, "attachments": [recording(None)]}));
        let incoming = policy(Scope::Channel).translate(&bare, &server(None), false);
        assert_eq!(incoming.attachments, [expected.clone()]);
        // Not flagged, but audio with a length: only voice messages have one.
        let unflagged = message("", json!({"attachments": [recording(Some("audio/ogg"))]}));
        let incoming = policy(Scope::Channel).translate(&unflagged, &server(None), false);
        assert_eq!(incoming.attachments, [expected]);
    }

    const BOT: u64 = 900;

    fn policy(scope: Scope) -> Policy {
        let settings = DiscordSettings {
            scope,
            admins: vec![crate::settings::Snowflake(7)],
            ..DiscordSettings::default()
        };
        Policy::new(UserId::new(BOT), &settings)
    }

    fn message(content: &str, extra: serde_json::Value) -> Message {
        let mut value = json!({
            "id": "1000", "channel_id": "10", "guild_id": "1",
            "author": {"id": "5", "username": "alice", "global_name": "Alice A."},
            "content": content, "timestamp": "2024-01-01T00:00:00+00:00",
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0,
        });
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    fn server(thread: Option<u64>) -> Place {
        Place::Server {
            guild: GuildId::new(1),
            channel: ChannelId::new(10),
            thread: thread.map(ChannelId::new),
        }
    }

    #[test]
    fn mention_is_stripped_and_addresses_the_bot() {
        let msg = message(
            "<@900> /reset",
            json!({"mentions": [{"id": "900", "username": "natter", "bot": true}]}),
        );
        let incoming = policy(Scope::Channel).translate(&msg, &server(None), false);
        assert_eq!(incoming.text, "/reset");
        assert_eq!(incoming.addressed, Addressed::Mentioned);
        assert_eq!(incoming.key.scope(), "channel/10");
        assert_eq!(incoming.author.display_name, "Alice A.");
        assert!(!incoming.author.is_admin);
        assert_eq!(
            strip_mention("hey <@!900> there", UserId::new(BOT)),
            "hey there"
        );
    }

    #[test]
    fn chatter_is_not_addressed_and_replies_to_the_bot_are() {
        let p = policy(Scope::Channel);
        let plain = p.translate(&message("hello all", json!({})), &server(None), false);
        assert_eq!(plain.addressed, Addressed::NotAddressed);
        let reply = message(
            "and then?",
            json!({"referenced_message": {
                "id": "999", "channel_id": "10",
                "author": {"id": "900", "username": "natter", "bot": true},
                "content": "Once upon a time", "timestamp": "2024-01-01T00:00:00+00:00",
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": false, "type": 0,
            }}),
        );
        let incoming = p.translate(&reply, &server(None), false);
        assert_eq!(incoming.addressed, Addressed::ReplyToBot);
        assert_eq!(
            incoming.replied_to_text.as_deref(),
            Some("Once upon a time")
        );
    }

    #[test]
    fn threads_and_members_get_their_own_conversations() {
        let msg = message(
            "<@900> hi",
            json!({"member": {"nick": "Ali", "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false}}),
        );
        let in_thread = policy(Scope::Channel).translate(&msg, &server(Some(20)), false);
        assert_eq!(in_thread.key.scope(), "channel/10/thread/20");
        assert_eq!(
            in_thread.channel.scopes(),
            vec![
                "discord/channel/10/thread/20",
                "discord/channel/10",
                "discord/server/1"
            ]
        );
        assert_eq!(in_thread.author.display_name, "Ali");
        let per_member = policy(Scope::Member).translate(&msg, &server(None), true);
        assert_eq!(per_member.key.scope(), "channel/10/member/5");
        assert!(per_member.author.is_admin);
    }

    #[test]
    fn direct_messages_are_private_and_admins_come_from_settings() {
        let msg = message(
            "hi",
            json!({"guild_id": null, "author": {"id": "7", "username": "root"}}),
        );
        let incoming =
            policy(Scope::Member).translate(&msg, &Place::Direct(ChannelId::new(10)), false);
        assert_eq!(incoming.addressed, Addressed::Private);
        assert!(incoming.channel.is_private());
        assert_eq!(incoming.key.scope(), "dm/7");
        assert!(incoming.author.is_admin);
    }

    #[test]
    fn allowed_lists_filter_servers_and_channels_but_not_dms() {
        let settings = DiscordSettings {
            allowed_guilds: vec![crate::settings::Snowflake(1)],
            allowed_channels: vec![crate::settings::Snowflake(20)],
            ..DiscordSettings::default()
        };
        let p = Policy::new(UserId::new(BOT), &settings);
        let anyone = UserId::new(5);
        assert!(!p.allows(&server(None), anyone));
        assert!(p.allows(&server(Some(20)), anyone));
        assert!(p.allows(&Place::Direct(ChannelId::new(3)), anyone));
        let elsewhere = Place::Server {
            guild: GuildId::new(2),
            channel: ChannelId::new(20),
            thread: None,
        };
        assert!(!p.allows(&elsewhere, anyone));
    }

    #[test]
    fn block_lists_win_and_dms_can_be_limited_to_some_users() {
        let id = crate::settings::Snowflake;
        let settings = DiscordSettings {
            admins: vec![id(1)],
            allowed_dm_users: vec![id(7)],
            blocked_users: vec![id(9)],
            blocked_guilds: vec![id(2)],
            blocked_channels: vec![id(30)],
            ..DiscordSettings::default()
        };
        let p = Policy::new(UserId::new(BOT), &settings);
        let dm = Place::Direct(ChannelId::new(3));
        assert!(p.allows(&dm, UserId::new(7)), "listed for DMs");
        assert!(p.allows(&dm, UserId::new(1)), "an admin may always DM");
        assert!(!p.allows(&dm, UserId::new(5)), "not listed for DMs");
        let place = |guild: u64, channel: u64, thread: Option<u64>| Place::Server {
            guild: GuildId::new(guild),
            channel: ChannelId::new(channel),
            thread: thread.map(ChannelId::new),
        };
        assert!(
            p.allows(&place(1, 20, None), UserId::new(5)),
            "servers are open"
        );
        assert!(
            !p.allows(&place(1, 20, None), UserId::new(9)),
            "a blocked user"
        );
        assert!(!p.allows(&dm, UserId::new(9)));
        assert!(
            !p.allows(&place(2, 20, None), UserId::new(5)),
            "a blocked server"
        );
        assert!(
            !p.allows(&place(1, 30, None), UserId::new(5)),
            "a blocked channel"
        );
        assert!(
            !p.allows(&place(1, 30, Some(31)), UserId::new(5)),
            "a thread of a blocked channel"
        );
    }
}
