//! [`run`]: starts the adapter — checks the token with `getMe` (a clear error
//! instead of teloxide's panic), puts the engine's commands in Telegram's menu,
//! then feeds updates (messages, and presses of confirmation buttons) to the
//! engine from long polling or a webhook until shutdown is cancelled.
//!
//! A group message the engine may answer, from someone not already an admin
//! by the settings, first learns whether its author is one of the group's
//! admins by Telegram (`crate::admins`); a chat's messages still reach the
//! engine in arrival order (`crate::order`), an album's pictures as one
//! message (`crate::albums`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use natter_core::engine::Inbox;
use natter_core::live::Live;
use natter_core::secret::non_empty;
use natter_core::{Engine, Incoming, LockGuard};
use secrecy::ExposeSecret;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, BotCommand, Update, UpdateKind};
use teloxide::update_listeners::webhooks;
use teloxide::update_listeners::{AsUpdateStream, Polling, UpdateListener};
use teloxide::{ApiError, Bot, RequestError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, warn};

use crate::admins::ChatAdmins;
use crate::albums::{ALBUM_WAIT, Albums, Part};
use crate::approval::Presses;
use crate::error::TelegramError;
use crate::order::InOrder;
use crate::outbox::TelegramOutbox;
use crate::settings::{TelegramSettings, parse_url};
use crate::translate::{BotIdentity, Translator};

/// How long one `getUpdates` long poll waits (below teloxide's 17 s HTTP timeout).
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// The updates asked for, polling or by webhook: messages, and button presses.
fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery]
}

/// Where updates go: messages through the translator (and the group admins
/// check) in order, presses to the confirmations, both into the engine's inbox.
struct Feed {
    translator: Translator,
    admins: ChatAdmins,
    order: InOrder,
    presses: Presses,
    inbox: Inbox,
    albums: Albums,
}

impl Feed {
    /// Hands over a part of album `group`: the first part waits
    /// [`ALBUM_WAIT`] for the others, then goes as one message with all of
    /// them (in the chat's order); later parts only join it.
    fn album_part(&self, chat: i64, group: String, message: Incoming) {
        let question = self.admin_question(&message);
        if let Part::Joined = self.albums.add(chat, &group, message) {
            return;
        }
        let (albums, admins) = (self.albums.clone(), self.admins.clone());
        self.order.after(chat, async move {
            tokio::time::sleep(ALBUM_WAIT).await;
            // Only this task closes it, so it is there.
            let mut album = albums.close(chat, &group)?;
            if let Some(user) = question {
                album.author.is_admin |= admins.is_admin(chat, user).await;
            }
            Some(album)
        });
    }

    /// Hands `message`, posted in `chat`, to the engine — once it is known
    /// whether its author is one of the group's admins by Telegram, where
    /// that may matter.
    fn hand_over(&self, chat: i64, mut message: Incoming) {
        let Some(user) = self.admin_question(&message) else {
            return self.order.now(chat, message);
        };
        match self.admins.known(chat, user) {
            Some(admin) => {
                message.author.is_admin |= admin;
                self.order.now(chat, message);
            }
            None => {
                let admins = self.admins.clone();
                self.order.after(chat, async move {
                    message.author.is_admin |= admins.is_admin(chat, user).await;
                    Some(message)
                });
            }
        }
    }

    /// The author to ask Telegram about, when their admin status may matter:
    /// a human's message in a group that the engine may answer (a command,
    /// and also a mention or reply — budgets and admin-only tools read it
    /// there — or chatter the group's trigger rule answers), from someone not
    /// already an admin. `None` for chatter the bot lets go, private chats,
    /// bots (Telegram lists no bots) and when lookups are off.
    fn admin_question(&self, message: &Incoming) -> Option<i64> {
        if !self.admins.enabled()
            || message.channel.is_private()
            || !self.inbox.may_answer(message)
            || message.author.is_admin
            || message.author.is_bot
        {
            return None;
        }
        message.author.id.parse().ok()
    }
}

/// Runs the Telegram adapter until `shutdown` is cancelled.
///
/// Fails fast, before touching the engine, when the token is missing or
/// refused or the Bot API cannot be reached. Shutting the engine down is the
/// caller's job (after this returns, no more messages arrive).
pub async fn run(
    settings: TelegramSettings,
    engine: Engine,
    shutdown: CancellationToken,
) -> Result<(), TelegramError> {
    let (_keep, reloads) = watch::channel(settings.clone());
    run_reloading(settings, reloads, engine, shutdown).await
}

