//! The model's Markdown as Telegram HTML ([`markdown_to_html`]), and Telegram
//! HTML back to the plain text a reader sees ([`html_to_plain`]).
//!
//! Only tags Telegram's HTML parse mode accepts are produced, always balanced,
//! and everything else is escaped. Telegram's nesting rules are kept:
//! `code`/`pre` contain no other tags and sit inside no inline formatting or
//! link; links do not nest; blockquotes do not nest. Headings become bold
//! lines, lists get bullets or numbers, tables become aligned `<pre>` blocks,
//! raw HTML in the Markdown is shown as text.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// Renders Markdown as Telegram HTML (`parse_mode: "HTML"`).
pub fn markdown_to_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS | Options::ENABLE_TABLES;
    let mut writer = Writer::default();
    for event in Parser::new_ext(markdown, options) {
        writer.event(event);
    }
    writer.finish()
}

/// The text a reader sees for Telegram HTML made by [`markdown_to_html`]:
/// tags dropped, entities decoded.
pub fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => {
                    out.push_str(rest);
                    rest = "";
                }
            }
            continue;
        }
        let decoded = rest.find(';').and_then(|end| {
            let c = match &rest[1..end] {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                other => other
                    .strip_prefix('#')
                    .and_then(|n| n.parse().ok())
                    .and_then(char::from_u32)?,
            };
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for Telegram HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// Link targets Telegram accepts in `<a href>`.
fn linkable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "tg://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
        && !url.chars().any(char::is_whitespace)
}

/// A code block language as a safe class name, if it is one.
fn language(info: &str) -> Option<&str> {
    let lang = info.split_whitespace().next()?;
    (lang.len() <= 32
        && lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '#' | '.')))
    .then_some(lang)
}

