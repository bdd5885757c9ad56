//! What Telegram must never be sent: a message that renders to nothing (Telegram
//! refuses it, leaving a reply's "…" placeholder forever) and a link to a user
//! (`tg://user?id=…`) that the message was not meant to notify — in a group,
//! such a link notifies the user it names, so model output must not carry one.

use natter_core::{Rendered, TextFormat};

use crate::render::{html_to_plain, markdown_to_html};

/// Shown when a reply is empty even as plain text.
pub(crate) const EMPTY: &str = "(empty reply)";

/// `markdown` as Telegram HTML; when that shows nothing (a bare code fence,
/// `#`, `>`), the Markdown itself as plain text; when that is blank too, a
/// short note. Telegram refuses a message with no visible text.
pub(crate) fn render(markdown: &str) -> Rendered {
    let html = markdown_to_html(markdown);
    if !html_to_plain(&html).trim().is_empty() {
        return Rendered::new(html, TextFormat::Html);
    }
    match markdown.trim() {
        "" => Rendered::plain(EMPTY),
        text => Rendered::plain(text),
    }
}

/// `html` with every link to a Telegram user unwrapped to its label, except
/// links to the users in `notify` (a reminder's owner).
pub(crate) fn keep_mentions_of(html: &str, notify: &[String]) -> String {
    const OPEN: &str = "<a href=\"";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut unwrapped = 0usize;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find("\">") else {
            break;
        };
        let href = &after[..end];
        out.push_str(&rest[..start]);
        if is_user_link(href) && !notify.iter().any(|user| links_to(href, user)) {
            unwrapped += 1;
        } else {
            out.push_str(&rest[start..start + OPEN.len() + end + 2]);
        }
        rest = &after[end + 2..];
        if unwrapped > 0 {
            // Links do not nest: the next closing tag ends this one.
            if let Some(close) = rest.find("</a>") {
                out.push_str(&rest[..close]);
                rest = &rest[close + "</a>".len()..];
            }
            unwrapped = 0;
        }
    }
    out.push_str(rest);
    out
}

/// True for `tg://user?id=…` (any case), escaped as the renderer writes it.
fn is_user_link(href: &str) -> bool {
    href.to_ascii_lowercase().starts_with("tg://user")
}

/// True when `href` links to user `id` exactly.
fn links_to(href: &str, id: &str) -> bool {
    href.to_ascii_lowercase() == format!("tg://user?id={id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_renders_to_nothing_is_sent_as_plain_text() {
        for markdown in ["```", "#", ">", "```\n```", "> \n>"] {
            let rendered = render(markdown);
            assert_eq!(rendered.format, TextFormat::Plain, "{markdown:?}");
            assert!(!rendered.text.trim().is_empty(), "{markdown:?}");
        }
        assert_eq!(render("   \n").text, EMPTY);
        assert_eq!(render("**hi**").text, "<b>hi</b>");
    }

    #[test]
    fn user_links_stay_only_for_users_to_notify() {
        let html = markdown_to_html(
            "[Ann](tg://user?id=42) and [Bob](TG://USER?ID=7) see [docs](https://e.com)",
        );
        assert_eq!(
            keep_mentions_of(&html, &[]),
            "Ann and Bob see <a href=\"https://e.com\">docs</a>"
        );
        assert_eq!(
            keep_mentions_of(&html, &["42".to_owned()]),
            "<a href=\"tg://user?id=42\">Ann</a> and Bob see <a href=\"https://e.com\">docs</a>"
        );
        let other = markdown_to_html("[Ann](tg://user?id=420)");
        assert_eq!(keep_mentions_of(&other, &["42".to_owned()]), "Ann");
    }
}
