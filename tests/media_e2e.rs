//! End to end: pictures and voice with the real `natter` binary against the
//! fake Bot API and a fake OpenAI server, configured as a user configures
//! them — a photo with a caption reaches a model that sees as an image part
//! (and, kept in history, again after a restart); a model that cannot see
//! says so and answers the caption; a voice note is transcribed, shown and
//! answered; `/image` sends a photo, and a prompt the moderation rules
//! block never reaches the image service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use natter_test_support::openai::{FakeOpenAi, PICTURE_PNG_BASE64};
use natter_test_support::telegram::{FakeTelegram, TOKEN, updates};
use tokio::process::Child;

/// Long enough for a slow CI machine, short enough to fail a hung test.
const WITHIN: Duration = Duration::from_secs(60);
const CHAT: i64 = 4242;

fn settings(telegram: &FakeTelegram, openai: &FakeOpenAi, store: &str, extra: &str) -> String {
    format!(
        "[store]\nurl = \"{store}\"\n\n\
         [model]\nbackend = \"openai\"\nmax_tokens = 64\n\n\
         [model.openai]\nbase_url = \"{openai}\"\nmodel = \"gpt-4o-mini\"\nmax_retries = 0\n{extra}\n\
         [telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api}\"\nstreaming = false\n\n\
         [telegram.rate]\nchat = 0\ngroup = 0\nglobal = 0\n",
        openai = openai.base_url(),
        api = telegram.api_url(),
    )
}

/// A large photo-like PNG: what a phone sends as a file.
fn big_png() -> Vec<u8> {
    let picture = image::RgbImage::from_fn(1600, 1200, |x, y| {
        let v = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) as u8;
        image::Rgb([v, v.wrapping_mul(3), v.wrapping_add(91)])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(PICTURE_PNG_BASE64)
        .unwrap()
}

async fn start(config: &Path, telegram: &FakeTelegram) -> Child {
    let child = common::spawn(config, &[], "warn");
    let polls = telegram
        .calls()
        .iter()
        .filter(|c| c.method == "getupdates")
        .count();
    telegram
        .wait_for(WITHIN, |calls| {
            calls.iter().filter(|c| c.method == "getupdates").count() > polls
        })
        .await;
    child
}

/// Stops natter as an operator does (SIGTERM) and waits until it exited.
async fn stop(mut child: Child) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(WITHIN, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "natter exited with {status}");
}

/// Waits until the chat has had `n` text messages; returns their texts.
async fn answers(telegram: &FakeTelegram, n: usize) -> Vec<String> {
    let sent = |calls: &[natter_test_support::telegram::Call]| -> Vec<String> {
        calls
            .iter()
            .filter(|c| c.method == "sendmessage" && c.ok() && c.chat() == Some(CHAT))
            .filter_map(|c| c.text().map(str::to_owned))
            .collect()
    };
    let calls = telegram
        .wait_for(WITHIN, |calls| sent(calls).len() >= n)
        .await;
    sent(&calls)
}

fn chat() -> serde_json::Value {
    updates::private_chat(CHAT, "Ana")
}

fn ana() -> serde_json::Value {
    updates::user(CHAT, "Ana")
}

