//! A Telegram message as a [`natter_core::Incoming`]: which conversation it
//! belongs to, who wrote it, whether it is meant for the bot, and the text the
//! model should see (the bot's mention stripped, `/cmd@bot` shortened to `/cmd`).
//!
//! Private chats: every message. Groups: an @mention (or a text mention of the
//! bot), a reply to one of the bot's messages, `/cmd@thisbot`, or a bare
//! `/cmd` the engine knows. Everything else is passed on as not addressed.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use natter_core::live::Live;

use natter_core::{
    Addressed, Author, ChannelKind, ChannelRef, ConversationKey, Incoming, MessageId,
};
use teloxide::types::{Message, MessageEntity, MessageEntityKind, MessageEntityRef, UserId};

use crate::settings::{Access, Scope};

/// Who the bot is, from `getMe`.
#[derive(Clone, Debug)]
pub struct BotIdentity {
    /// The bot's user id.
    pub id: u64,
    /// The bot's username, without `@`.
    pub username: String,
}

/// Turns Telegram messages into engine messages.
#[derive(Clone, Debug)]
pub struct Translator {
    me: BotIdentity,
    scope: Scope,
    /// Allow, block and admin lists: a settings reload replaces them.
    access: Arc<Live<Access>>,
    commands: HashSet<String>,
}

impl Translator {
    /// A translator for bot `me` with the given session scope, access lists and
    /// the engine's command names (bare `/cmd` in groups is only taken for these).
    pub fn new(
        me: BotIdentity,
        settings: &crate::TelegramSettings,
        commands: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            me,
            scope: settings.scope,
            access: Arc::new(Live::new(settings.access())),
            commands: commands.into_iter().collect(),
        }
    }

    /// The same translator, reading its access lists from `access`.
    pub(crate) fn with_access(mut self, access: Arc<Live<Access>>) -> Self {
        self.access = access;
        self
    }

    /// The engine message for `message`, or `None` when there is nothing to
    /// hand over (no text, caption or file, no sender, or a chat or user not allowed).
    pub fn translate(&self, message: &Message) -> Option<Incoming> {
        let attachments = crate::media::attachments(message);
        let (text, raw) = match (message.text(), message.caption()) {
            (Some(text), _) => (text, message.entities()),
            (None, Some(caption)) => (caption, message.caption_entities()),
            // A photo or voice note on its own is still a message.
            (None, None) if !attachments.is_empty() => ("", None),
            (None, None) => return None,
        };
        let valid = valid_entities(text, raw.unwrap_or_default());
        let entities = MessageEntityRef::parse(text, &valid);
        let chat_id = message.chat.id.0;
        let author = self.author(message)?;
        let user_id: i64 = author.id.parse().unwrap_or_default();
        if !self.access.get().allows(chat_id, user_id) {
            tracing::debug!(chat_id, user_id, "chat or user not allowed; ignoring");
            return None;
        }
        let private = message.chat.is_private();
        let topic = message
            .is_topic_message
            .then_some(message.thread_id)
            .flatten()
            .map(|t| t.0.0);

        let mut cut: Vec<Range<usize>> = Vec::new();
        let mut addressed = if private {
            Addressed::Private
        } else {
            Addressed::NotAddressed
        };
        let mut text_out = text.to_owned();
        if let Some(command) = self.command(text, &entities, private) {
            match command {
                CommandFor::Us(rewritten) => {
                    addressed = Addressed::Command;
                    text_out = rewritten;
                }
                CommandFor::Other => {}
            }
        } else {
            for entity in &entities {
                if self.mentions_me(entity) {
                    cut.push(entity.range());
                }
            }
            if !cut.is_empty() {
                text_out = strip(text, &cut);
                if !private {
                    addressed = Addressed::Mentioned;
                }
            }
        }
        let replied = message
            .reply_to_message()
            .filter(|r| topic != Some(r.id.0) || !message.is_topic_message);
        if addressed == Addressed::NotAddressed
            && replied
                .and_then(|r| r.from.as_ref())
                .is_some_and(|u| u.id == UserId(self.me.id))
        {
            addressed = Addressed::ReplyToBot;
        }

        let mut scope = format!("chat/{chat_id}");
        if let Some(topic) = topic {
            scope.push_str(&format!("/topic/{topic}"));
        }
        if !private && self.scope == Scope::Member {
            scope.push_str(&format!("/user/{user_id}"));
        }
        let channel = ChannelRef {
            platform: crate::PLATFORM,
            server: None,
            channel: chat_id.to_string(),
            thread: topic.map(|t| t.to_string()),
            kind: if private {
                ChannelKind::Private
            } else {
                ChannelKind::Group
            },
        };
        Some(Incoming {
            key: ConversationKey::new(crate::PLATFORM, scope),
            channel,
            id: MessageId(message.id.0.to_string()),
            author,
            text: text_out,
            addressed,
            replied_to_text: replied.and_then(|r| r.text().or(r.caption()).map(str::to_owned)),
            attachments,
        })
    }

    fn author(&self, message: &Message) -> Option<Author> {
        // An anonymous group admin posts as the group itself.
        if let Some(sender) = &message.sender_chat
            && sender.id == message.chat.id
        {
            let name = sender.title().unwrap_or("Group admin").to_owned();
            return Some(Author::user(sender.id.0.to_string(), name).admin());
        }
        let user = message.from.as_ref()?;
        let id = i64::try_from(user.id.0).ok()?;
        let mut author = Author::user(id.to_string(), user.full_name());
        author.is_bot = user.is_bot;
        // The group's own admins by Telegram are added on the way to the
        // engine, where it may matter (`run`).
        author.is_admin = self.access.get().admins.contains(&id);
        Some(author)
    }

    fn mentions_me(&self, entity: &MessageEntityRef<'_>) -> bool {
        match entity.kind() {
            MessageEntityKind::Mention => entity
                .text()
                .strip_prefix('@')
                .is_some_and(|name| name.eq_ignore_ascii_case(&self.me.username)),
            MessageEntityKind::TextMention { user } => user.id == UserId(self.me.id),
            _ => false,
        }
    }

    /// A `/command` at the start of the text, and whether it is ours.
    fn command(
        &self,
        text: &str,
        entities: &[MessageEntityRef<'_>],
        private: bool,
    ) -> Option<CommandFor> {
        let entity = entities
            .iter()
            .find(|e| matches!(e.kind(), MessageEntityKind::BotCommand) && e.start() == 0)?;
        let word = entity.text().strip_prefix('/')?;
        let (name, target) = match word.split_once('@') {
            Some((name, bot)) => (name, Some(bot)),
            None => (word, None),
        };
        let name = name.to_ascii_lowercase();
        let known = self.commands.contains(&name);
        match target {
            Some(bot) if !bot.eq_ignore_ascii_case(&self.me.username) => {
                return Some(CommandFor::Other);
            }
            // In a group a bare unknown command is likely another bot's; in a
            // private chat the engine answers it with a hint to try /help.
            None if !known && name != "start" && !private => return Some(CommandFor::Other),
            _ => {}
        }
        let args = text[entity.end()..].trim();
        if name == "start" && !known {
            // Telegram sends /start when someone opens the bot: show what it can do.
            return Some(CommandFor::Us("/help".to_owned()));
        }
        Some(CommandFor::Us(if args.is_empty() {
            format!("/{name}")
        } else {
            format!("/{name} {args}")
        }))
    }
}

