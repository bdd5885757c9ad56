//! Any text through the command parser: no panic, and what it accepts is a
//! valid command name with trimmed arguments that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_core::Command;

fuzz_target!(|text: &str| {
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
});
