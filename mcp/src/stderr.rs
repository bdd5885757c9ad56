//! A server process's stderr: every line goes to natter's log (target
//! `natter_mcp::stderr`, with the server's name), never to the terminal; the
//! last few are kept to say why a server that died did.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStderr;
use tokio::task::JoinHandle;

/// Lines kept for [`Stderr::last_line`].
const KEPT: usize = 5;
/// Longest line logged, in characters.
const LONGEST: usize = 2_000;

/// The reader of one process's stderr.
pub(crate) struct Stderr {
    tail: Arc<Mutex<VecDeque<String>>>,
    reader: JoinHandle<()>,
}

impl Stderr {
    /// Starts logging `stderr` as `server`'s.
    pub(crate) fn forward(server: &str, stderr: ChildStderr) -> Self {
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT)));
        let kept = Arc::clone(&tail);
        let server = server.to_owned();
        let reader = tokio::spawn(async move {
            let mut reader = BufReader::new(stderr);
            let mut bytes = Vec::new();
            // Bytes, not text: a line that is not UTF-8 must not stop the
            // reading, or the server would block once the pipe is full.
            while reader.read_until(b'\n', &mut bytes).await.unwrap_or(0) > 0 {
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end();
                if !line.is_empty() {
                    let line: String = line.chars().take(LONGEST).collect();
                    tracing::info!(target: "natter_mcp::stderr", server = %server, "{line}");
                    let mut tail = kept.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == KEPT {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                bytes.clear();
            }
        });
        Self { tail, reader }
    }

    /// The last line the process wrote, if any.
    pub(crate) fn last_line(&self) -> Option<String> {
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .back()
            .cloned()
    }

    /// Waits (at most `within`) until the process's stderr has closed, so
    /// that its last words are in; for a process that has exited.
    pub(crate) async fn closed(&mut self, within: Duration) {
        let _ = tokio::time::timeout(within, &mut self.reader).await;
    }
}

impl Drop for Stderr {
    fn drop(&mut self) {
        // Normally done at once (the pipe closed); a process that lives on
        // after natter let go of it is killed, and its pipe closes with it.
        self.reader.abort();
    }
}
