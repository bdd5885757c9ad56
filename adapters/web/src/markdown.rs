//! Model output and user text as safe HTML: Markdown rendered with
//! pulldown-cmark, where raw HTML in the text is shown as text (a reply
//! containing `<script>` shows those characters), links keep only `http`,
//! `https`, `mailto` and relative targets (never `javascript:`), and images
//! become links (a reply cannot make the browser fetch anything).

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// `markdown` as HTML that is safe to put in a page.
pub fn to_safe_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => Event::Start(Tag::Link {
            link_type: LinkType::Inline,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 5 / 4 + 16);
    html::push_html(&mut out, events);
    out
}

/// `url` if its scheme is harmless, else `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|scheme| !scheme.contains(['/', '?', '#']));
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_safe_html("Hi <script>alert(1)</script> <img src=x onerror=alert(2)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        let block = to_safe_html("<div onclick=\"x()\">\n\n</div>");
        assert!(!block.contains("<div"), "{block}");
    }

    #[test]
    fn markdown_and_code_render() {
        let html = to_safe_html("**bold** and `x<y`\n\n```rust\nfn main() {}\n```\n");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<code>x&lt;y</code>"), "{html}");
        assert!(
            html.contains("<pre><code class=\"language-rust\">fn main() {}"),
            "{html}"
        );
    }

    #[test]
    fn dangerous_links_are_defused_and_images_become_links() {
        let html = to_safe_html(
            "[a](javascript:alert(1)) [b](JavaScript:x) [c](https://ok.example/) [d](/local)",
        );
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://ok.example/\""), "{html}");
        assert!(html.contains("href=\"/local\""), "{html}");
        let image = to_safe_html("![pixel](https://tracker.example/p.gif?secret=1)");
        assert!(!image.contains("<img"), "{image}");
        assert!(
            image.contains("<a href=\"https://tracker.example/p.gif?secret=1\">pixel</a>"),
            "{image}"
        );
        let data = to_safe_html("[x](data:text/html,<script>alert(1)</script>)");
        assert!(!data.contains("data:"), "{data}");
    }
}
