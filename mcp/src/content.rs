//! A tool call's result as the model reads it: text parts joined by blank
//! lines, other parts described in a few words (the model cannot see an
//! image through a tool result), structured content as JSON when there is
//! nothing else; a result marked `isError` is an error with that text.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// The text of `result`: `Ok` for a result, `Err` with the server's message
/// when it is marked as an error.
pub(crate) fn result_text(result: CallToolResult) -> Result<String, String> {
    let mut parts: Vec<String> = result.content.iter().map(describe).collect();
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    let text = parts.join("\n\n");
    if result.is_error == Some(true) {
        return Err(if text.is_empty() {
            "the tool failed without saying why".to_owned()
        } else {
            text
        });
    }
    Ok(if text.is_empty() {
        "(the tool returned nothing)".to_owned()
    } else {
        text
    })
}

/// One part: its text, or a short description.
fn describe(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => {
            format!("[image: {}, {}]", image.mime_type, size(&image.data))
        }
        ContentBlock::Audio(audio) => {
            format!("[audio: {}, {}]", audio.mime_type, size(&audio.data))
        }
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents { uri, text, .. } => {
                format!("[resource {uri}]\n{text}")
            }
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => format!(
                "[resource {uri}: {}, {}]",
                mime_type.as_deref().unwrap_or("binary"),
                size(blob)
            ),
            _ => "[a resource natter cannot show]".to_owned(),
        },
        ContentBlock::ResourceLink(link) => match &link.description {
            Some(description) => format!("[link {} ({}): {description}]", link.uri, link.name),
            None => format!("[link {} ({})]", link.uri, link.name),
        },
        _ => "[a part natter cannot show]".to_owned(),
    }
}

/// The decoded size of base64 `data`, roughly, for a person or a model.
fn size(data: &str) -> String {
    let bytes = data.trim_end_matches('=').len() * 3 / 4;
    if bytes >= 10_000 {
        format!("{} kB", bytes / 1000)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ContentBlock, ResourceContents};

    use super::*;

    #[test]
    fn text_parts_are_joined_and_others_described() {
        let result = CallToolResult::success(vec![
            ContentBlock::text("first"),
            ContentBlock::image("iVBORw0KGgo=", "image/png"),
            ContentBlock::text("second"),
            ContentBlock::resource(ResourceContents::text("inside", "file:///a.txt")),
            ContentBlock::audio("A".repeat(40_000), "audio/wav"),
        ]);
        assert_eq!(
            result_text(result).unwrap(),
            "first\n\n[image: image/png, 8 bytes]\n\nsecond\n\n[resource file:///a.txt]\ninside\n\n[audio: audio/wav, 30 kB]"
        );
    }

    #[test]
    fn errors_and_empty_results() {
        let failed = CallToolResult::error(vec![ContentBlock::text("no such file")]);
        assert_eq!(result_text(failed), Err("no such file".to_owned()));
        assert_eq!(
            result_text(CallToolResult::error(vec![])),
            Err("the tool failed without saying why".to_owned())
        );
        assert_eq!(
            result_text(CallToolResult::success(vec![])).unwrap(),
            "(the tool returned nothing)"
        );
        let structured = CallToolResult::structured(serde_json::json!({"sum": 3}));
        let text = result_text(structured).unwrap();
        assert!(
            text.contains("\"sum\":3") || text.contains("\"sum\": 3"),
            "{text}"
        );
    }
}
