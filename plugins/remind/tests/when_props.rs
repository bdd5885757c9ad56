//! Property tests for the reminder time parser: no input makes it panic, and
//! whatever it accepts lies in the future, within `max_days_ahead`, with the
//! reminder's text taken from the end of the input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::Timestamp;
use jiff::tz::TimeZone;
use natter_plugin_remind::when::parse;
use proptest::prelude::*;

/// Words a time is made of, mixed with noise, so many inputs get deep into
/// the parser instead of failing at the first word.
fn time_like() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[0-9]{1,20}",
        "[0-9]{1,6}(s|m|h|d|w|min|mins|hours|days|weeks|H|M)",
        "[0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?",
        "[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}",
        "[0-9]{1,2}(am|pm|AM|PM)",
        Just("in".to_owned()),
        Just("at".to_owned()),
        Just("on".to_owned()),
        Just("to".to_owned()),
        Just("and".to_owned()),
        Just("tomorrow".to_owned()),
        Just("today".to_owned()),
        Just("next".to_owned()),
        Just("minutes".to_owned()),
        Just("monday".to_owned()),
        Just("friday".to_owned()),
        Just("noon".to_owned()),
        Just("midnight".to_owned()),
        Just("-".to_owned()),
        Just("—".to_owned()),
        ".{0,8}",
    ];
    prop::collection::vec(word, 0..8).prop_map(|words| words.join(" "))
}

fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::UTC),
        Just(TimeZone::get("Europe/Berlin").unwrap()),
        Just(TimeZone::get("America/St_Johns").unwrap()),
        Just(TimeZone::get("Pacific/Kiritimati").unwrap()),
        Just(TimeZone::get("Pacific/Pago_Pago").unwrap()),
    ]
}

/// Any instant from 1970 to 2100, where jiff's range leaves room ahead.
fn now() -> impl Strategy<Value = Timestamp> {
    (0i64..4_102_444_800).prop_map(|secs| Timestamp::from_second(secs).unwrap())
}

fn check(input: &str, now: Timestamp, tz: &TimeZone, max_days_ahead: u32) {
    if let Ok(when) = parse(input, now, tz, max_days_ahead) {
        let due = when.due.timestamp();
        assert!(due > now, "{input:?}: due {due} is not after {now}");
        let ahead_ms = due.as_millisecond() - now.as_millisecond();
        assert!(
            ahead_ms <= i64::from(max_days_ahead) * 86_400_000,
            "{input:?}: due {due} is more than {max_days_ahead} days after {now}"
        );
        assert!(
            input.trim_end().ends_with(when.text),
            "{input:?}: text {:?} is not the end of the input",
            when.text
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn time_like_input_never_panics_and_accepted_times_are_in_range(
        input in time_like(),
        now in now(),
        tz in zone(),
        max_days_ahead in prop_oneof![Just(0u32), 1u32..400, Just(u32::MAX)],
    ) {
        check(&input, now, &tz, max_days_ahead);
    }

    #[test]
    fn any_text_never_panics(input in any::<String>(), now in now(), tz in zone()) {
        check(&input, now, &tz, 366);
    }
}
