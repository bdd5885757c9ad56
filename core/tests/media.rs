//! Pictures and voice through the engine, with a scripted model and a
//! recording outbox that serves files: pictures reach a model that sees
//! (downscaled, counted, kept small in history) and are declined in one
//! sentence by one that does not; voice notes are transcribed, shown and
//! answered, or declined; plugins make pictures and send them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use natter_core::test_utils::{
    DrawPlugin, FixedPictures, RecordingOutbox, ScriptedBackend, TEST_PLATFORM, TestBot,
};
use natter_core::{
    Attachment, AttachmentKind, AudioClip, HistoryStore, ImageLimits, MediaError, MediaSettings,
    MemoryStore, Transcriber, Transcript, UsageScope, UsageStore, VoiceLimits,
};

/// A PNG of `width`×`height` noisy pixels.
fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let v = (x.wrapping_mul(31) ^ y.wrapping_mul(17)) as u8;
        image::Rgb([v, v.wrapping_add(80), 255 - v])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The longest side of a base64 picture.
fn side(base64: &str) -> u32 {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap();
    let picture = image::load_from_memory(&bytes).unwrap();
    picture.width().max(picture.height())
}

fn picture(reference: &str) -> Attachment {
    Attachment::new(AttachmentKind::Image, reference).with_mime("image/png")
}

fn seeing_bot(store: Arc<MemoryStore>, images: ImageLimits) -> TestBot {
    TestBot::with_parts(
        Arc::new(ScriptedBackend::new().with_vision()),
        Arc::new(RecordingOutbox::default()),
        |b| {
            b.store(store).media(MediaSettings {
                images,
                voice: VoiceLimits::default(),
            })
        },
    )
}

#[tokio::test]
async fn a_model_that_sees_gets_the_picture_and_history_keeps_a_small_copy() {
    let store = Arc::new(MemoryStore::new());
    let bot = seeing_bot(store.clone(), ImageLimits::default());
    let original = png(40, 30);
    bot.outbox.add_file("photo-1", original.clone());
    let mut photo = bot.private("what is this?");
    photo.attachments = vec![picture("photo-1")];
    assert_eq!(bot.send(photo).await, ["echo: what is this?"]);

    let asked = bot.backend.requests();
    let user = asked[0].messages.last().unwrap();
    assert_eq!(user.images.len(), 1, "the picture goes with the text");
    assert_eq!(user.images[0].mime, "image/png", "a small PNG passes as is");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&user.images[0].base64)
            .unwrap(),
        original
    );

    // History keeps the picture by reference with its copy, and the next
    // turn shows it to the model again.
    let turns = store.load_turns(&user_key(), 10).await.unwrap();
    assert_eq!(turns[0].user.images[0].reference, "photo-1");
    assert_eq!(bot.say("and now?").await, ["echo: and now?"]);
    let again = &bot.backend.requests()[1];
    assert_eq!(again.messages[1].images.len(), 1);
    assert!(again.messages.last().unwrap().images.is_empty());
}

fn user_key() -> natter_core::ConversationKey {
    natter_core::ConversationKey::new(TEST_PLATFORM, "private/alice")
}

#[tokio::test]
async fn a_large_picture_is_downscaled_and_history_stays_small() {
    let store = Arc::new(MemoryStore::new());
    let limits = ImageLimits {
        max_side: 512,
        history_side: 128,
        history_max_bytes: 12 * 1024,
        ..ImageLimits::default()
    };
    let bot = seeing_bot(store.clone(), limits);
    let original = png(2000, 1200);
    bot.outbox.add_file("big", original.clone());
    let mut photo = bot.private("describe");
    photo.attachments = vec![picture("big")];
    bot.send(photo).await;

    let requests = bot.backend.requests();
    let sent = &requests[0].messages.last().unwrap().images[0];
    assert_eq!(sent.mime, "image/jpeg");
    assert_eq!(side(&sent.base64), 512);
    let turns = store.load_turns(&user_key(), 10).await.unwrap();
    let kept = &turns[0].user.images[0];
    assert!(side(&kept.base64) <= 128);
    let row = serde_json::to_string(kept).unwrap();
    assert!(
        row.len() < 16 * 1024,
        "the stored picture is {} bytes of JSON, for a {}-byte original",
        row.len(),
        original.len()
    );
}

