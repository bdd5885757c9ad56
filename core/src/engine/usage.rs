//! Stage 3, route — `/usage`: tokens (and cost, where models have prices)
//! from the usage ledger, today and this month (UTC). Anyone sees their own;
//! admins also see this conversation's (`/usage here`) and the top users
//! (`/usage top`).

use crate::budget::{Periods, Prices, cost, thousands};
use crate::message::Incoming;
use crate::services::Services;
use crate::store::{StoreError, UsageScope, UsageTotal};

/// Users `/usage top` lists.
const TOP: usize = 10;

/// The answer to `/usage args`.
pub(crate) async fn report(services: &Services, message: &Incoming, args: &str) -> String {
    let answer = match args.trim().to_lowercase().as_str() {
        "" | "me" => mine(services, message).await,
        "here" if message.may_administer() => here(services, message).await,
        "top" if message.may_administer() => top(services).await,
        "here" | "top" => return "Only admins can see that in group chats.".into(),
        _ => return "Usage: /usage — yours; /usage here — this chat; /usage top — who used most (admins).".into(),
    };
    answer.unwrap_or_else(|error| {
        tracing::error!(%error, "could not read the usage ledger");
        "Sorry, I couldn't read the usage. Please try again.".into()
    })
}

async fn mine(services: &Services, message: &Incoming) -> Result<String, StoreError> {
    let scope = UsageScope::User {
        platform: message.key.platform(),
        user_id: message.author.id.clone(),
    };
    let mut text = format!("Your usage ({}):", message.author.display_name);
    periods(services, &scope, &mut text).await?;
    let settings = services.budget.get();
    let limits = settings.limits_of(message.key.platform().as_str(), &message.author.id);
    let mut budget = Vec::new();
    if let Some(limit) = limits.user_daily_tokens {
        budget.push(format!("{} tokens a day", thousands(limit)));
    }
    if let Some(limit) = limits.user_monthly_tokens {
        budget.push(format!("{} tokens a month", thousands(limit)));
    }
    if let Some(limit) = limits.user_monthly_cost {
        budget.push(format!("${limit:.2} a month"));
    }
    if !budget.is_empty() && !message.author.is_admin {
        text.push_str(&format!("\nYour budget: {}.", budget.join(", ")));
    }
    Ok(text)
}

async fn here(services: &Services, message: &Incoming) -> Result<String, StoreError> {
    let scope = UsageScope::Conversation(message.key.clone());
    let mut text = String::from("This chat's usage:");
    periods(services, &scope, &mut text).await?;
    Ok(text)
}

async fn top(services: &Services) -> Result<String, StoreError> {
    let periods = Periods::around(services.clock.now_unix_ms());
    let users = services
        .stores
        .usage
        .top_users(periods.month_start, periods.month_end, TOP)
        .await?;
    if users.is_empty() {
        return Ok("Nobody has used the model this month.".into());
    }
    let mut text = String::from("Most tokens this month (UTC):");
    for (n, user) in users.iter().enumerate() {
        text.push_str(&format!(
            "\n{}. {}:{} — {} tokens ({} in, {} out)",
            n + 1,
            user.platform,
            user.user_id,
            thousands(user.prompt_tokens + user.completion_tokens),
            thousands(user.prompt_tokens),
            thousands(user.completion_tokens),
        ));
    }
    Ok(text)
}

/// Appends today's and this month's totals of `scope` to `text`.
async fn periods(
    services: &Services,
    scope: &UsageScope,
    text: &mut String,
) -> Result<(), StoreError> {
    let periods = Periods::around(services.clock.now_unix_ms());
    let usage = &services.stores.usage;
    let today = usage
        .usage_totals(scope, periods.day_start, periods.day_end)
        .await?;
    let month = usage
        .usage_totals(scope, periods.month_start, periods.month_end)
        .await?;
    text.push_str(&section("today (UTC)", &today, &services.prices));
    text.push_str(&section("this month", &month, &services.prices));
    Ok(())
}

/// `\ntoday: 1,234 tokens ($0.0012)` and a line per model.
fn section(name: &str, totals: &[UsageTotal], prices: &Prices) -> String {
    let tokens: u64 = totals
        .iter()
        .map(|t| t.prompt_tokens + t.completion_tokens)
        .sum();
    let mut text = format!("\n{name}: {} tokens", thousands(tokens));
    if !prices.is_empty()
        && let Some(dollars) = cost(totals, prices)
    {
        text.push_str(&format!(" (${dollars:.4})"));
    }
    for total in totals {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        let line = if total.audio_seconds > 0 {
            format!(
                "{}: {} of voice heard",
                total.model,
                voice_length(total.audio_seconds)
            )
        } else if total.images > 0 {
            format!(
                "{}: {} picture{} made",
                total.model,
                total.images,
                plural(total.images)
            )
        } else {
            format!(
                "{}: {} in, {} out, {} call{}",
                total.model,
                thousands(total.prompt_tokens),
                thousands(total.completion_tokens),
                total.calls,
                plural(total.calls)
            )
        };
        text.push_str(&format!("\n  {line}"));
    }
    text
}

/// `seconds` of voice as "45 s" or "12 min 5 s".
fn voice_length(seconds: u64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}
