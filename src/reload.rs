//! Settings reloaded live: on `SIGHUP`, or when the settings file changes,
//! natter reads it again and puts in force what can change without dropping
//! a conversation — personas, trigger rules, `[groups]`, budgets, and the
//! platforms' allow, block and admin lists. What needs a restart (tokens,
//! the store, models, plugins…) is named in one log line. A file that does
//! not load is refused with the error naming the key, and the settings in
//! force stay as they were.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use natter_core::{Engine, Reload, ReloadRefused, ReloadReport, ReloadRequest};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::settings::{self, Settings};

/// How often the settings file is looked at for a change.
pub const POLL: Duration = Duration::from_secs(1);

/// Sections put in force by a reload, whole.
const LIVE_SECTIONS: [&str; 5] = ["persona", "personas", "triggers", "groups", "budget"];
/// Keys of other sections put in force by a reload.
const LIVE_KEYS: [(&str, &[&str]); 3] = [
    // The default of `[triggers] answer_bots`.
    ("engine", &["answer_bots"]),
    (
        "telegram",
        &[
            "admins",
            "allowed_chats",
            "allowed_users",
            "blocked_users",
            "blocked_chats",
        ],
    ),
    (
        "discord",
        &[
            "admins",
            "allowed_guilds",
            "allowed_channels",
            "allowed_dm_users",
            "blocked_users",
            "blocked_guilds",
            "blocked_channels",
        ],
    ),
];

/// What changed between two settings, by dotted key.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Put in force by a reload.
    pub live: Vec<String>,
    /// In force only after a restart.
    pub restart: Vec<String>,
}

impl Changes {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.restart.is_empty()
    }
}

/// The keys that differ between `old` and `new`, sorted into live and restart-only.
pub fn changes(old: &Settings, new: &Settings) -> Changes {
    let mut changes = Changes::default();
    let (Ok(Value::Object(old_map)), Ok(Value::Object(new_map))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        changes
            .restart
            .push("(settings that could not be compared)".into());
        return changes;
    };
    let mut sections: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    sections.sort();
    sections.dedup();
    for section in sections {
        let (before, after) = (old_map.get(section), new_map.get(section));
        if before == after {
            continue;
        }
        if LIVE_SECTIONS.contains(&section.as_str()) {
            changes.live.push(section.clone());
            continue;
        }
        let live_keys = LIVE_KEYS
            .iter()
            .find(|(name, _)| name == section)
            .map_or(&[][..], |(_, keys)| *keys);
        for key in differing_keys(before, after) {
            let dotted = format!("{section}.{key}");
            if live_keys.contains(&key.as_str()) {
                changes.live.push(dotted);
            } else {
                changes.restart.push(dotted);
            }
        }
    }
    for (key, before, after) in secrets(old, new) {
        if before.map(ExposeSecret::expose_secret) != after.map(ExposeSecret::expose_secret)
            && !changes.restart.iter().any(|k| k == key)
        {
            changes.restart.push(key.to_owned());
        }
    }
    changes
}

/// The keys of two tables that differ (the section itself when either is no table).
fn differing_keys(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<String> = a
                .keys()
                .chain(b.keys())
                .filter(|k| a.get(*k) != b.get(*k))
                .cloned()
                .collect();
            keys.sort();
            keys.dedup();
            keys
        }
        _ => vec!["*".to_owned()],
    }
}

type Secret<'a> = Option<&'a SecretString>;

/// Secrets, which settings serialise redacted, compared as they are.
fn secrets<'a>(
    old: &'a Settings,
    new: &'a Settings,
) -> Vec<(&'static str, Secret<'a>, Secret<'a>)> {
    vec![
        (
            "model.openai.api_key",
            old.model.openai.api_key.as_ref(),
            new.model.openai.api_key.as_ref(),
        ),
        (
            "transcription.api_key",
            old.transcription.api_key.as_ref(),
            new.transcription.api_key.as_ref(),
        ),
        (
            "image_generation.api_key",
            old.image_generation.api_key.as_ref(),
            new.image_generation.api_key.as_ref(),
        ),
        (
            "telegram.token",
            old.telegram.token.as_ref(),
            new.telegram.token.as_ref(),
        ),
        (
            "telegram.webhook_secret",
            old.telegram.webhook_secret.as_ref(),
            new.telegram.webhook_secret.as_ref(),
        ),
        (
            "discord.token",
            old.discord.token.as_ref(),
            new.discord.token.as_ref(),
        ),
        ("web.token", old.web.token.as_ref(), new.web.token.as_ref()),
    ]
}

/// Where a reload goes besides the engine: the running platforms.
#[derive(Default)]
pub struct Platforms {
    /// Telegram's settings, when it runs.
    pub telegram: Option<watch::Sender<natter_telegram::TelegramSettings>>,
    /// Discord's settings, when it runs.
    pub discord: Option<watch::Sender<natter_discord::DiscordSettings>>,
}

/// Reads the settings file again and puts what changed in force.
pub struct Reloader {
    source: PathBuf,
    current: Settings,
    engine: Engine,
    platforms: Platforms,
}

