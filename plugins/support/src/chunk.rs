//! Splitting documents into chunks small enough to put in a prompt: Markdown
//! by heading, then every section (and plain text as a whole) by paragraph,
//! each chunk at most `max_chars` characters.
//!
//! Paragraphs of one section are packed together while they fit, so a chunk
//! keeps its context; a paragraph longer than the cap is cut at a line break,
//! else a sentence end, else a space. Fenced code blocks stay one block and
//! `#` lines inside them are not headings.

/// A piece of the knowledge base: what retrieval ranks and the prompt quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The file it came from, relative to the docs folder (`policies/returns.md`).
    pub source: String,
    /// The heading it sits under, with its parents (`Returns › Refunds`), or
    /// the question of an FAQ entry; `None` before the first heading and in
    /// plain text.
    pub heading: Option<String>,
    /// The text, at most the configured number of characters.
    pub text: String,
}

impl Chunk {
    /// A chunk of `source`.
    pub fn new(
        source: impl Into<String>,
        heading: Option<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            source: source.into(),
            heading,
            text: text.into(),
        }
    }

    /// `returns.md — Refunds`, or just the file name: how people and the
    /// model are told where a chunk came from.
    pub fn title(&self) -> String {
        match &self.heading {
            Some(heading) => format!("{} — {heading}", self.source),
            None => self.source.clone(),
        }
    }

    /// What retrieval indexes: the heading (which names the topic) and the text.
    pub fn search_text(&self) -> String {
        match &self.heading {
            Some(heading) => format!("{heading}\n{}", self.text),
            None => self.text.clone(),
        }
    }
}

/// Chunks a Markdown document: a section per ATX (`## Title`) or setext
/// (`Title` over `===`/`---`) heading, each packed by paragraph.
pub fn markdown(source: &str, text: &str, max_chars: usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    // The open headings, outermost first: (level, text).
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut heading: Option<String> = None;
    let mut lines: Vec<&str> = Vec::new();
    let mut fence: Option<Fence> = None;

    for line in text.lines() {
        if let Some(open) = &fence {
            if open.closed_by(line) {
                fence = None;
            }
            lines.push(line);
            continue;
        }
        if let Some(opened) = Fence::opened_by(line) {
            fence = Some(opened);
            lines.push(line);
            continue;
        }
        let found = atx_heading(line).or_else(|| {
            let level = setext_level(line)?;
            // Only a text line directly above makes `---` an underline
            // rather than a horizontal rule.
            let title = lines.last().filter(|above| !above.trim().is_empty())?;
            let title = title.trim().to_owned();
            lines.pop();
            Some((level, title))
        });
        let Some((level, title)) = found else {
            lines.push(line);
            continue;
        };
        pack(
            source,
            heading.as_deref(),
            &blocks(&lines),
            max_chars,
            &mut chunks,
        );
        lines.clear();
        path.retain(|(open, _)| *open < level);
        if !title.is_empty() {
            path.push((level, title));
        }
        heading = (!path.is_empty()).then(|| {
            path.iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" › ")
        });
    }
    pack(
        source,
        heading.as_deref(),
        &blocks(&lines),
        max_chars,
        &mut chunks,
    );
    chunks
}

/// Chunks plain text by paragraph (blank-line separated).
pub fn plain(source: &str, text: &str, max_chars: usize) -> Vec<Chunk> {
    let lines: Vec<&str> = text.lines().collect();
    let mut chunks = Vec::new();
    let blocks = lines
        .split(|line| line.trim().is_empty())
        .filter(|block| !block.is_empty())
        .map(|block| block.join("\n"))
        .collect::<Vec<_>>();
    pack(source, None, &blocks, max_chars, &mut chunks);
    chunks
}

/// Chunks one titled text (an FAQ answer): the title as heading, the text cut
/// to size.
pub fn titled(source: &str, title: &str, text: &str, max_chars: usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    pack(
        source,
        Some(title),
        &[text.trim().to_owned()],
        max_chars,
        &mut chunks,
    );
    chunks
}

