//! Property tests for the command parser: no input makes it panic, and what
//! it accepts is a valid command name that reads back the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use natter_core::Command;
use proptest::prelude::*;

fn command_like() -> impl Strategy<Value = String> {
    (
        "[ \t\n]{0,2}",
        prop_oneof![Just("/"), Just("//"), Just("")],
        "[a-zA-Z0-9_\\-é@]{0,40}",
        prop_oneof![Just(""), Just("@natter_bot"), Just("@")],
        ".{0,40}",
    )
        .prop_map(|(lead, slash, name, bot, rest)| format!("{lead}{slash}{name}{bot}{rest}"))
}

fn check(text: &str) {
    let Some(command) = Command::parse(text) else {
        return;
    };
    assert!(
        !command.name.is_empty() && command.name.len() <= 32,
        "{text:?}: {command:?}"
    );
    assert!(
        command
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
        "{text:?}: {command:?}"
    );
    assert_eq!(command.args, command.args.trim(), "{text:?}");
    let again = Command::parse(&format!("/{} {}", command.name, command.args));
    assert_eq!(again.as_ref(), Some(&command), "{text:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn command_like_text_parses_to_valid_commands(text in command_like()) {
        check(&text);
    }

    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        check(&text);
    }
}
