//! [`run`]: the console session — reads lines, hands them to the engine as
//! private messages of one conversation, and keeps the prompt and replies tidy.
//! Input that is not valid UTF-8 is read with the bad bytes replaced, never
//! the end of the session.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use natter_core::{Addressed, Author, ChannelRef, ConversationKey, Engine, Incoming, MessageId};

use crate::error::ConsoleError;
use crate::outbox::{ConsoleOutbox, Output};
use crate::settings::ConsoleSettings;

/// Chats on stdin/stdout until end of input or `shutdown`. Shutting the
/// engine down is the caller's job (after this returns, no more messages arrive).
pub async fn run(
    settings: ConsoleSettings,
    engine: Engine,
    shutdown: CancellationToken,
) -> Result<(), ConsoleError> {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let input = BufReader::new(tokio::io::stdin());
    let output = std::io::stdout();
    run_with(settings, engine, input, output, interactive, shutdown).await
}

/// [`run`] on any input and output; `interactive` streams replies and shows prompts.
pub async fn run_with<R, W>(
    settings: ConsoleSettings,
    engine: Engine,
    input: R,
    output: W,
    interactive: bool,
    shutdown: CancellationToken,
) -> Result<(), ConsoleError>
where
    R: AsyncBufRead + Unpin,
    W: Write + Send + 'static,
{
    let form = if settings.jsonl {
        Output::Jsonl
    } else if interactive && settings.streaming {
        Output::Terminal
    } else {
        Output::Lines
    };
    let interactive = interactive && !settings.jsonl;
    let mut outbox = ConsoleOutbox::new(output, form);
    if let Some(dir) = &settings.pictures_dir {
        outbox = outbox.with_pictures_dir(dir.clone());
    }
    let outbox = Arc::new(outbox);
    let inbox = engine.attach(crate::PLATFORM, outbox.clone());
    let user = settings
        .user
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "you".into());
    let author = Author::user("local", user);
    let mut input = input;
    let mut line = Vec::new();
    let mut pending: FuturesOrdered<BoxFuture<'static, (MessageId, String)>> =
        FuturesOrdered::new();
    let mut next_id = 0u64;
    let mut input_open = true;

    if interactive {
        outbox
            .print("natter — type a message, /help for commands, Ctrl-D to quit.\n")
            .map_err(ConsoleError::Output)?;
    }
    loop {
        if interactive && input_open && pending.is_empty() {
            outbox
                .print(&settings.prompt)
                .map_err(ConsoleError::Output)?;
        }
        if !input_open && pending.is_empty() {
            break;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            read = read_line(&mut input, &mut line), if input_open => match read.map_err(ConsoleError::Input)? {
                None => input_open = false,
                Some(line) => {
                    let text = line.trim();
                    if text.is_empty() {
                        continue;
                    }
                    if interactive && matches!(text, "/quit" | "/exit") {
                        break;
                    }
                    next_id += 1;
                    let id = MessageId(format!("line-{next_id}"));
                    let message = Incoming {
                        key: ConversationKey::new(crate::PLATFORM, "local"),
                        channel: ChannelRef::private(crate::PLATFORM, "local"),
                        id: id.clone(),
                        author: author.clone(),
                        text: text.to_owned(),
                        addressed: Addressed::Private,
                        replied_to_text: None,
                        attachments: Vec::new(),
                    };
                    outbox.hold(&id);
                    let handled = inbox.submit(message).handled();
                    let text = text.to_owned();
                    pending.push_back(Box::pin(async move {
                        handled.await;
                        (id, text)
                    }));
                }
            },
            Some((id, text)) = pending.next(), if !pending.is_empty() => {
                outbox.release(&id, &text).map_err(ConsoleError::Output)?;
                outbox.finish_line().map_err(ConsoleError::Output)?;
            }
        }
    }
    outbox.finish_line().map_err(ConsoleError::Output)?;
    Ok(())
}

/// The next line of `input` (without its line ending), with bytes that are
/// not UTF-8 replaced by `U+FFFD`; `None` at the end of input.
async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    buffer.clear();
    if input.read_until(b'\n', buffer).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(buffer);
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
}