#[tokio::test]
async fn a_model_that_cannot_see_says_so_once_and_answers_the_caption() {
    let bot = TestBot::new();
    bot.outbox.add_file("photo-1", png(10, 10));
    let mut photo = bot.private("what does this error mean?");
    photo.attachments = vec![picture("photo-1")];
    assert_eq!(
        bot.send(photo).await,
        [
            "I can't see pictures with this model, so I'm answering with what I have.",
            "echo: what does this error mean?"
        ]
    );
    assert!(
        bot.outbox.downloads().is_empty(),
        "nothing is fetched for a model that cannot see it"
    );
    assert!(
        bot.backend.requests()[0]
            .messages
            .iter()
            .all(|m| m.images.is_empty())
    );
}

#[tokio::test]
async fn pictures_over_the_count_and_broken_files_are_named_in_one_sentence() {
    let store = Arc::new(MemoryStore::new());
    let limits = ImageLimits {
        max_images: 2,
        ..ImageLimits::default()
    };
    let bot = seeing_bot(store, limits);
    bot.outbox.add_file("a", png(8, 8));
    bot.outbox.add_file("b", b"not a picture at all".to_vec());
    bot.outbox.add_file("c", png(8, 8));
    let mut album = bot.private("compare");
    album.attachments = vec![picture("a"), picture("b"), picture("c")];
    let said = bot.send(album).await;
    assert_eq!(
        said,
        [
            "I can't open that file as a picture (JPEG, PNG, WebP or GIF) or look at more than \
             2 pictures at once (I took the first ones), so I'm answering with what I have.",
            "echo: compare"
        ]
    );
    assert_eq!(bot.outbox.downloads(), ["a", "b"]);
    assert_eq!(
        bot.backend.requests()[0]
            .messages
            .last()
            .unwrap()
            .images
            .len(),
        1
    );
}

/// A transcriber that hears `text` in anything, and counts its calls.
struct Hears {
    text: String,
    clips: Mutex<Vec<AudioClip>>,
}

#[async_trait]
impl Transcriber for Hears {
    fn model(&self) -> &str {
        "whisper-test"
    }

    async fn transcribe(&self, clip: AudioClip) -> Result<Transcript, MediaError> {
        self.clips.lock().unwrap().push(clip);
        if self.text == "fail" {
            return Err(MediaError::RateLimited {
                service: "transcription service",
            });
        }
        Ok(Transcript {
            text: self.text.clone(),
            seconds: None,
        })
    }
}

fn hearing_bot(text: &str, store: Arc<MemoryStore>) -> (TestBot, Arc<Hears>) {
    let hears = Arc::new(Hears {
        text: text.into(),
        clips: Mutex::new(Vec::new()),
    });
    let transcriber = hears.clone();
    let bot = TestBot::with(|b| {
        b.store(store)
            .transcriber(transcriber)
            .media(MediaSettings {
                images: ImageLimits::default(),
                voice: VoiceLimits {
                    max_seconds: 60,
                    ..VoiceLimits::default()
                },
            })
    });
    (bot, hears)
}

fn voice(bot: &TestBot, caption: &str, seconds: u32) -> natter_core::Incoming {
    let mut message = bot.private(caption);
    message.attachments = vec![
        Attachment::new(AttachmentKind::Voice, "voice-1")
            .with_mime("audio/ogg")
            .with_seconds(seconds),
    ];
    bot.outbox.add_file("voice-1", b"OggS fake opus".to_vec());
    message
}

