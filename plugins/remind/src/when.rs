//! Reading when a reminder is due from the start of `/remind`'s arguments.
//!
//! [`parse`] is a pure function of the text, the current instant and the user's
//! time zone, so every form is unit-tested without a clock. It understands:
//!
//! | form | example | meaning |
//! |---|---|---|
//! | a duration | `10m`, `2h30m`, `1d`, `90s`, `1w`, `2h 15m` | from now (days and weeks are calendar days in the user's zone) |
//! | a spoken duration | `in 10 minutes`, `in an hour`, `in 2 hours and 30 minutes` | the same |
//! | a time of day | `18:00`, `6pm`, `6:30 pm`, `at 9`, `noon` | its next occurrence: today, or tomorrow if it has passed |
//! | a day and a time | `tomorrow 9:00`, `today at 18:00`, `friday 17:30`, `9am tomorrow` | that day (a weekday: the next one) |
//! | a date and a time | `2026-12-24 18:00`, `2026-12-24T18:00` | exactly then |
//!
//! Whatever follows the time is the reminder's text, with a leading `to` or
//! separator (`-`, `:`) dropped: `/remind in 10 minutes to call Mum` → "call Mum".

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ZonedDateTime};

use crate::format;

/// The forms users may write, shown when a time cannot be read.
pub const FORMATS: &str = "Write the time first, then what to remind you of: \
10m, 2h30m, 1d, in 10 minutes, 18:00, 6pm, tomorrow 9:00, friday 17:30 or 2026-12-24 18:00 \
— for example /remind 10m tea.";

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Why a time could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WhenError {
    /// Nothing at the start reads as a time.
    #[error("I can't read a time at the start of “{0}”. {FORMATS}")]
    Unreadable(String),
    /// A day was named without a time.
    #[error("At what time {day}? For example: /remind {day} 9:00 <what>.")]
    NoTime {
        /// The day as written.
        day: String,
    },
    /// Looks like a date but is not one (`2026-02-30`).
    #[error("{0} is not a date; write dates as YYYY-MM-DD, e.g. 2026-12-24.")]
    BadDate(String),
    /// Looks like a time of day but is not one (`25:00`).
    #[error("{0} is not a time of day; write times as 18:00, 6pm or 6:30pm.")]
    BadTime(String),
    /// The time has passed (or is now).
    #[error("{0} has already passed; give a time that is still to come.")]
    Past(String),
    /// Further ahead than the settings allow.
    #[error("That is too far ahead: reminders can be set at most {0} days ahead.")]
    TooFar(u32),
}

/// A time read from the start of the arguments, and the text after it.
#[derive(Clone, Debug, PartialEq)]
pub struct When<'a> {
    /// When the reminder is due, in the user's zone.
    pub due: ZonedDateTime,
    /// What to remind of: the rest of the input, tidied (may be empty).
    pub text: &'a str,
}

/// Reads the time at the start of `input` for a user in `tz` at `now`, and
/// checks it lies in the future and at most `max_days_ahead` days ahead.
pub fn parse<'a>(
    input: &'a str,
    now: Timestamp,
    tz: &TimeZone,
    max_days_ahead: u32,
) -> Result<When<'a>, WhenError> {
    let words = words(input);
    let (due, used) = read(input, &words, now, tz, max_days_ahead)?;
    check_range(&due, now, max_days_ahead)?;
    let rest = words.get(used).map_or("", |w| &input[w.start..]);
    Ok(When {
        due,
        text: tidy(rest),
    })
}

/// Checks `due` is after `now` and at most `max_days_ahead` days later.
pub fn check_range(
    due: &ZonedDateTime,
    now: Timestamp,
    max_days_ahead: u32,
) -> Result<(), WhenError> {
    let due_ms = due.timestamp().as_millisecond();
    let now_ms = now.as_millisecond();
    if due_ms <= now_ms {
        return Err(WhenError::Past(format::local(due)));
    }
    if due_ms - now_ms > i64::from(max_days_ahead) * DAY_MS {
        return Err(WhenError::TooFar(max_days_ahead));
    }
    Ok(())
}

