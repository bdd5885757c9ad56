//! When natter answers in groups: trigger rules from settings and from
//! `/trigger`, their inheritance, cooldowns, bots, admin-only commands, and
//! settings reloaded while the engine runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use natter_core::test_utils::{TEST_PLATFORM, TestBot};
use natter_core::{
    Addressed, Answer, Author, BudgetSettings, ChannelRef, ConversationKey, EngineError,
    GroupSettings, Incoming, MemoryStore, Persona, PersonaSettings, Personas, Platform, Reload,
    TriggerRule, TriggerSettings, Triggers,
};

const KNOWN: [Platform; 1] = [TEST_PLATFORM];

fn rule(answer: Answer) -> TriggerRule {
    TriggerRule {
        answer: Some(answer),
        ..TriggerRule::default()
    }
}

fn triggers(places: &[(&str, TriggerRule)]) -> Triggers {
    let settings = TriggerSettings {
        places: places
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        ..TriggerSettings::default()
    };
    Triggers::new(settings, &KNOWN, false).expect("valid triggers")
}

/// A message in `channel` (of server `S`, in `thread` if any).
fn in_channel(
    bot: &TestBot,
    channel: &str,
    thread: Option<&str>,
    author: Author,
    addressed: Addressed,
    text: &str,
) -> Incoming {
    let mut place = ChannelRef::group(TEST_PLATFORM, channel).in_server("S");
    let mut key = channel.to_owned();
    if let Some(thread) = thread {
        place = place.in_thread(thread);
        key = format!("{channel}/{thread}");
    }
    bot.message(
        ConversationKey::new(TEST_PLATFORM, key),
        place,
        author,
        addressed,
        text,
    )
}

fn alice() -> Author {
    Author::user("a", "Alice")
}

fn admin() -> Author {
    Author::user("z", "Zoe").admin()
}

#[tokio::test]
async fn a_channel_set_to_all_answers_every_message_and_another_only_mentions() {
    let bot = TestBot::with(|b| b.triggers(triggers(&[("test:open", rule(Answer::All))])));
    let chatter = |channel| in_channel(&bot, channel, None, alice(), Addressed::NotAddressed, "hi");
    assert_eq!(bot.send(chatter("open")).await, ["echo: hi"]);
    assert!(bot.send(chatter("quiet")).await.is_empty());
    let mention = in_channel(&bot, "quiet", None, alice(), Addressed::Mentioned, "hey");
    assert_eq!(bot.send(mention).await, ["echo: hey"]);
    assert_eq!(
        bot.backend.requests().len(),
        2,
        "the model saw only what was answered"
    );
}

#[tokio::test]
async fn keywords_trigger_on_whole_words() {
    let keywords = TriggerRule {
        answer: Some(Answer::Keywords),
        keywords: Some(vec!["natter".into(), "help me".into()]),
        ..TriggerRule::default()
    };
    let bot = TestBot::with(|b| b.triggers(triggers(&[("test:server:S", keywords)])));
    let say = |text: &str| in_channel(&bot, "c", None, alice(), Addressed::NotAddressed, text);
    assert_eq!(
        bot.send(say("is NATTER here?")).await,
        ["echo: is NATTER here?"]
    );
    assert_eq!(
        bot.send(say("can you help me")).await,
        ["echo: can you help me"]
    );
    assert!(bot.send(say("natterjack toads")).await.is_empty());
    assert!(bot.send(say("hello all")).await.is_empty());
}

#[tokio::test]
async fn a_thread_falls_back_to_its_channel_then_the_server_then_the_platform() {
    let bot = TestBot::with(|b| {
        b.triggers(triggers(&[
            ("test", rule(Answer::All)),
            ("test:server:S", rule(Answer::Mention)),
            ("test:c", rule(Answer::All)),
            ("test:c/quiet", rule(Answer::Mention)),
        ]))
    });
    let chatter = |channel, thread| {
        in_channel(
            &bot,
            channel,
            thread,
            alice(),
            Addressed::NotAddressed,
            "hi",
        )
    };
    assert_eq!(
        bot.send(chatter("c", Some("t"))).await.len(),
        1,
        "thread → channel"
    );
    assert!(
        bot.send(chatter("c", Some("quiet"))).await.is_empty(),
        "thread's own"
    );
    assert!(
        bot.send(chatter("d", None)).await.is_empty(),
        "channel → server"
    );
    let elsewhere = bot.message(
        ConversationKey::new(TEST_PLATFORM, "x"),
        ChannelRef::group(TEST_PLATFORM, "x"),
        alice(),
        Addressed::NotAddressed,
        "hi",
    );
    assert_eq!(bot.send(elsewhere).await.len(), 1, "no server → platform");
}

