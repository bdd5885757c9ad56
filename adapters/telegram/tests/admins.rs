//! Group admins, end to end: the real adapter and engine (scripted model)
//! against the fake Bot API. A group's creator and administrators, as
//! `getChatAdministrators` lists them, are admins there next to the
//! settings' `admins`; the list is asked for once per chat per
//! `admin_cache_secs`, never for chatter, and a failed lookup leaves only
//! the settings' admins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Harness, WITHIN};
use natter_core::test_utils::Step;
use natter_core::{Persona, PersonaSettings, Personas, Role};
use natter_telegram::{RateSettings, TelegramSettings};
use natter_test_support::telegram::updates::{self, *};
use natter_test_support::telegram::{BOT_USERNAME, Failure};
use serde_json::{Value, json};

const GROUP: i64 = -100_900;
/// The group's creator, by Telegram.
const OWEN: i64 = 3000;
/// One of the group's administrators, by Telegram.
const ANN: i64 = 3001;
/// A plain member.
const BEN: i64 = 3002;
/// An admin by the settings' `admins`, a plain member by Telegram.
const SAM: i64 = 3003;
const LOOKUP: &str = "getChatAdministrators";
const REFUSED: &str = "Only admins can change the persona in group chats.";

fn ann() -> Value {
    user(ANN, "Ann")
}

fn ben() -> Value {
    user(BEN, "Ben")
}

fn sam() -> Value {
    user(SAM, "Sam")
}

/// The bot with an assistant and a pirate, `SAM` in the settings' admins,
/// and the group's admins at the fake: Owen (creator) and Ann.
async fn start(configure: impl FnOnce(&mut TelegramSettings)) -> Harness {
    let personas = Personas::new(
        PersonaSettings::default(),
        [
            ("assistant".to_owned(), Persona::new("You assist.")),
            ("pirate".to_owned(), Persona::new("You are a pirate.")),
        ]
        .into_iter()
        .collect(),
    )
    .unwrap();
    let h = Harness::with_engine(
        |s| {
            s.admins = vec![SAM];
            // Replies at once, not paced to one write a second per chat.
            s.rate = RateSettings::off();
            configure(s);
        },
        |b| b.personas(personas),
    )
    .await;
    h.fake.set_admins(
        GROUP,
        vec![creator(user(OWEN, "Owen")), administrator(user(ANN, "Ann"))],
    );
    h
}

fn in_group(h: &Harness, from: Value, text: &str) -> Value {
    updates::text(
        h.fake.next_message_id(),
        group_chat(GROUP, "Crew", false),
        from,
        text,
    )
}

/// `from`'s command `text` (`/persona pirate`) in the group.
fn command(h: &Harness, from: Value, text: &str) -> Value {
    let word = text.split_whitespace().next().unwrap();
    with_entity(in_group(h, from, text), "bot_command", word)
}

/// `from` mentioning the bot in the group.
fn mention(h: &Harness, from: Value, text: &str) -> Value {
    let at = format!("@{BOT_USERNAME}");
    with_entity(in_group(h, from, &format!("{at} {text}")), "mention", &at)
}

/// Injects `from`'s command and returns the bot's answer to it.
async fn ask(h: &Harness, from: Value, text: &str) -> String {
    let id = h.inject(command(h, from, text));
    h.reply_to(id).await.text().unwrap().to_owned()
}

fn lookups(h: &Harness) -> usize {
    h.fake.calls_to(LOOKUP).len()
}