enum CommandFor {
    /// Ours; the text to hand over.
    Us(String),
    /// Meant for another bot.
    Other,
}

/// The entities whose UTF-16 offset and end fall on character boundaries of
/// `text`. Telegram sends no others, but a webhook reads whatever it is sent,
/// and teloxide's parser panics on an offset inside a surrogate pair and
/// yields byte ranges that are not in the text for one past its end.
fn valid_entities(text: &str, entities: &[MessageEntity]) -> Vec<MessageEntity> {
    let mut boundaries = Vec::with_capacity(text.len() + 1);
    let mut at = 0;
    for c in text.chars() {
        boundaries.push(at);
        at += c.len_utf16();
    }
    boundaries.push(at);
    let on_boundary = |offset: usize| boundaries.binary_search(&offset).is_ok();
    entities
        .iter()
        .filter(|e| {
            e.offset
                .checked_add(e.length)
                .is_some_and(|end| on_boundary(e.offset) && on_boundary(end))
        })
        .cloned()
        .collect()
}

/// `text` without the byte ranges in `cut` (in any order, overlapping or
/// not), whitespace tidied where they were.
fn strip(text: &str, cut: &[Range<usize>]) -> String {
    let mut cut = cut.to_vec();
    cut.sort_by_key(|range| range.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for range in cut {
        if range.end > text.len()
            || !text.is_char_boundary(range.start)
            || !text.is_char_boundary(range.end)
        {
            continue;
        }
        if range.start < at {
            // Overlaps what was just cut: cut up to its end too.
            at = at.max(range.end);
            continue;
        }
        push_joined(&mut out, &text[at..range.start]);
        at = range.end;
    }
    push_joined(&mut out, &text[at..]);
    out.trim()
        .trim_start_matches([',', ':', ';'])
        .trim_start()
        .to_owned()
}

/// Appends `part`, not doubling the space where a mention was cut out.
fn push_joined(out: &mut String, part: &str) {
    if out.ends_with(char::is_whitespace) {
        out.push_str(part.trim_start_matches(' '));
    } else {
        out.push_str(part);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::TelegramSettings;
    use serde_json::{Value, json};

    const BOT: u64 = 42;

    fn translator(settings: &TelegramSettings) -> Translator {
        let me = BotIdentity {
            id: BOT,
            username: "natter_bot".into(),
        };
        Translator::new(me, settings, ["help".to_owned(), "reset".to_owned()])
    }

    fn message(chat: Value, text: &str, entities: Value) -> Value {
        json!({
            "message_id": 5, "date": 1_700_000_000, "chat": chat,
            "from": {"id": 7, "is_bot": false, "first_name": "Ann", "last_name": "Lee"},
            "text": text, "entities": entities,
        })
    }

    fn group() -> Value {
        json!({"id": -100, "type": "supergroup", "title": "G", "is_forum": true})
    }

    fn translate(settings: &TelegramSettings, message: Value) -> Option<Incoming> {
        let message: Message = serde_json::from_value(message).unwrap();
        translator(settings).translate(&message)
    }

    fn entity(kind: &str, offset: usize, length: usize) -> Value {
        json!({"type": kind, "offset": offset, "length": length})
    }

    #[test]
    fn mention_is_stripped_and_addresses_the_bot() {
        let text = "hey @Natter_Bot, what’s up?";
        let m = message(group(), text, json!([entity("mention", 4, 11)]));
        let incoming = translate(&TelegramSettings::default(), m).unwrap();
        assert_eq!(incoming.addressed, Addressed::Mentioned);
        assert_eq!(incoming.text, "hey , what’s up?");
        assert_eq!(incoming.author.display_name, "Ann Lee");
        assert_eq!(incoming.key.scope(), "chat/-100");
        assert!(!incoming.channel.is_private());

        let leading = message(
            group(),
            "@natter_bot: 😀 hi",
            json!([entity("mention", 0, 11)]),
        );
        let incoming = translate(&TelegramSettings::default(), leading).unwrap();
        assert_eq!(incoming.text, "😀 hi");
    }

    #[test]
    fn other_mentions_and_chatter_are_not_addressed() {
        let m = message(
            group(),
            "@someone_else hi",
            json!([entity("mention", 0, 13)]),
        );
        let incoming = translate(&TelegramSettings::default(), m).unwrap();
        assert_eq!(incoming.addressed, Addressed::NotAddressed);
        assert_eq!(incoming.text, "@someone_else hi");
    }

    #[test]
    fn text_mentions_of_the_bot_count() {
        let mut m = message(group(), "Natter help", json!([]));
        m["entities"] = json!([{"type": "text_mention", "offset": 0, "length": 6,
            "user": {"id": BOT, "is_bot": true, "first_name": "Natter"}}]);
        let incoming = translate(&TelegramSettings::default(), m).unwrap();
        assert_eq!(incoming.addressed, Addressed::Mentioned);
        assert_eq!(incoming.text, "help");
    }

    #[test]
    fn commands_for_us_for_others_and_start() {
        let s = TelegramSettings::default();
        let ours = message(
            group(),
            "/Reset@natter_bot now",
            json!([entity("bot_command", 0, 17)]),
        );
        let incoming = translate(&s, ours).unwrap();
        assert_eq!(incoming.addressed, Addressed::Command);
        assert_eq!(incoming.text, "/reset now");

        let bare = message(group(), "/help", json!([entity("bot_command", 0, 5)]));
        assert_eq!(translate(&s, bare).unwrap().addressed, Addressed::Command);

        let theirs = message(
            group(),
            "/help@other_bot",
            json!([entity("bot_command", 0, 15)]),
        );
        assert_eq!(
            translate(&s, theirs).unwrap().addressed,
            Addressed::NotAddressed
        );
        let unknown = message(group(), "/weather", json!([entity("bot_command", 0, 8)]));
        assert_eq!(
            translate(&s, unknown).unwrap().addressed,
            Addressed::NotAddressed
        );

        let private = json!({"id": 7, "type": "private", "first_name": "Ann"});
        let start = message(
            private,
            "/start ref123",
            json!([entity("bot_command", 0, 6)]),
        );
        let incoming = translate(&s, start).unwrap();
        assert_eq!(incoming.text, "/help");
        assert_eq!(incoming.key.scope(), "chat/7");
        assert!(incoming.channel.is_private());
    }

    #[test]
    fn topics_and_member_scope_shape_the_key() {
        let mut m = message(group(), "hello", json!([]));
        m["message_thread_id"] = json!(9);
        m["is_topic_message"] = json!(true);
        // In a topic, the topic's first message is the implicit "reply".
        m["reply_to_message"] = json!({"message_id": 9, "date": 1_700_000_000, "chat": group(),
            "from": {"id": BOT, "is_bot": true, "first_name": "Natter"},
            "forum_topic_created": {"name": "t", "icon_color": 0}});
        let member = TelegramSettings {
            scope: Scope::Member,
            ..TelegramSettings::default()
        };
        let incoming = translate(&member, m).unwrap();
        assert_eq!(incoming.key.scope(), "chat/-100/topic/9/user/7");
        assert_eq!(incoming.channel.thread.as_deref(), Some("9"));
        assert_eq!(
            incoming.addressed,
            Addressed::NotAddressed,
            "topic root is no reply"
        );
    }

    #[test]
    fn replies_to_the_bot_carry_the_quoted_text() {
        let mut m = message(group(), "why?", json!([]));
        m["reply_to_message"] = json!({"message_id": 3, "date": 1_700_000_000, "chat": group(),
            "from": {"id": BOT, "is_bot": true, "first_name": "Natter"}, "text": "Because."});
        let incoming = translate(&TelegramSettings::default(), m).unwrap();
        assert_eq!(incoming.addressed, Addressed::ReplyToBot);
        assert_eq!(incoming.replied_to_text.as_deref(), Some("Because."));
    }

    #[test]
    fn access_lists_admins_bots_and_anonymous_admins() {
        let s = TelegramSettings {
            admins: vec![7],
            allowed_chats: vec![-100],
            ..TelegramSettings::default()
        };
        let m = message(group(), "hi", json!([]));
        assert!(translate(&s, m.clone()).unwrap().author.is_admin);
        let mut elsewhere = m.clone();
        elsewhere["chat"]["id"] = json!(-555);
        assert!(translate(&s, elsewhere).is_none());

        let mut from_bot = m.clone();
        from_bot["from"]["is_bot"] = json!(true);
        assert!(translate(&s, from_bot).unwrap().author.is_bot);

        let mut anonymous = m;
        anonymous["from"] = json!({"id": 1_087_968_824, "is_bot": true, "first_name": "Group",
            "username": "GroupAnonymousBot"});
        anonymous["sender_chat"] = group();
        let author = translate(&s, anonymous).unwrap().author;
        assert!(!author.is_bot && author.is_admin);
    }

    #[test]
    fn captions_are_text_and_media_come_as_attachments() {
        let mut photo = message(group(), "", json!([]));
        photo.as_object_mut().unwrap().remove("text");
        photo.as_object_mut().unwrap().remove("entities");
        photo["photo"] = json!([{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]);
        let alone = translate(&TelegramSettings::default(), photo.clone()).unwrap();
        assert_eq!(alone.text, "");
        assert_eq!(alone.addressed, Addressed::NotAddressed);
        let mut photo_file = natter_core::Attachment::new(natter_core::AttachmentKind::Image, "f")
            .with_mime("image/jpeg");
        photo_file.file_name = Some("photo.jpg".into());
        assert_eq!(alone.attachments, [photo_file]);
        photo["caption"] = json!("look @natter_bot");
        photo["caption_entities"] = json!([entity("mention", 5, 11)]);
        let incoming = translate(&TelegramSettings::default(), photo).unwrap();
        assert_eq!(incoming.text, "look");
        assert_eq!(incoming.addressed, Addressed::Mentioned);
        assert_eq!(incoming.attachments.len(), 1);

        let mut nothing = message(group(), "", json!([]));
        nothing.as_object_mut().unwrap().remove("text");
        assert!(translate(&TelegramSettings::default(), nothing).is_none());
    }
}
