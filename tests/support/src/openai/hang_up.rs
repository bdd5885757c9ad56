//! Connections the fake hangs up on: accepted, the request read whole, then
//! closed without a byte of answer — as a crashing or restarting server, or a
//! proxy dropping its upstream, does. [`HangUp::Close`] ends the connection
//! cleanly (FIN: the client reads end-of-file where the status line should
//! be), [`HangUp::Reset`] aborts it (RST: the client reads "connection reset").
//! Queued with [`FakeOpenAi::hang_up`](super::FakeOpenAi::hang_up); each
//! applies to one new connection, the next ones are served as usual.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// How the fake hangs up on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangUp {
    /// Close it (FIN) after reading the request.
    Close,
    /// Abort it (RST) after reading the request.
    Reset,
}

/// The hang-ups still to do, and how many were done.
#[derive(Debug, Default)]
pub(crate) struct HangUps {
    pub(crate) queued: VecDeque<HangUp>,
    pub(crate) done: usize,
}

/// The fake's listener: a TCP listener that hangs up on the connections
/// [`HangUps`] says to, and hands every other one to the HTTP server.
pub(crate) struct Listener {
    pub(crate) tcp: TcpListener,
    pub(crate) hang_ups: Arc<Mutex<HangUps>>,
}

impl axum::serve::Listener for Listener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
            let how = {
                let mut hang_ups = self.hang_ups.lock().unwrap();
                let how = hang_ups.queued.pop_front();
                hang_ups.done += usize::from(how.is_some());
                how
            };
            match how {
                None => return (stream, addr),
                Some(how) => {
                    tokio::spawn(hang_up(stream, how));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Reads the request (head and `Content-Length` body), then hangs up.
async fn hang_up(mut stream: TcpStream, how: HangUp) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(head) = head_length(&request)
            && request.len() >= head + content_length(&request[..head])
        {
            break;
        }
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    if how == HangUp::Reset {
        let _ = stream.set_zero_linger();
    }
    drop(stream);
}

/// The length of the request head, blank line included, once it is all here.
fn head_length(request: &[u8]) -> Option<usize> {
    request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}
