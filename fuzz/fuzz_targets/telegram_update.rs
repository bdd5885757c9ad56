//! A Telegram message, built from structured fuzz input as the JSON the Bot
//! API sends (any text, entities at any UTF-16 offset and length, any chat,
//! sender, reply and topic) and read with teloxide's own types, through
//! `Translator::translate`: no panic, and the result names the chat it came from.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use natter_core::Addressed;
use natter_telegram::TelegramSettings;
use natter_telegram::settings::Scope;
use natter_telegram::translate::{BotIdentity, Translator};
use serde_json::{Value, json};
use teloxide::types::Message;

const BOT: u64 = 42;

#[derive(Arbitrary, Debug)]
struct Entity {
    kind: u8,
    offset: u32,
    length: u32,
    huge: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    entities: Vec<Entity>,
    caption: bool,
    chat: u8,
    chat_id: i64,
    from: Option<(u64, bool)>,
    sender_chat: Option<bool>,
    reply: Option<(bool, Option<String>)>,
    topic: Option<(i32, bool)>,
    member_scope: bool,
}

fn user(id: u64, bot: bool) -> Value {
    json!({"id": id, "is_bot": bot, "first_name": "Ann"})
}

fn chat(kind: u8, id: i64) -> Value {
    match kind % 4 {
        0 => json!({"id": id, "type": "private", "first_name": "Ann"}),
        1 => json!({"id": id, "type": "group", "title": "G"}),
        2 => json!({"id": id, "type": "supergroup", "title": "F", "is_forum": true}),
        _ => json!({"id": id, "type": "channel", "title": "C"}),
    }
}

fn entity(e: &Entity) -> Value {
    let mut v = match e.kind % 7 {
        0 => json!({"type": "mention"}),
        1 => json!({"type": "bot_command"}),
        2 => json!({"type": "text_mention", "user": user(BOT, true)}),
        3 => json!({"type": "text_mention", "user": user(8, false)}),
        4 => json!({"type": "bold"}),
        5 => json!({"type": "hashtag"}),
        _ => json!({"type": "url"}),
    };
    let widen = |n: u32| {
        if e.huge {
            u64::MAX - u64::from(n)
        } else {
            u64::from(n)
        }
    };
    v["offset"] = json!(u64::from(e.offset));
    v["length"] = json!(widen(e.length));
    v
}

fn message(input: &Input) -> Value {
    let entities: Vec<Value> = input.entities.iter().map(entity).collect();
    let mut m =
        json!({"message_id": 5, "date": 1_700_000_000, "chat": chat(input.chat, input.chat_id)});
    if input.caption {
        m["photo"] = json!([{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]);
        m["caption"] = json!(input.text);
        m["caption_entities"] = json!(entities);
    } else {
        m["text"] = json!(input.text);
        m["entities"] = json!(entities);
    }
    if let Some((id, bot)) = input.from {
        m["from"] = user(id, bot);
    }
    match input.sender_chat {
        Some(true) => m["sender_chat"] = chat(input.chat, input.chat_id),
        Some(false) => m["sender_chat"] = chat(3, -1_000_123),
        None => {}
    }
    if let Some((thread, is_topic)) = input.topic {
        m["message_thread_id"] = json!(thread);
        m["is_topic_message"] = json!(is_topic);
    }
    if let Some((from_bot, text)) = &input.reply {
        let from = if *from_bot { BOT } else { 7 };
        let mut r = json!({"message_id": 3, "date": 1_700_000_000,
            "chat": chat(input.chat, input.chat_id), "from": user(from, *from_bot)});
        match text {
            Some(t) => r["text"] = json!(t),
            None => {
                r["photo"] =
                    json!([{"file_id": "g", "file_unique_id": "v", "width": 1, "height": 1}])
            }
        }
        m["reply_to_message"] = r;
    }
    m
}

fuzz_target!(|input: Input| {
    let Ok(message) = serde_json::from_value::<Message>(message(&input)) else {
        return;
    };
    let settings = TelegramSettings {
        scope: if input.member_scope {
            Scope::Member
        } else {
            Scope::Chat
        },
        ..TelegramSettings::default()
    };
    let me = BotIdentity {
        id: BOT,
        username: "natter_bot".into(),
    };
    let translator = Translator::new(me, &settings, ["help".to_owned(), "reset".to_owned()]);
    let Some(incoming) = translator.translate(&message) else {
        return;
    };
    assert_eq!(incoming.key.platform(), natter_telegram::PLATFORM);
    assert!(
        incoming
            .key
            .scope()
            .starts_with(&format!("chat/{}", input.chat_id))
    );
    assert_eq!(incoming.channel.channel, input.chat_id.to_string());
    let private = input.chat % 4 == 0;
    assert_eq!(incoming.channel.is_private(), private);
    let grown = usize::from(incoming.addressed == Addressed::Command);
    assert!(incoming.text.len() <= input.text.len() + grown);
    if matches!(
        incoming.addressed,
        Addressed::NotAddressed | Addressed::ReplyToBot
    ) {
        assert_eq!(incoming.text, input.text);
    }
    if private {
        assert!(matches!(
            incoming.addressed,
            Addressed::Private | Addressed::Command
        ));
    } else {
        assert_ne!(incoming.addressed, Addressed::Private);
    }
});
