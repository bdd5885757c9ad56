//! Splitting text into messages a platform accepts.
//!
//! Cuts fall on the last paragraph break that fits, else a line break, a
//! sentence end, a space, and only as a last resort inside a word. A cut inside
//! a fenced code block closes the fence in the first part and reopens it (with
//! its language) in the next. Nothing is dropped but the whitespace at a cut.

/// Splits `text` into parts that each satisfy `fits`.
///
/// `fits` must be monotonic: if a text fits, so does any prefix of it. A single
/// character that does not fit is still emitted alone, so splitting always ends.
pub fn split_all(text: &str, fits: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.to_owned();
    while let Some((head, tail)) = split_once(&rest, fits) {
        parts.push(head);
        rest = tail;
    }
    if !rest.trim().is_empty() || parts.is_empty() {
        parts.push(rest);
    }
    parts
}

/// The first part of `text` and the rest, or `None` when `text` fits whole.
pub fn split_once(text: &str, fits: &dyn Fn(&str) -> bool) -> Option<(String, String)> {
    if fits(text) {
        return None;
    }
    let mut limit = longest_fitting_prefix(text, fits);
    loop {
        let cut = best_cut(text, limit);
        let (mut head, mut rest) = cut_at(text, cut);
        if let Some(opener) = open_fence(&head) {
            let reopened = format!("{opener}\n{rest}");
            // Reopening must leave less to split, or splitting would never
            // end: when the head holds little more than the fence's opening
            // line, the cut is made as in plain text.
            if reopened.len() < text.len() {
                head.push('\n');
                head.push_str(closing(&opener));
                rest = reopened;
            }
        }
        let first_char_end = text.chars().next().map_or(text.len(), char::len_utf8);
        if fits(&head) || limit <= first_char_end {
            if head.trim().is_empty() {
                // Only whitespace before the cut: drop it and go on with the rest.
                return Some((
                    text[..first_char_end].to_owned(),
                    text[first_char_end..].to_owned(),
                ));
            }
            return Some((head, rest));
        }
        // Closing the fence made the head too long: look for an earlier cut.
        limit = floor_char_boundary(text, cut.end.saturating_sub(1)).max(first_char_end);
    }
}

/// Where to cut: `end` is where the first part ends, `resume` where the rest begins.
#[derive(Clone, Copy, Debug)]
struct Cut {
    end: usize,
    resume: usize,
}

/// The largest char boundary `e` where `text[..e]` fits (with its code fence
/// closed, if it ends inside one); at least one character, so splitting always
/// progresses.
fn longest_fitting_prefix(text: &str, fits: &dyn Fn(&str) -> bool) -> usize {
    let bounds: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    let probe = |end: usize| {
        let head = &text[..end];
        match open_fence(head) {
            Some(opener) => fits(&format!("{head}\n{}", closing(&opener))),
            None => fits(head),
        }
    };
    // Binary search for the last boundary that fits.
    let (mut lo, mut hi) = (0usize, bounds.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if probe(bounds[mid]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    match lo {
        0 => bounds.first().copied().unwrap_or(text.len()),
        n => bounds[n - 1],
    }
}

/// The most natural cut at or before `limit`, preferring one that keeps at
/// least 30% of the allowed length in the first part.
fn best_cut(text: &str, limit: usize) -> Cut {
    let window = &text[..limit];
    let min = limit * 3 / 10;
    let good = |pos: Option<usize>| pos.filter(|&p| p > 0 && p >= min);

    if let Some(p) = good(window.rfind("\n\n")) {
        return Cut {
            end: p,
            resume: skip_while(text, p, |c| c == '\n' || c == '\r'),
        };
    }
    if let Some(p) = good(window.rfind('\n')) {
        return Cut {
            end: p,
            resume: skip_while(text, p, |c| c == '\n' || c == '\r'),
        };
    }
    if let Some(p) = good(last_sentence_end(text, limit)) {
        return Cut {
            end: p,
            resume: skip_while(text, p, |c| c == ' ' || c == '\t'),
        };
    }
    if let Some(p) = good(window.rfind([' ', '\t'])) {
        return Cut {
            end: p,
            resume: skip_while(text, p, |c| c == ' ' || c == '\t'),
        };
    }
    Cut {
        end: limit,
        resume: limit,
    }
}

/// The end of the last sentence (after `.`, `!`, `?` or `…` followed by
/// whitespace) that ends at or before `limit`.
fn last_sentence_end(text: &str, limit: usize) -> Option<usize> {
    text[..limit]
        .char_indices()
        .filter(|&(i, c)| {
            matches!(c, '.' | '!' | '?' | '…' | '。')
                && text[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_whitespace)
        })
        .map(|(i, c)| i + c.len_utf8())
        .next_back()
}

fn skip_while(text: &str, from: usize, skip: impl Fn(char) -> bool) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !skip(c))
        .map_or(text.len(), |(i, _)| from + i)
}

