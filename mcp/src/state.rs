//! What each server is doing: [`ServerStatus`] for anyone to read, and the
//! board the supervisors write and the plugin reads, which also holds each
//! up server's live session.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::Peer;
use rmcp::model::Tool;
use rmcp::service::RoleClient;
use tokio::sync::{Notify, watch};

/// Where a server stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerStatus {
    /// Its first start is under way (or it has not been started).
    Starting,
    /// Connected; its tools are offered.
    Up {
        /// Its tools that pass the allow-list, by the server's own names.
        tools: Vec<String>,
        /// The process id, for a command.
        pid: Option<u32>,
    },
    /// Not available; it is started again after the back-off.
    Down {
        /// Why, in a sentence.
        reason: String,
    },
    /// Shut down with natter.
    Stopped,
}

/// An up server's session.
pub(crate) struct Live {
    /// Where requests go.
    pub(crate) peer: rmcp::Peer<RoleClient>,
    /// Its tools that pass the allow-list.
    pub(crate) tools: Vec<Tool>,
    /// Notify it to have the supervisor check the server still answers
    /// (after a call timed out or broke).
    pub(crate) health: Arc<Notify>,
}

impl Live {
    pub(crate) fn new(peer: Peer<RoleClient>, tools: Vec<Tool>, health: Arc<Notify>) -> Self {
        Self {
            peer,
            tools,
            health,
        }
    }
}

/// One server's entry on the board.
#[derive(Clone)]
pub(crate) struct Slot {
    pub(crate) status: ServerStatus,
    pub(crate) live: Option<Arc<Live>>,
}

impl Slot {
    fn at(status: ServerStatus) -> Self {
        Self { status, live: None }
    }
}

/// Every server's slot, by name; watchers hear of every change.
pub(crate) struct Board {
    slots: watch::Sender<BTreeMap<String, Slot>>,
}

impl Board {
    /// A board where every one of `servers` is starting.
    pub(crate) fn new<'a>(servers: impl IntoIterator<Item = &'a String>) -> Self {
        let slots = servers
            .into_iter()
            .map(|name| (name.clone(), Slot::at(ServerStatus::Starting)))
            .collect();
        Self {
            slots: watch::Sender::new(slots),
        }
    }

    /// `server` is up with `live`.
    pub(crate) fn up(&self, server: &str, live: Live, pid: Option<u32>) {
        let tools = live.tools.iter().map(|t| t.name.to_string()).collect();
        self.set(
            server,
            Slot {
                status: ServerStatus::Up { tools, pid },
                live: Some(Arc::new(live)),
            },
        );
    }

    /// `server` is down, or stopped.
    pub(crate) fn down(&self, server: &str, status: ServerStatus) {
        self.set(server, Slot::at(status));
    }

    fn set(&self, server: &str, slot: Slot) {
        self.slots.send_modify(|slots| {
            slots.insert(server.to_owned(), slot);
        });
    }

    /// The up servers' sessions, by server name.
    pub(crate) fn live(&self) -> Vec<(String, Arc<Live>)> {
        self.slots
            .borrow()
            .iter()
            .filter_map(|(name, slot)| Some((name.clone(), Arc::clone(slot.live.as_ref()?))))
            .collect()
    }

    /// Every server's status.
    pub(crate) fn statuses(&self) -> BTreeMap<String, ServerStatus> {
        statuses(&self.slots.borrow())
    }

    /// Waits until `done` holds for the statuses; checks at every change.
    pub(crate) async fn wait_for(
        &self,
        mut done: impl FnMut(&BTreeMap<String, ServerStatus>) -> bool,
    ) {
        let mut watching = self.slots.subscribe();
        // The sender lives as long as the board, so this ends only when `done` holds.
        let _ = watching.wait_for(|slots| done(&statuses(slots))).await;
    }
}

fn statuses(slots: &BTreeMap<String, Slot>) -> BTreeMap<String, ServerStatus> {
    slots
        .iter()
        .map(|(name, slot)| (name.clone(), slot.status.clone()))
        .collect()
}