/// [`run`], taking new allow, block and admin lists from `reloads` while it
/// runs (a settings reload); the rest of a new [`TelegramSettings`] needs a
/// restart.
pub async fn run_reloading(
    settings: TelegramSettings,
    mut reloads: watch::Receiver<TelegramSettings>,
    engine: Engine,
    shutdown: CancellationToken,
) -> Result<(), TelegramError> {
    settings.validate()?;
    let token = non_empty(&settings.token).ok_or(TelegramError::MissingToken)?;
    let api_url = parse_url("api_url", &settings.api_url)?;
    let bot = Bot::new(token.expose_secret()).set_api_url(api_url);

    let me = tokio::select! {
        me = bot.get_me() => me.map_err(|e| startup_error(e, &settings.api_url, "getMe"))?,
        () = shutdown.cancelled() => return Ok(()),
    };
    let identity = BotIdentity {
        id: me.user.id.0,
        username: me.user.username.clone().unwrap_or_default(),
    };
    // Telegram hands one bot's updates to one long-poller: a second process
    // polling the same bot would take turns with the first, each missing
    // what the other got. Webhook replicas share one URL instead.
    let _poller = match &settings.webhook_url {
        None => Some(claim_polling(&engine, identity.id).await?),
        Some(_) => None,
    };
    register_commands(&bot, &engine).await;

    let outbox = Arc::new(TelegramOutbox::new(bot.clone(), settings.limits()));
    let inbox = engine.attach(crate::PLATFORM, outbox);
    let access = Arc::new(Live::new(settings.access()));
    let reloaded = Arc::clone(&access);
    tokio::spawn(async move {
        while reloads.changed().await.is_ok() {
            let access = reloads.borrow_and_update().access();
            reloaded.set(access);
            info!("Telegram allow, block and admin lists reloaded");
        }
    });
    let feed = Feed {
        translator: Translator::new(
            identity.clone(),
            &settings,
            engine.commands().into_iter().map(|c| c.name),
        )
        .with_access(Arc::clone(&access)),
        admins: ChatAdmins::new(bot.clone(), settings.admin_cache()),
        order: InOrder::new(inbox.clone()),
        presses: Presses::new(bot.clone(), access),
        inbox,
        albums: Albums::default(),
    };
    info!(bot = %identity.username, "Telegram adapter started");
    match &settings.webhook_url {
        None => poll(bot, &settings, &feed, &shutdown).await,
        Some(url) => webhook(bot, &settings, url, &feed, &shutdown).await,
    }
}

/// The name of the lock the process long-polling bot `bot_id` holds in a
/// database several processes share.
pub fn poller_lock(bot_id: u64) -> String {
    format!("natter:telegram-poller:{bot_id}")
}

/// Takes the poller lock of bot `bot_id` for this process, or says that
/// another process on the same database holds it.
async fn claim_polling(engine: &Engine, bot_id: u64) -> Result<LockGuard, TelegramError> {
    match engine.store().locks.try_lock(&poller_lock(bot_id)).await {
        Ok(Some(guard)) => Ok(guard),
        Ok(None) => Err(TelegramError::PollerElsewhere),
        Err(error) => Err(TelegramError::Store(error.to_string())),
    }
}

/// A start-up call's failure as an error the operator can act on.
fn startup_error(error: RequestError, api_url: &str, method: &'static str) -> TelegramError {
    match error {
        RequestError::Api(ApiError::InvalidToken) => TelegramError::InvalidToken,
        // teloxide strips the request URL (which holds the token) from network errors.
        RequestError::Network(e) => TelegramError::Unreachable {
            api_url: api_url.to_owned(),
            reason: e.to_string(),
        },
        RequestError::InvalidJson { source, .. } => TelegramError::Unreachable {
            api_url: api_url.to_owned(),
            reason: format!("the answer is not the Bot API's ({source})"),
        },
        other => TelegramError::Api {
            method,
            reason: other.to_string(),
        },
    }
}

/// Puts the engine's commands in Telegram's command menu (best effort).
async fn register_commands(bot: &Bot, engine: &Engine) {
    let commands: Vec<BotCommand> = engine
        .commands()
        .into_iter()
        .filter(|c| {
            (1..=32).contains(&c.name.len())
                && c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        })
        .map(|c| {
            let mut description: String = c.description.chars().take(256).collect();
            if description.trim().is_empty() {
                description = c.name.clone();
            }
            BotCommand::new(c.name, description)
        })
        .collect();
    if let Err(error) = bot.set_my_commands(commands).await {
        warn!(%error, "could not register the command menu with setMyCommands");
    }
}