/// Why a reload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file does not load.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// The engine refused the new settings.
    #[error(transparent)]
    Engine(#[from] natter_core::EngineError),
}

impl Reloader {
    /// A reloader of `source`, whose settings `current` are in force in `engine`.
    pub fn new(source: PathBuf, current: Settings, engine: Engine, platforms: Platforms) -> Self {
        Self {
            source,
            current,
            engine,
            platforms,
        }
    }

    /// Reads the file again and puts in force what can change live; returns what changed.
    pub fn reload(&mut self) -> Result<Changes, ReloadError> {
        let loaded = settings::load(Some(&self.source))?;
        let new = loaded.settings;
        let changes = changes(&self.current, &new);
        if changes.live.is_empty() {
            self.current = new;
            return Ok(changes);
        }
        self.engine.reload(Reload {
            personas: new.personas()?,
            triggers: new.triggers()?,
            groups: new.groups.clone(),
            budget: new.budget.clone(),
        })?;
        if let Some(telegram) = &self.platforms.telegram {
            telegram.send_replace(new.telegram.clone());
        }
        if let Some(discord) = &self.platforms.discord {
            discord.send_replace(new.discord.clone());
        }
        self.current = new;
        Ok(changes)
    }

    /// Reloads and says so in the log; returns what it did for a dashboard.
    fn reload_and_log(&mut self, why: &str) -> Result<ReloadReport, ReloadRefused> {
        let outcome = self.reload();
        match &outcome {
            Ok(changes) if changes.is_empty() => info!(why, "settings reread; nothing changed"),
            Ok(changes) => {
                if !changes.live.is_empty() {
                    info!(why, changed = %changes.live.join(", "), "settings reloaded");
                }
                if !changes.restart.is_empty() {
                    warn!(
                        keys = %changes.restart.join(", "),
                        "these settings changed in the file but take effect only at the next start"
                    );
                }
            }
            Err(error) => error!(
                why,
                file = %self.source.display(),
                %error,
                "settings not reloaded; the settings in force stay as they were"
            ),
        }
        outcome
            .map(|changes| ReloadReport {
                applied: changes.live,
                need_restart: changes.restart,
            })
            .map_err(|error| ReloadRefused::Invalid(error.to_string()))
    }

    /// Reloads on `SIGHUP`, whenever the file changes, and when the engine
    /// is asked to (a dashboard), until `shutdown`.
    pub async fn watch(mut self, shutdown: CancellationToken) {
        let mut seen = fingerprint(&self.source);
        let mut hangups = hangups();
        let mut poll = tokio::time::interval(POLL);
        let mut requests = self.engine.serve_reloads();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                Some(()) = next_hangup(&mut hangups) => {
                    seen = fingerprint(&self.source);
                    let _ = self.reload_and_log("SIGHUP");
                }
                Some(answer) = next_request(&mut requests) => {
                    seen = fingerprint(&self.source);
                    let _ = answer.send(self.reload_and_log("the dashboard asked"));
                }
                _ = poll.tick() => {
                    let now = fingerprint(&self.source);
                    if now != seen {
                        seen = now;
                        let _ = self.reload_and_log("the settings file changed");
                    }
                }
            }
        }
    }
}

/// The next reload request, or never when they are served elsewhere.
async fn next_request(
    requests: &mut Option<tokio::sync::mpsc::Receiver<ReloadRequest>>,
) -> Option<ReloadRequest> {
    match requests {
        Some(requests) => requests.recv().await,
        None => std::future::pending().await,
    }
}

/// What tells a changed file: its length, modification time and content.
fn fingerprint(path: &Path) -> Option<(u64, Option<SystemTime>, u64)> {
    use std::hash::{Hash, Hasher};
    let metadata = std::fs::metadata(path).ok()?;
    let content = std::fs::read(path).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    Some((metadata.len(), metadata.modified().ok(), hasher.finish()))
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            warn!(%error, "cannot listen for SIGHUP; settings reload when the file changes");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    match hangups {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) -> Option<()> {
    std::future::pending().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn personas_and_lists_are_live_tokens_and_the_store_need_a_restart() {
        let old = Settings::default();
        let mut new = old.clone();
        new.persona.default = "pirate".into();
        new.telegram.blocked_users = vec![5];
        new.telegram.token = Some("123:abc".to_owned().into());
        new.store.url = natter_store::StoreUrl::new("postgres://elsewhere/db");
        new.groups.admin_only.clear();
        let changes = changes(&old, &new);
        assert_eq!(
            changes.live,
            ["groups", "persona", "telegram.blocked_users"]
        );
        assert_eq!(changes.restart, ["store.url", "telegram.token"]);
    }

    #[test]
    fn answering_bots_is_live_and_the_rest_of_engine_needs_a_restart() {
        let old = Settings::default();
        let mut new = old.clone();
        new.engine.answer_bots = true;
        new.engine.max_queue = 7;
        let changes = changes(&old, &new);
        assert_eq!(changes.live, ["engine.answer_bots"]);
        assert_eq!(changes.restart, ["engine.max_queue"]);
    }

    #[test]
    fn equal_settings_change_nothing() {
        let settings = Settings::default();
        assert!(changes(&settings, &settings.clone()).is_empty());
    }
}
