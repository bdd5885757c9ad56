//! The console session: reads lines, hands them to the engine as private
//! messages of one conversation, and keeps the prompt and replies tidy.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use natter_core::{Addressed, Author, ChannelRef, ConversationKey, Engine, Incoming, MessageId};

use crate::outbox::ConsoleOutbox;
use crate::settings::ConsoleSettings;

/// Why the console stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Reading standard input failed.
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    /// Writing standard output failed.
    #[error("cannot write standard output: {0}")]
    Output(#[source] std::io::Error),
}

/// Chats on stdin/stdout until end of input or `shutdown`.
pub async fn run(
    engine: &Engine,
    settings: &ConsoleSettings,
    shutdown: CancellationToken,
) -> Result<(), ConsoleError> {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let input = BufReader::new(tokio::io::stdin());
    let output = std::io::stdout();
    run_with(engine, settings, input, output, interactive, shutdown).await
}

/// [`run`] on any input and output; `interactive` streams replies and shows prompts.
pub async fn run_with<R, W>(
    engine: &Engine,
    settings: &ConsoleSettings,
    input: R,
    output: W,
    interactive: bool,
    shutdown: CancellationToken,
) -> Result<(), ConsoleError>
where
    R: AsyncBufRead + Unpin,
    W: Write + Send + 'static,
{
    let outbox = Arc::new(ConsoleOutbox::new(
        output,
        interactive && settings.streaming,
    ));
    let inbox = engine.attach(crate::PLATFORM, outbox.clone());
    let user = settings
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "you".into());
    let author = Author::user("local", user);
    let mut lines = input.lines();
    let mut pending: FuturesOrdered<BoxFuture<'static, ()>> = FuturesOrdered::new();
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
            line = lines.next_line(), if input_open => match line.map_err(ConsoleError::Input)? {
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
                    let message = Incoming {
                        key: ConversationKey::new(crate::PLATFORM, "local"),
                        channel: ChannelRef::private(crate::PLATFORM, "local"),
                        id: MessageId(format!("line-{next_id}")),
                        author: author.clone(),
                        text: text.to_owned(),
                        addressed: Addressed::Private,
                        replied_to_text: None,
                    };
                    pending.push_back(Box::pin(inbox.submit(message).handled()));
                }
            },
            Some(()) = pending.next(), if !pending.is_empty() => {
                outbox.finish_line().map_err(ConsoleError::Output)?;
            }
        }
    }
    outbox.finish_line().map_err(ConsoleError::Output)?;
    Ok(())
}
