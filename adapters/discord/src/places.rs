//! Finding where a message was posted: a DM, a server channel, or a thread
//! (and its parent channel, so threads inherit the channel's persona).
//!
//! The cache answers for channels and threads it knows (GUILD_CREATE, THREAD_*
//! events); other channels are looked up once over REST and remembered.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serenity::cache::Cache;
use serenity::http::Http;
use serenity::model::channel::{Channel, ChannelType, Message};
use serenity::model::id::{ChannelId, GuildId};
use tracing::warn;

use crate::translate::Place;

/// Channels remembered before the memory is cleared (it refills on demand).
const REMEMBERED: usize = 50_000;

/// Thread parents learned over REST: `Some(parent)` for threads, `None` otherwise.
#[derive(Debug, Default)]
pub(crate) struct Places {
    parents: Mutex<HashMap<ChannelId, Option<ChannelId>>>,
}

impl Places {
    fn parents(&self) -> MutexGuard<'_, HashMap<ChannelId, Option<ChannelId>>> {
        self.parents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where `msg` was posted.
    pub(crate) async fn resolve(&self, cache: &Cache, http: &Http, msg: &Message) -> Place {
        self.resolve_channel(cache, http, msg.guild_id, msg.channel_id)
            .await
    }

    /// Where `channel` (of `guild`; none for a DM) is.
    pub(crate) async fn resolve_channel(
        &self,
        cache: &Cache,
        http: &Http,
        guild: Option<GuildId>,
        channel: ChannelId,
    ) -> Place {
        let Some(guild) = guild else {
            return Place::Direct(channel);
        };
        let parent = match from_cache(cache, guild, channel) {
            Some(parent) => parent,
            None => {
                let known = self.parents().get(&channel).copied();
                match known {
                    Some(parent) => parent,
                    None => self.fetch(http, channel).await,
                }
            }
        };
        match parent {
            Some(parent) => Place::Server {
                guild,
                channel: parent,
                thread: Some(channel),
            },
            None => Place::Server {
                guild,
                channel,
                thread: None,
            },
        }
    }

    async fn fetch(&self, http: &Http, channel: ChannelId) -> Option<ChannelId> {
        match http.get_channel(channel).await {
            Ok(Channel::Guild(found)) => {
                let parent = thread_parent(found.kind, found.parent_id);
                let mut parents = self.parents();
                if parents.len() >= REMEMBERED {
                    parents.clear();
                }
                parents.insert(channel, parent);
                parent
            }
            Ok(_) => None,
            Err(error) => {
                // Answer as in a plain channel rather than not at all; ask again next time.
                warn!(%channel, %error, "could not look up the channel; treating it as a channel, not a thread");
                None
            }
        }
    }
}

/// `Some(Some(parent))` for a cached thread, `Some(None)` for a cached channel,
/// `None` when the cache does not know it.
fn from_cache(cache: &Cache, guild: GuildId, channel: ChannelId) -> Option<Option<ChannelId>> {
    let guild = cache.guild(guild)?;
    if guild.channels.contains_key(&channel) {
        return Some(None);
    }
    guild
        .threads
        .iter()
        .find(|t| t.id == channel)
        .map(|t| thread_parent(t.kind, t.parent_id))
}

fn thread_parent(kind: ChannelType, parent: Option<ChannelId>) -> Option<ChannelId> {
    match kind {
        ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread => parent,
        _ => None,
    }
}
