//! [`Place`]: one syntax for naming where settings apply — a whole platform,
//! a server, a channel or a thread — used by `[persona.channels]` and
//! `[triggers.places]` alike, and the same `platform:channel[/thread]` form
//! plugins use for channels ([`ChannelRef`]'s).
//!
//! | written | means |
//! |---|---|
//! | `telegram` | every chat on the platform |
//! | `discord:server:42` | every channel of Discord server 42 |
//! | `discord:123`, `telegram:-1001234` | one channel or chat |
//! | `discord:123/456`, `telegram:-1001234/7` | one thread or forum topic in it |
//!
//! A place reads back what it prints, and knows the internal scope string the
//! store keys run-time choices by (`discord/channel/123`), so settings and
//! `/persona` name the same places.

use std::fmt;
use std::str::FromStr;

use crate::message::{ChannelRef, ChannelRefError, Platform};

/// Where a setting applies, from the widest to the narrowest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// Every chat on a platform.
    Platform(Platform),
    /// Every channel of a server (a Discord guild).
    Server(Platform, String),
    /// One channel, group or chat.
    Channel(Platform, String),
    /// One thread or forum topic within a channel.
    Thread(Platform, String, String),
}

/// Why a place such as `discord:123` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    /// Written in the old `platform/channel/ID` form.
    #[error("`{written}` is the old form; write {suggested}")]
    OldForm {
        /// What was written.
        written: String,
        /// The same place in today's syntax.
        suggested: String,
    },
    /// Not a place at all.
    #[error(
        "`{0}` is not a place; write a platform (telegram), a server (discord:server:42), \
         a channel (discord:123, telegram:-1001234) or a thread (discord:123/456)"
    )]
    Malformed(String),
    /// The platform part is not a platform natter runs on.
    #[error("`{written}` names platform `{platform}`, but natter knows only {known}")]
    UnknownPlatform {
        /// What was written.
        written: String,
        /// The platform part.
        platform: String,
        /// The platforms there are.
        known: String,
    },
}

impl From<ChannelRefError> for PlaceError {
    fn from(error: ChannelRefError) -> Self {
        match error {
            ChannelRefError::Malformed(s) | ChannelRefError::UnknownPlatform(s) => {
                PlaceError::Malformed(s)
            }
        }
    }
}

impl Place {
    /// The platform the place is on.
    pub fn platform(&self) -> Platform {
        match self {
            Place::Platform(p) | Place::Server(p, _) | Place::Channel(p, _) => *p,
            Place::Thread(p, _, _) => *p,
        }
    }

    /// The key the store files run-time choices (`/persona`, `/trigger`)
    /// under: `discord/server/42`, `discord/channel/123`,
    /// `discord/channel/123/thread/456`, or the platform's name.
    pub fn scope(&self) -> String {
        match self {
            Place::Platform(p) => p.to_string(),
            Place::Server(p, server) => format!("{p}/server/{server}"),
            Place::Channel(p, channel) => format!("{p}/channel/{channel}"),
            Place::Thread(p, channel, thread) => format!("{p}/channel/{channel}/thread/{thread}"),
        }
    }

    /// The places containing `channel`, narrowest first: its thread, the
    /// channel, its server, the platform.
    pub fn containing(channel: &ChannelRef) -> Vec<Place> {
        let p = channel.platform;
        let mut places = Vec::with_capacity(4);
        if let Some(thread) = &channel.thread {
            places.push(Place::Thread(p, channel.channel.clone(), thread.clone()));
        }
        places.push(Place::Channel(p, channel.channel.clone()));
        if let Some(server) = &channel.server {
            places.push(Place::Server(p, server.clone()));
        }
        places.push(Place::Platform(p));
        places
    }

    /// Where a command that sets something (`/persona NAME`, `/trigger all`)
    /// sets it in `channel`: with a last word `server`, the channel's server
    /// (`None` outside one), else the narrowest place. Returns the arguments
    /// without that word.
    pub fn to_set<'a>(channel: &ChannelRef, args: &'a str) -> (&'a str, bool, Option<Place>) {
        let places = Place::containing(channel);
        match args.rsplit_once(char::is_whitespace) {
            Some((rest, last)) if last.eq_ignore_ascii_case("server") => {
                let server = places.into_iter().find(|p| matches!(p, Place::Server(..)));
                (rest.trim(), true, server)
            }
            _ => (args, false, places.into_iter().next()),
        }
    }

    /// Reads `written`, accepting only the platforms in `known`.
    pub fn parse_known(written: &str, known: &[Platform]) -> Result<Place, PlaceError> {
        let place: Place = written.parse()?;
        if known.contains(&place.platform()) {
            return Ok(place);
        }
        let names: Vec<String> = known.iter().map(ToString::to_string).collect();
        Err(PlaceError::UnknownPlatform {
            written: written.to_owned(),
            platform: place.platform().to_string(),
            known: names.join(", "),
        })
    }
}

