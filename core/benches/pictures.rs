//! What preparing a picture for a model costs: a 12-megapixel phone photo
//! (JPEG) and a full-HD screenshot (PNG) downscaled to `[vision]`'s default
//! 1024 pixels and re-encoded, and the small copy history keeps — next to a
//! reference measured in the same run: decoding the same file alone, the
//! least any handling of it costs.
//!
//! `cargo bench -p natter-core --bench pictures`
#![allow(clippy::expect_used)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, RgbImage};
use natter_core::ImageLimits;
use natter_core::media::{prepare, prepare_for_history};

const RUNS: usize = 7;

/// A photo-like picture: smooth gradients with a little grain.
fn photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let grain = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 28) as u8;
        let r = (x * 255 / width) as u8;
        let g = (y * 255 / height) as u8;
        let b = ((x + y) * 127 / (width + height)) as u8 + 64;
        image::Rgb([r.saturating_add(grain), g.saturating_add(grain), b])
    })
}

fn encode(picture: RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(picture)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encodes");
    out
}

/// The median of `RUNS` timings of `work`.
fn median(mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let limits = ImageLimits::default();
    let cases = [
        (
            "12 MP photo, JPEG",
            encode(photo(4032, 3024), ImageFormat::Jpeg),
        ),
        (
            "1920×1080 screenshot, PNG",
            encode(photo(1920, 1080), ImageFormat::Png),
        ),
    ];
    println!(
        "{:<28} {:>9} {:>11} {:>12} {:>7} {:>13} {:>10}",
        "picture", "file", "decode (ref)", "prepare", "ratio", "history copy", "sent/kept"
    );
    for (name, bytes) in &cases {
        let decode = median(|| {
            image::load_from_memory(bytes).expect("decodes");
        });
        let mut part = None;
        let prepared = median(|| {
            part =
                Some(prepare(bytes, "bench", limits.max_side, limits.max_bytes).expect("prepares"));
        });
        let part = part.expect("prepared once");
        let mut kept = None;
        let history = median(|| {
            kept = prepare_for_history(&part, limits.history_side, limits.history_max_bytes);
        });
        let kept = kept.expect("a history copy");
        println!(
            "{:<28} {:>7.1} MB {:>9.1} ms {:>9.1} ms {:>6.2}× {:>10.1} ms {:>5} KB/{} KB",
            name,
            bytes.len() as f64 / 1e6,
            ms(decode),
            ms(prepared),
            prepared.as_secs_f64() / decode.as_secs_f64(),
            ms(history),
            part.encoded_len() / 1024,
            kept.encoded_len() / 1024,
        );
    }
}
