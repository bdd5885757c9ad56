//! Suites that need what a machine may lack — a Postgres server, the local
//! model file — decided in one place. Outside CI a test without its
//! prerequisite says `SKIPPED …` and passes; under CI (`CI=true`, as CI
//! systems set it) it fails, saying what is missing and how to provide it, so
//! a green CI run means every suite ran.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable naming a Postgres server tests may create schemas in.
pub const POSTGRES_ENV: &str = "NATTER_TEST_POSTGRES_URL";

/// True when running under CI: `CI` is `true` (or `1`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `found`, or — when it is `None` — a failure under CI and a `SKIPPED` note
/// elsewhere. `missing` says what is missing, `remedy` how to provide it.
pub fn require<T>(found: Option<T>, test: &str, missing: &str, remedy: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    assert!(
        !under_ci(),
        "{test}: {missing}; under CI=true that fails instead of skipping. {remedy}"
    );
    // Straight to stderr, past the test harness's capture, so a plain
    // `cargo test` shows what did not run.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {missing}. {remedy}");
    None
}

/// The Postgres URL from [`POSTGRES_ENV`] (see [`require`]).
pub fn postgres_url(test: &str) -> Option<String> {
    let url = std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty());
    require(
        url,
        test,
        &format!("{POSTGRES_ENV} is not set"),
        &format!(
            "Run scripts/test.sh (it starts the local PostgreSQL server and sets it) or set \
             {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test"
        ),
    )
}

/// `path` if it is a file, the model the local-model tests run on (see [`require`]).
pub fn model_file(test: &str, path: &Path) -> Option<PathBuf> {
    require(
        Some(path.to_owned()).filter(|p| p.is_file()),
        test,
        &format!("the model file {} is missing", path.display()),
        "Run scripts/fetch-model.sh (scripts/test.sh does) to fetch it.",
    )
}