#[tokio::test(start_paused = true)]
async fn a_cooldown_holds_back_unasked_answers_but_never_mentions() {
    let rule = TriggerRule {
        answer: Some(Answer::All),
        cooldown_secs: Some(60),
        ..TriggerRule::default()
    };
    let bot = TestBot::with(|b| b.triggers(triggers(&[("test:c", rule)])));
    let chatter = |text: &str| in_channel(&bot, "c", None, alice(), Addressed::NotAddressed, text);
    assert_eq!(bot.send(chatter("one")).await, ["echo: one"]);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert!(bot.send(chatter("two")).await.is_empty(), "cooling down");
    let mention = in_channel(&bot, "c", None, alice(), Addressed::Mentioned, "asked");
    assert_eq!(bot.send(mention).await, ["echo: asked"]);
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(bot.send(chatter("three")).await, ["echo: three"]);
}

#[tokio::test]
async fn other_bots_are_answered_only_where_the_rule_says() {
    let bots = TriggerRule {
        answer_bots: Some(true),
        ..TriggerRule::default()
    };
    let bot = TestBot::with(|b| b.triggers(triggers(&[("test:bots", bots)])));
    let robot = Author::user("r", "Robot").bot();
    let hi = |channel| {
        in_channel(
            &bot,
            channel,
            None,
            robot.clone(),
            Addressed::Mentioned,
            "hi",
        )
    };
    assert!(bot.send(hi("people")).await.is_empty());
    assert_eq!(bot.send(hi("bots")).await, ["echo: hi"]);
}

#[tokio::test]
async fn admins_set_rules_with_trigger_and_others_may_only_look() {
    let store = Arc::new(MemoryStore::new());
    let bot = TestBot::with(|b| b.store(store.clone()));
    let say =
        |author: Author, text: &str| in_channel(&bot, "c", None, author, Addressed::Command, text);
    let shown = bot.send(say(alice(), "/trigger")).await;
    assert!(shown[0].starts_with("Here: I answer mentions"), "{shown:?}");
    assert_eq!(
        bot.send(say(alice(), "/trigger all")).await,
        ["Only admins can change when I answer in group chats."]
    );
    let set = bot.send(say(admin(), "/trigger all")).await;
    assert_eq!(set, ["Here from now on: I answer every message."]);
    let (_, set_in_chat) = bot.engine.trigger_rules();
    assert_eq!(
        set_in_chat,
        [(
            natter_core::Place::Channel(TEST_PLATFORM, "c".into()),
            rule(Answer::All)
        )],
        "a dashboard lists it by place"
    );
    let chatter = in_channel(&bot, "c", None, alice(), Addressed::NotAddressed, "hi");
    assert_eq!(bot.send(chatter).await, ["echo: hi"]);

    let set = bot
        .send(say(admin(), "/trigger keywords natter, tea server"))
        .await;
    assert!(set[0].starts_with("Set for the whole server."), "{set:?}");
    let other = |text: &str| in_channel(&bot, "d", None, alice(), Addressed::NotAddressed, text);
    assert_eq!(bot.send(other("tea time")).await, ["echo: tea time"]);
    assert!(bot.send(other("coffee")).await.is_empty());

    // Another process on the same store reads the rules at start.
    let second = TestBot::with(|b| b.store(store.clone()));
    let mut seen = Vec::new();
    for _ in 0..100 {
        let chatter = in_channel(&second, "c", None, alice(), Addressed::NotAddressed, "hi");
        seen = second.send(chatter).await;
        if !seen.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        seen,
        ["echo: hi"],
        "the rule set at run time is in the store"
    );

    assert_eq!(
        bot.send(say(admin(), "/trigger reset")).await,
        ["Here from now on: I answer mentions, replies, commands and messages with: natter, tea."],
        "the channel falls back to the server's rule"
    );
    let chatter = in_channel(&bot, "c", None, alice(), Addressed::NotAddressed, "hi");
    assert!(bot.send(chatter).await.is_empty());
    let private = bot.say("/trigger all").await;
    assert!(private[0].starts_with("In a private chat"), "{private:?}");
}

