//! [`Shared`]: the state every stage of the engine reads — the services
//! plugins share, the engine's settings, the plugins with their resolved
//! commands and filters, the failure handler, and the machinery of ordering,
//! parallelism and shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::lanes::Lanes;
use super::limiter::Limiter;
use super::monitor::Monitor;
use super::scheduler::JobHolder;
use super::summarize::Summaries;
use super::triggers::TriggerState;
use crate::approval::Approvals;
use crate::command::CommandSpec;
use crate::delivery::{Courier, OutputFilter};
use crate::live::Live;
use crate::message::Incoming;
use crate::plugin::{PluginErrorHandler, Registered};
use crate::services::Services;
use crate::settings::{EngineSettings, GroupSettings};
use crate::tool::ToolSettings;

/// A message waiting in its conversation's lane.
pub(crate) struct Queued {
    pub(crate) message: Incoming,
    pub(crate) courier: Arc<Courier>,
    /// Dropped when handling ends, which resolves the submitter's receipt.
    pub(crate) _done: oneshot::Sender<()>,
}

/// State every message handler shares.
pub(crate) struct Shared {
    pub(crate) services: Services,
    pub(crate) settings: EngineSettings,
    pub(crate) plugins: Vec<Registered>,
    /// Each plugin command's owner (index into `plugins`) and spec, resolved
    /// once at build time rather than on every command.
    pub(crate) plugin_commands: HashMap<String, (usize, CommandSpec)>,
    /// Plugins' output filters, in plugin order; every courier screens with them.
    pub(crate) filters: Arc<[Arc<dyn OutputFilter>]>,
    /// Decides what every plugin failure shows and logs.
    pub(crate) on_error: Arc<dyn PluginErrorHandler>,
    /// The `[tools]` settings.
    pub(crate) tools: ToolSettings,
    /// Confirmations waiting for an answer.
    pub(crate) approvals: Approvals,
    /// Per-user message rates.
    pub(crate) limiter: Limiter,
    pub(crate) scheduler_started: AtomicBool,
    /// Names the scheduler's job leases after this process.
    pub(crate) job_holder: JobHolder,
    pub(crate) scheduler_stop: CancellationToken,
    pub(crate) lanes: Lanes<Queued>,
    pub(crate) parallel: Semaphore,
    pub(crate) tasks: TaskTracker,
    /// The rolling summaries being written in the background.
    pub(crate) summaries: Summaries,
    pub(crate) shutdown: CancellationToken,
    pub(crate) closed: AtomicBool,
    /// Connections, replies in flight, activity: what [`super::Engine::stats`] reads.
    pub(crate) monitor: Monitor,
    /// When natter answers in groups: rules, run-time changes, cooldowns.
    pub(crate) triggers: TriggerState,
    /// The `[groups]` settings in force.
    pub(crate) groups: Live<GroupSettings>,
    /// Reloads asked for from inside the process.
    pub(crate) reloads: super::reloads::Reloads,
}

impl Shared {
    /// True when `message`'s author may use `/command` (with `changes`:
    /// whether this use changes something) here: anyone in a private chat,
    /// admins in groups when `[groups] admin_only` lists it.
    pub(crate) fn may_use(&self, message: &Incoming, command: &str, changes: bool) -> bool {
        message.may_administer() || !changes || !self.groups.get().is_admin_only(command)
    }
}
