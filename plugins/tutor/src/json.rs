//! Finding a JSON object in what a model wrote. Small local models wrap JSON in
//! prose ("Sure! Here it is: {…}"), in Markdown code fences, or add trailing
//! commas and curly quotes; this takes the first object that parses after
//! small repairs.

use serde_json::{Map, Value};

/// Most `{` positions tried, so a long reply full of braces stays cheap.
const MAX_CANDIDATES: usize = 32;

/// The first JSON object in `text`, if any.
pub fn extract_object(text: &str) -> Option<Map<String, Value>> {
    let text = text.trim();
    if let Some(object) = parse_object(text) {
        return Some(object);
    }
    for (start, _) in text.match_indices('{').take(MAX_CANDIDATES) {
        if let Some(end) = balanced_end(&text[start..])
            && let Some(object) = parse_object(&text[start..start + end])
        {
            return Some(object);
        }
    }
    None
}

/// The value of the first of `names` present (keys compared case-insensitively),
/// as trimmed text; numbers and booleans are written out.
pub fn field(object: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let value = object
            .iter()
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value)?;
        let text = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null | Value::Object(_) => return None,
        };
        (!text.is_empty()).then_some(text)
    })
}

fn parse_object(candidate: &str) -> Option<Map<String, Value>> {
    let attempt = |s: &str| match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    };
    attempt(candidate).or_else(|| attempt(&repair(candidate)))
}

/// Curly quotes to straight ones, trailing commas removed.
fn repair(candidate: &str) -> String {
    let straight: String = candidate
        .chars()
        .map(|c| match c {
            '“' | '”' => '"',
            c => c,
        })
        .collect();
    let mut out = String::with_capacity(straight.len());
    let mut chars = straight.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            let rest: String = chars.clone().take_while(|c| c.is_whitespace()).collect();
            let after = chars.clone().nth(rest.chars().count());
            if matches!(after, Some('}' | ']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The length of the `{…}` at the start of `text`, minding strings.
fn balanced_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"' | '”') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '“' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + c.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` without a surrounding Markdown code fence.
pub fn strip_fences(text: &str) -> String {
    let trimmed = text.trim();
    let Some(inner) = trimmed.strip_prefix("```") else {
        return trimmed.to_owned();
    };
    let inner = inner.split_once('\n').map_or("", |(_lang, body)| body);
    inner.trim_end().trim_end_matches("```").trim().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn question(text: &str) -> Option<String> {
        extract_object(text).and_then(|o| field(&o, &["question"]))
    }

    #[test]
    fn finds_objects_however_wrapped() {
        let plain = r#"{"question": "2+2?", "answer": 4}"#;
        assert_eq!(question(plain).as_deref(), Some("2+2?"));
        let prose = format!("Sure! Here is your question:\n{plain}\nGood luck!");
        assert_eq!(question(&prose).as_deref(), Some("2+2?"));
        let fenced = format!("```json\n{plain}\n```");
        assert_eq!(question(&fenced).as_deref(), Some("2+2?"));
        let sloppy = "{“question”: “What is {x}?”, “answer”: “y”,\n}";
        assert_eq!(question(sloppy).as_deref(), Some("What is {x}?"));
        let o = extract_object(plain).unwrap();
        assert_eq!(field(&o, &["Answer"]).as_deref(), Some("4"));
    }

    #[test]
    fn nothing_to_find() {
        assert!(extract_object("no json here").is_none());
        assert!(extract_object("{ broken").is_none());
        assert!(extract_object("[1, 2]").is_none());
        assert!(question(r#"{"question": "  "}"#).is_none());
    }

    #[test]
    fn fences_come_off() {
        assert_eq!(strip_fences("```\nWhat is 2+2?\n```"), "What is 2+2?");
        assert_eq!(strip_fences("  plain  "), "plain");
    }
}