/// Drops separators and a leading "to" from the reminder's text.
fn tidy(text: &str) -> &str {
    let mut text = text.trim();
    loop {
        let stripped = ["-", "–", "—", ":", ","]
            .iter()
            .find_map(|sep| text.strip_prefix(sep))
            .or_else(|| {
                let (first, rest) = text.split_once(char::is_whitespace)?;
                first.eq_ignore_ascii_case("to").then_some(rest)
            });
        match stripped {
            Some(rest) => text = rest.trim_start(),
            None => return text,
        }
    }
}

/// One whitespace-separated word: where it starts in the input and its
/// lowercase form with one trailing `,` or `:` removed (for matching).
#[derive(Clone, Debug)]
struct Word {
    start: usize,
    end: usize,
    key: String,
}

fn words(input: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let mut push = |s: usize, e: usize| {
        let lower = input[s..e].to_lowercase();
        let key = match lower.strip_suffix([',', ':']) {
            Some(k) if !k.is_empty() => k.to_owned(),
            _ => lower,
        };
        out.push(Word {
            start: s,
            end: e,
            key,
        });
    };
    for (i, c) in input.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                push(s, i);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        push(s, input.len());
    }
    out
}

/// The due time and how many words it took.
fn read(
    input: &str,
    words: &[Word],
    now: Timestamp,
    tz: &TimeZone,
    max_days_ahead: u32,
) -> Result<(ZonedDateTime, usize), WhenError> {
    let unreadable = || {
        let shown: Vec<&str> = words
            .iter()
            .take(3)
            .map(|w| &input[w.start..w.end])
            .collect();
        WhenError::Unreadable(shown.join(" "))
    };
    let today = now.to_zoned_datetime(tz.clone());

    if let Some((amount, used)) = duration(words, 0) {
        let due = amount
            .after(&today)
            .ok_or(WhenError::TooFar(max_days_ahead))?;
        return Ok((due, used));
    }

    if let Some((day, time, mut used)) = day(words, 0)? {
        let time = match time {
            Some(time) => time,
            None => {
                if words.get(used).is_some_and(|w| w.key == "at") {
                    used += 1;
                }
                let Some((time, after)) = clock(words, used, true)? else {
                    let said = &input[words[0].start..words[used - 1].end];
                    return Err(WhenError::NoTime {
                        day: said.to_owned(),
                    });
                };
                used = after;
                time
            }
        };
        return Ok((on_day(&today, day, time, tz)?, used));
    }

    let at = words.first().is_some_and(|w| w.key == "at");
    let Some((time, used)) = clock(words, usize::from(at), at)? else {
        return Err(unreadable());
    };
    if let Some((day, None, after)) = day(words, used)? {
        return Ok((on_day(&today, day, time, tz)?, after));
    }
    let mut due = civil(today.date(), time, tz)?;
    if due.timestamp() <= now {
        due = civil(next_day(today.date())?, time, tz)?;
    }
    Ok((due, used))
}

/// `time` on `day`, in `tz`. A weekday is the next one whose `time` is still
/// to come; today and dates are taken as written (the range check rejects the past).
fn on_day(
    today: &ZonedDateTime,
    day: Day,
    time: Time,
    tz: &TimeZone,
) -> Result<ZonedDateTime, WhenError> {
    let date = today.date();
    match day {
        Day::Today => civil(date, time, tz),
        Day::Tomorrow => civil(next_day(date)?, time, tz),
        Day::Date(date) => civil(date, time, tz),
        Day::Weekday(weekday) => {
            let ahead = (weekday.to_monday_zero_offset() - date.weekday().to_monday_zero_offset())
                .rem_euclid(7);
            let mut date = date
                .checked_add(Span::new().days(ahead))
                .map_err(|_| WhenError::BadDate(weekday_name(weekday).to_owned()))?;
            let mut due = civil(date, time, tz)?;
            if due.timestamp() <= today.timestamp() {
                date = date
                    .checked_add(Span::new().days(7))
                    .map_err(|_| WhenError::BadDate(weekday_name(weekday).to_owned()))?;
                due = civil(date, time, tz)?;
            }
            Ok(due)
        }
    }
}

