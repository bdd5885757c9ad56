//! # natter-plugin-remind — reminders
//!
//! `/remind <when> <what>` sets a reminder; when it falls due natter posts it in
//! the conversation where it was set, mentioning whoever set it. Times are read
//! in the user's own time zone (`/remind tz Europe/Berlin`, kept per user;
//! otherwise the `default_timezone` setting).
//!
//! ```text
//! /remind 10m tea
//! → ⏰ Reminder #3 set for Wed 2026-01-14 10:40 UTC (in 10m): tea
//!   Cancel it with /remind cancel 3.
//! … ten minutes later:
//! → ⏰ @alice, reminder: tea
//! ```
//!
//! | command | does |
//! |---|---|
//! | `/remind <when> <what>` | set a reminder; `<when>` is `10m`, `2h30m`, `1d`, `in 10 minutes`, `18:00`, `6pm`, `tomorrow 9:00`, `friday 17:30`, `2026-12-24 18:00` |
//! | `/reminders` (or `/remind list`) | your pending reminders, by number |
//! | `/remind cancel <n>` (or `all`) | cancel one (or all) |
//! | `/remind tz [zone\|reset]` | show or set your time zone |
//!
//! The model can do the same when asked in words ("remind me tomorrow at 9
//! to call Ana"): the plugin offers the tools `remind_set`, `remind_list`,
//! `remind_cancel` and `time_now` (the current time in the user's zone).
//!
//! Reminders are jobs in the store's schedule, so they survive a restart. One
//! that fell due while natter was down is delivered when it is back, with a
//! note that it is late; the store hands each job out once, so none is
//! delivered twice.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | the `[plugins.remind]` section |
//! | [`when`] | reading `<when>`: the grammar, the user's zone, past and too-far checks |
//! | [`zone`] | time zone names and each user's choice |
//! | [`reminder`] | the job payload and the owner id |
//! | [`format`](mod@format) | how times, lists and deliveries read |
//! | `tools` | the tools the model may call, and their arguments |
//!
//! ```toml
//! [plugins.remind]
//! enabled = true
//! default_timezone = "UTC"
//! max_pending = 25
//! max_days_ahead = 366
//! late_after_secs = 60
//! max_chars = 1000
//! ```

pub mod format;
pub mod reminder;
pub mod settings;
mod tools;
pub mod when;
pub mod zone;

use async_trait::async_trait;
use jiff::Timestamp;
use natter_core::plugin::JobContext;
use natter_core::store::ScheduledJob;
use natter_core::{
    Command, CommandSpec, Plugin, PluginContext, PluginError, ToolInvocation, ToolSpec,
};
use tracing::{instrument, warn};

pub use settings::{RemindError, RemindSettings};

use reminder::Reminder;
use zone::Zone;

/// The reminders plugin.
#[derive(Clone, Debug)]
pub struct RemindPlugin {
    settings: RemindSettings,
    default_zone: Zone,
}

impl RemindPlugin {
    /// The plugin with `settings`; fails if they are invalid (an unknown
    /// `default_timezone`, a zero limit).
    pub fn new(settings: RemindSettings) -> Result<Self, RemindError> {
        let tz = settings.validate()?;
        let name = tz
            .iana_name()
            .unwrap_or(&settings.default_timezone)
            .to_owned();
        Ok(Self {
            settings,
            default_zone: Zone { tz, name },
        })
    }

    fn usage(zone: &Zone) -> String {
        format!(
            "Set a reminder with /remind <when> <what>, e.g.\n\
             /remind 10m tea\n\
             /remind tomorrow 9:00 call Bob\n\
             /remind 2026-12-24 18:00 presents\n\
             <when> can be 10m, 2h30m, 1d, in 10 minutes, 18:00, 6pm, friday 17:30 …\n\
             /reminders lists yours; /remind cancel <n> cancels one.\n\
             Times are in your time zone, {} (change it with /remind tz Europe/Berlin).",
            zone.name
        )
    }

    /// The zone of the message's author.
    async fn zone(&self, cx: &PluginContext<'_>) -> Result<Zone, PluginError> {
        let owner = reminder::owner(cx.message());
        zone::of_user(&cx.state(), &owner, &self.default_zone).await
    }

    /// Whether `reminder`'s text may be shown here: in private chats, and in
    /// the conversation it was set in (not a private one's text in a group).
    fn may_show(cx: &PluginContext<'_>, reminder: &Reminder) -> bool {
        let here = &cx.message().channel;
        here.is_private() || reminder.channel == *here
    }