#[tokio::test]
async fn a_photo_reaches_a_model_that_sees_and_stays_in_history_across_a_restart() {
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("natter.db").display());
    let config = dir.path().join("natter.toml");
    std::fs::write(&config, settings(&telegram, &openai, &store, "")).unwrap();

    let child = start(&config, &telegram).await;
    let original = big_png();
    let photo = telegram.add_file(original.clone());
    telegram.inject(updates::photo(
        1,
        chat(),
        ana(),
        &photo,
        Some("what does this error mean?"),
    ));
    assert_eq!(
        answers(&telegram, 1).await,
        ["echo: what does this error mean? [image]"]
    );
    let first = openai.requests()[0].image_urls();
    assert_eq!(first.len(), 1);
    assert!(
        first[0].starts_with("data:image/jpeg;base64,"),
        "a large picture is downscaled and re-encoded"
    );
    assert!(
        first[0].len() < original.len() / 4,
        "{} bytes sent",
        first[0].len()
    );
    stop(child).await;

    // The stored turn holds a small copy, not the original.
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let row_bytes: i64 = sqlx::query_scalar(
        "SELECT length(user_images) + length(user_content) + length(assistant_content) FROM turns",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert!(
        row_bytes < 48 * 1024,
        "the row is {row_bytes} bytes for a {}-byte picture",
        original.len()
    );

    // After a restart, the picture is still in the conversation.
    let _child = start(&config, &telegram).await;
    telegram.inject(updates::text(2, chat(), ana(), "and what should I do?"));
    assert_eq!(
        answers(&telegram, 2).await[1],
        "echo: and what should I do?"
    );
    let second = &openai.requests()[1];
    assert_eq!(
        second.image_urls().len(),
        1,
        "history brought the picture back"
    );
}

#[tokio::test]
async fn a_model_that_cannot_see_says_so_and_answers_the_caption() {
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(
        config.path(),
        settings(&telegram, &openai, "memory", "vision = false\n"),
    )
    .unwrap();
    let _child = start(config.path(), &telegram).await;
    let photo = telegram.add_file(png());
    telegram.inject(updates::photo(
        1,
        chat(),
        ana(),
        &photo,
        Some("is this a cat?"),
    ));
    assert_eq!(
        answers(&telegram, 2).await,
        [
            "I can't see pictures with this model, so I'm answering with what I have.",
            "echo: is this a cat?"
        ]
    );
    assert!(openai.requests()[0].image_urls().is_empty());
    assert!(
        !telegram.calls().iter().any(|c| c.method == "getfile"),
        "nothing fetched for a model that cannot see"
    );
}

#[tokio::test]
async fn a_voice_note_is_transcribed_shown_and_answered_and_image_draws_unless_moderated() {
    let telegram = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    openai.set_transcript("what is the capital of Peru");
    let config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    let extra = "\n[transcription]\nmodel = \"whisper-1\"\n\n\
                 [image_generation]\nmodel = \"gpt-image-1\"\n\n\
                 [plugins.generate]\nenabled = true\n\n\
                 [plugins.moderation]\nenabled = true\ninput = { words = [\"gore\"] }\n";
    std::fs::write(
        config.path(),
        settings(&telegram, &openai, "memory", "")
            .replace("[telegram]", &format!("{}\n[telegram]", extra.trim_start())),
    )
    .unwrap();
    let _child = start(config.path(), &telegram).await;

    let note = telegram.add_file(b"OggS\0voice".to_vec());
    telegram.inject(updates::voice(1, chat(), ana(), &note, 4, "audio/ogg"));
    assert_eq!(
        answers(&telegram, 2).await,
        [
            "🎙️ “what is the capital of Peru”",
            "echo: what is the capital of Peru"
        ]
    );
    let heard = &openai.transcriptions()[0];
    assert_eq!(heard.model, "whisper-1");
    assert_eq!(heard.bytes, b"OggS\0voice");

    telegram.inject(updates::text(
        2,
        chat(),
        ana(),
        "/image a lighthouse at dusk",
    ));
    let calls = telegram
        .wait_for(WITHIN, |calls| {
            calls.iter().any(|c| c.method == "sendphoto")
        })
        .await;
    let photo = calls.iter().find(|c| c.method == "sendphoto").unwrap();
    assert!(photo.ok(), "{:?}", photo.result);
    assert_eq!(photo.file().map(|(_, bytes)| bytes), Some(png()));
    assert_eq!(openai.image_requests()[0]["prompt"], "a lighthouse at dusk");

    telegram.inject(updates::text(3, chat(), ana(), "/image lots of gore"));
    let said = answers(&telegram, 3).await;
    assert_eq!(said[2], "Sorry, I can't help with that.");
    assert_eq!(
        openai.image_requests().len(),
        1,
        "a blocked prompt never reaches the image service"
    );
}
