//! The README stays true: every plugin settings example in it is accepted by
//! `natter check`, as a user pasting it into their `natter.toml` would see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

const README: &str = include_str!("../README.md");

/// The ```toml blocks of the README that configure a plugin.
fn plugin_examples() -> Vec<&'static str> {
    README
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.trim_start().starts_with("[plugins."))
        .collect()
}

#[test]
fn every_plugin_example_in_the_readme_is_valid() {
    let examples = plugin_examples();
    assert!(examples.len() >= 3, "found {} examples", examples.len());
    for example in examples {
        let dir = tempfile::tempdir().unwrap();
        // The support example names a docs folder relative to where natter runs.
        std::fs::create_dir(dir.path().join("support-docs")).unwrap();
        std::fs::write(
            dir.path().join("support-docs/hours.md"),
            "# Opening hours\n\nWe are open 9 to 5.\n",
        )
        .unwrap();
        let config = dir.path().join("natter.toml");
        std::fs::write(
            &config,
            format!("[store]\nurl = \"memory\"\n\n[model]\nbackend = \"openai\"\n\n{example}"),
        )
        .unwrap();
        let output = common::isolate(&mut Command::new(env!("CARGO_BIN_EXE_natter")))
            .arg("--config")
            .arg(&config)
            .arg("check")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "README example rejected:\n{example}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
