//! Property tests of the Discord message translation: messages built from
//! serenity's JSON with any content (the bot's `<@id>`/`<@!id>` tags nested,
//! adjacent or broken, other users', roles' and channels' tags, unicode),
//! mention lists, replies, nicknames, in DMs, channels and threads, never
//! make it panic, and the result keeps the rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use natter_core::Addressed;
use proptest::prelude::*;
use serde_json::{Value, json};
use serenity::model::channel::Message;
use serenity::model::id::{ChannelId, GuildId, UserId};

use crate::settings::{DiscordSettings, Scope, Snowflake};
use crate::translate::{Place, Policy, strip_mention};

const BOT: u64 = 900;
const ADMIN: u64 = 7;

fn content() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9 \n.,/é😀👍🏽中]{0,10}",
        2 => Just("<@900>".to_owned()),
        2 => Just("<@!900>".to_owned()),
        1 => Just("<@901>".to_owned()),
        1 => Just("<@&900>".to_owned()),
        1 => Just("<#900>".to_owned()),
        2 => prop_oneof![Just("<"), Just("@"), Just("!"), Just(">"), Just("900"), Just(" ")]
            .prop_map(str::to_owned),
        1 => "\\PC{0,4}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn user(id: u64, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": "user", "bot": bot})
}

fn message_json(content: &str, extra: Value) -> Value {
    let mut value = json!({
        "id": "1000", "channel_id": "10",
        "author": {"id": "5", "username": "alice"},
        "content": content, "timestamp": "2024-01-01T00:00:00+00:00",
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0,
    });
    if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    value
}

#[derive(Clone, Debug)]
struct Case {
    content: String,
    author: (u64, bool),
    global_name: Option<String>,
    nick: Option<String>,
    listed: Vec<u64>,
    reply: Option<(u64, String)>,
    place: Option<Option<u64>>,
    member_scope: bool,
    manages_server: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        content(),
        (
            prop_oneof![Just(5u64), Just(ADMIN), Just(BOT), 1u64..u64::MAX],
            any::<bool>(),
        ),
        proptest::option::of("\\PC{0,8}"),
        proptest::option::of("\\PC{0,8}"),
        proptest::collection::vec(prop_oneof![Just(BOT), Just(5u64), Just(901u64)], 0..3),
        proptest::option::of((prop_oneof![Just(BOT), Just(5u64)], content())),
        proptest::option::of(proptest::option::of(20u64..30)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                content,
                author,
                global_name,
                nick,
                listed,
                reply,
                place,
                member_scope,
                manages_server,
            )| {
                Case {
                    content,
                    author,
                    global_name,
                    nick,
                    listed,
                    reply,
                    place,
                    member_scope,
                    manages_server,
                }
            },
        )
}