    /// Sets a reminder from `/remind`'s arguments: the time first, then the text.
    async fn set(&self, cx: &PluginContext<'_>, args: &str) -> Result<String, PluginError> {
        let zone = self.zone(cx).await?;
        let now = instant(cx.now_unix_ms())?;
        let when = when::parse(args, now, &zone.tz, self.settings.max_days_ahead)
            .map_err(|e| PluginError::usage(e.to_string()))?;
        if when.text.is_empty() {
            return Err(PluginError::usage(format!(
                "What should I remind you of? Put it after the time: /remind {} <what>.",
                args.trim()
            )));
        }
        self.schedule(cx, &zone, &when.due, when.text).await
    }

    /// Schedules a reminder of `text` at `due` for the message's author and
    /// says so.
    async fn schedule(
        &self,
        cx: &PluginContext<'_>,
        zone: &Zone,
        due: &jiff::ZonedDateTime,
        text: &str,
    ) -> Result<String, PluginError> {
        let owner = reminder::owner(cx.message());
        let now_ms = cx.now_unix_ms();
        if text.chars().count() > self.settings.max_chars {
            return Err(PluginError::usage(format!(
                "That reminder is too long; keep it under {} characters.",
                self.settings.max_chars
            )));
        }
        let pending = cx.scheduled(&owner).await?.len();
        if pending >= self.settings.max_pending {
            return Err(PluginError::usage(format!(
                "You already have {pending} reminders waiting, the most I keep for one person; \
                 /reminders lists them and /remind cancel <n> makes room."
            )));
        }
        let due_ms = due.timestamp().as_millisecond();
        let reminder = Reminder::new(cx.message(), text, &zone.name, due_ms);
        let id = cx.schedule(&owner, due_ms, reminder.to_payload()?).await?;
        Ok(format::confirmation(id, due, now_ms, text))
    }

    /// The author's pending reminders.
    async fn list(&self, cx: &PluginContext<'_>) -> Result<String, PluginError> {
        let owner = reminder::owner(cx.message());
        let jobs = cx.scheduled(&owner).await?;
        if jobs.is_empty() {
            return Ok("You have no reminders waiting. Set one with /remind 10m tea.".into());
        }
        let zone = self.zone(cx).await?;
        let now_ms = cx.now_unix_ms();
        let mut text = format!("Your reminders ({}):", zone.name);
        for job in &jobs {
            let due = instant(job.due_unix_ms)?.to_zoned_datetime(zone.tz.clone());
            let line = match Reminder::from_job(job) {
                Ok(reminder) => {
                    let shown = Self::may_show(cx, &reminder).then_some(reminder.text.as_str());
                    format::list_line(job.id, &due, now_ms, shown)
                }
                Err(error) => {
                    warn!(%error, "listing a reminder");
                    format::list_line(job.id, &due, now_ms, Some("(unreadable)"))
                }
            };
            text.push('\n');
            text.push_str(&line);
        }
        text.push_str("\nCancel one with /remind cancel <n>.");
        Ok(text)
    }

    /// Cancels reminder `arg` (a number, or `all`) of the author.
    async fn cancel(&self, cx: &PluginContext<'_>, arg: &str) -> Result<String, PluginError> {
        let owner = reminder::owner(cx.message());
        let usage = || {
            PluginError::usage(
                "Usage: /remind cancel <n> (the numbers are in /reminders), or /remind cancel all.",
            )
        };
        if arg.eq_ignore_ascii_case("all") {
            let mut cancelled = 0;
            for job in cx.scheduled(&owner).await? {
                if cx.cancel_scheduled(&owner, job.id).await? {
                    cancelled += 1;
                }
            }
            let s = if cancelled == 1 { "" } else { "s" };
            return Ok(format!("Cancelled {cancelled} reminder{s}."));
        }
        let id: i64 = arg.trim_start_matches('#').parse().map_err(|_| usage())?;
        let jobs = cx.scheduled(&owner).await?;
        let found = jobs.iter().find(|job| job.id == id);
        let missing = || {
            PluginError::usage(format!(
                "You have no reminder #{id} waiting; /reminders lists yours."
            ))
        };
        let Some(job) = found else {
            return Err(missing());
        };
        if !cx.cancel_scheduled(&owner, id).await? {
            return Err(missing());
        }
        Ok(match Reminder::from_job(job) {
            Ok(reminder) if Self::may_show(cx, &reminder) => {
                format!("Cancelled reminder #{id}: {}", reminder.text)
            }
            _ => format!("Cancelled reminder #{id}."),
        })
    }

