//! Property tests of the Markdown → Telegram HTML renderer, checked with the
//! fake Bot API's HTML parser (Telegram's rules: known tags, balanced, no tags
//! inside code, no nested links or quotes, escaped text).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use natter_telegram::render::{html_to_plain, markdown_to_html};
use natter_test_support::telegram::parse_html;
use proptest::prelude::*;

/// Markdown-ish text: syntax pieces mixed with words and odd characters.
fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("**".to_owned()),
        Just("*".to_owned()),
        Just("_".to_owned()),
        Just("`".to_owned()),
        Just("```".to_owned()),
        Just("```rust\n".to_owned()),
        Just("~~".to_owned()),
        Just("[".to_owned()),
        Just("](https://example.com/a?b=1&c=2)".to_owned()),
        Just("](javascript:x)".to_owned()),
        Just("![".to_owned()),
        Just("]".to_owned()),
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just("&".to_owned()),
        Just("\"".to_owned()),
        Just("# ".to_owned()),
        Just("> ".to_owned()),
        Just("- ".to_owned()),
        Just("1. ".to_owned()),
        Just("- [x] ".to_owned()),
        Just("| a | b |\n|---|---|\n| c | d |\n".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("    ".to_owned()),
        Just("---\n".to_owned()),
        Just("<b>".to_owned()),
        Just("</i>".to_owned()),
        Just("&amp;".to_owned()),
        Just("<https://auto.link>".to_owned()),
        Just("\\".to_owned()),
        Just(" ".to_owned()),
        "[a-z]{1,8}",
        "\\PC{1,4}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_markdown_renders_to_valid_telegram_html(markdown in markdownish()) {
        let html = markdown_to_html(&markdown);
        let visible = parse_html(&html);
        prop_assert!(visible.is_ok(), "{markdown:?} → {html:?}: {visible:?}");
        // The plain-text fallback is exactly what Telegram would show.
        prop_assert_eq!(html_to_plain(&html), visible.unwrap());
    }

    #[test]
    fn text_without_markdown_is_shown_as_written(text in "[a-zA-Z😀ß][a-zA-Z0-9 <>&\"'.,!?😀ß]{0,60}") {
        let html = markdown_to_html(&text);
        prop_assert!(parse_html(&html).is_ok(), "{html:?}");
        let shown = html_to_plain(&html);
        prop_assert_eq!(
            shown.split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
    }

    #[test]
    fn code_is_shown_verbatim(code in "[ -_a-~]{1,60}") {
        let markdown = format!("```\n{code}\n```");
        let html = markdown_to_html(&markdown);
        let visible = parse_html(&html).unwrap();
        prop_assert_eq!(visible, code);
    }
}