impl Case {
    fn message(&self) -> Value {
        let (id, bot) = self.author;
        let mut author = user(id, bot);
        if let Some(name) = &self.global_name {
            author["global_name"] = json!(name);
        }
        let mut extra = json!({
            "author": author,
            "mentions": self.listed.iter().map(|&id| user(id, id == BOT)).collect::<Vec<_>>(),
        });
        if self.place.is_some() {
            extra["guild_id"] = json!("1");
        }
        if let Some(nick) = &self.nick {
            extra["member"] = json!({"nick": nick, "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false});
        }
        if let Some((from, content)) = &self.reply {
            let mut reply = message_json(content, json!({"author": user(*from, *from == BOT)}));
            reply["id"] = json!("999");
            extra["referenced_message"] = reply;
        }
        message_json(&self.content, extra)
    }

    fn place(&self) -> Place {
        match self.place {
            None => Place::Direct(ChannelId::new(10)),
            Some(thread) => Place::Server {
                guild: GuildId::new(1),
                channel: ChannelId::new(10),
                thread: thread.map(ChannelId::new),
            },
        }
    }
}

/// `text` with every tag of the bot taken out, again and again until none is
/// left, and without whitespace: what the stripped text must read as.
fn without_tags(text: &str) -> String {
    let mut out = text.to_owned();
    loop {
        let next = out.replace("<@900>", "").replace("<@!900>", "");
        if next == out {
            return out.chars().filter(|c| !c.is_whitespace()).collect();
        }
        out = next;
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let json = case.message();
    let msg: Message = serde_json::from_value(json.clone())
        .map_err(|e| TestCaseError::fail(format!("generator made bad JSON: {e}: {json}")))?;
    let settings = DiscordSettings {
        scope: if case.member_scope {
            Scope::Member
        } else {
            Scope::Channel
        },
        admins: vec![Snowflake(ADMIN)],
        ..DiscordSettings::default()
    };
    let policy = Policy::new(UserId::new(BOT), &settings);
    let place = case.place();
    let incoming = policy.translate(&msg, &place, case.manages_server);
    let (author, _) = case.author;

    // The text: the content without the bot's tags, nothing else changed.
    let text = &incoming.text;
    prop_assert!(
        !text.contains("<@900>") && !text.contains("<@!900>"),
        "{text:?}"
    );
    prop_assert_eq!(text.as_str(), text.trim());
    prop_assert!(text.len() <= case.content.len());
    let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    prop_assert_eq!(squashed, without_tags(&case.content));
    if !case.content.contains("<@900>") && !case.content.contains("<@!900>") {
        prop_assert_eq!(text.as_str(), case.content.trim());
    }

    // Who wrote it.
    prop_assert_eq!(&incoming.author.id, &author.to_string());
    prop_assert_eq!(
        incoming.author.is_admin,
        case.manages_server || author == ADMIN
    );
    let name = case
        .nick
        .clone()
        .or(case.global_name.clone())
        .unwrap_or_else(|| "user".to_owned());
    prop_assert_eq!(&incoming.author.display_name, &name);
    prop_assert_eq!(
        incoming.replied_to_text.clone(),
        case.reply.as_ref().map(|r| r.1.clone())
    );

    // Where, and for whom.
    prop_assert_eq!(incoming.key.platform(), crate::PLATFORM);
    prop_assert_eq!(incoming.channel.platform, crate::PLATFORM);
    let scope = incoming.key.scope();
    match case.place {
        None => {
            prop_assert_eq!(scope, format!("dm/{author}"));
            prop_assert_eq!(incoming.addressed, Addressed::Private);
            prop_assert!(incoming.channel.is_private());
        }
        Some(thread) => {
            prop_assert!(scope.starts_with("channel/10"), "{scope}");
            prop_assert_eq!(scope.contains("/thread/"), thread.is_some());
            prop_assert_eq!(
                scope.ends_with(&format!("/member/{author}")),
                case.member_scope
            );
            prop_assert!(!incoming.channel.is_private());
            let tagged = case.content.contains("<@900>") || case.content.contains("<@!900>");
            let listed = case.listed.contains(&BOT);
            let replied = case.reply.as_ref().is_some_and(|r| r.0 == BOT);
            let expected = if tagged || (listed && !replied) {
                Addressed::Mentioned
            } else if replied {
                Addressed::ReplyToBot
            } else {
                Addressed::NotAddressed
            };
            prop_assert_eq!(incoming.addressed, expected);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn any_plausible_message_translates_by_the_rules(case in case()) {
        check(&case)?;
    }

    #[test]
    fn stripping_never_panics_and_leaves_no_tag(text in "\\PC{0,40}|[<@!900> a]{0,30}") {
        let out = strip_mention(&text, UserId::new(BOT));
        prop_assert!(!out.contains("<@900>") && !out.contains("<@!900>"), "{out:?}");
    }
}

/// Taking out one form of the tag once left the other behind.
#[test]
fn nested_tags_are_all_stripped() {
    let bot = UserId::new(BOT);
    assert_eq!(strip_mention("<@<@!900>900> hi", bot), "hi");
    assert_eq!(strip_mention("<@!<@900>900> hi", bot), "hi");
    assert_eq!(strip_mention("a <@900> <@!900> b", bot), "a b");
}
