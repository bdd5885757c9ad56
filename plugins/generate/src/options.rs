//! Parsing what follows `/write <kind>`: the topic words and the options
//! `--words N`, `--tone T`, `--lang L`, `--audience A`.
//!
//! Options may come anywhere, as `--tone wry` or `--tone=wry`; a value of
//! several words is quoted: `--tone "warm and wry"`. Phones that turn `--` into
//! a dash (`—tone`) are understood too. Every other word is the topic, in order.

/// The options of one `/write`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The topic: every word that is not an option.
    pub topic: String,
    /// `--words N`.
    pub words: Option<u32>,
    /// `--tone T`.
    pub tone: Option<String>,
    /// `--lang L` (or `--language`).
    pub lang: Option<String>,
    /// `--audience A`.
    pub audience: Option<String>,
}

/// One line describing the options, for usage messages.
pub const OPTIONS_HELP: &str = "Options: --words N, --tone T, --lang L, --audience A \
(quote values of several words: --tone \"warm and wry\").";

/// Parses `args` (the text after the kind). `max_words` bounds `--words`.
/// The error is a sentence for the user.
pub fn parse(args: &str, max_words: u32) -> Result<Options, String> {
    let mut options = Options::default();
    let mut topic: Vec<&str> = Vec::new();
    let mut words = args.split_whitespace();
    while let Some(word) = words.next() {
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('—')) else {
            topic.push(word);
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        let first = match inline {
            Some(value) if !value.is_empty() => Some(value),
            _ => words.next(),
        };
        let value = first
            .map(|first| quoted(first, &mut words))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("--{name} needs a value. {OPTIONS_HELP}"))?;
        match name.to_ascii_lowercase().as_str() {
            "words" => {
                let n = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max_words).contains(n))
                    .ok_or_else(|| format!("--words takes a number from 1 to {max_words}."))?;
                options.words = Some(n);
            }
            "tone" => options.tone = Some(value),
            "lang" | "language" => options.lang = Some(value),
            "audience" => options.audience = Some(value),
            _ => return Err(format!("Unknown option --{name}. {OPTIONS_HELP}")),
        }
    }
    options.topic = topic.join(" ");
    Ok(options)
}

/// A value that may be quoted over several words: `"warm` `and` `wry"`.
fn quoted<'a>(first: &'a str, rest: &mut impl Iterator<Item = &'a str>) -> String {
    let open = ['"', '“', '«', '\''];
    let close = ['"', '”', '»', '\''];
    let Some(body) = first.strip_prefix(open) else {
        return first.to_owned();
    };
    if let Some(done) = body.strip_suffix(close) {
        return done.to_owned();
    }
    let mut value = body.to_owned();
    for word in rest.by_ref() {
        value.push(' ');
        if let Some(last) = word.strip_suffix(close) {
            value.push_str(last);
            return value;
        }
        value.push_str(word);
    }
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn options_anywhere_topic_in_order() {
        let o = parse("--tone wry the sea --words 80 at night --lang=French", 3000).unwrap();
        assert_eq!(o.topic, "the sea at night");
        assert_eq!(o.words, Some(80));
        assert_eq!(o.tone.as_deref(), Some("wry"));
        assert_eq!(o.lang.as_deref(), Some("French"));
        assert_eq!(o.audience, None);
    }

    #[test]
    fn quoted_values_and_dashes() {
        let o = parse(
            "cats --tone \"warm and wry\" —audience “young readers”",
            3000,
        )
        .unwrap();
        assert_eq!(o.topic, "cats");
        assert_eq!(o.tone.as_deref(), Some("warm and wry"));
        assert_eq!(o.audience.as_deref(), Some("young readers"));
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(
            parse("x --words many", 3000)
                .unwrap_err()
                .contains("1 to 3000")
        );
        assert!(
            parse("x --words 5000", 3000)
                .unwrap_err()
                .contains("1 to 3000")
        );
        assert!(
            parse("x --tone", 3000)
                .unwrap_err()
                .starts_with("--tone needs a value")
        );
        assert!(
            parse("x --style odd", 3000)
                .unwrap_err()
                .starts_with("Unknown option --style")
        );
    }
}
