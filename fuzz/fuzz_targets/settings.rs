//! Any settings file and `NATTER__` overrides through the settings loader: no
//! panic; every one loads or is refused with an error that says something.
//! Built only with `--features settings` (the natter crate links llama.cpp).
#![no_main]

use std::collections::BTreeMap;
use std::io::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use natter::settings::load_with_env;

/// Sections and keys natter knows, so values reach the typed checks.
const KEYS: [&str; 16] = [
    "ENGINE__MAX_PARALLEL",
    "ENGINE__MAX_QUEUE",
    "MODEL__BACKEND",
    "MODEL__TEMPERATURE",
    "MODEL__MAX_TOKENS",
    "MODEL__LLAMA__SLOTS",
    "MODEL__OPENAI__BASE_URL",
    "LIMITS__USER_MESSAGES_PER_MINUTE",
    "BUDGET__USER_DAILY_TOKENS",
    "LOG__LEVEL",
    "WEB__LISTEN",
    "TOOLS__MAX_STEPS",
    "PERSONA__DEFAULT",
    "STORE__URL",
    "TELEGRAM__ALLOWED_CHATS",
    "DISCORD__SHARDS",
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    toml: &'a str,
    overrides: Vec<(u8, &'a str)>,
}

fuzz_target!(|input: Input<'_>| {
    let Ok(mut file) = tempfile::Builder::new().suffix(".toml").tempfile() else {
        return;
    };
    if file.write_all(input.toml.as_bytes()).is_err() {
        return;
    }
    let env: BTreeMap<String, String> = input
        .overrides
        .iter()
        .map(|(key, value)| {
            let key = KEYS[usize::from(*key) % KEYS.len()];
            (format!("NATTER__{key}"), (*value).to_owned())
        })
        .collect();
    if let Err(error) = load_with_env(Some(file.path()), &env) {
        assert!(
            !error.to_string().trim().is_empty(),
            "{:?}: an empty error",
            input.toml
        );
    }
});
