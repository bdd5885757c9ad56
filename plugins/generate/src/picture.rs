//! `/image <prompt>`: a picture from the image service (`[image_generation]`),
//! sent as a photo with the prompt under it. The prompt went through every
//! plugin's input filter first (the moderation plugin's rules included), as
//! any message does; the service's own refusal is shown as one sentence.

use natter_core::{PluginContext, PluginError};
use tracing::info;

/// Longest prompt passed on, in characters (OpenAI's limit for DALL·E 3).
pub const MAX_PROMPT_CHARS: usize = 4000;
/// Longest caption shown under the picture, in characters.
const MAX_CAPTION_CHARS: usize = 200;

/// Draws `prompt` and replies with the picture.
pub async fn draw(cx: &mut PluginContext<'_>, prompt: &str) -> Result<(), PluginError> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(PluginError::usage(
            "Usage: /image <what to draw>, e.g. /image a lighthouse at dusk, watercolour",
        ));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(PluginError::usage(format!(
            "That description is too long for a picture (at most {MAX_PROMPT_CHARS} characters)."
        )));
    }
    let image = cx.generate_image(prompt).await?;
    info!(bytes = image.bytes.len(), "picture made");
    let caption = caption(prompt);
    cx.reply_image(image, &caption).await
}

/// The prompt as the caption: shortened, in italics.
fn caption(prompt: &str) -> String {
    let mut shown: String = prompt.chars().take(MAX_CAPTION_CHARS).collect();
    if shown.len() < prompt.len() {
        shown.push('…');
    }
    let escaped: String = shown
        .chars()
        .flat_map(|c| {
            let escape = matches!(c, '*' | '_' | '`' | '[' | ']' | '\\');
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect();
    format!("🎨 _{escaped}_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_are_short_and_escaped() {
        assert_eq!(caption("a *bold* cat"), "🎨 _a \\*bold\\* cat_");
        let long = "x".repeat(500);
        assert_eq!(
            caption(&long).chars().count(),
            "🎨 _".chars().count() + MAX_CAPTION_CHARS + "…_".chars().count()
        );
    }
}