impl fmt::Display for Place {
    /// The form [`Place::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Platform(p) => write!(f, "{p}"),
            Place::Server(p, server) => write!(f, "{p}:server:{server}"),
            Place::Channel(p, channel) => write!(f, "{p}:{channel}"),
            Place::Thread(p, channel, thread) => write!(f, "{p}:{channel}/{thread}"),
        }
    }
}

impl FromStr for Place {
    type Err = PlaceError;

    fn from_str(written: &str) -> Result<Self, Self::Err> {
        let s = written.trim();
        if let Some(suggested) = old_form(s) {
            return Err(PlaceError::OldForm {
                written: written.to_owned(),
                suggested,
            });
        }
        let malformed = || PlaceError::Malformed(written.to_owned());
        let Some((platform, rest)) = s.split_once(':') else {
            let platform: Platform = s.parse().map_err(|_| malformed())?;
            return Ok(Place::Platform(platform));
        };
        if let Some(server) = rest.strip_prefix("server:") {
            let platform: Platform = platform.parse().map_err(|_| malformed())?;
            let server = server.trim();
            if server.is_empty() || server.contains(['/', ':']) {
                return Err(malformed());
            }
            return Ok(Place::Server(platform, server.to_owned()));
        }
        let channel: ChannelRef = s.parse()?;
        if channel.channel.contains(':') {
            return Err(malformed());
        }
        Ok(match channel.thread {
            Some(thread) => Place::Thread(channel.platform, channel.channel, thread),
            None => Place::Channel(channel.platform, channel.channel),
        })
    }
}

impl Place {
    /// The place the store's scope string `scope` names (the inverse of
    /// [`Place::scope`]), if it names one.
    pub fn from_scope(scope: &str) -> Option<Place> {
        if !scope.contains('/') {
            return scope.parse().ok();
        }
        old_form(scope)?.parse().ok()
    }
}

/// The new spelling of a place written the old way (`discord/channel/1`,
/// `discord/server/2`, `telegram/channel/3/thread/4`), if it is one.
fn old_form(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [p, "server", server] => Some(format!("{p}:server:{server}")),
        [p, "channel", channel] => Some(format!("{p}:{channel}")),
        [p, "channel", channel, "thread", thread] => Some(format!("{p}:{channel}/{thread}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISCORD: Platform = Platform::new("discord");
    const TELEGRAM: Platform = Platform::new("telegram");

    #[test]
    fn every_form_reads_back_what_it_prints() {
        for written in [
            "telegram",
            "discord:server:42",
            "discord:123",
            "telegram:-1001234",
            "telegram:-1001234/7",
        ] {
            let place: Place = written.parse().expect(written);
            assert_eq!(place.to_string(), written);
        }
    }

    #[test]
    fn places_map_to_the_scopes_the_store_uses() {
        let thread = ChannelRef::group(DISCORD, "123")
            .in_server("42")
            .in_thread("456");
        let scopes: Vec<String> = Place::containing(&thread)
            .iter()
            .map(Place::scope)
            .collect();
        assert_eq!(
            scopes,
            [
                "discord/channel/123/thread/456",
                "discord/channel/123",
                "discord/server/42",
                "discord"
            ]
        );
        let mut without_platform = scopes;
        without_platform.pop();
        assert_eq!(without_platform, thread.scopes());
    }

    #[test]
    fn scopes_read_back_as_places() {
        for written in [
            "telegram",
            "discord:server:42",
            "discord:123",
            "telegram:-100/7",
        ] {
            let place: Place = written.parse().expect(written);
            assert_eq!(Place::from_scope(&place.scope()), Some(place));
        }
        assert_eq!(Place::from_scope("discord/nonsense"), None);
    }

    #[test]
    fn the_old_form_is_refused_with_the_new_spelling() {
        let error = "discord/channel/1".parse::<Place>().expect_err("old form");
        assert_eq!(
            error.to_string(),
            "`discord/channel/1` is the old form; write discord:1"
        );
        let error = "discord/server/9".parse::<Place>().expect_err("old form");
        assert!(error.to_string().contains("discord:server:9"), "{error}");
    }

    #[test]
    fn typos_are_named() {
        for bad in [
            "",
            "discord:",
            "discord:server:",
            ":1",
            "disc ord:1",
            "a:b:c",
        ] {
            assert!(bad.parse::<Place>().is_err(), "{bad:?} was accepted");
        }
        let error = Place::parse_known("telgram:-100", &[TELEGRAM, DISCORD]).expect_err("typo");
        assert_eq!(
            error.to_string(),
            "`telgram:-100` names platform `telgram`, but natter knows only telegram, discord"
        );
    }
}
