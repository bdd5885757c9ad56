//! A Discord message, built from structured fuzz input as the JSON the
//! gateway sends and read with serenity's own types, through the adapter's
//! translation: no panic, the bot's mention tags never left in the text.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use natter_core::Addressed;
use serde_json::{Value, json};
use serenity::model::channel::Message;

const BOT: u64 = 900;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Pieces of content: free text, or one of the tags that matter.
    content: Vec<(u8, String)>,
    author: (u64, bool),
    global_name: Option<String>,
    nick: Option<String>,
    listed: Vec<u64>,
    reply: Option<(bool, String)>,
    guild: Option<u64>,
    thread: Option<u64>,
}

fn content(pieces: &[(u8, String)]) -> String {
    pieces
        .iter()
        .map(|(kind, text)| match kind % 8 {
            0 => "<@900>",
            1 => "<@!900>",
            2 => "<@901>",
            3 => " ",
            _ => text.as_str(),
        })
        .collect()
}

fn user(id: u64, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": "user", "bot": bot})
}

fn message(content: &str, author: Value, extra: Value) -> Value {
    let mut value = json!({
        "id": "1000", "channel_id": "10", "author": author,
        "content": content, "timestamp": "2024-01-01T00:00:00+00:00",
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0,
    });
    if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    value
}

fuzz_target!(|input: Input| {
    let text = content(&input.content);
    let mut author = user(input.author.0, input.author.1);
    if let Some(name) = &input.global_name {
        author["global_name"] = json!(name);
    }
    let mut extra = json!({
        "mentions": input.listed.iter().map(|&id| user(id, id == BOT)).collect::<Vec<_>>(),
    });
    if let Some(guild) = input.guild {
        extra["guild_id"] = json!(guild.to_string());
    }
    if let Some(nick) = &input.nick {
        extra["member"] = json!({"nick": nick, "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false});
    }
    if let Some((from_bot, reply)) = &input.reply {
        let from = if *from_bot { BOT } else { 5 };
        extra["referenced_message"] = message(reply, user(from, *from_bot), json!({}));
    }
    let Ok(msg) = serde_json::from_value::<Message>(message(&text, author, extra)) else {
        return;
    };
    let incoming = natter_discord::translate_for_fuzzing(&msg, BOT, input.guild, input.thread);
    assert!(!incoming.text.contains("<@900>") && !incoming.text.contains("<@!900>"));
    assert!(incoming.text.len() <= text.len());
    assert_eq!(incoming.key.platform(), natter_discord::PLATFORM);
    assert_eq!(
        input.guild.is_none(),
        incoming.addressed == Addressed::Private
    );
    if text.contains("<@900>") || text.contains("<@!900>") {
        assert!(matches!(
            incoming.addressed,
            Addressed::Mentioned | Addressed::Private
        ));
    }
});
