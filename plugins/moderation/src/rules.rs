//! One compiled rule set: words and patterns turned into regexes once, at
//! start-up, and what to do when they match.

use std::ops::Range;

use regex::Regex;

use crate::error::ModerationError;
use crate::settings::Action;

/// How many whitespace characters a space in a phrase stands for, at most.
/// Bounded, so the longest text a phrase can match is known (see
/// [`RuleSet::longest_word`]).
const MAX_GAP: usize = 4;

/// Words and patterns, compiled.
#[derive(Debug)]
pub(crate) struct RuleSet {
    /// One regex for all the words (if any), then one per pattern.
    matchers: Vec<Regex>,
    action: Action,
    longest_word: usize,
    has_patterns: bool,
}

impl RuleSet {
    /// Compiles `words` and `patterns`; `at` names them in errors
    /// (e.g. `output`, `channels."discord:1".input`).
    pub(crate) fn new(
        at: &str,
        words: &[String],
        patterns: &[String],
        action: Action,
    ) -> Result<Self, ModerationError> {
        let mut matchers = Vec::with_capacity(patterns.len() + 1);
        let mut longest_word = 0;
        if !words.is_empty() {
            let mut alternatives = Vec::with_capacity(words.len());
            for word in words {
                let (pattern, longest) =
                    word_pattern(word).ok_or_else(|| ModerationError::Empty {
                        at: format!("{at}.words"),
                    })?;
                alternatives.push((longest, pattern));
                longest_word = longest_word.max(longest);
            }
            // The longest alternative first: "launch code" wins over "launch".
            alternatives.sort_by_key(|(longest, _)| std::cmp::Reverse(*longest));
            let joined: Vec<String> = alternatives.into_iter().map(|(_, p)| p).collect();
            let regex = Regex::new(&format!("(?i)(?:{})", joined.join("|"))).map_err(|e| {
                ModerationError::Words {
                    at: format!("{at}.words"),
                    reason: e.to_string(),
                }
            })?;
            matchers.push(regex);
        }
        for pattern in patterns {
            if pattern.is_empty() {
                return Err(ModerationError::Empty {
                    at: format!("{at}.patterns"),
                });
            }
            let regex = Regex::new(pattern).map_err(|e| ModerationError::Pattern {
                at: format!("{at}.patterns"),
                pattern: pattern.clone(),
                reason: e.to_string(),
            })?;
            matchers.push(regex);
        }
        Ok(Self {
            matchers,
            action,
            longest_word,
            has_patterns: !patterns.is_empty(),
        })
    }

    /// True when there is nothing to look for.
    pub(crate) fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    /// What to do on a match.
    pub(crate) fn action(&self) -> Action {
        self.action
    }

    /// The longest text (in characters) one of the words can match.
    pub(crate) fn longest_word(&self) -> usize {
        self.longest_word
    }

    /// True when there are patterns, whose matches have no known length.
    pub(crate) fn has_patterns(&self) -> bool {
        self.has_patterns
    }

    /// The byte ranges of `text` that match, in order, overlapping ones
    /// merged. Empty matches (a pattern such as `a*`) are ignored.
    pub(crate) fn matches(&self, text: &str) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = self
            .matchers
            .iter()
            .flat_map(|regex| regex.find_iter(text))
            .filter(|m| !m.is_empty())
            .map(|m| m.range())
            .collect();
        found.sort_by_key(|range| range.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
        for range in found {
            match merged.last_mut() {
                Some(last) if range.start < last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        merged
    }
}

/// `text` with each of `ranges` (sorted, disjoint) replaced by `replacement`.
pub(crate) fn redact(text: &str, ranges: &[Range<usize>], replacement: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for range in ranges {
        out.push_str(text.get(at..range.start).unwrap_or_default());
        out.push_str(replacement);
        at = range.end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

/// The regex for one word or phrase and the longest text it can match, in
/// characters; `None` for an empty word.
fn word_pattern(word: &str) -> Option<(String, usize)> {
    let parts: Vec<&str> = word.split_whitespace().collect();
    let first = parts.first()?.chars().next()?;
    let last = parts.last()?.chars().next_back()?;
    let body: Vec<String> = parts.iter().map(|part| regex::escape(part)).collect();
    let gap = format!(r"\s{{1,{MAX_GAP}}}");
    // A boundary only next to a letter or digit: `\b` before "#tag" would
    // demand a letter in front of the `#`.
    let open = if is_word_char(first) { r"\b" } else { "" };
    let close = if is_word_char(last) { r"\b" } else { "" };
    let chars: usize = parts.iter().map(|part| part.chars().count()).sum();
    let longest = chars + (parts.len() - 1) * MAX_GAP;
    Some((format!("{open}{}{close}", body.join(&gap)), longest))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(words: &[&str], patterns: &[&str]) -> RuleSet {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        RuleSet::new("input", &words, &patterns, Action::Redact).unwrap()
    }

    fn redacted(rules: &RuleSet, text: &str) -> String {
        redact(text, &rules.matches(text), "[x]")
    }

    #[test]
    fn words_match_whole_and_ignore_case() {
        let rules = rules(&["darn", "Ünsinn"], &[]);
        assert_eq!(redacted(&rules, "Darn it, DARN!"), "[x] it, [x]!");
        assert_eq!(
            redacted(&rules, "darned darnit adarn"),
            "darned darnit adarn"
        );
        assert_eq!(redacted(&rules, "so ein ünsinn."), "so ein [x].");
    }

    #[test]
    fn phrases_match_across_line_breaks_and_longest_first() {
        let rules = rules(&["launch", "launch code"], &[]);
        assert_eq!(redacted(&rules, "the launch\ncode is"), "the [x] is");
        assert_eq!(redacted(&rules, "launch now"), "[x] now");
        assert_eq!(rules.longest_word(), "launch code".len() - 1 + MAX_GAP);
    }

    #[test]
    fn words_with_symbols_still_match() {
        let rules = rules(&["#secret", "c++", "a.b"], &[]);
        assert_eq!(redacted(&rules, "use c++ #secret"), "use [x] [x]");
        assert_eq!(redacted(&rules, "axb"), "axb", "the dot is literal");
    }

    #[test]
    fn patterns_and_words_combine_and_overlaps_merge() {
        let rules = rules(&["card"], &[r"\d{4}-\d{4}", r"card \d+"]);
        assert_eq!(
            redacted(&rules, "card 1234-5678 ok"),
            "[x] ok",
            "`card 1234` and `1234-5678` overlap: one redaction"
        );
        assert!(rules.has_patterns());
    }

    #[test]
    fn empty_matches_are_ignored() {
        let rules = rules(&[], &["x*"]);
        assert_eq!(redacted(&rules, "abc"), "abc");
        assert_eq!(redacted(&rules, "axxb"), "a[x]b");
    }

    #[test]
    fn invalid_and_empty_rules_are_named() {
        let bad = RuleSet::new("output", &[], &["(unclosed".into()], Action::Refuse).unwrap_err();
        assert!(
            matches!(&bad, ModerationError::Pattern { at, pattern, .. }
                if at == "output.patterns" && pattern == "(unclosed"),
            "{bad:?}"
        );
        let empty = RuleSet::new("input", &["  ".into()], &[], Action::Refuse).unwrap_err();
        assert_eq!(
            empty,
            ModerationError::Empty {
                at: "input.words".into()
            }
        );
    }
}
