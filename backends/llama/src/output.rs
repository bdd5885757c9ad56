//! Turning generated token bytes into reply text: UTF-8 decoded across token
//! boundaries, cut before the first stop string, and holding back any tail
//! that could still become one.

use encoding_rs::{CoderResult, Decoder, UTF_8};

/// What [`ReplyText::push`] made of one token's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Text safe to send now (may be empty).
    pub emit: String,
    /// A stop string matched: the reply ends after `emit`.
    pub stopped: bool,
}

/// Incremental reply text for one generation.
pub struct ReplyText {
    decoder: Decoder,
    stops: Vec<String>,
    /// Decoded text not yet emitted: held back because it may begin a stop string.
    pending: String,
}

impl ReplyText {
    /// A reply that ends at the first of `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            decoder: UTF_8.new_decoder_without_bom_handling(),
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    /// Adds one token's bytes (possibly half a character).
    pub fn push(&mut self, bytes: &[u8]) -> Pushed {
        self.decode(bytes, false);
        self.settle()
    }

    /// Ends the reply: whatever is held back is emitted (an incomplete
    /// character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        self.decode(&[], true);
        std::mem::take(&mut self.pending)
    }

    fn decode(&mut self, bytes: &[u8], last: bool) {
        let mut input = bytes;
        loop {
            let room = self
                .decoder
                .max_utf8_buffer_length(input.len())
                .unwrap_or(input.len() + 16);
            self.pending.reserve(room);
            let (result, read, _) = self
                .decoder
                .decode_to_string(input, &mut self.pending, last);
            input = &input[read..];
            if matches!(result, CoderResult::InputEmpty) {
                break;
            }
        }
    }

    fn settle(&mut self) -> Pushed {
        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| self.pending.find(stop.as_str()))
            .min();
        if let Some(at) = first_stop {
            self.pending.truncate(at);
            return Pushed {
                emit: std::mem::take(&mut self.pending),
                stopped: true,
            };
        }
        let hold = self.held_back_len();
        let emit_len = self.pending.len() - hold;
        let rest = self.pending.split_off(emit_len);
        Pushed {
            emit: std::mem::replace(&mut self.pending, rest),
            stopped: false,
        }
    }

    /// Bytes at the end of `pending` that are a proper prefix of a stop string.
    fn held_back_len(&self) -> usize {
        let text = self.pending.as_str();
        self.stops
            .iter()
            .map(|stop| {
                (1..stop.len().min(text.len() + 1))
                    .rev()
                    .filter(|&n| stop.is_char_boundary(n))
                    .find(|&n| text.ends_with(&stop[..n]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (Vec<String>, bool, String) {
        let stops: Vec<String> = stops.iter().map(|s| (*s).to_owned()).collect();
        let mut reply = ReplyText::new(&stops);
        let mut emitted = Vec::new();
        for piece in pieces {
            let pushed = reply.push(piece);
            emitted.push(pushed.emit);
            if pushed.stopped {
                return (emitted, true, String::new());
            }
        }
        (emitted, false, reply.finish())
    }

    #[test]
    fn a_character_split_across_tokens_arrives_whole() {
        let heart = "é❤".as_bytes();
        let (emitted, stopped, rest) = run(&[], &[&heart[..1], &heart[1..3], &heart[3..]]);
        assert!(!stopped);
        assert_eq!(emitted, vec!["", "é", "❤"]);
        assert_eq!(rest, "");
    }

    #[test]
    fn an_incomplete_character_at_the_end_becomes_a_replacement() {
        let (_, _, rest) = run(&[], &[b"ok", &"❤".as_bytes()[..2]]);
        assert_eq!(rest, "\u{FFFD}");
    }

    #[test]
    fn stop_string_ends_the_reply_and_is_left_out() {
        let (emitted, stopped, _) = run(&["END"], &[b"one two", b" E", b"N", b"D three"]);
        assert!(stopped);
        assert_eq!(emitted.concat(), "one two ");
        assert_eq!(emitted[1], " ", "\"E\" is held back while it may start END");
    }

    #[test]
    fn held_back_text_is_released_when_it_does_not_become_a_stop() {
        let (emitted, stopped, rest) = run(&["END"], &[b"the E", b"lephant"]);
        assert!(!stopped);
        assert_eq!(emitted, vec!["the ", "Elephant"]);
        assert_eq!(rest, "");
        let (emitted, _, rest) = run(&["END"], &[b"the EN"]);
        assert_eq!(emitted, vec!["the "]);
        assert_eq!(rest, "EN", "a stream ending mid-prefix still delivers it");
    }

    #[test]
    fn the_earliest_of_several_stops_wins() {
        let (emitted, stopped, _) = run(&["world", "lo"], &[b"hello world"]);
        assert!(stopped);
        assert_eq!(emitted.concat(), "hel");
    }

    #[test]
    fn multibyte_stop_strings_hold_back_on_char_boundaries() {
        let (emitted, stopped, _) = run(&["❤x"], &[b"a", "❤".as_bytes(), b"x"]);
        assert!(stopped);
        assert_eq!(emitted.concat(), "a");
    }
}
