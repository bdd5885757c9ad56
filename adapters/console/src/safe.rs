//! Text from the model (or a plugin) made safe for a terminal: control
//! characters — escape sequences that clear the screen, set the window title,
//! write the clipboard (OSC 52), move the cursor — are shown as visible
//! placeholders instead of being obeyed. Newlines and tabs stay.

/// `text` with every control character but `\n` and `\t` shown harmlessly:
/// C0 controls and DEL in caret notation (`ESC` → `^[`), C1 controls (which
/// some terminals also obey) as `U+FFFD`.
pub fn neutralise(text: &str) -> String {
    if !text.chars().any(is_dangerous) {
        return text.to_owned();
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{7f}' => safe.push_str("^?"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => {
                safe.push('^');
                safe.push(char::from(b'@' + c as u8));
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) => safe.push('\u{FFFD}'),
            c => safe.push(c),
        }
    }
    safe
}

fn is_dangerous(c: char) -> bool {
    let code = c as u32;
    (code < 0x20 && !matches!(c, '\n' | '\t')) || (0x7f..=0x9f).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        assert_eq!(
            neutralise("\u{1b}[2J\u{1b}]0;owned\u{7}hi"),
            "^[[2J^[]0;owned^Ghi"
        );
        assert_eq!(
            neutralise("\u{1b}]52;c;ZXZpbA==\u{1b}\\"),
            "^[]52;c;ZXZpbA==^[\\"
        );
        assert_eq!(
            neutralise("a\rb\u{8}c\u{7f}\u{9b}31m"),
            "a^Mb^Hc^?\u{FFFD}31m"
        );
    }

    #[test]
    fn ordinary_text_newlines_and_tabs_stay() {
        let text = "Line one\n\tindented — ünïcödé 😀";
        assert_eq!(neutralise(text), text);
    }
}