/// The system prompt of the model's last request.
fn last_system_prompt(h: &Harness) -> String {
    let request = h.backend.last_request();
    let system = request.messages.iter().find(|m| m.role == Role::System);
    system.map(|m| m.content.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_groups_telegram_admin_may_switch_the_persona_and_a_member_may_not() {
    let h = start(|_| {}).await;
    assert_eq!(ask(&h, ben(), "/persona pirate").await, REFUSED);
    assert_eq!(
        ask(&h, ann(), "/persona pirate").await,
        "Persona is now pirate."
    );
    assert_eq!(
        ask(&h, user(OWEN, "Owen"), "/persona assistant").await,
        "Persona is now assistant.",
        "the creator is an admin too"
    );
    assert_eq!(
        ask(&h, ann(), "/persona pirate").await,
        "Persona is now pirate."
    );
    // The change holds: the model answers Ben as the pirate.
    h.backend.reply("Arr.");
    let asked = h.inject(mention(&h, ben(), "who are you?"));
    h.reply_to(asked).await;
    assert!(
        last_system_prompt(&h).contains("You are a pirate."),
        "{}",
        last_system_prompt(&h)
    );
    let calls = h.fake.calls_to(LOOKUP);
    assert_eq!(calls.len(), 1, "asked again within the cache window");
    assert_eq!(calls[0].params["chat_id"], json!(GROUP));
    assert!(calls[0].ok());
    h.stop().await.unwrap();
}

#[tokio::test]
async fn the_admin_list_is_kept_for_the_window_then_asked_for_again() {
    let h = start(|s| s.admin_cache_secs = 600).await;
    for persona in ["pirate", "assistant", "pirate"] {
        let answer = ask(&h, ann(), &format!("/persona {persona}")).await;
        assert_eq!(answer, format!("Persona is now {persona}."));
    }
    assert_eq!(lookups(&h), 1, "three admin commands, one lookup");

    // Ten minutes later (on tokio's clock), the list is stale.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(601)).await;
    tokio::time::resume();
    // Meanwhile Ann stepped down.
    h.fake.set_admins(GROUP, vec![creator(user(OWEN, "Owen"))]);
    assert_eq!(ask(&h, ann(), "/persona assistant").await, REFUSED);
    assert_eq!(lookups(&h), 2, "not asked again after the window");
    h.stop().await.unwrap();
}

#[tokio::test]
async fn a_burst_of_commands_in_a_group_makes_one_lookup() {
    let h = start(|_| {}).await;
    // A slow Bot API: the whole burst arrives while the lookup is under way.
    h.fake.delay(LOOKUP, Duration::from_millis(300));
    let burst = [
        (ann(), "/persona pirate"),
        (ben(), "/persona assistant"),
        (ann(), "/persona assistant"),
        (ben(), "/persona pirate"),
        (ann(), "/persona pirate"),
    ];
    let ids: Vec<(i64, i64)> = burst
        .iter()
        .map(|(from, text)| {
            (
                from["id"].as_i64().unwrap(),
                h.inject(command(&h, from.clone(), text)),
            )
        })
        .collect();
    for (from, id) in ids {
        let answer = h.reply_to(id).await.text().unwrap().to_owned();
        if from == ANN {
            assert!(answer.starts_with("Persona is now"), "{answer}");
        } else {
            assert_eq!(answer, REFUSED);
        }
    }
    assert_eq!(lookups(&h), 1, "one lookup for the burst");
    h.stop().await.unwrap();
}

#[tokio::test]
async fn a_chats_messages_keep_their_order_while_one_waits_for_the_lookup() {
    let h = start(|_| {}).await;
    h.fake.delay(LOOKUP, Duration::from_millis(300));
    // Ann's command waits for the lookup; Sam (an admin by the settings)
    // needs none, and still comes after her.
    let command = h.inject(command(&h, ann(), "/persona pirate"));
    h.backend.reply("Arr, ahoy.");
    let asked = h.inject(mention(&h, sam(), "ahoy?"));
    h.reply_to(asked).await;
    assert!(
        last_system_prompt(&h).contains("You are a pirate."),
        "answered before the persona changed: {}",
        last_system_prompt(&h)
    );
    let answer = h.reply_to(command).await;
    assert_eq!(answer.text(), Some("Persona is now pirate."));
    h.stop().await.unwrap();
}

#[tokio::test]
async fn a_telegram_admin_may_stop_someone_elses_reply() {
    let h = start(|_| {}).await;
    h.backend
        .script(vec![Step::Delta("Let me think".into()), Step::Hang]);
    h.inject(mention(&h, ben(), "a long story, please"));
    tokio::time::timeout(WITHIN, h.backend.wait_for_requests(1))
        .await
        .unwrap();

    let carl = user(3004, "Carl");
    let refused = ask(&h, carl, "/stop").await;
    assert!(
        refused.contains("only they or an admin can stop it"),
        "{refused}"
    );
    assert_eq!(ask(&h, ann(), "/stop").await, "Stopped.");
    assert_eq!(
        lookups(&h),
        1,
        "Ben's mention asked; the /stops used the cache"
    );
    h.stop().await.unwrap();
}

#[tokio::test]
async fn a_failed_lookup_leaves_only_the_settings_admins() {
    let h = start(|_| {}).await;
    h.fake.fail_next(LOOKUP, Failure::ChatNotFound);
    assert_eq!(ask(&h, ann(), "/persona pirate").await, REFUSED);
    assert_eq!(
        ask(&h, sam(), "/persona pirate").await,
        "Persona is now pirate.",
        "a settings admin is one without Telegram"
    );
    // Not asked again on the next message: the failure backs off.
    assert_eq!(ask(&h, ann(), "/persona assistant").await, REFUSED);
    let calls = h.fake.calls_to(LOOKUP);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, 400);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn admin_cache_secs_0_never_asks_telegram() {
    let h = start(|s| s.admin_cache_secs = 0).await;
    assert_eq!(ask(&h, ann(), "/persona pirate").await, REFUSED);
    assert_eq!(
        ask(&h, sam(), "/persona pirate").await,
        "Persona is now pirate."
    );
    h.backend.reply("Arr.");
    let asked = h.inject(mention(&h, ben(), "hi"));
    h.reply_to(asked).await;
    assert_eq!(lookups(&h), 0);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn group_chatter_never_asks_telegram() {
    let h = start(|_| {}).await;
    for (from, text) in [(ann(), "lunch?"), (ben(), "sure"), (ann(), "/weather")] {
        h.inject(in_group(&h, from, text));
    }
    let other = with_entity(
        in_group(&h, ben(), "/persona@other_bot pirate"),
        "bot_command",
        "/persona@other_bot",
    );
    h.inject(other);
    // Updates are handed over in order: by the answer in a private chat,
    // the chatter before it was handed over (or let go) too.
    h.backend.reply("Hello Ben.");
    let private = updates::text(
        h.fake.next_message_id(),
        private_chat(BEN, "Ben"),
        ben(),
        "hello",
    );
    let answered = h.inject(private);
    h.reply_to(answered).await;
    assert_eq!(h.engine.stats().last_hour().received, 5);
    assert_eq!(lookups(&h), 0, "chatter cost a lookup");
    h.stop().await.unwrap();
}

#[tokio::test]
async fn chatter_a_group_answers_learns_who_its_admins_are() {
    let all = natter_core::TriggerSettings {
        places: [(
            format!("telegram:{GROUP}"),
            natter_core::TriggerRule {
                answer: Some(natter_core::Answer::All),
                ..natter_core::TriggerRule::default()
            },
        )]
        .into(),
        ..natter_core::TriggerSettings::default()
    };
    let triggers = natter_core::Triggers::new(all, &[natter_telegram::PLATFORM], false).unwrap();
    let h = Harness::with_engine(|s| s.rate = RateSettings::off(), |b| b.triggers(triggers)).await;
    h.fake
        .set_admins(GROUP, vec![administrator(user(ANN, "Ann"))]);
    h.backend.reply("Lunch at noon.");
    let asked = h.inject(in_group(&h, ann(), "lunch?"));
    h.reply_to(asked).await;
    assert_eq!(
        lookups(&h),
        1,
        "answered chatter may need its author's standing"
    );
    h.backend.reply("Sure.");
    let asked = h.inject(in_group(&h, ben(), "me too"));
    h.reply_to(asked).await;
    assert_eq!(lookups(&h), 1, "the group's list is kept");
    h.stop().await.unwrap();
}
