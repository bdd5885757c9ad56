//! [`run`]: connects to Discord (checking the token first, so a bad one fails
//! at once with a clear error), feeds the engine until `shutdown` is
//! cancelled, then shuts the shards down.

use std::sync::Arc;
use std::time::Duration;

use natter_core::Engine;
use natter_core::live::Live;
use natter_core::secret::non_empty;
use secrecy::ExposeSecret;
use serenity::cache::Settings as CacheSettings;
use serenity::client::ClientBuilder;
use serenity::gateway::GatewayError;
use serenity::http::{Http, HttpBuilder, HttpError};
use serenity::model::gateway::GatewayIntents;
use serenity::model::user::CurrentUser;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::error::DiscordError;
use crate::handler::Handler;
use crate::order::CACHED_PER_CHANNEL;
use crate::outbox::DiscordOutbox;
use crate::settings::DiscordSettings;
use crate::translate::Policy;

/// How long the startup check of the token may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shards get to close after shutdown was requested.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What the bot listens to: servers (for channels, threads and roles), their
/// messages, DMs, and message text (privileged: enable it in the developer portal).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
}

/// Runs the Discord adapter: answers through `engine` until `shutdown` is cancelled.
///
/// Fails at once with [`DiscordError::MissingToken`], [`DiscordError::InvalidToken`]
/// or [`DiscordError::Unreachable`] when it cannot start, and with
/// [`DiscordError::IntentsNotEnabled`] when the Message Content intent is off.
/// Returns `Ok` after `shutdown` is cancelled and the shards are shut down.
/// The engine itself is left running (the caller owns it).
pub async fn run(
    settings: DiscordSettings,
    engine: Engine,
    shutdown: CancellationToken,
) -> Result<(), DiscordError> {
    let (_keep, reloads) = watch::channel(settings.clone());
    run_reloading(settings, reloads, engine, shutdown).await
}

/// [`run`], taking new access lists and admins from `reloads` while it runs
/// (a settings reload); the rest of a new [`DiscordSettings`] needs a restart.
pub async fn run_reloading(
    settings: DiscordSettings,
    mut reloads: watch::Receiver<DiscordSettings>,
    engine: Engine,
    shutdown: CancellationToken,
) -> Result<(), DiscordError> {
    let token = non_empty(&settings.token)
        .map(|t| t.expose_secret().trim().to_owned())
        .ok_or(DiscordError::MissingToken)?;
    let proxy = settings
        .proxy_url
        .as_deref()
        .map(|url| checked_url(url, "proxy_url", &["http", "https"]))
        .transpose()?;
    let gateway = settings
        .gateway_url
        .as_deref()
        .map(|url| checked_url(url, "gateway_url", &["ws", "wss"]))
        .transpose()?;

    let http = Arc::new(build_http(&token, proxy.as_deref()));
    let me = probe(&http, proxy.as_deref()).await?;
    info!(bot = %me.name, id = %me.id, "Discord token accepted");

    let inbox = engine.attach(
        crate::PLATFORM,
        Arc::new(DiscordOutbox::new(Arc::clone(&http))),
    );
    inbox.set_connection(natter_core::Connection::Connecting);
    let policy = Arc::new(Live::new(Policy::new(me.id, &settings)));
    let reloaded = Arc::clone(&policy);
    let (bot, scope) = (me.id, settings.scope);
    tokio::spawn(async move {
        while reloads.changed().await.is_ok() {
            let mut settings = reloads.borrow_and_update().clone();
            // How conversations are keyed changes only at a restart.
            settings.scope = scope;
            reloaded.set(Policy::new(bot, &settings));
            info!("Discord access lists and admins reloaded");
        }
    });
    let handler = Handler::new(inbox, policy, Arc::clone(&http));
    let mut cache = CacheSettings::default();
    cache.max_messages = CACHED_PER_CHANNEL;
    // serenity asks the API for the gateway URL through this client: route it like the rest.
    let client = ClientBuilder::new_with_http(build_http(&token, proxy.as_deref()), intents())
        .cache_settings(cache)
        .event_handler(handler);
    let mut client = client
        .await
        .map_err(|e| DiscordError::Gateway(e.to_string()))?;
    if let Some(url) = gateway {
        *client.ws_url.lock().await = url;
    }

    let manager = Arc::clone(&client.shard_manager);
    let shards = settings.shards;
    let start = async {
        match shards {
            Some(s) => client.start_shard_range(s.first..s.last, s.total).await,
            None => client.start().await,
        }
    };
    tokio::pin!(start);
    tokio::select! {
        result = &mut start => result.map_err(gateway_error),
        () = shutdown.cancelled() => {
            info!("shutting down the Discord shards");
            manager.shutdown_all().await;
            // start returns once the manager reports every shard stopped.
            let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, start).await;
            Ok(())
        }
    }
}

/// `url` without a trailing slash, if it is a URL with one of `schemes`.
fn checked_url(url: &str, setting: &str, schemes: &[&str]) -> Result<String, DiscordError> {
    let trimmed = url.trim().trim_end_matches('/');
    let ok = schemes.iter().any(|scheme| {
        trimmed
            .strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|host| !host.is_empty())
    });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(DiscordError::Settings(format!(
            "{setting} = \"{url}\" must start with {}",
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        )))
    }
}

/// A REST client; behind a proxy, the proxy does the rate limiting.
fn build_http(token: &str, proxy: Option<&str>) -> Http {
    let builder = HttpBuilder::new(token);
    match proxy {
        Some(url) => builder.proxy(url).ratelimiter_disabled(true).build(),
        None => builder.build(),
    }
}

/// Checks the token with `GET /users/@me`, which also tells us who we are.
async fn probe(http: &Http, proxy: Option<&str>) -> Result<CurrentUser, DiscordError> {
    let url = proxy.unwrap_or("the Discord API").to_owned();
    let result = tokio::time::timeout(PROBE_TIMEOUT, http.get_current_user())
        .await
        .map_err(|_| DiscordError::Unreachable {
            url: url.clone(),
            reason: format!("no answer within {PROBE_TIMEOUT:?}"),
        })?;
    match result {
        Ok(me) => Ok(me),
        Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response)))
            if response.status_code.as_u16() == 401 =>
        {
            Err(DiscordError::InvalidToken)
        }
        Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response))) => {
            Err(DiscordError::Unreachable {
                url,
                reason: format!(
                    "HTTP {}: {}",
                    response.status_code.as_u16(),
                    response.error.message
                ),
            })
        }
        Err(error) => Err(DiscordError::Unreachable {
            url,
            reason: error.to_string(),
        }),
    }
}

fn gateway_error(error: serenity::Error) -> DiscordError {
    match error {
        serenity::Error::Gateway(GatewayError::InvalidAuthentication) => DiscordError::InvalidToken,
        serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents) => {
            DiscordError::IntentsNotEnabled
        }
        other => DiscordError::Gateway(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_trimmed() {
        assert_eq!(
            checked_url("http://127.0.0.1:8080/", "proxy_url", &["http", "https"]).ok(),
            Some("http://127.0.0.1:8080".to_owned())
        );
        assert!(checked_url("127.0.0.1:8080", "proxy_url", &["http", "https"]).is_err());
        assert!(checked_url("http://", "proxy_url", &["http"]).is_err());
        assert!(checked_url("wss://gw.example", "gateway_url", &["ws", "wss"]).is_ok());
    }
}