fn next_day(date: Date) -> Result<Date, WhenError> {
    date.tomorrow()
        .map_err(|_| WhenError::BadDate(date.to_string()))
}

/// `date` at `time` in `tz`; in a daylight-saving gap the later instant, in a
/// fold the earlier (jiff's "compatible" rule, as most calendars do).
fn civil(date: Date, time: Time, tz: &TimeZone) -> Result<ZonedDateTime, WhenError> {
    tz.to_zoned_datetime(DateTime::from_parts(date, time))
        .map_err(|_| WhenError::BadDate(date.to_string()))
}

/// An amount of time from now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Amount {
    weeks: i64,
    days: i64,
    hours: i64,
    minutes: i64,
    seconds: i64,
}

impl Amount {
    fn add(&mut self, unit: Unit, n: i64) {
        let field = match unit {
            Unit::Week => &mut self.weeks,
            Unit::Day => &mut self.days,
            Unit::Hour => &mut self.hours,
            Unit::Minute => &mut self.minutes,
            Unit::Second => &mut self.seconds,
        };
        *field = field.saturating_add(n);
    }

    /// `start` plus this amount; `None` if it does not fit in a calendar.
    fn after(&self, start: &ZonedDateTime) -> Option<ZonedDateTime> {
        let span = Span::new()
            .try_weeks(self.weeks)
            .and_then(|s| s.try_days(self.days))
            .and_then(|s| s.try_hours(self.hours))
            .and_then(|s| s.try_minutes(self.minutes))
            .and_then(|s| s.try_seconds(self.seconds))
            .ok()?;
        start.checked_add(span).ok()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Week,
    Day,
    Hour,
    Minute,
    Second,
}

fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
        "d" | "day" | "days" => Unit::Day,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
        _ => return None,
    })
}

/// A number as written in a duration: digits (saturating), or "a"/"an"/"one".
fn count(word: &str) -> Option<i64> {
    match word {
        "a" | "an" | "one" => Some(1),
        _ if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) => {
            Some(word.parse().unwrap_or(i64::MAX))
        }
        _ => None,
    }
}

/// `2h30m`, `10min`, `1d` as one word.
fn compact(word: &str) -> Option<Amount> {
    let mut amount = Amount::default();
    let mut rest = word;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let letters = after.len()
            - after
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let (name, after) = after.split_at(letters);
        amount.add(unit(name)?, count(number)?);
        rest = after;
    }
    Some(amount)
}

/// One piece of a duration at `i`: a compact word, or a count and a unit word.
fn piece(words: &[Word], i: usize) -> Option<(Amount, usize)> {
    let word = &words.get(i)?.key;
    if let Some(amount) = compact(word) {
        return Some((amount, i + 1));
    }
    let n = count(word)?;
    let unit = unit(&words.get(i + 1)?.key)?;
    let mut amount = Amount::default();
    amount.add(unit, n);
    Some((amount, i + 2))
}

/// A duration at `i`, with an optional leading "in"; pieces may be joined by "and".
fn duration(words: &[Word], i: usize) -> Option<(Amount, usize)> {
    let start = if words.get(i)?.key == "in" { i + 1 } else { i };
    let (mut total, mut next) = piece(words, start)?;
    loop {
        let joined = words.get(next).is_some_and(|w| w.key == "and");
        let at = if joined { next + 1 } else { next };
        let Some((more, after)) = piece(words, at) else {
            return Some((total, next));
        };
        total.add(Unit::Week, more.weeks);
        total.add(Unit::Day, more.days);
        total.add(Unit::Hour, more.hours);
        total.add(Unit::Minute, more.minutes);
        total.add(Unit::Second, more.seconds);
        next = after;
    }
}