/// What an open Markdown element emitted, to close it the same way.
#[derive(Debug)]
enum Open {
    /// Tags to write when it ends (empty when nothing was opened).
    Close(&'static str),
    /// A link or image: the closing tag if one was opened, the output length at
    /// its start and its target (shown when the text came out empty).
    Link {
        opened: bool,
        start: usize,
        url: String,
    },
    /// A list item.
    Item,
}

#[derive(Default)]
struct Writer {
    out: String,
    open: Vec<Open>,
    /// True right after a block opened: no gap needed before the next block.
    at_block_start: bool,
    /// Open inline formatting and links: code may not be tagged inside them.
    inline_depth: usize,
    links: usize,
    quotes: usize,
    code_block: bool,
    /// Next number of each open list (`None` for bullets).
    lists: Vec<Option<u64>>,
    table: Option<Table>,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
}

impl Writer {
    fn event(&mut self, event: Event<'_>) {
        if self.table.is_some() && self.table_event(&event) {
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                if self.inline_depth == 0 {
                    self.raw("<code>");
                    self.text(&code);
                    self.raw("</code>");
                } else {
                    self.text(&code);
                }
            }
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math),
            Event::FootnoteReference(name) => self.text(&format!("[{name}]")),
            Event::SoftBreak | Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.block_gap();
                self.text("———");
            }
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
        }
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.at_block_start = false;
        escape_into(&mut self.out, text);
    }

    /// Separates a new block from what came before.
    fn block_gap(&mut self) {
        if self.at_block_start || self.out.is_empty() {
            return;
        }
        let gap = if self.lists.is_empty() { "\n\n" } else { "\n" };
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        if !self.out.ends_with('\n') {
            self.out.push_str(gap);
        } else if gap == "\n\n" && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        let open = match tag {
            Tag::Paragraph => {
                self.block_gap();
                Open::Close("")
            }
            Tag::Heading { .. } => {
                self.block_gap();
                self.inline_depth += 1;
                self.raw("<b>");
                Open::Close("</b>")
            }
            Tag::BlockQuote(_) => {
                self.block_gap();
                self.quotes += 1;
                if self.quotes == 1 {
                    self.raw("<blockquote>");
                    self.at_block_start = true;
                    Open::Close("</blockquote>")
                } else {
                    Open::Close("")
                }
            }
            Tag::CodeBlock(kind) => {
                self.block_gap();
                self.code_block = true;
                let lang = match &kind {
                    CodeBlockKind::Fenced(info) => language(info),
                    CodeBlockKind::Indented => None,
                };
                match lang {
                    Some(lang) => {
                        self.raw("<pre><code class=\"language-");
                        escape_into(&mut self.out, lang);
                        self.raw("\">");
                        Open::Close("</code></pre>")
                    }
                    None => {
                        self.raw("<pre>");
                        Open::Close("</pre>")
                    }
                }
            }
            Tag::List(first) => {
                if self.lists.is_empty() {
                    self.block_gap();
                }
                self.lists.push(first);
                Open::Close("")
            }
            Tag::Item => {
                if !self.out.is_empty() && !self.out.ends_with('\n') && !self.at_block_start {
                    self.out.push('\n');
                }
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => "• ".to_owned(),
                };
                self.text(&format!("{}{marker}", "   ".repeat(depth)));
                self.at_block_start = true;
                Open::Item
            }
            Tag::Table(_) => {
                self.block_gap();
                self.table = Some(Table::default());
                Open::Close("")
            }
            Tag::Emphasis => self.inline("<i>", "</i>"),
            Tag::Strong => self.inline("<b>", "</b>"),
            Tag::Strikethrough => self.inline("<s>", "</s>"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                let start = self.out.len();
                let opened = self.links == 0 && linkable(&dest_url);
                if opened {
                    self.raw("<a href=\"");
                    escape_into(&mut self.out, &dest_url);
                    self.raw("\">");
                }
                self.links += 1;
                self.inline_depth += 1;
                Open::Link {
                    opened,
                    start: if opened { self.out.len() } else { start },
                    url: dest_url.to_string(),
                }
            }
            _ => Open::Close(""),
        };
        self.open.push(open);
    }

    fn inline(&mut self, open: &str, close: &'static str) -> Open {
        self.inline_depth += 1;
        self.raw(open);
        Open::Close(close)
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) | TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.inline_depth = self.inline_depth.saturating_sub(1);
            }
            TagEnd::BlockQuote(_) => self.quotes = self.quotes.saturating_sub(1),
            TagEnd::CodeBlock => {
                self.code_block = false;
                if self.out.ends_with('\n') {
                    self.out.pop();
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Link | TagEnd::Image => {
                self.links = self.links.saturating_sub(1);
                self.inline_depth = self.inline_depth.saturating_sub(1);
            }
            _ => {}
        }
        match self.open.pop() {
            Some(Open::Close(close)) => {
                // An element that ends with the block keeps no trailing blank.
                if close == "</blockquote>" {
                    while self.out.ends_with('\n') {
                        self.out.pop();
                    }
                }
                self.raw(close);
            }
            Some(Open::Link { opened, start, url }) => {
                if self.out.len() == start {
                    // `[](url)` or `![](url)`: show the address itself.
                    self.text(&url);
                }
                if opened {
                    self.raw("</a>");
                } else if self.out.len() > start && !url.is_empty() && !url.starts_with('#') {
                    let shown = html_to_plain(&self.out[start..]);
                    if shown != url && linkable(&url) {
                        self.text(&format!(" ({url})"));
                    }
                }
            }
            Some(Open::Item) | None => {}
        }
        if matches!(tag, TagEnd::Table) {
            self.finish_table();
        }
    }

    /// Collects table cells as plain text; true when the event was consumed.
    fn table_event(&mut self, event: &Event<'_>) -> bool {
        let Some(table) = self.table.as_mut() else {
            return false;
        };
        match event {
            Event::Start(Tag::TableRow | Tag::TableHead) => table.rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => {
                if let Some(row) = table.rows.last_mut() {
                    row.push(String::new());
                }
            }
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                if let Some(cell) = table.rows.last_mut().and_then(|r| r.last_mut()) {
                    cell.push_str(t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(cell) = table.rows.last_mut().and_then(|r| r.last_mut()) {
                    cell.push(' ');
                }
            }
            Event::End(TagEnd::Table) => return false,
            _ => {}
        }
        true
    }

    fn finish_table(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.trim().chars().count());
            }
        }
        let mut text = String::new();
        for (n, row) in table.rows.iter().enumerate() {
            let line: Vec<String> = (0..columns)
                .map(|i| {
                    let cell = row.get(i).map_or("", |c| c.trim());
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    format!("{cell}{}", " ".repeat(pad))
                })
                .collect();
            text.push_str(line.join(" | ").trim_end());
            text.push('\n');
            if n == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat((*w).max(1))).collect();
                text.push_str(&rule.join("-+-"));
                text.push('\n');
            }
        }
        if text.trim().is_empty() {
            return;
        }
        if self.inline_depth == 0 {
            self.raw("<pre>");
            self.text(text.trim_end());
            self.raw("</pre>");
        } else {
            self.text(text.trim_end());
        }
    }

    fn finish(mut self) -> String {
        while let Some(open) = self.open.pop() {
            match open {
                Open::Close(close) => self.out.push_str(close),
                Open::Link { opened: true, .. } => self.out.push_str("</a>"),
                Open::Link { .. } | Open::Item => {}
            }
        }
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_formatting() {
        assert_eq!(
            markdown_to_html("**bold** and *it* and ~~gone~~ and `x < y`"),
            "<b>bold</b> and <i>it</i> and <s>gone</s> and <code>x &lt; y</code>"
        );
    }

    #[test]
    fn everything_else_is_escaped() {
        assert_eq!(
            markdown_to_html("a < b & c > d <div>\"q\"</div>"),
            "a &lt; b &amp; c &gt; d &lt;div&gt;&quot;q&quot;&lt;/div&gt;"
        );
    }

    #[test]
    fn code_blocks_with_language() {
        assert_eq!(
            markdown_to_html("Look:\n\n```rust\nfn main() { a && b }\n```\n"),
            "Look:\n\n<pre><code class=\"language-rust\">fn main() { a &amp;&amp; b }</code></pre>"
        );
        assert_eq!(markdown_to_html("```\nplain\n```"), "<pre>plain</pre>");
        assert_eq!(markdown_to_html("```\"><script>\nx\n```"), "<pre>x</pre>");
    }

    #[test]
    fn headings_lists_quotes() {
        assert_eq!(
            markdown_to_html(
                "# Title\n\nText\n\n- one\n- two\n  1. a\n  2. b\n\n> quoted\n> > deeper"
            ),
            "<b>Title</b>\n\nText\n\n• one\n• two\n   1. a\n   2. b\n\n<blockquote>quoted\n\ndeeper</blockquote>"
        );
    }

    #[test]
    fn links_only_for_web_targets() {
        assert_eq!(
            markdown_to_html("[site](https://example.com/?a=1&b=\"2\")"),
            "<a href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\">site</a>"
        );
        assert_eq!(markdown_to_html("[x](javascript:alert(1))"), "x");
        assert_eq!(
            markdown_to_html("[**`code`** in link](https://e.com)"),
            "<a href=\"https://e.com\"><b>code</b> in link</a>"
        );
    }

    #[test]
    fn code_inside_formatting_is_untagged() {
        assert_eq!(markdown_to_html("**use `ls`**"), "<b>use ls</b>");
    }

    #[test]
    fn tables_become_preformatted() {
        let html = markdown_to_html("| a | bb |\n|---|---|\n| ccc | d |");
        assert_eq!(html, "<pre>a   | bb\n----+---\nccc | d</pre>");
    }

    #[test]
    fn plain_text_round_trip() {
        let html = markdown_to_html("**a & b** <c>");
        assert_eq!(html_to_plain(&html), "a & b <c>");
    }
}
