//! Any text as the start of `/remind`'s arguments, at any instant from 1970 to
//! 2100, in zones with odd offsets and date-line jumps: no panic, and a time it
//! accepts is in the future, within `max_days_ahead`, the reminder's text
//! taken from the end of the input.
#![no_main]

use arbitrary::Arbitrary;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;
use natter_plugin_remind::when::parse;

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/St_Johns",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    input: &'a str,
    now: u32,
    zone: u8,
    max_days_ahead: u32,
}

fuzz_target!(|input: Input<'_>| {
    // 1970 to 2106, where jiff's range leaves room ahead.
    let Ok(now) = Timestamp::from_second(i64::from(input.now)) else {
        return;
    };
    let Ok(tz) = TimeZone::get(ZONES[usize::from(input.zone) % ZONES.len()]) else {
        return;
    };
    let Ok(when) = parse(input.input, now, &tz, input.max_days_ahead) else {
        return;
    };
    let due = when.due.timestamp();
    assert!(due > now, "{:?}: due {due} is not after {now}", input.input);
    let ahead_ms = due.as_millisecond() - now.as_millisecond();
    assert!(
        ahead_ms <= i64::from(input.max_days_ahead) * 86_400_000,
        "{:?}",
        input.input
    );
    assert!(
        input.input.trim_end().ends_with(when.text),
        "{:?}",
        input.input
    );
});
