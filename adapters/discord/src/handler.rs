//! The serenity [`EventHandler`]: each MESSAGE_CREATE is placed (DM, channel,
//! thread), filtered by the allowed lists, translated and submitted to the
//! engine's [`Inbox`], one channel's messages in arrival order. A press of a
//! confirmation button (INTERACTION_CREATE, message component) is placed and
//! filtered the same way, handed to [`Inbox::answer_approval`], and always
//! answered.

use std::sync::Arc;

use async_trait::async_trait;
use natter_core::Inbox;
use natter_core::live::Live;
use serenity::client::{Context, EventHandler};
use serenity::http::Http;
use serenity::model::application::{ComponentInteraction, Interaction};
use serenity::model::channel::Message;
use serenity::model::event::ResumedEvent;
use serenity::model::gateway::Ready;
use serenity::model::id::GuildId;
use serenity::model::permissions::Permissions;
use tracing::{debug, info, instrument};

use crate::approval;

use crate::order::Ordering;
use crate::places::Places;
use crate::translate::{Place, Policy};

/// Hands Discord messages to the engine.
pub(crate) struct Handler {
    inbox: Inbox,
    /// Access lists and admins: a settings reload replaces them.
    policy: Arc<Live<Policy>>,
    http: Arc<Http>,
    places: Places,
    order: Ordering,
}

impl Handler {
    pub(crate) fn new(inbox: Inbox, policy: Arc<Live<Policy>>, http: Arc<Http>) -> Self {
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
        let policy = self.policy.get();
        if msg.author.id == policy.bot() {
            return;
        }
        let place = self.places.resolve(&ctx.cache, &self.http, &msg).await;
        if !policy.allows(&place, msg.author.id) {
            debug!(?place, "not an allowed place or author");
            return;
        }
        let manages_server = match place {
            Place::Server { guild, .. } => manages_server(ctx, guild, &msg),
            Place::Direct(_) => false,
        };
        let incoming = policy.translate(&msg, &place, manages_server);
        debug!(key = %incoming.key, addressed = ?incoming.addressed, "to the engine");
        // The receipt is not awaited: the engine orders each conversation itself.
        drop(self.inbox.submit(incoming));
    }

    #[instrument(name = "discord_press", skip_all, fields(channel = %press.channel_id, user = %press.user.id))]
    async fn press(&self, ctx: &Context, press: ComponentInteraction) {
        let answer = self.answer(ctx, &press).await;
        let response = approval::response(answer);
        if let Err(error) = press.create_response(&*self.http, response).await {
            debug!(%error, "could not answer a button press");
        }
    }

    /// What the presser is told, or `None` when the press is not for the engine.
    async fn answer(&self, ctx: &Context, press: &ComponentInteraction) -> Option<String> {
        let Some((id, decision)) = natter_core::parse_button_data(&press.data.custom_id) else {
            debug!("not a natter button; ignoring");
            return None;
        };
        let place = self
            .places
            .resolve_channel(&ctx.cache, &self.http, press.guild_id, press.channel_id)
            .await;
        if !self.policy.get().allows(&place, press.user.id) {
            debug!(
                ?place,
                "not an allowed place or presser; ignoring the press"
            );
            return None;
        }
        let answered = self
            .inbox
            .answer_approval(id, &press.user.id.get().to_string(), decision);
        debug!(approval = id, ?answered, "button pressed");
        Some(answered.user_message())
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

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Component(press) => self.press(&ctx, press).await,
            other => {
                debug!(kind = ?other.kind(), "ignoring an interaction that is not a button press")
            }
        }
    }

    async fn ready(&self, _ctx: Context, ready: Ready) {
        info!(
            user = %ready.user.name,
            servers = ready.guilds.len(),
            shard = ?ready.shard,
            "connected to Discord"
        );
        self.inbox
            .set_connection(natter_core::Connection::Connected);
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        info!("Discord gateway session resumed");
        self.inbox
            .set_connection(natter_core::Connection::Connected);
    }
}
