//! Property tests for the settings loader: no file and no `NATTER__`
//! override makes it panic; every one loads or is refused with an error that
//! names what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;

use natter::settings::load_with_env;
use proptest::prelude::*;

/// Sections and keys natter knows, so values reach the typed checks.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("engine.max_parallel"),
        Just("engine.max_queue"),
        Just("model.backend"),
        Just("model.temperature"),
        Just("model.max_tokens"),
        Just("model.fallback"),
        Just("model.llama.slots"),
        Just("model.llama.tools"),
        Just("model.openai.base_url"),
        Just("limits.user_messages_per_minute"),
        Just("budget.user_daily_tokens"),
        Just("log.level"),
        Just("web.listen"),
        Just("tools.max_steps"),
        Just("persona.default"),
        Just("store.url"),
        Just("telegram.allowed_chats"),
        Just("nonsense.key"),
    ]
    .prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,25}",
        "-?[0-9]{1,3}\\.[0-9]{1,3}",
        Just("true".to_owned()),
        Just("\"\"".to_owned()),
        "\"[a-z:/0-9.=,]{0,20}\"",
        Just("[\"local\", \"smart\"]".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        ".{0,12}",
    ]
}

fn settings_file() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), value()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| {
                let (section, name) = key.rsplit_once('.').unwrap();
                format!("[{section}]\n{name} = {value}\n")
            })
            .collect()
    })
}

fn load(toml: &str, overrides: &[(String, String)]) {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    let env: BTreeMap<String, String> = overrides.iter().cloned().collect();
    if let Err(error) = load_with_env(Some(file.path()), &env) {
        assert!(
            !error.to_string().trim().is_empty(),
            "{toml:?}: an empty error"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn settings_files_load_or_are_refused(toml in settings_file()) {
        load(&toml, &[]);
    }

    #[test]
    fn arbitrary_files_load_or_are_refused(toml in any::<String>()) {
        load(&toml, &[]);
    }

    #[test]
    fn overrides_load_or_are_refused(key in key(), value in ".{0,16}") {
        let name = format!("NATTER__{}", key.replace('.', "__").to_uppercase());
        load("", &[(name, value)]);
    }
}
