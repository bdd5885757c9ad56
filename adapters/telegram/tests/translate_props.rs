//! Property tests of the Telegram message translation: plausible messages
//! (any text, entities at any UTF-16 offset — inside a surrogate pair, past
//! the end, overlapping, out of order —, commands, captions, replies, topics,
//! every kind of chat, sender missing) never make it panic, and what it hands
//! the engine keeps the rules: the bot's @mention never stays in the text,
//! the key names the chat, the text never grows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use natter_core::{Addressed, Incoming};
use natter_telegram::TelegramSettings;
use natter_telegram::settings::Scope;
use natter_telegram::translate::{BotIdentity, Translator};
use proptest::prelude::*;
use serde_json::{Value, json};
use teloxide::types::Message;

const BOT: u64 = 42;
const BOT_NAME: &str = "natter_bot";

/// One piece of a message's text, with the entity Telegram would attach to it.
#[derive(Clone, Debug)]
enum Piece {
    /// Text with no `@` in it, so only `Mention` pieces name anyone.
    Plain(String),
    /// `@natter_bot` in some letter case, with its `mention` entity.
    MentionMe(String),
    /// Another user's `@name`, with its `mention` entity.
    MentionOther(&'static str),
    /// A `text_mention` of the bot (or of someone else) over plain words.
    TextMention { bot: bool, words: String },
}

/// Text without `@`: ASCII, accents, combining marks, CJK, emoji outside the
/// BMP (two UTF-16 units each), flags, joiners, punctuation the stripper trims.
fn plain() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,:;.!?/\n\té中ß\u{301}\u{200d}\u{fe0f}😀👍🏽🇩🇪\u{10000}-\u{10ffff}]{0,12}"
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => plain().prop_map(Piece::Plain),
        2 => prop_oneof![Just("natter_bot"), Just("Natter_Bot"), Just("NATTER_BOT")]
            .prop_map(|name| Piece::MentionMe(format!("@{name}"))),
        1 => prop_oneof![Just("someone_else"), Just("other_bot"), Just("Ann")]
            .prop_map(Piece::MentionOther),
        1 => (any::<bool>(), "[a-zA-Z😀 ]{0,6}")
            .prop_map(|(bot, words)| Piece::TextMention { bot, words }),
    ]
}

/// A `/command` at the very start of the text.
fn command() -> impl Strategy<Value = Option<String>> {
    let name = prop_oneof![Just("help"), Just("Reset"), Just("start"), Just("weather")];
    let target = prop_oneof![Just(""), Just("@natter_bot"), Just("@other_bot")];
    proptest::option::weighted(0.3, (name, target).prop_map(|(n, t)| format!("/{n}{t}")))
}

/// An entity anywhere: offsets and lengths in UTF-16 units that may split a
/// surrogate pair, run past the end or overflow when added.
fn noise_entity() -> impl Strategy<Value = Value> {
    let number = prop_oneof![8 => 0usize..40, 1 => Just(usize::MAX), 1 => Just(usize::MAX / 2 + 1)];
    let kind = prop_oneof![
        Just(json!({"type": "mention"})),
        Just(json!({"type": "bot_command"})),
        Just(json!({"type": "bold"})),
        Just(json!({"type": "hashtag"})),
        Just(json!({"type": "url"})),
        Just(
            json!({"type": "text_mention", "user": {"id": BOT, "is_bot": true, "first_name": "N"}})
        ),
        Just(
            json!({"type": "text_mention", "user": {"id": 8, "is_bot": false, "first_name": "B"}})
        ),
    ];
    (kind, number.clone(), number).prop_map(|(mut kind, offset, length)| {
        kind["offset"] = json!(offset);
        kind["length"] = json!(length);
        kind
    })
}

