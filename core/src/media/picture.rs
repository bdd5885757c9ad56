//! Turning a downloaded picture into an [`ImagePart`] a model can take:
//! recognised by its bytes (not its name), decoded under limits that refuse
//! decompression bombs, downscaled to the longest side allowed and
//! re-encoded as JPEG until it is small enough. A picture already within
//! the limits, as JPEG or PNG, is passed on untouched.
//!
//! Decoding and encoding take milliseconds to a second of CPU: callers on
//! the async runtime run these in `spawn_blocking`.

use std::io::Cursor;

use base64::Engine as _;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

use crate::chat::ImagePart;

/// Widest or tallest picture decoded at all, in pixels.
const MAX_DECODED_SIDE: u32 = 12_000;
/// Most memory one decode may take.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// JPEG qualities tried, best first, before the picture is made smaller.
const QUALITIES: [u8; 4] = [85, 70, 55, 40];
/// Each further attempt shrinks the longest side to this share.
const SHRINK: f32 = 0.75;
/// Smallest side a picture is shrunk to before giving up on a byte limit.
const MIN_SIDE: u32 = 64;

/// Why a file could not be made into a picture for a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PictureError {
    /// Not a JPEG, PNG, WebP or GIF picture.
    #[error("not a picture natter can read (JPEG, PNG, WebP or GIF)")]
    NotAPicture,
    /// Too many pixels to decode safely.
    #[error("the picture is too large to open ({width}×{height} pixels)")]
    TooManyPixels {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// The file says it is a picture but does not decode.
    #[error("the picture is damaged: {0}")]
    Damaged(String),
    /// It could not be made small enough.
    #[error("the picture could not be made smaller than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

/// The MIME type of `bytes` when they are a picture natter reads (JPEG,
/// PNG, WebP or GIF), recognised by their first bytes.
pub fn picture_type(bytes: &[u8]) -> Option<&'static str> {
    readable_format(bytes).map(|format| format.to_mime_type())
}

/// The format of `bytes`, when natter reads it.
fn readable_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes).ok().filter(|format| {
        matches!(
            format,
            ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
        )
    })
}

/// `bytes` (a downloaded picture) as an image part for a model: at most
/// `max_side` pixels on its longest side and `max_bytes` encoded.
pub fn prepare(
    bytes: &[u8],
    reference: &str,
    max_side: u32,
    max_bytes: usize,
) -> Result<ImagePart, PictureError> {
    let format = readable_format(bytes).ok_or(PictureError::NotAPicture)?;
    let passable = matches!(format, ImageFormat::Jpeg | ImageFormat::Png);
    let picture = decode(bytes, format)?;
    if passable && bytes.len() <= max_bytes && picture.width().max(picture.height()) <= max_side {
        return Ok(part(reference, format.to_mime_type(), bytes));
    }
    shrink(&picture, reference, max_side, max_bytes)
}

/// The small copy of `part` kept in history: at most `max_side` pixels a
/// side and `max_bytes` (a part already that small is kept as it is), or
/// `None` when even that is impossible (history then keeps the reference
/// alone).
pub fn prepare_for_history(part: &ImagePart, max_side: u32, max_bytes: usize) -> Option<ImagePart> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&part.base64)
        .ok()?;
    prepare(&bytes, &part.reference, max_side, max_bytes).ok()
}

/// Decodes `bytes` under limits: a picture claiming more pixels than
/// [`MAX_DECODED_SIDE`] a side is refused before any is decoded.
fn decode(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, PictureError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| PictureError::Damaged(e.to_string()))?;
    if width.max(height) > MAX_DECODED_SIDE {
        return Err(PictureError::TooManyPixels { width, height });
    }
    reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| PictureError::Damaged(e.to_string()))
}

/// Downscales `picture` to `max_side` and encodes it as JPEG, lowering the
/// quality and then the size until it fits `max_bytes`.
fn shrink(
    picture: &DynamicImage,
    reference: &str,
    max_side: u32,
    max_bytes: usize,
) -> Result<ImagePart, PictureError> {
    let mut side = max_side.min(picture.width().max(picture.height())).max(1);
    loop {
        let scaled = if picture.width().max(picture.height()) > side {
            // Area averaging: as sharp as a triangle filter when shrinking,
            // and a few times faster on a phone photo (docs/benchmarks.md).
            picture.thumbnail(side, side)
        } else {
            picture.clone()
        };
        let rgb = on_white(&scaled);
        for quality in QUALITIES {
            let mut encoded = Vec::new();
            JpegEncoder::new_with_quality(&mut encoded, quality)
                .encode_image(&rgb)
                .map_err(|e| PictureError::Damaged(e.to_string()))?;
            if encoded.len() <= max_bytes {
                return Ok(part(reference, "image/jpeg", &encoded));
            }
        }
        if side <= MIN_SIDE {
            return Err(PictureError::TooLarge { limit: max_bytes });
        }
        side = ((side as f32 * SHRINK) as u32).max(MIN_SIDE);
    }
}