/// Packs `blocks` into chunks of at most `max_chars` characters.
fn pack(
    source: &str,
    heading: Option<&str>,
    blocks: &[String],
    max_chars: usize,
    out: &mut Vec<Chunk>,
) {
    let max_chars = max_chars.max(1);
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        if !current.trim().is_empty() {
            out.push(Chunk::new(
                source,
                heading.map(str::to_owned),
                std::mem::take(current),
            ));
        }
        current.clear();
    };
    for block in blocks {
        for piece in split_long(block, max_chars) {
            let joined = chars(&current) + 2 + chars(&piece);
            if !current.is_empty() && joined > max_chars {
                flush(&mut current);
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
    }
    flush(&mut current);
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The lines of a section as paragraphs; a fenced code block is one paragraph
/// even with blank lines inside.
fn blocks(lines: &[&str]) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut fence: Option<Fence> = None;
    for line in lines {
        match &fence {
            Some(open) => {
                if open.closed_by(line) {
                    fence = None;
                }
                current.push(line);
                continue;
            }
            None => fence = Fence::opened_by(line),
        }
        if fence.is_none() && line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        blocks.push(current.join("\n"));
    }
    blocks
        .into_iter()
        .map(|b| b.trim_end().to_owned())
        .filter(|b| !b.trim().is_empty())
        .collect()
}

/// Cuts `text` into pieces of at most `max_chars` characters, preferring a
/// line break, then a sentence end, then a space in the second half of the
/// allowed length.
fn split_long(text: &str, max_chars: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while chars(rest) > max_chars {
        let cut = rest
            .char_indices()
            .nth(max_chars)
            .map_or(rest.len(), |(i, _)| i);
        let window = &rest[..cut];
        let half = cut / 2;
        let at = window
            .rfind('\n')
            .filter(|&i| i > half)
            .or_else(|| {
                [". ", "! ", "? ", "。"]
                    .iter()
                    .filter_map(|end| window.rfind(end).map(|i| i + end.trim_end().len()))
                    .max()
                    .filter(|&i| i > half)
            })
            .or_else(|| window.rfind(char::is_whitespace).filter(|&i| i > half))
            .unwrap_or(cut);
        let (piece, tail) = rest.split_at(at);
        if !piece.trim().is_empty() {
            pieces.push(piece.trim_end().to_owned());
        }
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

/// An open code fence: its character and length.
struct Fence {
    marker: char,
    len: usize,
}

impl Fence {
    fn opened_by(line: &str) -> Option<Self> {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = trimmed.chars().take_while(|c| *c == marker).count();
        (len >= 3).then_some(Self { marker, len })
    }

    fn closed_by(&self, line: &str) -> bool {
        let trimmed = line.trim();
        trimmed.chars().take_while(|c| *c == self.marker).count() >= self.len
            && trimmed.chars().all(|c| c == self.marker)
    }
}

/// `## Title ##` → (2, "Title").
fn atx_heading(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None; // indented code
    }
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None; // `#hashtag`
    }
    let title = rest.trim().trim_end_matches('#').trim_end();
    Some((level, title.to_owned()))
}

/// `===` → 1, `---` → 2.
fn setext_level(line: &str) -> Option<usize> {
    let trimmed = line.trim();
    let first = trimmed.chars().next()?;
    let level = match first {
        '=' => 1,
        '-' => 2,
        _ => return None,
    };
    trimmed.chars().all(|c| c == first).then_some(level)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headings(chunks: &[Chunk]) -> Vec<Option<&str>> {
        chunks.iter().map(|c| c.heading.as_deref()).collect()
    }

    #[test]
    fn markdown_is_chunked_by_heading_with_parents() {
        let text = "Intro before any heading.\n\n\
                    # Shipping\n\n\
                    We ship worldwide.\n\n\
                    ## Delivery times\n\n\
                    Standard: 3-5 days.\n\n\
                    ## Costs ##\n\
                    Free over 50 EUR.\n\n\
                    # Returns\n\
                    30 days.\n";
        let chunks = markdown("shop.md", text, 1000);
        assert_eq!(
            headings(&chunks),
            [
                None,
                Some("Shipping"),
                Some("Shipping › Delivery times"),
                Some("Shipping › Costs"),
                Some("Returns"),
            ]
        );
        assert_eq!(chunks[2].text, "Standard: 3-5 days.");
        assert_eq!(chunks[2].title(), "shop.md — Shipping › Delivery times");
        assert_eq!(chunks[0].title(), "shop.md");
        assert!(chunks.iter().all(|c| c.source == "shop.md"));
    }

    #[test]
    fn setext_headings_and_rules() {
        let text = "Refunds\n=======\nMoney back in 5 days.\n\nExchanges\n---------\nSwap sizes free.\n\n---\n\nStill exchanges.";
        let chunks = markdown("r.md", text, 1000);
        assert_eq!(
            headings(&chunks),
            [Some("Refunds"), Some("Refunds › Exchanges")]
        );
        assert_eq!(
            chunks[1].text,
            "Swap sizes free.\n\n---\n\nStill exchanges."
        );
    }

    #[test]
    fn hashes_in_code_fences_and_hashtags_are_not_headings() {
        let text = "# Setup\n\n```sh\n# install it\n\npip install thing\n```\n\n#notaheading here";
        let chunks = markdown("s.md", text, 1000);
        assert_eq!(headings(&chunks), [Some("Setup")]);
        assert!(chunks[0].text.contains("# install it\n\npip install thing"));
        assert!(chunks[0].text.ends_with("#notaheading here"));
    }

    #[test]
    fn paragraphs_are_packed_up_to_the_cap() {
        let para = |n: usize| format!("Paragraph {n} {}", "word ".repeat(15).trim_end());
        let text = (0..6).map(para).collect::<Vec<_>>().join("\n\n");
        let chunks = plain("p.txt", &text, 200);
        assert!(chunks.len() > 1, "{chunks:?}");
        for chunk in &chunks {
            assert!(chunk.text.chars().count() <= 200, "{}", chunk.text);
            assert_eq!(chunk.heading, None);
        }
        let rejoined = chunks
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        assert_eq!(rejoined, text, "nothing lost, nothing reordered");
    }

    #[test]
    fn a_long_paragraph_is_cut_at_sentences_then_spaces() {
        let sentence = "This sentence is about returns and refunds. ";
        let text = sentence.repeat(20);
        let chunks = plain("long.txt", &text, 100);
        for chunk in &chunks {
            assert!(chunk.text.chars().count() <= 100);
            assert!(
                chunk.text.ends_with('.'),
                "cut at a sentence: {:?}",
                chunk.text
            );
        }
        let words: String = "x".repeat(50) + " " + &"y".repeat(50) + " " + &"z".repeat(50);
        let cut = plain("w.txt", &words, 60);
        assert_eq!(
            cut.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ["x".repeat(50), "y".repeat(50), "z".repeat(50)]
        );
    }

    #[test]
    fn text_without_any_break_is_cut_on_char_boundaries() {
        let text = "é".repeat(250);
        let chunks = plain("e.txt", &text, 100);
        assert_eq!(
            chunks
                .iter()
                .map(|c| c.text.chars().count())
                .collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }

    #[test]
    fn empty_and_blank_input_gives_no_chunks() {
        assert!(markdown("e.md", "", 100).is_empty());
        assert!(markdown("e.md", "\n\n   \n", 100).is_empty());
        assert!(markdown("e.md", "# Only a heading\n## And another", 100).is_empty());
        assert!(plain("e.txt", "", 100).is_empty());
        assert!(plain("e.txt", " \r\n\t\n", 100).is_empty());
    }

    #[test]
    fn windows_line_endings() {
        let chunks = markdown("w.md", "# Title\r\n\r\nBody line.\r\n", 100);
        assert_eq!(headings(&chunks), [Some("Title")]);
        assert_eq!(chunks[0].text, "Body line.");
    }

    #[test]
    fn a_titled_answer_keeps_its_title_on_every_piece() {
        let chunks = titled(
            "faq.md",
            "Do you ship abroad?",
            &"Yes we do. ".repeat(30),
            120,
        );
        assert!(chunks.len() > 1);
        assert!(
            chunks
                .iter()
                .all(|c| c.heading.as_deref() == Some("Do you ship abroad?"))
        );
    }
}
