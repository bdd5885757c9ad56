//! Property tests for the splitter: every part fits, nothing is lost or
//! reordered, and code fences stay balanced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use natter_core::delivery::split::{open_fence, split_all};
use proptest::prelude::*;

fn text_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z]{1,12}",
        Just(" ".to_owned()),
        Just(". ".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        "[é😀ß中]{1,3}",
        "[a-z]{30,60}",
    ];
    prop::collection::vec(piece, 0..120).prop_map(|v| v.concat())
}

fn fenced_strategy() -> impl Strategy<Value = String> {
    (
        text_strategy(),
        prop_oneof![Just("```"), Just("~~~")],
        prop::collection::vec("[a-z =;]{0,30}", 1..40),
        text_strategy(),
    )
        .prop_map(|(before, fence, code, after)| {
            format!(
                "{before}\n{fence}rust\n{}\n{fence}\n{after}",
                code.join("\n")
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn parts_fit_and_keep_every_character(text in text_strategy(), max in 5usize..200) {
        let fits = |s: &str| s.chars().count() <= max;
        let parts = split_all(&text, &fits);
        for part in &parts {
            prop_assert!(fits(part), "part of {} chars > {max}", part.chars().count());
        }
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        prop_assert_eq!(squash(&parts.concat()), squash(&text));
    }

    #[test]
    fn fences_are_balanced_in_every_part(text in fenced_strategy(), max in 40usize..300) {
        let fits = |s: &str| s.chars().count() <= max;
        let parts = split_all(&text, &fits);
        for part in &parts {
            prop_assert!(fits(part), "{part:?}");
            prop_assert_eq!(open_fence(part), None, "unclosed fence in {:?}", part);
        }
        // Everything but the fence lines survives, in order.
        let content = |s: &str| -> String {
            s.lines()
                .filter(|l| !l.starts_with("```") && !l.starts_with("~~~"))
                .flat_map(str::chars)
                .filter(|c| !c.is_whitespace())
                .collect()
        };
        prop_assert_eq!(content(&parts.join("\n")), content(&text));
    }

    #[test]
    fn utf16_limits_are_respected(text in text_strategy(), max in 4usize..100) {
        let fits = |s: &str| s.encode_utf16().count() <= max;
        for part in split_all(&text, &fits) {
            prop_assert!(fits(&part));
        }
    }
}