/// The picture without transparency, laid on white (JPEG has no alpha, and
/// dropping it would turn transparent parts black).
fn on_white(picture: &DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.to_rgb8();
    }
    let rgba = picture.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| {
            let (c, a) = (u16::from(c), u16::from(a));
            ((c * a + 255 * (255 - a)) / 255) as u8
        };
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

fn part(reference: &str, mime: &str, bytes: &[u8]) -> ImagePart {
    ImagePart {
        reference: reference.to_owned(),
        mime: mime.to_owned(),
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        // Noise, so the encoded size grows with the pixels.
        let picture = image::RgbaImage::from_fn(width, height, |x, y| {
            let v = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) as u8;
            image::Rgba([v, v.wrapping_mul(3), v.wrapping_add(91), 200])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(picture)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn side_of(part: &ImagePart) -> u32 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&part.base64)
            .unwrap();
        let picture = image::load_from_memory(&bytes).unwrap();
        picture.width().max(picture.height())
    }

    #[test]
    fn pictures_are_recognised_by_their_bytes() {
        assert_eq!(picture_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(picture_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(picture_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(picture_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(picture_type(b"<html>"), None);
        assert_eq!(
            picture_type(b"BM\0\0"),
            None,
            "a bitmap is not one natter reads"
        );
    }

    #[test]
    fn a_small_png_passes_untouched() {
        let bytes = png(40, 30);
        let part = prepare(&bytes, "file-1", 1024, 1 << 20).unwrap();
        assert_eq!(part.mime, "image/png");
        assert_eq!(part.reference, "file-1");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&part.base64)
                .unwrap(),
            bytes
        );
    }

    #[test]
    fn a_large_picture_is_downscaled_to_the_longest_side() {
        let part = prepare(&png(1600, 900), "big", 512, 1 << 20).unwrap();
        assert_eq!(part.mime, "image/jpeg");
        assert_eq!(side_of(&part), 512);
    }

    #[test]
    fn a_byte_limit_lowers_quality_then_size() {
        let bytes = png(800, 800);
        let part = prepare(&bytes, "noisy", 800, 20_000).unwrap();
        assert!(part.encoded_len() <= 20_000, "{}", part.encoded_len());
        assert!(side_of(&part) <= 800);
    }

    #[test]
    fn text_is_not_a_picture_and_a_truncated_one_is_damaged() {
        assert_eq!(
            prepare(b"hello, world", "x", 512, 1 << 20),
            Err(PictureError::NotAPicture)
        );
        let bytes = png(300, 300);
        let cut = &bytes[..bytes.len() / 3];
        assert!(matches!(
            prepare(cut, "x", 100, 1 << 20),
            Err(PictureError::Damaged(_))
        ));
    }

    #[test]
    fn a_picture_claiming_huge_dimensions_is_refused_before_decoding() {
        // A GIF whose screen claims 40000×40000 pixels (a decompression
        // bomb's shape; GIF headers carry no checksum, so it reads as valid).
        let mut bytes = Vec::new();
        DynamicImage::ImageRgba8(image::RgbaImage::new(1, 1))
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Gif)
            .unwrap();
        bytes[6..8].copy_from_slice(&40_000u16.to_le_bytes());
        bytes[8..10].copy_from_slice(&40_000u16.to_le_bytes());
        assert_eq!(
            prepare(&bytes, "bomb", 512, 1 << 20),
            Err(PictureError::TooManyPixels {
                width: 40_000,
                height: 40_000
            })
        );
    }

    #[test]
    fn the_history_copy_is_small() {
        let part = prepare(&png(1200, 1200), "p", 1024, 1 << 20).unwrap();
        let small = prepare_for_history(&part, 256, 16_000).unwrap();
        assert!(small.encoded_len() <= 16_000);
        assert!(side_of(&small) <= 256);
        assert_eq!(small.reference, "p");
    }

    #[test]
    fn transparency_becomes_white_not_black() {
        let clear = image::RgbaImage::from_pixel(8, 8, image::Rgba([0, 0, 0, 0]));
        let rgb = on_white(&DynamicImage::ImageRgba8(clear));
        assert_eq!(rgb.get_pixel(3, 3).0, [255, 255, 255]);
    }
}
