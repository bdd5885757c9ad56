//! Money: what models cost ([`Price`], per million tokens, input and output
//! apart) and how much one person or chat may spend ([`BudgetSettings`], the
//! `[budget]` section). Days and months are UTC.
//!
//! ```toml
//! [budget]
//! user_daily_tokens = 50000       # each is optional; unset: no limit
//! user_monthly_tokens = 1000000
//! user_monthly_cost = 5.0         # dollars, from the models' prices
//! chat_daily_tokens = 200000      # a whole group or private chat
//!
//! [budget.users."telegram:123456789"]   # one user's own limits, over the ones above
//! user_monthly_tokens = 5000000
//! ```
//!
//! Admins are exempt. A message over budget gets one sentence saying which
//! budget and when it resets, and no model call.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::store::UsageTotal;

/// A model's price in dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million generated tokens.
    pub output: f64,
}

impl Price {
    /// What `total` cost at this price.
    pub fn cost(&self, total: &UsageTotal) -> f64 {
        (total.prompt_tokens as f64 * self.input + total.completion_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

/// Prices by model name (as backends report it in their capabilities).
pub type Prices = HashMap<String, Price>;

/// What `totals` cost, when every model in them that used tokens has a
/// price (voice heard and pictures made use none, and are not priced).
pub fn cost(totals: &[UsageTotal], prices: &Prices) -> Option<f64> {
    totals
        .iter()
        .filter(|total| total.prompt_tokens + total.completion_tokens > 0)
        .map(|total| prices.get(&total.model).map(|price| price.cost(total)))
        .sum()
}

/// One user's limits; unset ones do not apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserLimits {
    /// Tokens per UTC day.
    pub user_daily_tokens: Option<u64>,
    /// Tokens per UTC month.
    pub user_monthly_tokens: Option<u64>,
    /// Dollars per UTC month (models without a price count nothing).
    pub user_monthly_cost: Option<f64>,
}

/// The `[budget]` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSettings {
    /// Every user's limits.
    #[serde(flatten)]
    pub user: UserLimits,
    /// Tokens per UTC day in one conversation (a group, a private chat).
    pub chat_daily_tokens: Option<u64>,
    /// Limits of particular users (`"platform:user_id"`), instead of `user`.
    pub users: BTreeMap<String, UserLimits>,
}

impl BudgetSettings {
    /// True when no limit is set anywhere (nothing to check).
    pub fn is_unlimited(&self) -> bool {
        self.user == UserLimits::default()
            && self.chat_daily_tokens.is_none()
            && self.users.is_empty()
    }

    /// The limits of `user_id` on `platform`.
    pub fn limits_of(&self, platform: &str, user_id: &str) -> &UserLimits {
        self.users
            .get(&format!("{platform}:{user_id}"))
            .unwrap_or(&self.user)
    }
}

/// The UTC day and month around an instant, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periods {
    /// Start of today.
    pub day_start: i64,
    /// Start of tomorrow.
    pub day_end: i64,
    /// Start of this month.
    pub month_start: i64,
    /// Start of next month.
    pub month_end: i64,
}

impl Periods {
    /// The periods around `now_ms`.
    pub fn around(now_ms: i64) -> Self {
        let today = Timestamp::from_millisecond(now_ms)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(TimeZone::UTC)
            .date();
        let month = today.first_of_month();
        Self {
            day_start: start_of(today),
            day_end: start_of(today.saturating_add(1.day())),
            month_start: start_of(month),
            month_end: start_of(month.saturating_add(1.month())),
        }
    }
}

/// Milliseconds at 00:00 UTC of `date`.
fn start_of(date: Date) -> i64 {
    date.to_zoned_datetime(TimeZone::UTC)
        .map_or(0, |zoned| zoned.timestamp().as_millisecond())
}

/// `in 5h 12m`, `in 3 days`: how long until `until_ms`.
pub fn until(now_ms: i64, until_ms: i64) -> String {
    let minutes = (until_ms.saturating_sub(now_ms) / 60_000).max(1);
    match minutes {
        m if m < 60 => format!("in {m} min"),
        m if m < 48 * 60 => format!("in {}h {}m", m / 60, m % 60),
        m => format!("in {} days", m / (24 * 60)),
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ms(at: &str) -> i64 {
        at.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn days_and_months_are_utc() {
        let periods = Periods::around(ms("2026-12-31T23:30:00Z"));
        assert_eq!(periods.day_start, ms("2026-12-31T00:00:00Z"));
        assert_eq!(periods.day_end, ms("2027-01-01T00:00:00Z"));
        assert_eq!(periods.month_start, ms("2026-12-01T00:00:00Z"));
        assert_eq!(periods.month_end, ms("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn costs_need_a_price_for_every_model() {
        let total = |model: &str| UsageTotal {
            model: model.into(),
            prompt_tokens: 2_000_000,
            completion_tokens: 500_000,
            calls: 3,
            ..UsageTotal::default()
        };
        let prices = Prices::from([(
            "gpt".to_owned(),
            Price {
                input: 0.15,
                output: 0.6,
            },
        )]);
        assert_eq!(cost(&[total("gpt")], &prices), Some(0.6));
        assert_eq!(cost(&[total("gpt"), total("local")], &prices), None);
        assert_eq!(cost(&[], &prices), Some(0.0));
    }

    #[test]
    fn users_of_their_own_replace_the_common_limits() {
        let budget: BudgetSettings = serde_json::from_value(serde_json::json!({
            "user_daily_tokens": 100,
            "users": {"telegram:42": {"user_daily_tokens": 1000}}
        }))
        .unwrap();
        assert_eq!(
            budget.limits_of("telegram", "42").user_daily_tokens,
            Some(1000)
        );
        assert_eq!(
            budget.limits_of("discord", "42").user_daily_tokens,
            Some(100)
        );
        assert!(!budget.is_unlimited());
        assert!(BudgetSettings::default().is_unlimited());
    }

    #[test]
    fn numbers_and_spans_read_well() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(until(0, 30 * 60_000), "in 30 min");
        assert_eq!(until(0, 312 * 60_000), "in 5h 12m");
        assert_eq!(until(0, 5 * 24 * 3_600_000), "in 5 days");
    }
}
