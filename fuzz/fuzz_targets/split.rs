//! Any text split at any limit (in characters or UTF-16 units): no panic, no
//! endless loop, every part fits (or is one character, the documented
//! exception), and without code fences (``` or ~~~) nothing but whitespace is lost.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use natter_core::delivery::split::split_all;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    text: &'a str,
    max: u16,
    utf16: bool,
}

fuzz_target!(|input: Input<'_>| {
    let max = usize::from(input.max % 512) + 1;
    let utf16 = input.utf16;
    let fits = move |s: &str| {
        if utf16 {
            s.encode_utf16().count() <= max
        } else {
            s.chars().count() <= max
        }
    };
    let parts = split_all(input.text, &fits);
    for part in &parts {
        assert!(
            fits(part) || part.chars().count() == 1,
            "{part:?} from {:?} at {max}",
            input.text
        );
    }
    if !input.text.contains("```") && !input.text.contains("~~~") {
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(squash(&parts.concat()), squash(input.text));
    }
});
