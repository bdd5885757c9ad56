//! Output filters: what may not be said, screened before anything reaches a
//! platform — including the intermediate edits of a streamed reply.
//!
//! A plugin supplies an [`OutputFilter`] (see
//! [`Plugin::output_filter`](crate::Plugin::output_filter)); the courier runs
//! every outgoing text through a [`Screen`]. While a reply streams, the last
//! [`OutputFilter::lookahead`] characters are held back: a blocked phrase still
//! being written could otherwise show its first half in an edit, and a phrase
//! split across two model chunks is only seen whole once both arrived. Every
//! match of a phrase no longer than the lookahead therefore lies entirely in
//! text not yet shown, and is screened before it is.

use std::sync::Arc;

use crate::message::ChannelRef;

/// What a filter makes of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screened {
    /// Nothing to change.
    Clean,
    /// Show this text instead (matches replaced).
    Redacted(String),
    /// Show none of the reply from here on: stop it and show `notice` instead.
    Blocked {
        /// What the user sees in place of the reply.
        notice: String,
    },
}

/// A piece of a reply being screened: the text not yet shown, with what
/// surrounds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The text to screen.
    pub text: &'a str,
    /// The character already shown just before `text`, if any (for word
    /// boundaries: "super" shown, then "secret" is not the word "secret").
    pub before: Option<char>,
    /// False while the reply is still streaming: `text` may go on, so a match
    /// touching its end may still grow or turn out not to be a whole word. It
    /// stays held back and is screened again with more text.
    pub complete: bool,
}

/// Screens text natter is about to show.
pub trait OutputFilter: Send + Sync + 'static {
    /// The longest text (in characters) one match can span. Streamed text this
    /// close to the end is held back until more arrives or the reply ends.
    fn lookahead(&self) -> usize;

    /// Screens `text`, which is about to be shown in `channel`.
    fn screen(&self, channel: &ChannelRef, text: &str) -> Screened;

    /// Screens a part of a reply. The default screens `part.text` on its own;
    /// filters matching whole words override it to look at `part.before` and
    /// to leave matches touching an incomplete end for later.
    fn screen_part(&self, channel: &ChannelRef, part: &Part<'_>) -> Screened {
        self.screen(channel, part.text)
    }
}

/// One reply's screening state: text settled so far and text held back.
pub(crate) struct Screen<'a> {
    filters: &'a [Arc<dyn OutputFilter>],
    channel: &'a ChannelRef,
    lookahead: usize,
    /// Screened text released for display.
    released: String,
    /// Text received but not yet released.
    held: String,
    /// Set once a filter blocked the reply.
    blocked: Option<String>,
}

/// What [`Screen::push`] lets through.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Released {
    /// Screened text to append to what is shown (may be empty).
    Text(String),
    /// The reply is blocked: replace everything not yet frozen with this notice.
    Blocked(String),
}

impl<'a> Screen<'a> {
    pub(crate) fn new(filters: &'a [Arc<dyn OutputFilter>], channel: &'a ChannelRef) -> Self {
        let lookahead = filters.iter().map(|f| f.lookahead()).max().unwrap_or(0);
        Self {
            filters,
            channel,
            lookahead,
            released: String::new(),
            held: String::new(),
            blocked: None,
        }
    }

    /// Everything released so far: what the user has been shown, screened.
    pub(crate) fn released(&self) -> &str {
        &self.released
    }

    /// True once a filter blocked the reply.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.is_some()
    }

    /// Takes a streamed chunk; returns what may be shown now.
    pub(crate) fn push(&mut self, delta: &str) -> Released {
        if self.filters.is_empty() {
            self.released.push_str(delta);
            return Released::Text(delta.to_owned());
        }
        self.held.push_str(delta);
        self.release(false)
    }

    /// The reply is complete: screens and releases whatever is held.
    pub(crate) fn finish(&mut self) -> Released {
        if self.filters.is_empty() {
            return Released::Text(String::new());
        }
        self.release(true)
    }

    /// Screens the held text and releases all but the lookahead (all at the end).
    fn release(&mut self, at_end: bool) -> Released {
        if let Some(notice) = &self.blocked {
            return Released::Blocked(notice.clone());
        }
        let before = self.released.chars().next_back();
        for filter in self.filters {
            let part = Part {
                text: &self.held,
                before,
                complete: at_end,
            };
            match filter.screen_part(self.channel, &part) {
                Screened::Clean => {}
                Screened::Redacted(text) => self.held = text,
                Screened::Blocked { notice } => {
                    self.held.clear();
                    self.blocked = Some(notice.clone());
                    return Released::Blocked(notice);
                }
            }
        }
        let keep = if at_end { 0 } else { self.lookahead };
        let cut = split_before_last_chars(&self.held, keep);
        let out: String = self.held.drain(..cut).collect();
        self.released.push_str(&out);
        Released::Text(out)
    }
}

/// The byte index where the last `n` characters of `text` begin.
fn split_before_last_chars(text: &str, n: usize) -> usize {
    if n == 0 {
        return text.len();
    }
    text.char_indices()
        .rev()
        .nth(n - 1)
        .map_or(0, |(index, _)| index)
}

