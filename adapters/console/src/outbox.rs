//! [`ConsoleOutbox`]: prints replies. Streaming prints each edit's new text
//! after what is already on screen; a pipe gets each finished message
//! followed by a newline; JSON Lines mode keeps each input's replies until it
//! has been handled, then prints them as one JSON object. Every text is
//! neutralised first (see [`crate::safe`]): model output cannot drive the terminal.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use std::collections::HashMap;

use async_trait::async_trait;
use natter_core::{
    ChannelRef, DeliveryError, MessageId, Outbox, OutgoingImage, PlatformLimits, Rendered,
};
use serde::Serialize;

use crate::safe::neutralise;

/// How replies are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A terminal: replies stream in as they are written.
    Terminal,
    /// A pipe: each finished message, then a newline.
    Lines,
    /// One JSON object per input line, with all its replies (`--jsonl`).
    Jsonl,
}

/// What JSON Lines mode prints for one input line.
#[derive(Debug, Serialize)]
struct JsonReply<'a> {
    input: &'a str,
    replies: Vec<String>,
}

/// What JSON Lines mode prints for a message that answers no input (a
/// reminder falling due).
#[derive(Debug, Serialize)]
struct JsonNotice<'a> {
    notice: &'a str,
}

/// Writes replies to a [`Write`] (stdout in the binary).
pub struct ConsoleOutbox<W: Write + Send> {
    output: Output,
    screen: Mutex<Screen<W>>,
    pictures_dir: PathBuf,
    pictures_saved: AtomicU64,
}

struct Screen<W> {
    out: W,
    next_id: u64,
    /// The message being streamed and the text already printed of it.
    last: Option<(MessageId, String)>,
    /// True when the cursor is at the start of a line.
    at_line_start: bool,
    /// JSON Lines mode: the messages (by id) answering each input line (by
    /// its message id), in order.
    held: HashMap<MessageId, Vec<(MessageId, String)>>,
}

impl<W: Write + Send> ConsoleOutbox<W> {
    /// Prints to `out` in `output` form.
    pub fn new(out: W, output: Output) -> Self {
        Self {
            output,
            screen: Mutex::new(Screen {
                out,
                next_id: 1,
                last: None,
                at_line_start: true,
                held: HashMap::new(),
            }),
            pictures_dir: std::env::temp_dir().join("natter-pictures"),
            pictures_saved: AtomicU64::new(0),
        }
    }

    /// The same outbox, saving pictures into `dir`.
    #[must_use]
    pub fn with_pictures_dir(mut self, dir: PathBuf) -> Self {
        self.pictures_dir = dir;
        self
    }

    /// JSON Lines mode: starts keeping the replies to input `id`.
    pub fn hold(&self, id: &MessageId) {
        if self.output == Output::Jsonl {
            self.screen().held.insert(id.clone(), Vec::new());
        }
    }

    /// JSON Lines mode: prints input `id` (text `input`) with its replies,
    /// once it has been handled.
    pub fn release(&self, id: &MessageId, input: &str) -> std::io::Result<()> {
        if self.output != Output::Jsonl {
            return Ok(());
        }
        let mut screen = self.screen();
        let replies = screen
            .held
            .remove(id)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        let line = JsonReply { input, replies };
        write_json(&mut screen.out, &line)
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

/// Writes `value` as one line of JSON.
fn write_json<W: Write>(out: &mut W, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn io_error(error: std::io::Error) -> DeliveryError {
    DeliveryError::Rejected(format!("cannot write to the terminal: {error}"))
}

#[async_trait]
impl<W: Write + Send> Outbox for ConsoleOutbox<W> {
    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            streaming: self.output == Output::Terminal,
            ..PlatformLimits::unlimited()
        }
    }

    /// Plain text, neutralised: nothing the model writes reaches the
    /// terminal as a control sequence.
    fn render(&self, markdown: &str) -> Rendered {
        Rendered::plain(neutralise(markdown))
    }

    async fn typing(&self, _to: &ChannelRef) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// A terminal shows no pictures: the picture is saved to a file and
    /// its path printed with the caption.
    async fn send_image(
        &self,
        to: &ChannelRef,
        image: &OutgoingImage,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let n = self.pictures_saved.fetch_add(1, Ordering::Relaxed) + 1;
        let extension = image
            .file_name
            .rsplit_once('.')
            .map_or("png", |(_, extension)| extension);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let path = self
            .pictures_dir
            .join(format!("picture-{stamp}-{n}.{extension}"));
        let (dir, file, bytes) = (self.pictures_dir.clone(), path.clone(), image.bytes.clone());
        let written = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&file, bytes)
        })
        .await
        .map_err(|e| DeliveryError::Transient(format!("saving the picture stopped: {e}")))?;
        written.map_err(|e| {
            DeliveryError::Rejected(format!(
                "cannot save the picture to {}: {e}",
                path.display()
            ))
        })?;
        let saved = format!("(picture saved to {})", path.display());
        let text = if image.caption.text.is_empty() {
            saved
        } else {
            format!("{}\n{saved}", image.caption.text)
        };
        self.send(to, &Rendered::plain(text), reply_to).await
    }

    async fn send(
        &self,
        _to: &ChannelRef,
        text: &Rendered,
        reply_to: Option<&MessageId>,
    ) -> Result<MessageId, DeliveryError> {
        let mut screen = self.screen();
        let id = MessageId(screen.next_id.to_string());
        screen.next_id += 1;
        if self.output == Output::Jsonl {
            // A reply to a held input is kept with it; anything else (a
            // reminder falling due) is printed at once.
            let key = reply_to
                .filter(|key| screen.held.contains_key(*key))
                .cloned();
            match key.and_then(|key| screen.held.get_mut(&key)) {
                Some(replies) => replies.push((id.clone(), text.text.clone())),
                None => write_json(&mut screen.out, &JsonNotice { notice: &text.text })
                    .map_err(io_error)?,
            }
            return Ok(id);
        }
        if !screen.at_line_start {
            screen.out.write_all(b"\n").map_err(io_error)?;
        }
        screen
            .out
            .write_all(text.text.as_bytes())
            .map_err(io_error)?;
        if self.output == Output::Terminal {
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
        if self.output == Output::Jsonl {
            // An edit replaces the held text (a confirmation's outcome).
            let held = screen
                .held
                .values_mut()
                .flat_map(|replies| replies.iter_mut())
                .find(|(held, _)| held == id);
            return match held {
                Some((_, shown)) => {
                    *shown = text.text.clone();
                    Ok(())
                }
                None => Err(DeliveryError::Rejected(format!(
                    "message {id} was printed already"
                ))),
            };
        }
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
