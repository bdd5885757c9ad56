//! The names servers' tools are offered under: `<server>_<tool>`, made valid
//! for every model (see [`natter_core::tool::is_valid_tool_name`]).
//!
//! - A character outside `a-z A-Z 0-9 _ -` becomes `_`
//!   (`files` + `read.file` → `files_read_file`).
//! - A name longer than 64 characters keeps its first 55 and ends in `_`
//!   and 8 hex digits of a hash of the full original name, so it stays the
//!   same from run to run and differs from its neighbours'.
//! - When two tools come out with the same name, the first (servers by name,
//!   each server's tools in its order) keeps it and the later one gets the
//!   hash suffix too.

use std::collections::HashSet;

/// Longest name every backend accepts.
const MAX_NAME: usize = 64;
/// `_` and 8 hex digits.
const SUFFIX: usize = 9;

/// The offered names of `tools`, given as (server, the server's tool name)
/// in their order; one name per tool, in the same order, all different.
pub(crate) fn offered_names<'a>(
    tools: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut taken = HashSet::new();
    tools
        .into_iter()
        .map(|(server, tool)| {
            let original = format!("{server}_{tool}");
            let clean = sanitise(&original);
            let mut name = if clean.len() <= MAX_NAME {
                clean.clone()
            } else {
                hashed(&clean, &original)
            };
            let mut attempt = 0u32;
            while taken.contains(&name) {
                attempt += 1;
                name = hashed(&clean, &format!("{original}#{attempt}"));
            }
            taken.insert(name.clone());
            name
        })
        .collect()
}

/// Every character a model does not accept replaced by `_`.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `clean` cut to fit, with a suffix hashed from `seed`.
fn hashed(clean: &str, seed: &str) -> String {
    // `clean` is ASCII, so any byte index is a character boundary.
    let keep = clean.len().min(MAX_NAME - SUFFIX);
    format!("{}_{:08x}", &clean[..keep], fnv1a(seed))
}

/// 32-bit FNV-1a: small, and the same on every platform and Rust version.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use natter_core::tool::is_valid_tool_name;

    use super::*;

    #[test]
    fn plain_names_are_server_underscore_tool() {
        assert_eq!(
            offered_names([("files", "read"), ("files", "search-all"), ("web", "read")]),
            ["files_read", "files_search-all", "web_read"]
        );
    }

    #[test]
    fn other_characters_become_underscores() {
        assert_eq!(
            offered_names([("my files", "read.file"), ("wörk", "x/y")]),
            ["my_files_read_file", "w_rk_x_y"]
        );
    }

    #[test]
    fn long_names_are_cut_with_a_stable_hash() {
        let long_a = format!("{}_a", "x".repeat(70));
        let long_b = format!("{}_b", "x".repeat(70));
        let names = offered_names([("s", long_a.as_str()), ("s", long_b.as_str())]);
        assert!(
            names.iter().all(|n| n.len() == 64 && is_valid_tool_name(n)),
            "{names:?}"
        );
        assert_ne!(names[0], names[1]);
        assert!(names[0].starts_with(&format!("s_{}", "x".repeat(53))));
        assert_eq!(
            names,
            offered_names([("s", long_a.as_str()), ("s", long_b.as_str())])
        );
        // Exactly 64 is kept as it is.
        let exact = "y".repeat(62);
        assert_eq!(
            offered_names([("s", exact.as_str())]),
            [format!("s_{exact}")]
        );
    }

    #[test]
    fn collisions_are_made_unique_and_the_first_keeps_its_name() {
        let names = offered_names([("a", "b.c"), ("a", "b_c"), ("a_b", "c"), ("a", "d")]);
        assert_eq!(names[0], "a_b_c");
        assert!(
            names[1].starts_with("a_b_c_") && names[1].len() == 14,
            "{names:?}"
        );
        assert!(
            names[2].starts_with("a_b_c_") && names[2] != names[1],
            "{names:?}"
        );
        assert_eq!(names[3], "a_d");
        assert!(names.iter().all(|n| is_valid_tool_name(n)));
    }

    #[test]
    fn the_hash_is_fnv1a() {
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }
}