/// Screens a whole text at once (for replies that do not stream).
pub(crate) fn screen_whole(
    filters: &[Arc<dyn OutputFilter>],
    channel: &ChannelRef,
    text: &str,
) -> Released {
    let mut screen = Screen::new(filters, channel);
    let mut shown = match screen.push(text) {
        Released::Text(shown) => shown,
        blocked @ Released::Blocked(_) => return blocked,
    };
    match screen.finish() {
        Released::Text(rest) => {
            shown.push_str(&rest);
            Released::Text(shown)
        }
        blocked @ Released::Blocked(_) => blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Platform;

    /// Replaces "secret" with "******"; blocks on "forbidden".
    struct Words;

    impl OutputFilter for Words {
        fn lookahead(&self) -> usize {
            "forbidden".len()
        }

        fn screen(&self, _channel: &ChannelRef, text: &str) -> Screened {
            if text.contains("forbidden") {
                Screened::Blocked {
                    notice: "I can't say that.".into(),
                }
            } else if text.contains("secret") {
                Screened::Redacted(text.replace("secret", "******"))
            } else {
                Screened::Clean
            }
        }
    }

    fn filters() -> Vec<Arc<dyn OutputFilter>> {
        vec![Arc::new(Words)]
    }

    #[test]
    fn a_phrase_split_across_chunks_is_never_released() {
        let filters = filters();
        let channel = ChannelRef::private(Platform::new("test"), "a");
        let mut screen = Screen::new(&filters, &channel);
        let mut shown = String::new();
        for chunk in ["The code is se", "cr", "et, and th", "at is all", "."] {
            match screen.push(chunk) {
                Released::Text(text) => shown.push_str(&text),
                Released::Blocked(_) => panic!("nothing blocked"),
            }
            assert!(!shown.contains("secret"), "{shown}");
        }
        let Released::Text(rest) = screen.finish() else {
            panic!("nothing blocked")
        };
        shown.push_str(&rest);
        assert_eq!(shown, "The code is ******, and that is all.");
        assert_eq!(screen.released(), shown);
    }

    #[test]
    fn a_blocked_phrase_stops_the_reply() {
        let filters = filters();
        let channel = ChannelRef::private(Platform::new("test"), "a");
        let mut screen = Screen::new(&filters, &channel);
        let Released::Text(first) = screen.push("Here is how to do something quite long. ") else {
            panic!("nothing blocked yet")
        };
        assert_eq!(first, "Here is how to do something qui");
        let Released::Text(second) = screen.push("It is forb") else {
            panic!("nothing blocked yet")
        };
        assert!(!second.contains("forb"), "{second}");
        assert_eq!(
            screen.push("idden"),
            Released::Blocked("I can't say that.".into())
        );
        assert!(screen.is_blocked());
        assert_eq!(
            screen.finish(),
            Released::Blocked("I can't say that.".into())
        );
    }

    /// Redacts the whole word "ass", minding the context it is given.
    struct WholeWord;

    impl OutputFilter for WholeWord {
        fn lookahead(&self) -> usize {
            3
        }

        fn screen(&self, channel: &ChannelRef, text: &str) -> Screened {
            self.screen_part(
                channel,
                &Part {
                    text,
                    before: None,
                    complete: true,
                },
            )
        }

        fn screen_part(&self, _channel: &ChannelRef, part: &Part<'_>) -> Screened {
            let starts_word = part.before.is_none_or(|c| !c.is_alphanumeric());
            let ends_word = |rest: &str| match rest.chars().next() {
                Some(c) => !c.is_alphanumeric(),
                None => part.complete,
            };
            match part.text.find("ass") {
                Some(0) if starts_word && ends_word(&part.text[3..]) => {
                    Screened::Redacted(format!("***{}", &part.text[3..]))
                }
                _ => Screened::Clean,
            }
        }
    }

    #[test]
    fn filters_see_the_context_of_a_streamed_part() {
        let filters: Vec<Arc<dyn OutputFilter>> = vec![Arc::new(WholeWord)];
        let channel = ChannelRef::private(Platform::new("test"), "a");
        let mut screen = Screen::new(&filters, &channel);
        let mut shown = String::new();
        for chunk in ["ass", "istant"] {
            let Released::Text(text) = screen.push(chunk) else {
                panic!("nothing blocked")
            };
            shown.push_str(&text);
        }
        let Released::Text(rest) = screen.finish() else {
            panic!("nothing blocked")
        };
        shown.push_str(&rest);
        assert_eq!(shown, "assistant", "not a whole word once it went on");
        assert_eq!(
            screen_whole(&filters, &channel, "ass"),
            Released::Text("***".into())
        );
    }

    #[test]
    fn without_filters_text_passes_at_once() {
        let channel = ChannelRef::private(Platform::new("test"), "a");
        let mut screen = Screen::new(&[], &channel);
        assert_eq!(screen.push("secret"), Released::Text("secret".into()));
        assert_eq!(screen.finish(), Released::Text(String::new()));
    }

    #[test]
    fn holding_back_respects_character_boundaries() {
        assert_eq!(split_before_last_chars("héllo", 3), "hé".len());
        assert_eq!(split_before_last_chars("hé", 5), 0);
        assert_eq!(split_before_last_chars("hé", 0), "hé".len());
    }

    #[test]
    fn whole_texts_are_screened_in_one_go() {
        let filters = filters();
        let channel = ChannelRef::private(Platform::new("test"), "a");
        assert_eq!(
            screen_whole(&filters, &channel, "a secret"),
            Released::Text("a ******".into())
        );
        assert_eq!(
            screen_whole(&filters, &channel, "forbidden"),
            Released::Blocked("I can't say that.".into())
        );
    }
}
