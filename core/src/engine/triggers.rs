//! Stage 1's question "answer this at all?": the trigger rule in force for a
//! message's channel ([`crate::trigger`]), the rules admins set with
//! `/trigger` (kept in the store, so every process and the next start see
//! them), and each channel's cooldown.
//!
//! Deciding must not wait on the store — group chatter arrives faster than a
//! database round trip — so run-time rules are read from a copy in memory,
//! loaded when a platform attaches and refreshed in the background every
//! [`REFRESH`]; a change made here is in the copy at once, one made by
//! another process within a refresh.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};

use super::shared::Shared;
use crate::live::Live;
use crate::message::{ChannelRef, Incoming};
use crate::place::Place;
use crate::store::{StateStore, StoreError};
use crate::trigger::{Resolved, TriggerRule, Triggers, Verdict};

/// The store namespace of run-time rules (keys are place scopes).
const NAMESPACE: &str = "natter.triggers";
/// How often the copy of run-time rules is read again from the store.
pub(crate) const REFRESH: Duration = Duration::from_secs(30);
/// Cooldowns remembered at most; the oldest are forgotten first.
const MAX_COOLDOWNS: usize = 10_000;

/// The engine's trigger state.
pub(crate) struct TriggerState {
    /// The `[triggers]` settings in force.
    pub(crate) settings: Live<Triggers>,
    set_at_run_time: RwLock<HashMap<String, TriggerRule>>,
    /// When the copy was last read, as milliseconds after `born` (`u64::MAX`:
    /// never): an atomic, since every message looks at it.
    refreshed_ms: AtomicU64,
    born: Instant,
    refreshing: AtomicBool,
    /// Counts saves, so a read that began before one does not undo it.
    saves: AtomicU64,
    /// When each channel last got an unasked answer.
    quiet_until: Mutex<HashMap<String, Instant>>,
}

impl TriggerState {
    pub(crate) fn new(settings: Triggers) -> Self {
        Self {
            settings: Live::new(settings),
            set_at_run_time: RwLock::new(HashMap::new()),
            refreshed_ms: AtomicU64::new(u64::MAX),
            born: Instant::now(),
            refreshing: AtomicBool::new(false),
            saves: AtomicU64::new(0),
            quiet_until: Mutex::new(HashMap::new()),
        }
    }

    /// The rule in force in `channel`.
    pub(crate) fn rule_for(&self, channel: &ChannelRef) -> Resolved {
        let places = Place::containing(channel);
        let chosen = self
            .set_at_run_time
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        self.settings
            .get()
            .resolve(&places, |scope| chosen.get(scope).cloned())
    }

    /// Every rule set at run time, by place, sorted.
    pub(crate) fn all_set(&self) -> Vec<(Place, TriggerRule)> {
        let chosen = self
            .set_at_run_time
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut rules: Vec<(Place, TriggerRule)> = chosen
            .iter()
            .filter_map(|(scope, rule)| Some((Place::from_scope(scope)?, rule.clone())))
            .collect();
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        rules
    }

    /// The rule set at run time for `scope`, if any.
    pub(crate) fn set_for(&self, scope: &str) -> Option<TriggerRule> {
        self.set_at_run_time
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(scope)
            .cloned()
    }

    /// Whether `message` is answered: its rule's verdict, and for what the
    /// rule answers unasked, the channel's cooldown (which an answer starts).
    pub(crate) fn admits(&self, message: &Incoming) -> bool {
        match self.verdict(message) {
            (Verdict::Ignore, _) => false,
            (Verdict::Asked, _) => true,
            (Verdict::Unasked, cooldown) => self.cool_down(&message.channel, cooldown),
        }
    }

    /// The rule's verdict on `message`, with the channel's cooldown. A person
    /// who addressed the bot is answered whatever the rule, so the rule is
    /// not worked out for them (nearly every message the bot gets).
    pub(crate) fn verdict(&self, message: &Incoming) -> (Verdict, Duration) {
        if message.is_addressed() && !message.author.is_bot {
            return (Verdict::Asked, Duration::ZERO);
        }
        let rule = self.rule_for(&message.channel);
        (rule.verdict(message), rule.cooldown)
    }

    /// True (and the channel's quiet time starts) unless `channel` is still
    /// quiet after its last unasked answer.
    fn cool_down(&self, channel: &ChannelRef, cooldown: Duration) -> bool {
        if cooldown.is_zero() {
            return true;
        }
        let key = Place::containing(channel)
            .first()
            .map(Place::scope)
            .unwrap_or_default();
        let now = Instant::now();
        let mut quiet = self
            .quiet_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if quiet.get(&key).is_some_and(|until| *until > now) {
            debug!(channel = %channel, "cooling down; not answering unasked");
            return false;
        }
        if quiet.len() >= MAX_COOLDOWNS {
            quiet.retain(|_, until| *until > now);
        }
        quiet.insert(key, now + cooldown);
        true
    }

    /// Saves `rule` (or forgets it, when empty) for `scope` in `store`, then in
    /// the copy.
    pub(crate) async fn save(
        &self,
        store: &dyn StateStore,
        scope: &str,
        rule: TriggerRule,
    ) -> Result<(), StoreError> {
        if rule.is_empty() {
            store.plugin_delete(NAMESPACE, scope).await?;
        } else {
            let value =
                serde_json::to_value(&rule).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            store.plugin_put(NAMESPACE, scope, &value).await?;
        }
        let mut chosen = self
            .set_at_run_time
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.saves.fetch_add(1, Ordering::SeqCst);
        if rule.is_empty() {
            chosen.remove(scope);
        } else {
            chosen.insert(scope.to_owned(), rule);
        }
        Ok(())
    }

    fn since_born_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Starts reading the run-time rules again if the copy is older than
    /// [`REFRESH`] (or was never read) and no read is under way.
    pub(crate) fn refresh_if_stale(shared: &Arc<Shared>) {
        let state = &shared.triggers;
        let refreshed = state.refreshed_ms.load(Ordering::Relaxed);
        let stale = refreshed == u64::MAX
            || state.since_born_ms().saturating_sub(refreshed) >= REFRESH.as_millis() as u64;
        if !stale || state.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            state.refreshing.store(false, Ordering::SeqCst);
            return;
        };
        let shared = Arc::clone(shared);
        runtime.spawn(async move {
            let state = &shared.triggers;
            let saves = state.saves.load(Ordering::SeqCst);
            match load(shared.services.stores.state.as_ref()).await {
                Ok(rules) => {
                    let mut chosen = state
                        .set_at_run_time
                        .write()
                        .unwrap_or_else(PoisonError::into_inner);
                    // A save since the read began is newer than what was read.
                    if state.saves.load(Ordering::SeqCst) == saves {
                        *chosen = rules;
                    }
                }
                Err(error) => warn!(%error, "could not read the trigger rules set by /trigger"),
            }
            state
                .refreshed_ms
                .store(state.since_born_ms(), Ordering::Relaxed);
            state.refreshing.store(false, Ordering::SeqCst);
        });
    }
}

/// Every run-time rule in `store`; unreadable ones are skipped and logged.
async fn load(store: &dyn StateStore) -> Result<HashMap<String, TriggerRule>, StoreError> {
    let mut rules = HashMap::new();
    for (scope, value) in store.plugin_list(NAMESPACE, "").await? {
        match serde_json::from_value::<TriggerRule>(value) {
            Ok(rule) => {
                rules.insert(scope, rule);
            }
            Err(error) => warn!(scope, %error, "a stored trigger rule is unreadable; ignoring it"),
        }
    }
    Ok(rules)
}
