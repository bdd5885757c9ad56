//! Any text as the model's Markdown, rendered to Telegram HTML: no panic, the
//! HTML is valid for Telegram's parser (as the fake Bot API checks it), and
//! the plain-text fallback shows exactly what Telegram would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_telegram::render::{html_to_plain, markdown_to_html};
use natter_test_support::telegram::parse_html;

fuzz_target!(|markdown: &str| {
    let html = markdown_to_html(markdown);
    let visible = match parse_html(&html) {
        Ok(visible) => visible,
        Err(e) => panic!("{markdown:?} → {html:?}: {e}"),
    };
    assert_eq!(html_to_plain(&html), visible, "{markdown:?} → {html:?}");
});