/// Hands one update to the engine.
#[instrument(name = "telegram_update", skip_all, fields(update = update.id.0))]
fn dispatch(update: Update, feed: &Feed) {
    match update.kind {
        UpdateKind::Message(message) => match feed.translator.translate(&message) {
            Some(incoming) => match message.media_group_id() {
                Some(group) => feed.album_part(message.chat.id.0, group.0.clone(), incoming),
                None => feed.hand_over(message.chat.id.0, incoming),
            },
            None => debug!(chat = message.chat.id.0, "nothing to hand over"),
        },
        UpdateKind::CallbackQuery(query) => feed.presses.take(query, &feed.inbox),
        _ => debug!("ignoring an update that is neither a message nor a button press"),
    }
}

/// Feeds `updates` to the engine; on shutdown, asks the listener to stop and
/// drains what it still yields.
async fn consume<S, E>(updates: S, stop: impl FnOnce(), feed: &Feed, shutdown: &CancellationToken)
where
    S: Stream<Item = Result<Update, E>>,
    E: std::fmt::Display,
{
    let mut updates = std::pin::pin!(updates);
    let mut stop = Some(stop);
    loop {
        tokio::select! {
            () = shutdown.cancelled(), if stop.is_some() => {
                info!("stopping the Telegram adapter");
                if let Some(stop) = stop.take() {
                    stop();
                }
            }
            next = updates.next() => match next {
                None => break,
                Some(Ok(update)) => {
                    feed.inbox.set_connection(natter_core::Connection::Connected);
                    dispatch(update, feed);
                }
                Some(Err(error)) => {
                    feed.inbox.set_connection(natter_core::Connection::Disconnected(error.to_string()));
                    warn!(%error, "could not get updates from Telegram; retrying");
                }
            },
        }
    }
    // Messages still waiting for an admin lookup (a few seconds at most).
    feed.order.flush().await;
}

async fn poll(
    bot: Bot,
    settings: &TelegramSettings,
    feed: &Feed,
    shutdown: &CancellationToken,
) -> Result<(), TelegramError> {
    let mut builder = Polling::builder(bot)
        .timeout(POLL_TIMEOUT)
        .allowed_updates(allowed_updates());
    if settings.drop_pending_updates {
        builder = builder.drop_pending_updates();
    }
    let mut listener = builder.delete_webhook().await.build();
    let stop = listener.stop_token();
    info!("long polling for updates");
    consume(listener.as_stream(), move || stop.stop(), feed, shutdown).await;
    Ok(())
}

async fn webhook(
    bot: Bot,
    settings: &TelegramSettings,
    url: &str,
    feed: &Feed,
    shutdown: &CancellationToken,
) -> Result<(), TelegramError> {
    let url = parse_url("webhook_url", url)?;
    let address: SocketAddr =
        settings
            .webhook_listen
            .parse()
            .map_err(|e: std::net::AddrParseError| TelegramError::Config {
                field: "webhook_listen",
                reason: e.to_string(),
            })?;
    let mut options = webhooks::Options::new(address, url.clone());
    let secret = match &settings.webhook_secret {
        Some(secret) => secret.expose_secret().to_owned(),
        None => options.get_or_gen_secret_token().to_owned(),
    };
    options.secret_token = Some(secret.clone());
    let tcp = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| TelegramError::Listen {
            address: address.to_string(),
            reason: e.to_string(),
        })?;
    let mut request = bot
        .set_webhook(url)
        .secret_token(secret)
        .allowed_updates(allowed_updates());
    if settings.drop_pending_updates {
        request = request.drop_pending_updates(true);
    }
    request
        .await
        .map_err(|e| startup_error(e, &settings.api_url, "setWebhook"))?;

    // No deleteWebhook on the way out: other instances behind the same URL go on.
    let (mut listener, stopped, router) = webhooks::axum_no_setup(options);
    let stop = listener.stop_token();
    let server = tokio::spawn(async move {
        axum::serve(tcp, router)
            .with_graceful_shutdown(stopped)
            .await
    });
    info!(%address, "receiving updates by webhook");
    consume(listener.as_stream(), move || stop.stop(), feed, shutdown).await;
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(TelegramError::Listen {
            address: address.to_string(),
            reason: e.to_string(),
        }),
        Err(e) => Err(TelegramError::Listen {
            address: address.to_string(),
            reason: format!("the webhook server stopped: {e}"),
        }),
    }
}