fn user(id: u64, bot: bool) -> Value {
    json!({"id": id, "is_bot": bot, "first_name": "Ann", "last_name": "Lee"})
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ChatKind {
    Private,
    Group,
    Forum,
    Channel,
}

fn chat_json(kind: ChatKind, id: i64) -> Value {
    match kind {
        ChatKind::Private => json!({"id": id, "type": "private", "first_name": "Ann"}),
        ChatKind::Group => json!({"id": id, "type": "group", "title": "G"}),
        ChatKind::Forum => json!({"id": id, "type": "supergroup", "title": "F", "is_forum": true}),
        ChatKind::Channel => json!({"id": id, "type": "channel", "title": "C"}),
    }
}

/// Everything a generated message is made of, kept for the properties.
#[derive(Clone, Debug)]
struct Case {
    command: Option<String>,
    pieces: Vec<Piece>,
    noise: Vec<Value>,
    shuffle: Vec<usize>,
    caption: bool,
    chat: ChatKind,
    chat_id: i64,
    from: Option<(u64, bool)>,
    sender_chat: Option<bool>,
    reply: Option<(u64, bool, Option<String>)>,
    topic: Option<(i32, bool)>,
    member_scope: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let chat = prop_oneof![
        Just(ChatKind::Private),
        Just(ChatKind::Group),
        Just(ChatKind::Forum),
        Just(ChatKind::Channel)
    ];
    let from = proptest::option::weighted(
        0.9,
        (
            prop_oneof![Just(7u64), Just(BOT), Just(1u64 << 63), 1u64..1_000_000],
            any::<bool>(),
        ),
    );
    let reply = proptest::option::of((
        prop_oneof![Just(BOT), Just(7u64)],
        any::<bool>(),
        proptest::option::of(plain()),
    ));
    let topic = proptest::option::of((prop_oneof![Just(9), 1i32..100], any::<bool>()));
    (
        (
            command(),
            proptest::collection::vec(piece(), 0..8),
            proptest::collection::vec(noise_entity(), 0..4),
            proptest::collection::vec(any::<usize>(), 12),
            any::<bool>(),
        ),
        (
            chat,
            prop_oneof![Just(7i64), Just(-100i64), any::<i64>()],
            from,
            proptest::option::of(any::<bool>()),
            reply,
            topic,
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (command, pieces, noise, shuffle, caption),
                (chat, chat_id, from, sender_chat, reply, topic, member_scope),
            )| Case {
                command,
                pieces,
                noise,
                shuffle,
                caption,
                chat,
                chat_id,
                from,
                sender_chat,
                reply,
                topic,
                member_scope,
            },
        )
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

impl Case {
    /// The message text and its entities, in a shuffled order.
    fn text_and_entities(&self) -> (String, Vec<Value>) {
        let mut text = String::new();
        let mut entities = Vec::new();
        let entity = |text: &str, kind: Value, part: &str| {
            let mut kind = kind;
            kind["offset"] = json!(utf16_len(text));
            kind["length"] = json!(utf16_len(part));
            kind
        };
        if let Some(command) = &self.command {
            entities.push(entity(&text, json!({"type": "bot_command"}), command));
            text.push_str(command);
            text.push(' ');
        }
        for piece in &self.pieces {
            match piece {
                Piece::Plain(s) => text.push_str(s),
                Piece::MentionMe(name) => {
                    entities.push(entity(&text, json!({"type": "mention"}), name));
                    text.push_str(name);
                }
                Piece::MentionOther(name) => {
                    let name = format!("@{name}");
                    entities.push(entity(&text, json!({"type": "mention"}), &name));
                    text.push_str(&name);
                }
                Piece::TextMention { bot, words } => {
                    let id = if *bot { BOT } else { 8 };
                    let kind = json!({"type": "text_mention", "user": user(id, *bot)});
                    entities.push(entity(&text, kind, words));
                    text.push_str(words);
                }
            }
        }
        entities.extend(self.noise.iter().cloned());
        // Telegram sends entities in order; a message from elsewhere may not.
        for (i, &j) in self.shuffle.iter().enumerate() {
            if i < entities.len() {
                let j = j % entities.len();
                entities.swap(i, j);
            }
        }
        (text, entities)
    }

    fn message(&self) -> (String, Value) {
        let (text, entities) = self.text_and_entities();
        let chat = chat_json(self.chat, self.chat_id);
        let mut m = json!({"message_id": 5, "date": 1_700_000_000, "chat": chat});
        if self.caption {
            m["photo"] = json!([{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]);
            m["caption"] = json!(text);
            m["caption_entities"] = json!(entities);
        } else {
            m["text"] = json!(text);
            m["entities"] = json!(entities);
        }
        if let Some((id, bot)) = self.from {
            m["from"] = user(id, bot);
        }
        match self.sender_chat {
            Some(true) => m["sender_chat"] = chat_json(self.chat, self.chat_id),
            Some(false) => m["sender_chat"] = chat_json(ChatKind::Channel, -1_000_123),
            None => {}
        }
        if let Some((thread, is_topic)) = self.topic {
            m["message_thread_id"] = json!(thread);
            m["is_topic_message"] = json!(is_topic);
        }
        if let Some((from, caption, text)) = &self.reply {
            let mut r = json!({"message_id": 3, "date": 1_700_000_000, "chat": chat_json(self.chat, self.chat_id),
                "from": user(*from, *from == BOT)});
            match (text, caption) {
                (Some(t), true) => {
                    r["photo"] =
                        json!([{"file_id": "g", "file_unique_id": "v", "width": 1, "height": 1}]);
                    r["caption"] = json!(t);
                }
                (Some(t), false) => r["text"] = json!(t),
                (None, _) => {
                    r["photo"] =
                        json!([{"file_id": "g", "file_unique_id": "v", "width": 1, "height": 1}]);
                }
            }
            m["reply_to_message"] = r;
        }
        (text, m)
    }
}

fn translator(member_scope: bool) -> Translator {
    let settings = TelegramSettings {
        scope: if member_scope {
            Scope::Member
        } else {
            Scope::Chat
        },
        ..TelegramSettings::default()
    };
    let me = BotIdentity {
        id: BOT,
        username: BOT_NAME.into(),
    };
    Translator::new(me, &settings, ["help".to_owned(), "reset".to_owned()])
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let (text, json) = case.message();
    let message: Message = serde_json::from_value(json.clone())
        .map_err(|e| TestCaseError::fail(format!("generator made bad JSON: {e}: {json}")))?;
    let private = case.chat == ChatKind::Private;
    let anonymous = case.sender_chat == Some(true);
    let incoming = translator(case.member_scope).translate(&message);

    // Who wrote it decides whether there is anything to hand over.
    let has_author = anonymous || case.from.is_some_and(|(id, _)| i64::try_from(id).is_ok());
    prop_assert_eq!(incoming.is_some(), has_author, "{}", json);
    let Some(incoming) = incoming else {
        return Ok(());
    };
    check_key(case, &incoming)?;
    if anonymous {
        prop_assert_eq!(&incoming.author.id, &case.chat_id.to_string());
        prop_assert!(incoming.author.is_admin);
    }

    // Who it is for.
    match incoming.addressed {
        Addressed::Private => prop_assert!(private),
        Addressed::Mentioned => prop_assert!(!private),
        Addressed::ReplyToBot => {
            prop_assert!(!private);
            prop_assert!(case.reply.as_ref().is_some_and(|r| r.0 == BOT));
        }
        Addressed::Command => prop_assert!(case.command.is_some() || !case.noise.is_empty()),
        Addressed::NotAddressed => prop_assert!(!private),
    }
    // The text: never longer (a command is rewritten, `/cmd@bot x` → `/cmd x`,
    // one space at most added between name and arguments), unchanged unless
    // the bot was mentioned or commanded.
    if incoming.addressed == Addressed::Command {
        prop_assert!(incoming.text.starts_with('/'));
        prop_assert!(incoming.text.len() <= text.len() + 1);
    } else {
        prop_assert!(incoming.text.len() <= text.len());
    }
    if matches!(
        incoming.addressed,
        Addressed::NotAddressed | Addressed::ReplyToBot
    ) {
        prop_assert_eq!(&incoming.text, &text);
    }
    // Mentioned: every @natter_bot is gone, whatever the entities' order.
    if incoming.addressed == Addressed::Mentioned && case.command.is_none() {
        prop_assert!(
            !incoming.text.to_ascii_lowercase().contains("@natter_bot"),
            "{:?} from {:?}",
            incoming.text,
            text
        );
    }
    // With only the entities Telegram itself would send, the trigger is exact.
    if case.noise.is_empty() && case.command.is_none() && !private {
        let mentioned = case.pieces.iter().any(|p| match p {
            Piece::MentionMe(_) => true,
            Piece::TextMention { bot, .. } => *bot,
            _ => false,
        });
        if mentioned {
            prop_assert_eq!(incoming.addressed, Addressed::Mentioned);
        }
    }
    Ok(())
}

fn check_key(case: &Case, incoming: &Incoming) -> Result<(), TestCaseError> {
    let private = case.chat == ChatKind::Private;
    prop_assert_eq!(incoming.key.platform(), natter_telegram::PLATFORM);
    prop_assert_eq!(incoming.channel.platform, natter_telegram::PLATFORM);
    prop_assert_eq!(&incoming.channel.channel, &case.chat_id.to_string());
    prop_assert_eq!(incoming.channel.is_private(), private);
    let scope = incoming.key.scope();
    let chat = format!("chat/{}", case.chat_id);
    prop_assert!(scope.starts_with(&chat), "{scope}");
    let topic = case.topic.filter(|t| t.1).map(|t| t.0);
    prop_assert_eq!(
        incoming.channel.thread.clone(),
        topic.map(|t| t.to_string())
    );
    prop_assert_eq!(scope.contains("/topic/"), topic.is_some());
    prop_assert_eq!(
        scope.contains("/user/"),
        case.member_scope && !private,
        "{}",
        scope
    );
    // A reply's text comes along, unless the "reply" is the topic's root.
    let topic_root = topic == Some(3);
    let quoted = case
        .reply
        .as_ref()
        .filter(|_| !topic_root)
        .and_then(|r| r.2.clone());
    prop_assert_eq!(incoming.replied_to_text.clone(), quoted);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn any_plausible_message_translates_by_the_rules(case in case()) {
        check(&case)?;
    }
}

/// Inputs that once made the translation panic in teloxide's entity parser.
#[test]
fn entities_telegram_would_never_send_are_ignored_not_a_panic() {
    let cases = [
        // Offset in the middle of a surrogate pair.
        (
            "😀 @natter_bot hi",
            json!([{"type": "mention", "offset": 1, "length": 2}]),
        ),
        // Past the end of the text.
        (
            "hi",
            json!([{"type": "mention", "offset": 5, "length": 11}]),
        ),
        (
            "hi",
            json!([{"type": "bot_command", "offset": 0, "length": 9}]),
        ),
        // An end that overflows.
        (
            "hi",
            json!([{"type": "bold", "offset": 1, "length": u64::MAX}]),
        ),
    ];
    for (text, entities) in cases {
        let m = json!({"message_id": 5, "date": 1_700_000_000,
            "chat": chat_json(ChatKind::Group, -100), "from": user(7, false),
            "text": text, "entities": entities});
        let message: Message = serde_json::from_value(m).unwrap();
        let incoming = translator(false).translate(&message).unwrap();
        assert_eq!(incoming.text, text);
        assert_eq!(incoming.addressed, Addressed::NotAddressed);
    }
    // The valid entities of a message are still read.
    let m = json!({"message_id": 5, "date": 1_700_000_000,
        "chat": chat_json(ChatKind::Group, -100), "from": user(7, false),
        "text": "😀 @natter_bot hi", "entities": [
            {"type": "mention", "offset": 1, "length": 2},
            {"type": "mention", "offset": 3, "length": 11}]});
    let message: Message = serde_json::from_value(m).unwrap();
    let incoming = translator(false).translate(&message).unwrap();
    assert_eq!(incoming.addressed, Addressed::Mentioned);
    assert_eq!(incoming.text, "😀 hi");
}

/// Mentions listed out of order, or overlapping, are all taken out.
#[test]
fn mentions_out_of_order_or_overlapping_are_all_stripped() {
    let text = "@natter_bot a @natter_bot b";
    let m = json!({"message_id": 5, "date": 1_700_000_000,
        "chat": chat_json(ChatKind::Group, -100), "from": user(7, false),
        "text": text, "entities": [
            {"type": "mention", "offset": 14, "length": 11},
            {"type": "mention", "offset": 0, "length": 11}]});
    let message: Message = serde_json::from_value(m).unwrap();
    let incoming = translator(false).translate(&message).unwrap();
    assert_eq!(incoming.text, "a b");

    let text = "a@@natter_bot b";
    let m = json!({"message_id": 5, "date": 1_700_000_000,
        "chat": chat_json(ChatKind::Group, -100), "from": user(7, false),
        "text": text, "entities": [
            {"type": "text_mention", "offset": 2, "length": 1, "user": user(BOT, true)},
            {"type": "mention", "offset": 2, "length": 11}]});
    let message: Message = serde_json::from_value(m).unwrap();
    let incoming = translator(false).translate(&message).unwrap();
    assert_eq!(incoming.text, "a@ b");
}