    async fn timezone(&self, cx: &mut PluginContext<'_>, arg: &str) -> Result<(), PluginError> {
        let owner = reminder::owner(cx.message());
        let now = instant(cx.now_unix_ms())?;
        let clock = |zone: &Zone| {
            now.to_zoned_datetime(zone.tz.clone())
                .strftime("%H:%M")
                .to_string()
        };
        let text = if arg.is_empty() {
            let zone = self.zone(cx).await?;
            format!(
                "Your time zone is {} (it's {} there now). Change it with /remind tz <zone>, \
                 e.g. /remind tz Europe/Berlin.",
                zone.name,
                clock(&zone)
            )
        } else if ["reset", "default"].contains(&arg.to_lowercase().as_str()) {
            zone::forget(&cx.state(), &owner).await?;
            format!(
                "Your time zone is back to the default, {}.",
                self.default_zone.name
            )
        } else {
            let zone = Zone::lookup(arg).map_err(|e| PluginError::usage(e.to_string()))?;
            zone::choose(&cx.state(), &owner, &zone).await?;
            format!(
                "Your time zone is now {} (it's {} there). Reminders you set from now on use it.",
                zone.name,
                clock(&zone)
            )
        };
        cx.reply(&text).await
    }
}

/// `unix_ms` as an instant.
fn instant(unix_ms: i64) -> Result<Timestamp, PluginError> {
    Timestamp::from_millisecond(unix_ms).map_err(PluginError::internal)
}

#[async_trait]
impl Plugin for RemindPlugin {
    fn name(&self) -> &str {
        "remind"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("remind", "Set a reminder; cancel one; set your time zone")
                .usage("<when> <what> | cancel <n> | tz <zone>"),
            CommandSpec::new("reminders", "List your reminders"),
        ]
    }

    #[instrument(name = "remind", skip_all, fields(command = %cmd.name))]
    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        if cmd.name == "reminders" {
            let text = self.list(cx).await?;
            return cx.reply(&text).await;
        }
        let args = cmd.args.trim();
        let (first, rest) = args
            .split_once(char::is_whitespace)
            .map_or((args, ""), |(first, rest)| (first, rest.trim()));
        match (first.to_lowercase().as_str(), rest.is_empty()) {
            ("" | "help", true) => {
                let zone = self.zone(cx).await?;
                cx.reply(&Self::usage(&zone)).await
            }
            ("list", true) => {
                let text = self.list(cx).await?;
                cx.reply(&text).await
            }
            ("cancel" | "delete", _) => {
                let text = self.cancel(cx, rest).await?;
                cx.reply(&text).await
            }
            ("tz" | "timezone", _) => self.timezone(cx, rest).await,
            _ => {
                let text = self.set(cx, args).await?;
                cx.reply(&text).await
            }
        }
    }

    fn tools(&self) -> Vec<ToolSpec> {
        tools::specs()
    }

    #[instrument(name = "remind", skip_all, fields(tool = %call.name))]
    async fn call_tool(
        &self,
        cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        match call.name.as_str() {
            tools::SET => {
                let args: tools::SetArgs = call.args()?;
                let zone = self.zone(cx).await?;
                let now = instant(cx.now_unix_ms())?;
                let (due, text) = tools::due(&args, now, &zone, self.settings.max_days_ahead)?;
                self.schedule(cx, &zone, &due, &text).await
            }
            tools::LIST => self.list(cx).await,
            tools::CANCEL => {
                let args: tools::CancelArgs = call.args()?;
                self.cancel(cx, &args.number.to_string()).await
            }
            tools::NOW => {
                let zone = self.zone(cx).await?;
                Ok(tools::now(instant(cx.now_unix_ms())?, &zone))
            }
            other => Err(PluginError::usage(format!("remind has no tool {other}"))),
        }
    }

    /// Delivers a reminder that fell due (the engine has already taken it
    /// from the store, so it is delivered at most once).
    #[instrument(name = "remind", skip_all, fields(job = job.id))]
    async fn on_job(&self, cx: &mut JobContext<'_>, job: ScheduledJob) -> Result<(), PluginError> {
        let reminder = Reminder::from_job(&job)?;
        let now_ms = cx.now_unix_ms();
        let grace_ms =
            i64::try_from(self.settings.late_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        // The job's own due time moves when a delivery is retried; lateness
        // counts from when the reminder was due.
        let due_ms = reminder.due_unix_ms;
        let late = if now_ms.saturating_sub(due_ms) > grace_ms {
            let tz = Zone::lookup(&reminder.timezone)
                .map_or_else(|_| self.default_zone.tz.clone(), |zone| zone.tz);
            let due = instant(due_ms)?.to_zoned_datetime(tz.clone());
            let now = instant(now_ms)?.to_zoned_datetime(tz);
            Some(format::short(&due, &now))
        } else {
            None
        };
        let mention = cx.mention(&reminder.channel, &reminder.author());
        let text = format::delivery(&mention, &reminder.text, late.as_deref());
        cx.post_reply(&reminder.channel, reminder.reply_to.as_ref(), &text)
            .await
    }
}