/// A day named at `i` (optionally after "on").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Day {
    Today,
    Tomorrow,
    Weekday(Weekday),
    Date(Date),
}

/// The day at `i`, a time if the same word carried one (`2026-12-24T18:00`),
/// and the index after it.
fn day(words: &[Word], i: usize) -> Result<Option<(Day, Option<Time>, usize)>, WhenError> {
    let Some(first) = words.get(i) else {
        return Ok(None);
    };
    let (i, word) = if first.key == "on" {
        match words.get(i + 1) {
            Some(w) => (i + 1, w.key.as_str()),
            None => return Ok(None),
        }
    } else {
        (i, first.key.as_str())
    };
    let named = match word {
        "today" => Some(Day::Today),
        "tomorrow" | "tmrw" | "tmr" => Some(Day::Tomorrow),
        _ => weekday(word).map(Day::Weekday),
    };
    if let Some(day) = named {
        return Ok(Some((day, None, i + 1)));
    }
    let (date, time) = match word.split_once('t') {
        Some((date, time)) if looks_like_date(date) => (date, Some(time)),
        _ => (word, None),
    };
    if !looks_like_date(date) {
        return Ok(None);
    }
    let date = iso_date(date).ok_or_else(|| WhenError::BadDate(date.to_owned()))?;
    let time = match time {
        Some(time) => {
            Some(clock_word(time, None)?.ok_or_else(|| WhenError::BadTime(time.to_owned()))?)
        }
        None => None,
    };
    Ok(Some((Day::Date(date), time, i + 1)))
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" | "tues" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    })
}

fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

