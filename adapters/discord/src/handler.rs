//! The serenity [`EventHandler`]: each MESSAGE_CREATE is placed (DM, channel,
//! thread), filtered by the allowed lists, translated and submitted to the
//! engine's [`Inbox`], one channel's messages in arrival order.

use std::sync::Arc;

use async_trait::async_trait;
use natter_core::Inbox;
use serenity::client::{Context, EventHandler};
use serenity::http::Http;
use serenity::model::channel::Message;
use serenity::model::event::ResumedEvent;
use serenity::model::gateway::Ready;
use serenity::model::id::GuildId;
use serenity::model::permissions::Permissions;
use tracing::{debug, info, instrument};

use crate::order::Ordering;
use crate::places::Places;
use crate::translate::{Place, Policy};

/// Hands Discord messages to the engine.
pub(crate) struct Handler {
    inbox: Inbox,
    policy: Policy,
    http: Arc<Http>,
    places: Places,
    order: Ordering,
}

impl Handler {
    pub(crate) fn new(inbox: Inbox, policy: Policy, http: Arc<Http>) -> Self {
        Self {
            inbox,
            policy,
            http,
            places: Places::default(),
            order: Ordering::default(),
        }
    }

    #[instrument(name = "discord_message", skip_all, fields(channel = %msg.channel_id, id = %msg.id))]
    async fn take(&self, ctx: &Context, msg: Message) {
        if msg.author.id == self.policy.bot() {
            return;
        }
        let place = self.places.resolve(&ctx.cache, &self.http, &msg).await;
        if !self.policy.allows(&place) {
            debug!(?place, "not an allowed server or channel");
            return;
        }
        let manages_server = match place {
            Place::Server { guild, .. } => manages_server(ctx, guild, &msg),
            Place::Direct(_) => false,
        };
        let incoming = self.policy.translate(&msg, &place, manages_server);
        debug!(key = %incoming.key, addressed = ?incoming.addressed, "to the engine");
        // The receipt is not awaited: the engine orders each conversation itself.
        drop(self.inbox.submit(incoming));
    }
}

/// True when the author owns the server or has Manage Server there, as far as
/// the cache knows (it learns servers from GUILD_CREATE).
fn manages_server(ctx: &Context, guild: GuildId, msg: &Message) -> bool {
    let Some(guild) = ctx.cache.guild(guild) else {
        return false;
    };
    if guild.owner_id == msg.author.id {
        return true;
    }
    let Some(member) = msg.member.as_deref() else {
        return false;
    };
    let mut member = member.clone();
    // Message members carry no user; make sure the id check inside cannot trip.
    member.user = None;
    guild
        .partial_member_permissions(msg.author.id, &member)
        .intersects(Permissions::MANAGE_GUILD | Permissions::ADMINISTRATOR)
}

#[async_trait]
impl EventHandler for Handler {
    async fn message(&self, ctx: Context, msg: Message) {
        let cache = Arc::clone(&ctx.cache);
        self.order
            .take_in_order(&cache, msg, |m| self.take(&ctx, m))
            .await;
    }

    async fn ready(&self, _ctx: Context, ready: Ready) {
        info!(
            user = %ready.user.name,
            servers = ready.guilds.len(),
            shard = ?ready.shard,
            "connected to Discord"
        );
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        info!("Discord gateway session resumed");
    }
}
