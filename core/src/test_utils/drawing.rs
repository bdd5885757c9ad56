//! A picture service and a plugin that uses it, for tests of pictures out:
//! [`FixedPictures`] draws the same bytes for any prompt (or refuses prompts
//! with a given word, as a provider's safety system does), and
//! [`DrawPlugin`] answers `/draw <prompt>` with the picture.

use async_trait::async_trait;

use crate::command::{Command, CommandSpec};
use crate::media::{GeneratedImage, ImageGenerator, MediaError};
use crate::plugin::{Plugin, PluginContext, PluginError};

/// A 1×1 PNG: the smallest real picture, for tests that need one.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0x64, 0x60, 0xF8, 0x5F,
    0x0F, 0x00, 0x02, 0x87, 0x01, 0x80, 0xEB, 0x47, 0xBA, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Draws `bytes` (of type `mime`) for any prompt without `refused` in it.
pub struct FixedPictures {
    /// The picture every prompt gets.
    pub bytes: Vec<u8>,
    /// Its type.
    pub mime: String,
    /// A word that makes the service refuse a prompt, if any.
    pub refused: Option<String>,
}

impl FixedPictures {
    /// Draws `bytes`, a PNG, for every prompt.
    pub fn png(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            mime: "image/png".into(),
            refused: None,
        }
    }

    /// The same service, refusing prompts that contain `word`.
    #[must_use]
    pub fn refusing(mut self, word: &str) -> Self {
        self.refused = Some(word.to_owned());
        self
    }
}

#[async_trait]
impl ImageGenerator for FixedPictures {
    fn model(&self) -> &str {
        "painter"
    }

    async fn generate(&self, prompt: &str) -> Result<GeneratedImage, MediaError> {
        if self
            .refused
            .as_deref()
            .is_some_and(|word| prompt.contains(word))
        {
            return Err(MediaError::Rejected {
                service: "image service",
                status: 400,
                message: "content_policy_violation".into(),
            });
        }
        Ok(GeneratedImage {
            bytes: self.bytes.clone(),
            mime: self.mime.clone(),
            revised_prompt: None,
        })
    }
}

/// `/draw <prompt>`: replies with the picture, the prompt in italics as its
/// caption.
pub struct DrawPlugin;

#[async_trait]
impl Plugin for DrawPlugin {
    fn name(&self) -> &str {
        "painter"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new("draw", "Draw a picture").usage("<prompt>")]
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        cmd: Command,
    ) -> Result<(), PluginError> {
        let image = cx.generate_image(&cmd.args).await?;
        cx.reply_image(image, &format!("_{}_", cmd.args)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiny_png_is_a_picture() {
        let picture = image::load_from_memory(TINY_PNG).expect("decodes");
        assert_eq!((picture.width(), picture.height()), (1, 1));
    }
}