#[tokio::test]
async fn a_voice_note_is_transcribed_shown_answered_and_counted() {
    let store = Arc::new(MemoryStore::new());
    let (bot, hears) = hearing_bot("what's the weather like", store.clone());
    let note = voice(&bot, "", 7);
    assert_eq!(
        bot.send(note).await,
        [
            "🎙️ “what's the weather like”",
            "echo: what's the weather like"
        ]
    );
    let clip = hears.clips.lock().unwrap()[0].clone();
    assert_eq!(clip.bytes, b"OggS fake opus");
    assert_eq!(clip.file_name, "voice.ogg");
    let totals = store
        .usage_totals(
            &UsageScope::User {
                platform: TEST_PLATFORM,
                user_id: "alice".into(),
            },
            0,
            i64::MAX,
        )
        .await
        .unwrap();
    let heard = totals.iter().find(|t| t.model == "whisper-test").unwrap();
    assert_eq!(heard.audio_seconds, 7, "{totals:?}");
    let usage = bot.say("/usage").await.join("\n");
    assert!(
        usage.contains("whisper-test: 7 s of voice heard"),
        "{usage}"
    );
    // History keeps the words, so the next turn knows what was asked.
    let turns = store.load_turns(&user_key(), 10).await.unwrap();
    assert_eq!(turns[0].user.content, "what's the weather like");
}

#[tokio::test]
async fn a_voice_note_too_long_or_unheard_is_declined_in_one_sentence() {
    let (bot, hears) = hearing_bot("words", Arc::new(MemoryStore::new()));
    assert_eq!(
        bot.send(voice(&bot, "", 95)).await,
        ["Your voice message is 1:35 minutes long; I can listen to 1:00 minutes at most."]
    );
    assert!(
        hears.clips.lock().unwrap().is_empty(),
        "not sent to be transcribed"
    );
    assert!(bot.backend.requests().is_empty(), "no model asked");
    // With a caption, the caption is still answered.
    assert_eq!(
        bot.send(voice(&bot, "summarise it", 95)).await,
        [
            "Your voice message is 1:35 minutes long; I can listen to 1:00 minutes at most.",
            "echo: summarise it"
        ]
    );

    let (failing, _) = hearing_bot("fail", Arc::new(MemoryStore::new()));
    assert_eq!(
        failing.send(voice(&failing, "", 5)).await,
        ["Sorry, the transcription service is busy. Please try again in a minute."]
    );

    // No transcriber at all: one sentence, no model call.
    let plain = TestBot::new();
    assert_eq!(
        plain.send(voice(&plain, "", 5)).await,
        ["I can't listen to voice or audio messages here — please tell me in words."]
    );
    assert!(plain.backend.requests().is_empty());
}

#[tokio::test]
async fn plugins_make_pictures_counted_in_usage_or_say_why_not() {
    let store = Arc::new(MemoryStore::new());
    let ledger = store.clone();
    let bot = TestBot::with(|b| {
        b.store(store)
            .image_generator(Arc::new(
                FixedPictures::png(png(1, 1)).refusing("forbidden"),
            ))
            .plugin(Arc::new(DrawPlugin), serde_json::Value::Null)
    });
    bot.say("/draw a cat").await;
    let images = bot.outbox.images();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].1.bytes, png(1, 1));
    assert_eq!(images[0].1.caption.text, "_a cat_");
    let totals = ledger
        .usage_totals(&UsageScope::Everyone, 0, i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        totals.iter().find(|t| t.model == "painter").unwrap().images,
        1
    );

    assert_eq!(
        bot.say("/draw something forbidden").await,
        ["Sorry, the image service refused that."]
    );
    assert_eq!(bot.outbox.images().len(), 1);

    let without = TestBot::with_plugin(DrawPlugin);
    assert_eq!(
        without.say("/draw a cat").await,
        ["I can't make pictures here: no image service is set up."]
    );
}
