//! Stage 3, route — `/trigger`: shows the rule in force in a group, and lets
//! an admin change it for this channel (or thread), or with `server` for the
//! whole server. What it sets counts before `[triggers]` for the same place
//! and lasts until `/trigger reset`.
//!
//! | command | sets |
//! |---|---|
//! | `/trigger` | nothing: says what the rule is here |
//! | `/trigger mention`, `/trigger all` | which messages are answered |
//! | `/trigger keywords natter, help me` | answer messages with these |
//! | `/trigger cooldown 30` | quiet time after an unasked answer (0: none) |
//! | `/trigger bots on` | answer other bots here |
//! | `/trigger reset` | forget what was set here |

use tracing::error;

use super::shared::Shared;
use crate::message::Incoming;
use crate::place::Place;
use crate::trigger::{Answer, TriggerRule};

const USAGE: &str = "Use /trigger mention, /trigger all, /trigger keywords WORD, WORD…, \
     /trigger cooldown SECONDS, /trigger bots on|off or /trigger reset — \
     add `server` to set it for the whole server.";

/// Answers `/trigger ARGS` in `message`'s channel.
pub(crate) async fn run(shared: &Shared, message: &Incoming, args: &str) -> String {
    if message.channel.is_private() {
        return "In a private chat I answer every message; /trigger is for groups.".into();
    }
    let args = args.trim();
    if args.is_empty() {
        let rule = shared.triggers.rule_for(&message.channel);
        return format!("Here: {}\n{USAGE}", rule.describe());
    }
    let (args, server_wide, place) = Place::to_set(&message.channel, args);
    let Some(place) = place else {
        return "This chat is not part of a server.".into();
    };
    let scope = place.scope();
    let mut rule = shared.triggers.set_for(&scope).unwrap_or_default();
    let (word, rest) = args
        .split_once(char::is_whitespace)
        .map_or((args, ""), |(w, r)| (w, r.trim()));
    match word.to_ascii_lowercase().as_str() {
        "mention" | "mentions" => rule.answer = Some(Answer::Mention),
        "all" => rule.answer = Some(Answer::All),
        "keywords" | "keyword" => {
            let keywords: Vec<String> = rest
                .split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect();
            if keywords.is_empty() {
                return "Which keywords? e.g. /trigger keywords natter, help me".into();
            }
            rule.answer = Some(Answer::Keywords);
            rule.keywords = Some(keywords);
        }
        "cooldown" => match rest.trim_end_matches('s').trim().parse::<u64>() {
            Ok(secs) if secs <= 86_400 => rule.cooldown_secs = Some(secs),
            _ => return "Give the cooldown in seconds, 0 to 86400: /trigger cooldown 30".into(),
        },
        "bots" => match rest.to_ascii_lowercase().as_str() {
            "on" | "yes" | "true" => rule.answer_bots = Some(true),
            "off" | "no" | "false" => rule.answer_bots = Some(false),
            _ => return "Use /trigger bots on or /trigger bots off.".into(),
        },
        "reset" => rule = TriggerRule::default(),
        _ => return USAGE.into(),
    }
    if let Err(e) = shared
        .triggers
        .save(shared.services.stores.state.as_ref(), &scope, rule)
        .await
    {
        error!(error = %e, "could not save the trigger rule");
        return "Sorry, I couldn't save that. Please try again.".into();
    }
    let here = shared.triggers.rule_for(&message.channel).describe();
    if server_wide {
        format!("Set for the whole server. Here: {here}")
    } else {
        format!("Here from now on: {here}")
    }
}
