//! Users' time zones: reading a zone name (with a suggestion for a bare city
//! such as `Berlin`), and keeping each user's choice in the plugin's state.

use jiff::tz::TimeZone;
use natter_core::PluginError;
use natter_core::plugin::PluginState;

/// Where a user's zone is kept in the plugin's state.
fn key(owner: &str) -> String {
    format!("tz/{owner}")
}

/// A zone name that is not in the time zone database.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "I don't know the time zone “{name}”.{}",
    match suggestion {
        Some(s) => format!(" Did you mean {s}? Set it with /remind tz {s}."),
        None => " Use a name from the tz database such as Europe/Berlin, \
                  America/New_York, Asia/Tokyo or UTC."
            .to_owned(),
    }
)]
pub struct UnknownZone {
    /// The name as given.
    pub name: String,
    /// A known zone whose city is that name, if any.
    pub suggestion: Option<String>,
}

/// A user's zone and its name.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone.
    pub tz: TimeZone,
    /// Its IANA name, as the database spells it.
    pub name: String,
}

impl Zone {
    /// The zone called `name` (any case: `europe/berlin` works).
    pub fn lookup(name: &str) -> Result<Self, UnknownZone> {
        let name = name.trim();
        match TimeZone::get(name) {
            Ok(tz) => {
                let name = tz.iana_name().unwrap_or(name).to_owned();
                Ok(Self { tz, name })
            }
            Err(_) => Err(UnknownZone {
                name: name.to_owned(),
                suggestion: suggest(name),
            }),
        }
    }
}

/// A zone whose last part is `name` (`Berlin` → `Europe/Berlin`, `new york` →
/// `America/New_York`).
fn suggest(name: &str) -> Option<String> {
    let city = name.replace(' ', "_");
    if city.is_empty() || city.contains('/') {
        return None;
    }
    let mut found: Vec<String> = jiff::tz::db()
        .available()
        .map(|zone| zone.as_str().to_owned())
        .filter(|zone| {
            zone.rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(&city))
                && zone.contains('/')
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The zone `owner` chose, or `default` when they chose none (or theirs has
/// left the database).
pub async fn of_user(
    state: &PluginState<'_>,
    owner: &str,
    default: &Zone,
) -> Result<Zone, PluginError> {
    let chosen: Option<String> = state.get(&key(owner)).await?;
    Ok(chosen
        .and_then(|name| Zone::lookup(&name).ok())
        .unwrap_or_else(|| default.clone()))
}

/// Keeps `zone` as `owner`'s.
pub async fn choose(state: &PluginState<'_>, owner: &str, zone: &Zone) -> Result<(), PluginError> {
    state.put(&key(owner), &zone.name).await
}

/// Forgets `owner`'s choice.
pub async fn forget(state: &PluginState<'_>, owner: &str) -> Result<(), PluginError> {
    state.delete(&key(owner)).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn names_are_found_in_any_case_and_spelled_as_the_database_does() {
        assert_eq!(Zone::lookup("Europe/Berlin").unwrap().name, "Europe/Berlin");
        assert_eq!(
            Zone::lookup(" europe/berlin ").unwrap().name,
            "Europe/Berlin"
        );
        assert_eq!(Zone::lookup("UTC").unwrap().name, "UTC");
    }

    #[test]
    fn the_database_is_bundled_for_machines_without_one() {
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        assert!(bundled.get("Europe/Berlin").is_ok());
        assert!(bundled.get("America/New_York").is_ok());
    }

    #[test]
    fn unknown_names_get_a_suggestion_or_examples() {
        let berlin = Zone::lookup("Berlin").unwrap_err();
        assert_eq!(berlin.suggestion.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            berlin.to_string(),
            "I don't know the time zone “Berlin”. Did you mean Europe/Berlin? \
             Set it with /remind tz Europe/Berlin."
        );
        let new_york = Zone::lookup("new york").unwrap_err();
        assert_eq!(new_york.suggestion.as_deref(), Some("America/New_York"));
        let nowhere = Zone::lookup("Mars/Olympus").unwrap_err();
        assert_eq!(nowhere.suggestion, None);
        assert!(nowhere.to_string().contains("Europe/Berlin"), "{nowhere}");
    }
}