fn cut_at(text: &str, cut: Cut) -> (String, String) {
    (
        text[..cut.end].trim_end().to_owned(),
        text[cut.resume..].to_owned(),
    )
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The line that closes the fence `opener` opened: a `~~~` fence is not
/// closed by backticks.
fn closing(opener: &str) -> &'static str {
    if opener.starts_with("~~~") {
        "~~~"
    } else {
        "```"
    }
}

/// If `text` ends inside a fenced code block, the line that opened it.
pub fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent > 3 {
            continue;
        }
        let marker = if trimmed.starts_with("```") {
            "```"
        } else if trimmed.starts_with("~~~") {
            "~~~"
        } else {
            continue;
        };
        match open {
            None => open = Some(trimmed.trim_end()),
            Some(opener) if opener.starts_with(marker) && trimmed.trim_end() == marker => {
                open = None;
            }
            Some(_) => {}
        }
    }
    open.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_chars(n: usize) -> impl Fn(&str) -> bool {
        move |s: &str| s.chars().count() <= n
    }

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_all("hello", &max_chars(10)), vec!["hello"]);
        assert_eq!(split_once("hello", &max_chars(10)), None);
    }

    #[test]
    fn prefers_paragraph_breaks() {
        let text = "First paragraph here.\n\nSecond one, a bit longer than the first.";
        let parts = split_all(text, &max_chars(40));
        assert_eq!(
            parts,
            vec![
                "First paragraph here.",
                "Second one, a bit longer than the first."
            ]
        );
    }

    #[test]
    fn falls_back_to_sentences_then_words() {
        let text = "One sentence. Another sentence that is long.";
        let parts = split_all(text, &max_chars(30));
        assert_eq!(parts[0], "One sentence.");
        let words = "alpha beta gamma delta epsilon";
        let parts = split_all(words, &max_chars(12));
        assert!(parts.iter().all(|p| p.chars().count() <= 12), "{parts:?}");
        assert_eq!(parts.join(" "), words);
    }

    #[test]
    fn hard_cut_inside_a_long_word() {
        let parts = split_all(&"x".repeat(25), &max_chars(10));
        assert_eq!(parts, vec!["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
    }

    #[test]
    fn code_fence_is_closed_and_reopened() {
        let code: String = (0..20).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("Here:\n\n```rust\n{code}```\nDone.");
        let parts = split_all(&text, &max_chars(120));
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.chars().count() <= 120, "{part}");
            assert_eq!(open_fence(part), None, "unbalanced fence in {part:?}");
        }
        assert!(parts[1].starts_with("```rust\n"), "{:?}", parts[1]);
    }

    #[test]
    fn a_tilde_fence_is_closed_with_tildes() {
        let text = "~~~py\nprint(1)\nprint(2)\nprint(3)\n~~~\nafter";
        let parts = split_all(text, &max_chars(20));
        assert_eq!(
            parts,
            [
                "~~~py\nprint(1)\n~~~",
                "~~~py\nprint(2)\n~~~",
                "~~~py\nprint(3)\n~~~",
                "after"
            ]
        );
    }

    /// Found by the `split` fuzz target: a cut just after the fence's opening
    /// line reopened the fence in front of the same rest, for ever.
    #[test]
    fn a_fence_opener_long_for_the_limit_still_ends() {
        for text in [
            "b\n~~~x\ncode code code code\nmore",
            "```x\ncode code code code\nmore",
            "```a-very-long-language-name\ncode\ncode",
            "\u{b}b\n~~~\u{1}\u{e}\0\0`\u{2}\0\u{8}:",
        ] {
            for max in 1..40 {
                let parts = split_all(text, &max_chars(max));
                for part in &parts {
                    assert!(part.chars().count() <= max, "{text:?} at {max}: {part:?}");
                }
            }
        }
    }

    #[test]
    fn multibyte_text_never_splits_inside_a_char() {
        let text = "😀".repeat(30);
        let parts = split_all(&text, &max_chars(7));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn open_fence_tracks_state() {
        assert_eq!(open_fence("a\n```py\nx"), Some("```py".into()));
        assert_eq!(open_fence("a\n```py\nx\n```\n"), None);
        assert_eq!(open_fence("no fence"), None);
    }
}
