//! Reloads asked for from inside natter (a dashboard's button): the engine
//! cannot read settings files itself, so whoever can — the natter binary's
//! reloader — takes the requests ([`super::Engine::serve_reloads`]) and
//! answers each with what changed or why nothing did.

use std::sync::{Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

/// What a reload did: the keys put in force, and those that need a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Put in force now.
    pub applied: Vec<String>,
    /// Changed in the file, in force at the next start.
    pub need_restart: Vec<String>,
}

/// Why a requested reload changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadRefused {
    /// Nothing reloads settings in this process (no settings file, or natter
    /// is embedded without the binary's reloader).
    #[error("settings cannot be reloaded here: natter was not started from a settings file")]
    Unavailable,
    /// The new settings are not valid; the old ones stay.
    #[error("{0}")]
    Invalid(String),
}

/// One request: answer on the sender.
pub type ReloadRequest = oneshot::Sender<Result<ReloadReport, ReloadRefused>>;

/// The requests' channel: the engine keeps the sending side; the receiving
/// side goes to the first to serve reloads.
pub(crate) struct Reloads {
    sender: mpsc::Sender<ReloadRequest>,
    receiver: Mutex<Option<mpsc::Receiver<ReloadRequest>>>,
}

impl Default for Reloads {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(4);
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl Reloads {
    /// The requests, for the one who serves them; `None` once taken.
    pub(crate) fn serve(&self) -> Option<mpsc::Receiver<ReloadRequest>> {
        self.receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Asks for a reload and waits for its outcome.
    pub(crate) async fn request(&self) -> Result<ReloadReport, ReloadRefused> {
        let unserved = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if unserved {
            return Err(ReloadRefused::Unavailable);
        }
        let (answer, outcome) = oneshot::channel();
        self.sender
            .send(answer)
            .await
            .map_err(|_| ReloadRefused::Unavailable)?;
        outcome.await.unwrap_or(Err(ReloadRefused::Unavailable))
    }
}
