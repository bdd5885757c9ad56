//! [`ConsoleOutbox`]: prints replies. Streaming prints each edit's new text
//! after what is already on screen; a pipe gets each finished message on a line.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use natter_core::{ChannelRef, DeliveryError, MessageId, Outbox, PlatformLimits, Rendered};

/// Writes replies to a [`Write`] (stdout in the binary).
pub struct ConsoleOutbox<W: Write + Send> {
    streaming: bool,
    screen: Mutex<Screen<W>>,
}

struct Screen<W> {
    out: W,
    next_id: u64,
    /// The message being streamed and the text already printed of it.
    last: Option<(MessageId, String)>,
    /// True when the cursor is at the start of a line.
    at_line_start: bool,
}

impl<W: Write + Send> ConsoleOutbox<W> {
    /// Prints to `out`; `streaming` for a terminal, off for a pipe.
    pub fn new(out: W, streaming: bool) -> Self {
        Self {
            streaming,
            screen: Mutex::new(Screen {
                out,
                next_id: 1,
                last: None,
                at_line_start: true,
            }),
        }
    }

    fn screen(&self) -> MutexGuard<'_, Screen<W>> {
        self.screen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the current line if a streamed reply left the cursor on it.
    pub fn finish_line(&self) -> std::io::Result<()> {
        let mut screen = self.screen();
        if !screen.at_line_start {
            screen.out.write_all(b"\n")?;
            screen.at_line_start = true;
        }
        screen.last = None;
        screen.out.flush()
    }

    /// Writes `text` outside any reply (prompts, notices).
    pub fn print(&self, text: &str) -> std::io::Result<()> {
        let mut screen = self.screen();
        screen.out.write_all(text.as_bytes())?;
        screen.at_line_start = text.ends_with('\n');
        screen.out.flush()
    }
}

fn io_error(error: std::io::Error) -> DeliveryError {
    DeliveryError::Rejected(format!("cannot write to the terminal: {error}"))
}

#[async_trait]
impl<W: Write + Send> Outbox for ConsoleOutbox<W> {
    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            streaming: self.streaming,
            ..PlatformLimits::unlimited()
        }
    }

    async fn typing(&self, _to: &ChannelRef) -> Result<(), DeliveryError> {
        Ok(())
    }

    async fn send(
        &self,
        _to: &ChannelRef,
        text: &Rendered,
        _reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let mut screen = self.screen();
        let id = MessageId(screen.next_id.to_string());
        screen.next_id += 1;
        if !screen.at_line_start {
            screen.out.write_all(b"\n").map_err(io_error)?;
        }
        screen
            .out
            .write_all(text.text.as_bytes())
            .map_err(io_error)?;
        if self.streaming {
            screen.at_line_start = text.text.ends_with('\n');
            screen.last = Some((id.clone(), text.text.clone()));
        } else {
            screen.out.write_all(b"\n").map_err(io_error)?;
            screen.at_line_start = true;
        }
        screen.out.flush().map_err(io_error)?;
        Ok(id)
    }

    async fn edit(
        &self,
        _to: &ChannelRef,
        id: &MessageId,
        text: &Rendered,
    ) -> Result<(), DeliveryError> {
        let mut screen = self.screen();
        let shown = match &screen.last {
            Some((last, shown)) if last == id => shown.clone(),
            _ => {
                return Err(DeliveryError::Rejected(format!(
                    "message {id} is no longer on screen"
                )));
            }
        };
        match text.text.strip_prefix(shown.as_str()) {
            Some(more) => screen.out.write_all(more.as_bytes()).map_err(io_error)?,
            // The text changed rather than grew: show it again in full.
            None => {
                screen.out.write_all(b"\n").map_err(io_error)?;
                screen
                    .out
                    .write_all(text.text.as_bytes())
                    .map_err(io_error)?;
            }
        }
        screen.at_line_start = text.text.ends_with('\n');
        screen.last = Some((id.clone(), text.text.clone()));
        screen.out.flush().map_err(io_error)
    }
}