/// `dddd-dd-dd` in shape (digits and dashes), whether or not it is a real date.
fn looks_like_date(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1..].iter().all(|p| (1..=2).contains(&p.len()))
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn iso_date(word: &str) -> Option<Date> {
    let mut parts = word.split('-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Date::new(year, month, day).ok()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

fn meridiem(word: &str) -> Option<Meridiem> {
    match word {
        "am" | "a.m." => Some(Meridiem::Am),
        "pm" | "p.m." => Some(Meridiem::Pm),
        _ => None,
    }
}

/// A time of day at `i`: `18:00`, `18.00`, `6pm`, `6:30 pm`, `noon`, and a bare
/// hour (`9`) when `bare` allows it (after "at" or a day).
fn clock(words: &[Word], i: usize, bare: bool) -> Result<Option<(Time, usize)>, WhenError> {
    let Some(word) = words.get(i) else {
        return Ok(None);
    };
    match word.key.as_str() {
        "noon" | "midday" => return Ok(Some((Time::constant(12, 0, 0, 0), i + 1))),
        "midnight" => return Ok(Some((Time::constant(0, 0, 0, 0), i + 1))),
        _ => {}
    }
    let next = words.get(i + 1).and_then(|w| meridiem(&w.key));
    let (text, half, used) = match ["am", "pm", "a.m.", "p.m."]
        .iter()
        .find_map(|suffix| word.key.strip_suffix(suffix).map(|t| (t, meridiem(suffix))))
    {
        Some((text, half)) if !text.is_empty() => (text, half, i + 1),
        _ if next.is_some() => (word.key.as_str(), next, i + 2),
        _ => (word.key.as_str(), None, i + 1),
    };
    let has_separator = text.contains([':', '.']);
    if !has_separator && half.is_none() && !bare {
        return Ok(None);
    }
    let shown = || {
        let said: Vec<&str> = words[i..used].iter().map(|w| w.key.as_str()).collect();
        WhenError::BadTime(said.join(" "))
    };
    let time = clock_word(text, half).map_err(|_| shown())?;
    Ok(time.map(|time| (time, used)))
}

/// `H`, `HH:MM`, `H.MM` or `HH:MM:SS`, with an optional am/pm. `None` if it
/// is not shaped like a time; an error if shaped like one but out of range.
fn clock_word(text: &str, half: Option<Meridiem>) -> Result<Option<Time>, WhenError> {
    let parts: Vec<&str> = text.split([':', '.']).collect();
    let shaped = match parts.as_slice() {
        [h] => (1..=2).contains(&h.len()),
        [h, m] => (1..=2).contains(&h.len()) && m.len() == 2,
        [h, m, s] => (1..=2).contains(&h.len()) && m.len() == 2 && s.len() == 2,
        _ => false,
    } && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !shaped {
        return Ok(None);
    }
    let bad = || WhenError::BadTime(text.to_owned());
    let number = |p: Option<&&str>| -> Result<i8, WhenError> {
        p.map_or(Ok(0), |p| p.parse().map_err(|_| bad()))
    };
    let mut hour = number(parts.first())?;
    let minute = number(parts.get(1))?;
    let second = number(parts.get(2))?;
    if let Some(half) = half {
        if !(1..=12).contains(&hour) {
            return Err(bad());
        }
        hour = match (half, hour) {
            (Meridiem::Am, 12) => 0,
            (Meridiem::Am, h) => h,
            (Meridiem::Pm, 12) => 12,
            (Meridiem::Pm, h) => h + 12,
        };
    }
    Time::new(hour, minute, second, 0)
        .map(Some)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Wednesday 2026-01-14 10:30:00 UTC.
    fn now() -> Timestamp {
        "2026-01-14T10:30:00Z".parse().unwrap()
    }

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    /// The due instant (RFC 3339, UTC) and the text, for `input` read in `tz`.
    fn read_in(input: &str, tz: &TimeZone) -> (String, String) {
        let when = parse(input, now(), tz, 366).unwrap_or_else(|e| panic!("{input}: {e}"));
        (when.due.timestamp().to_string(), when.text.to_owned())
    }

    fn due(input: &str) -> String {
        read_in(input, &utc()).0
    }

    fn error(input: &str) -> WhenError {
        parse(input, now(), &utc(), 366).expect_err(input)
    }

    #[test]
    fn compact_durations_count_from_now() {
        assert_eq!(due("10m tea"), "2026-01-14T10:40:00Z");
        assert_eq!(due("2h30m tea"), "2026-01-14T13:00:00Z");
        assert_eq!(due("1d tea"), "2026-01-15T10:30:00Z");
        assert_eq!(due("90s tea"), "2026-01-14T10:31:30Z");
        assert_eq!(due("1w tea"), "2026-01-21T10:30:00Z");
        assert_eq!(due("10min tea"), "2026-01-14T10:40:00Z");
        assert_eq!(due("2h 15m tea"), "2026-01-14T12:45:00Z");
        assert_eq!(due("1H30M tea"), "2026-01-14T12:00:00Z");
    }

    #[test]
    fn spoken_durations_count_from_now() {
        assert_eq!(due("in 10 minutes tea"), "2026-01-14T10:40:00Z");
        assert_eq!(due("in an hour tea"), "2026-01-14T11:30:00Z");
        assert_eq!(due("in 2 hours and 30 minutes tea"), "2026-01-14T13:00:00Z");
        assert_eq!(due("in 1 day, 2 hours tea"), "2026-01-15T12:30:00Z");
        assert_eq!(due("10 minutes tea"), "2026-01-14T10:40:00Z");
        assert_eq!(due("in 10m tea"), "2026-01-14T10:40:00Z");
    }

    #[test]
    fn the_text_is_what_follows_the_time() {
        assert_eq!(read_in("10m tea", &utc()).1, "tea");
        assert_eq!(
            read_in("10m   put the kettle on", &utc()).1,
            "put the kettle on"
        );
        assert_eq!(read_in("in 10 minutes to call Mum", &utc()).1, "call Mum");
        assert_eq!(read_in("10m: tea", &utc()).1, "tea");
        assert_eq!(read_in("10m - tea", &utc()).1, "tea");
        assert_eq!(read_in("10m and tea", &utc()).1, "and tea");
        assert_eq!(
            read_in("10m line one\nline two", &utc()).1,
            "line one\nline two"
        );
        assert_eq!(read_in("10m", &utc()).1, "");
        assert_eq!(
            read_in("10m Tomorrow's meeting", &utc()).1,
            "Tomorrow's meeting"
        );
    }

    #[test]
    fn a_time_of_day_is_its_next_occurrence() {
        assert_eq!(due("18:00 tea"), "2026-01-14T18:00:00Z");
        assert_eq!(
            due("9:00 tea"),
            "2026-01-15T09:00:00Z",
            "passed today: tomorrow"
        );
        assert_eq!(
            due("10:30 tea"),
            "2026-01-15T10:30:00Z",
            "now is not the future"
        );
        assert_eq!(due("6pm tea"), "2026-01-14T18:00:00Z");
        assert_eq!(due("6:30 pm tea"), "2026-01-14T18:30:00Z");
        assert_eq!(due("12am tea"), "2026-01-15T00:00:00Z");
        assert_eq!(due("12pm tea"), "2026-01-14T12:00:00Z");
        assert_eq!(due("at 9 tea"), "2026-01-15T09:00:00Z");
        assert_eq!(due("18.15 tea"), "2026-01-14T18:15:00Z");
        assert_eq!(due("noon tea"), "2026-01-14T12:00:00Z");
        assert_eq!(due("midnight tea"), "2026-01-15T00:00:00Z");
        assert_eq!(due("18:00:30 tea"), "2026-01-14T18:00:30Z");
    }

    #[test]
    fn days_and_dates_take_a_time() {
        assert_eq!(due("tomorrow 9:00 tea"), "2026-01-15T09:00:00Z");
        assert_eq!(due("tomorrow at 9 tea"), "2026-01-15T09:00:00Z");
        assert_eq!(due("Tomorrow 9am tea"), "2026-01-15T09:00:00Z");
        assert_eq!(due("9am tomorrow tea"), "2026-01-15T09:00:00Z");
        assert_eq!(due("today 18:00 tea"), "2026-01-14T18:00:00Z");
        assert_eq!(due("2026-12-24 18:00 tea"), "2026-12-24T18:00:00Z");
        assert_eq!(due("2026-12-24T18:00 tea"), "2026-12-24T18:00:00Z");
        assert_eq!(due("on 2026-12-24 at 6pm tea"), "2026-12-24T18:00:00Z");
    }

    #[test]
    fn a_weekday_is_the_next_one() {
        // Now is Wednesday 10:30.
        assert_eq!(due("friday 17:30 tea"), "2026-01-16T17:30:00Z");
        assert_eq!(due("on mon 9:00 tea"), "2026-01-19T09:00:00Z");
        assert_eq!(
            due("wednesday 18:00 tea"),
            "2026-01-14T18:00:00Z",
            "later today"
        );
        assert_eq!(
            due("wed 9:00 tea"),
            "2026-01-21T09:00:00Z",
            "passed: next week"
        );
    }

    #[test]
    fn times_are_read_in_the_users_zone() {
        // Berlin is UTC+1 in January, UTC+2 in July.
        assert_eq!(
            read_in("tomorrow 9:00 tea", &berlin()).0,
            "2026-01-15T08:00:00Z"
        );
        assert_eq!(
            read_in("2026-07-01 9:00 tea", &berlin()).0,
            "2026-07-01T07:00:00Z"
        );
        // 10:30 UTC is 11:30 in Berlin: 11:00 has passed there, 12:00 has not.
        assert_eq!(read_in("11:00 tea", &berlin()).0, "2026-01-15T10:00:00Z");
        assert_eq!(read_in("12:00 tea", &berlin()).0, "2026-01-14T11:00:00Z");
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        // 10:30 UTC is 19:30 on Wednesday in Tokyo; "today" is Wednesday there.
        assert_eq!(read_in("today 21:00 tea", &tokyo).0, "2026-01-14T12:00:00Z");
    }

    #[test]
    fn daylight_saving_gaps_and_durations_across_them() {
        // Berlin springs forward on 2026-03-29 at 02:00 → 03:00.
        let when = parse("2026-03-29 2:30 tea", now(), &berlin(), 366).unwrap();
        assert_eq!(when.due.timestamp().to_string(), "2026-03-29T01:30:00Z");
        // A day is a calendar day: 09:00 stays 09:00 across the change.
        let before: Timestamp = "2026-03-28T08:00:00Z".parse().unwrap();
        let when = parse("1d tea", before, &berlin(), 366).unwrap();
        assert_eq!(when.due.timestamp().to_string(), "2026-03-29T07:00:00Z");
        let when = parse("24h tea", before, &berlin(), 366).unwrap();
        assert_eq!(when.due.timestamp().to_string(), "2026-03-29T08:00:00Z");
    }

    #[test]
    fn unreadable_times_say_what_works() {
        let e = error("tea at five");
        assert_eq!(e, WhenError::Unreadable("tea at five".into()));
        let text = e.to_string();
        assert!(
            text.contains("2h30m") && text.contains("tomorrow 9:00"),
            "{text}"
        );
        assert!(matches!(error("5 things"), WhenError::Unreadable(_)));
        assert!(matches!(error("2.5 kg flour"), WhenError::Unreadable(_)));
        assert!(matches!(error("10x tea"), WhenError::Unreadable(_)));
        assert!(matches!(error(""), WhenError::Unreadable(_)));
    }

    #[test]
    fn a_day_without_a_time_asks_for_one() {
        assert_eq!(
            error("tomorrow buy milk"),
            WhenError::NoTime {
                day: "tomorrow".into()
            }
        );
        assert_eq!(
            error("on Friday buy milk").to_string(),
            "At what time on Friday? For example: /remind on Friday 9:00 <what>."
        );
        assert!(matches!(
            error("2026-12-24 party"),
            WhenError::NoTime { .. }
        ));
    }

    #[test]
    fn impossible_dates_and_times_are_named() {
        assert_eq!(
            error("2026-02-30 9:00 x"),
            WhenError::BadDate("2026-02-30".into())
        );
        assert_eq!(error("25:00 x"), WhenError::BadTime("25:00".into()));
        assert_eq!(error("tomorrow 9:75 x"), WhenError::BadTime("9:75".into()));
        assert_eq!(error("13pm x"), WhenError::BadTime("13pm".into()));
        assert_eq!(
            error("2026-12-24T99:00 x"),
            WhenError::BadTime("99:00".into())
        );
    }

    #[test]
    fn the_past_and_the_far_future_are_refused() {
        assert!(matches!(error("today 9:00 tea"), WhenError::Past(_)));
        assert_eq!(
            error("2025-12-24 18:00 tea").to_string(),
            "Wed 2025-12-24 18:00 UTC has already passed; give a time that is still to come."
        );
        assert!(matches!(error("0m tea"), WhenError::Past(_)));
        assert_eq!(error("367d tea"), WhenError::TooFar(366));
        assert!(parse("366d tea", now(), &utc(), 366).is_ok());
        assert_eq!(error("99999999999999999999d tea"), WhenError::TooFar(366));
        assert_eq!(error("2027-06-01 9:00 tea"), WhenError::TooFar(366));
        let short = parse("2d tea", now(), &utc(), 1).unwrap_err();
        assert_eq!(short, WhenError::TooFar(1));
    }
}