#[tokio::test]
async fn admin_only_commands_are_configurable() {
    let bot = TestBot::new();
    let reset =
        |bot: &TestBot, author| in_channel(bot, "c", None, author, Addressed::Command, "/reset");
    assert_eq!(
        bot.send(reset(&bot, alice())).await,
        ["Only admins can use /reset in group chats."]
    );
    assert_eq!(
        bot.send(reset(&bot, admin())).await,
        ["History cleared. Let's start fresh."]
    );
    let open = TestBot::with(|b| {
        b.groups(GroupSettings {
            admin_only: Vec::new(),
        })
    });
    assert_eq!(
        open.send(reset(&open, alice())).await,
        ["History cleared. Let's start fresh."]
    );
    let persona = in_channel(
        &open,
        "c",
        None,
        alice(),
        Addressed::Command,
        "/persona assistant",
    );
    assert_eq!(open.send(persona).await, ["Persona is now assistant."]);
}

fn personas(default: &str, places: &[(&str, &str)]) -> Personas {
    let set: BTreeMap<String, Persona> = ["assistant", "pirate", "poet"]
        .into_iter()
        .map(|name| (name.to_owned(), Persona::new(format!("You are {name}."))))
        .collect();
    let settings = PersonaSettings {
        default: default.into(),
        channels: places
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    Personas::new(settings, set).expect("valid personas")
}

#[tokio::test]
async fn a_server_wide_persona_reaches_every_channel_of_the_server() {
    let bot = TestBot::with(|b| b.personas(personas("assistant", &[])));
    let set = in_channel(
        &bot,
        "c",
        None,
        admin(),
        Addressed::Command,
        "/persona pirate server",
    );
    assert_eq!(
        bot.send(set).await,
        ["Persona is now pirate across this server."]
    );
    bot.send(in_channel(
        &bot,
        "d",
        Some("t"),
        alice(),
        Addressed::Mentioned,
        "hi",
    ))
    .await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are pirate."
    );
    let private = bot.say("/persona poet server").await;
    assert!(
        private[0].starts_with("This chat is not part of a server"),
        "{private:?}"
    );
}

#[tokio::test]
async fn a_reload_changes_personas_and_rules_for_the_next_message() {
    let bot = TestBot::with(|b| b.personas(personas("assistant", &[])));
    bot.send(in_channel(
        &bot,
        "c",
        None,
        alice(),
        Addressed::Mentioned,
        "one",
    ))
    .await;
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are assistant."
    );

    bot.engine
        .reload(Reload {
            personas: personas("assistant", &[("test:c", "poet")]),
            triggers: triggers(&[("test:c", rule(Answer::All))]),
            groups: GroupSettings::default(),
            budget: BudgetSettings::default(),
        })
        .expect("reloads");
    let chatter = in_channel(&bot, "c", None, alice(), Addressed::NotAddressed, "two");
    assert_eq!(bot.send(chatter).await, ["echo: two"]);
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are poet."
    );

    let mut broken = personas("assistant", &[]);
    broken = {
        let mut set: BTreeMap<String, Persona> = broken
            .iter()
            .map(|(name, persona)| (name.to_owned(), persona.clone()))
            .collect();
        set.get_mut("pirate").unwrap().model = Some("ghost".into());
        Personas::new(PersonaSettings::default(), set).unwrap()
    };
    let refused = bot.engine.reload(Reload {
        personas: broken,
        triggers: triggers(&[]),
        groups: GroupSettings::default(),
        budget: BudgetSettings::default(),
    });
    assert!(
        matches!(refused, Err(EngineError::UnknownModel { ref place, .. }) if place == "personas.pirate.model"),
        "{refused:?}"
    );
    let chatter = in_channel(&bot, "c", None, alice(), Addressed::NotAddressed, "three");
    assert_eq!(
        bot.send(chatter).await,
        ["echo: three"],
        "the old settings stay"
    );
    assert_eq!(
        bot.backend.last_request().messages[0].content,
        "You are poet."
    );
}
