//! How reminders read: due times in the user's zone, "in 2h 30m", the
//! confirmation, the list and the message that delivers a reminder.

use jiff::ZonedDateTime;

/// A due time in full, in its own zone: `Thu 2026-01-15 09:00 CET`
/// (with seconds when they are not zero).
pub fn local(due: &ZonedDateTime) -> String {
    let pattern = if due.second() == 0 {
        "%a %Y-%m-%d %H:%M %Z"
    } else {
        "%a %Y-%m-%d %H:%M:%S %Z"
    };
    due.strftime(pattern).to_string()
}

/// A due time as short as `now` allows: `18:00` on the same day, the full
/// form otherwise. Both are in `due`'s zone.
pub fn short(due: &ZonedDateTime, now: &ZonedDateTime) -> String {
    let same_day = due.date() == now.with_time_zone(due.time_zone().clone()).date();
    if same_day {
        due.strftime("%H:%M").to_string()
    } else {
        due.strftime("%a %Y-%m-%d %H:%M").to_string()
    }
}

/// A span of time in its two largest units: `45s`, `9m 59s`, `2h 30m`, `3d 4h`.
/// Part seconds count as whole ones, as on a countdown: a reminder for 19:00
/// set at 18:50:00.2 is "in 10m".
pub fn span(ms: i64) -> String {
    let total = ms.max(0).saturating_add(999) / 1000;
    let units = [
        (total / 86_400, "d"),
        (total % 86_400 / 3_600, "h"),
        (total % 3_600 / 60, "m"),
        (total % 60, "s"),
    ];
    let Some(first) = units.iter().position(|(n, _)| *n > 0) else {
        return "0s".to_owned();
    };
    units[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The reply to a reminder being set.
pub fn confirmation(id: i64, due: &ZonedDateTime, now_ms: i64, text: &str) -> String {
    let ms = due.timestamp().as_millisecond() - now_ms;
    format!(
        "⏰ Reminder #{id} set for {} (in {}): {text}\nCancel it with /remind cancel {id}.",
        local(due),
        span(ms)
    )
}

/// One line of `/reminders`. `text` is `None` for a reminder set in another
/// chat, whose text is not shown here.
pub fn list_line(id: i64, due: &ZonedDateTime, now_ms: i64, text: Option<&str>) -> String {
    let ms = due.timestamp().as_millisecond() - now_ms;
    let what = text.unwrap_or("(set in another chat)");
    format!("#{id} · {} (in {}) — {what}", local(due), span(ms))
}

/// The message that delivers a reminder; `late` is the due time, shown when
/// the reminder comes later than it should have.
pub fn delivery(mention: &str, text: &str, late: Option<&str>) -> String {
    let mut message = format!("⏰ {mention}, reminder: {text}");
    if let Some(due) = late {
        message.push_str(&format!(
            "\n(late: this was due at {due} while I was offline)"
        ));
    }
    message
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    use super::*;

    fn at(instant: &str, zone: &str) -> ZonedDateTime {
        let ts: Timestamp = instant.parse().unwrap();
        ts.to_zoned_datetime(TimeZone::get(zone).unwrap())
    }

    #[test]
    fn full_times_name_the_day_and_the_zone() {
        assert_eq!(
            local(&at("2026-01-15T08:00:00Z", "Europe/Berlin")),
            "Thu 2026-01-15 09:00 CET"
        );
        assert_eq!(
            local(&at("2026-07-15T07:00:00Z", "Europe/Berlin")),
            "Wed 2026-07-15 09:00 CEST"
        );
        assert_eq!(
            local(&at("2026-01-15T08:00:00Z", "UTC")),
            "Thu 2026-01-15 08:00 UTC"
        );
        assert_eq!(
            local(&at("2026-01-15T08:00:30Z", "UTC")),
            "Thu 2026-01-15 08:00:30 UTC"
        );
    }

    #[test]
    fn short_times_drop_the_date_on_the_same_local_day() {
        let due = at("2026-01-15T17:00:00Z", "Europe/Berlin");
        assert_eq!(short(&due, &at("2026-01-15T22:00:00Z", "UTC")), "18:00");
        // 23:30 UTC is already the next day in Berlin.
        assert_eq!(
            short(&due, &at("2026-01-15T23:30:00Z", "UTC")),
            "Thu 2026-01-15 18:00"
        );
    }

    #[test]
    fn spans_show_their_two_largest_units() {
        assert_eq!(span(600_000), "10m");
        assert_eq!(span(599_999), "10m");
        assert_eq!(span(599_000), "9m 59s");
        assert_eq!(span(9_000_000), "2h 30m");
        assert_eq!(span(86_400_000), "1d");
        assert_eq!(span(86_400_000 + 3_600_000 + 60_000), "1d 1h");
        assert_eq!(span(86_400_000 + 60_000), "1d");
        assert_eq!(span(45_000), "45s");
        assert_eq!(span(500), "1s");
        assert_eq!(span(0), "0s");
        assert_eq!(span(-5), "0s");
    }

    #[test]
    fn messages() {
        let due = at("2026-01-14T10:40:00Z", "UTC");
        let now = at("2026-01-14T10:30:00Z", "UTC")
            .timestamp()
            .as_millisecond();
        assert_eq!(
            confirmation(7, &due, now, "tea"),
            "⏰ Reminder #7 set for Wed 2026-01-14 10:40 UTC (in 10m): tea\n\
             Cancel it with /remind cancel 7."
        );
        assert_eq!(
            list_line(7, &due, now, Some("tea")),
            "#7 · Wed 2026-01-14 10:40 UTC (in 10m) — tea"
        );
        assert_eq!(
            list_line(7, &due, now, None),
            "#7 · Wed 2026-01-14 10:40 UTC (in 10m) — (set in another chat)"
        );
        assert_eq!(delivery("@alice", "tea", None), "⏰ @alice, reminder: tea");
        assert_eq!(
            delivery("@alice", "tea", Some("18:00")),
            "⏰ @alice, reminder: tea\n(late: this was due at 18:00 while I was offline)"
        );
    }
}
