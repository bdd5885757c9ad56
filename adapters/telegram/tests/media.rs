//! Pictures and voice against the fake Bot API: files that came with a
//! message fetched with `getFile` and `/file/bot<token>/…` within a size
//! limit, and pictures posted with `sendPhoto`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use natter_core::{
    Attachment, AttachmentKind, ChannelRef, DeliveryError, DownloadError, MessageId, Outbox,
    OutgoingImage, Rendered, TextFormat,
};
use natter_telegram::translate::{BotIdentity, Translator};
use natter_telegram::{TelegramOutbox, TelegramSettings};
use natter_test_support::telegram::updates::{self, group_chat, in_topic, private_chat, user};
use natter_test_support::telegram::{BOT_ID, BOT_USERNAME, Failure, FakeTelegram, TOKEN};
use serde_json::Value;

const ALICE: i64 = 2001;
const GROUP: i64 = -100_900;

fn outbox(fake: &FakeTelegram) -> TelegramOutbox {
    let bot = teloxide::Bot::new(TOKEN).set_api_url(fake.api_url().parse().unwrap());
    TelegramOutbox::new(bot, TelegramSettings::default().limits())
}

/// What the adapter hands the engine for `update`.
fn attachments_of(update: &Value) -> Vec<Attachment> {
    let me = BotIdentity {
        id: BOT_ID as u64,
        username: BOT_USERNAME.into(),
    };
    let translator = Translator::new(me, &TelegramSettings::default(), []);
    let message = serde_json::from_value(update["message"].clone()).unwrap();
    translator.translate(&message).unwrap().attachments
}

fn voice_note(file: &str) -> Attachment {
    Attachment::new(AttachmentKind::Voice, file)
}

#[tokio::test]
async fn a_voice_note_from_an_update_downloads_byte_for_byte() {
    let fake = FakeTelegram::start().await;
    let bytes: Vec<u8> = (0..=255).cycle().take(70_000).collect();
    let file = fake.add_file_at("voice/file_3.oga", bytes.clone());
    let update = updates::voice(
        1,
        private_chat(ALICE, "Alice"),
        user(ALICE, "Alice"),
        &file,
        4,
        "audio/ogg",
    );
    let [attachment] = attachments_of(&update).try_into().unwrap();
    assert_eq!(attachment.kind, AttachmentKind::Voice);
    assert_eq!(attachment.seconds, Some(4));
    assert_eq!(attachment.size, Some(70_000));

    let got = outbox(&fake)
        .download(&attachment, 1_000_000)
        .await
        .unwrap();
    assert_eq!(got, bytes);
    assert_eq!(fake.calls_to("getFile").len(), 1);
    assert_eq!(fake.downloads(), ["voice/file_3.oga"]);
}

#[tokio::test]
async fn the_largest_photo_of_an_update_downloads() {
    let fake = FakeTelegram::start().await;
    let file = fake.add_file(b"\xff\xd8\xff jpeg".to_vec());
    let update = updates::photo(
        2,
        private_chat(ALICE, "Alice"),
        user(ALICE, "Alice"),
        &file,
        Some("what is this?"),
    );
    let [photo] = attachments_of(&update).try_into().unwrap();
    assert_eq!(photo.reference, file.id, "the thumbnail was taken");
    assert_eq!(photo.mime.as_deref(), Some("image/jpeg"));
    let got = outbox(&fake).download(&photo, 1024).await.unwrap();
    assert_eq!(got, b"\xff\xd8\xff jpeg");
}

#[tokio::test]
async fn a_file_declared_too_large_is_refused_without_fetching_it() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    let file = fake.add_file(vec![7; 5_000]);

    // Declared on the message: not even getFile.
    let mut declared = voice_note(&file.id);
    declared.size = Some(5_000);
    assert_eq!(
        outbox.download(&declared, 4_999).await,
        Err(DownloadError::TooLarge { limit: 4_999 })
    );
    assert!(fake.calls_to("getFile").is_empty());

    // Declared by getFile only.
    assert_eq!(
        outbox.download(&voice_note(&file.id), 1_000).await,
        Err(DownloadError::TooLarge { limit: 1_000 })
    );
    assert_eq!(fake.calls_to("getFile").len(), 1);
    assert!(
        fake.downloads().is_empty(),
        "fetched {:?}",
        fake.downloads()
    );
}

#[tokio::test]
async fn a_file_larger_than_declared_stops_at_the_limit() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    let file = fake.add_file(vec![1; 50_000]);
    fake.set_file_size(&file.id, Some(10));
    assert_eq!(
        outbox.download(&voice_note(&file.id), 20_000).await,
        Err(DownloadError::TooLarge { limit: 20_000 })
    );
    // No size at all (teloxide reads that as u32::MAX): fetched, and stopped.
    fake.set_file_size(&file.id, None);
    assert_eq!(
        outbox.download(&voice_note(&file.id), 20_000).await,
        Err(DownloadError::TooLarge { limit: 20_000 })
    );
    assert_eq!(fake.downloads().len(), 2);
    assert_eq!(
        outbox
            .download(&voice_note(&file.id), 50_000)
            .await
            .unwrap()
            .len(),
        50_000,
        "exactly the limit is allowed"
    );
}

#[tokio::test]
async fn unknown_and_oversized_files_are_refused_with_a_reason() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    let unknown = outbox.download(&voice_note("no-such-id"), 1_000).await;
    assert!(
        matches!(&unknown, Err(DownloadError::Refused(why)) if why.contains("file_id")),
        "{unknown:?}"
    );
    let big = fake.add_file(vec![0; 10]);
    fake.set_file_size(&big.id, Some(25 * 1024 * 1024));
    let refused = outbox.download(&voice_note(&big.id), u64::MAX).await;
    assert!(
        matches!(&refused, Err(DownloadError::Refused(why)) if why.contains("20 MB")),
        "{refused:?}"
    );
    assert!(fake.downloads().is_empty());
}

#[tokio::test]
async fn a_local_bot_api_server_file_is_read_from_disk() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file_9.oga");
    std::fs::write(&path, b"on disk").unwrap();
    // The fake would serve other bytes over HTTP: they must not be what comes back.
    let file = fake.add_file_at(path.to_str().unwrap(), b"over http".to_vec());
    let got = outbox.download(&voice_note(&file.id), 100).await.unwrap();
    assert_eq!(got, b"on disk");
    assert!(fake.downloads().is_empty());
    assert_eq!(
        outbox.download(&voice_note(&file.id), 3).await,
        Err(DownloadError::TooLarge { limit: 3 })
    );
}

#[tokio::test]
async fn a_file_path_no_longer_served_is_refused_without_the_token() {
    let fake = FakeTelegram::start().await;
    let file = fake.add_file(b"old".to_vec());
    fake.expire_file(&file.id);
    let refused = outbox(&fake).download(&voice_note(&file.id), 100).await;
    let Err(DownloadError::Refused(why)) = &refused else {
        panic!("{refused:?}");
    };
    assert!(why.contains("404"), "{why}");
    assert!(!why.contains("TEST-token"), "the token leaked: {why}");
    assert_eq!(fake.downloads(), [file.path]);
}

fn picture(caption: Rendered) -> OutgoingImage {
    OutgoingImage {
        bytes: b"\x89PNG\r\n\x1a\n picture".to_vec(),
        mime: "image/png".into(),
        file_name: "cat.png".into(),
        caption,
    }
}

fn topic() -> ChannelRef {
    ChannelRef::group(natter_telegram::PLATFORM, GROUP.to_string()).in_thread("77")
}

#[tokio::test]
async fn send_image_posts_the_bytes_caption_reply_and_topic() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    let caption = Rendered::new("<b>A cat</b> &amp; a hat", TextFormat::Html);
    let id = outbox
        .send_image(&topic(), &picture(caption), Some(&MessageId("55".into())))
        .await
        .unwrap();

    let [call] = fake.calls_to("sendPhoto").try_into().unwrap();
    assert!(call.ok(), "{:?}", call.result);
    let (name, bytes) = call.file().unwrap();
    assert_eq!(name, "cat.png");
    assert_eq!(bytes, b"\x89PNG\r\n\x1a\n picture");
    assert_eq!(call.caption(), Some("<b>A cat</b> &amp; a hat"));
    assert_eq!(call.params["parse_mode"], "HTML");
    assert_eq!(call.chat(), Some(GROUP));
    assert_eq!(call.params["message_thread_id"], 77);
    assert_eq!(call.params["reply_parameters"]["message_id"], 55);

    let [posted] = fake.messages(GROUP).try_into().unwrap();
    assert_eq!(id, MessageId(posted.id.to_string()));
    assert_eq!(posted.photo.unwrap().bytes, bytes);
    assert!(fake.calls_to("sendMessage").is_empty());
}

#[tokio::test]
async fn a_long_caption_follows_the_picture_as_a_message() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    // 1025 units a reader sees, under 1024 characters: emoji count twice.
    let long = format!("<i>{}</i>", "😀".repeat(513));
    let chat = ChannelRef::private(natter_telegram::PLATFORM, ALICE.to_string());
    let id = outbox
        .send_image(
            &chat,
            &picture(Rendered::new(long.clone(), TextFormat::Html)),
            Some(&MessageId("9".into())),
        )
        .await
        .unwrap();
    let [photo] = fake.calls_to("sendPhoto").try_into().unwrap();
    assert!(photo.ok());
    assert_eq!(photo.caption(), None, "the photo carried a caption");
    let [text] = fake.calls_to("sendMessage").try_into().unwrap();
    assert!(text.ok());
    assert_eq!(text.text(), Some(long.as_str()));
    let messages = fake.messages(ALICE);
    assert_eq!(messages.len(), 2);
    assert!(messages[0].photo.is_some() && messages[1].photo.is_none());
    assert_eq!(id, MessageId(messages[0].id.to_string()));

    // Exactly at the limit, it stays under the picture.
    let fits = "😀".repeat(512);
    outbox
        .send_image(&chat, &picture(Rendered::plain(fits.clone())), None)
        .await
        .unwrap();
    assert_eq!(fake.calls_to("sendPhoto")[1].caption(), Some(fits.as_str()));
    assert_eq!(fake.calls_to("sendMessage").len(), 1);
}

#[tokio::test]
async fn send_image_reports_retry_after_and_survives_bad_html() {
    let fake = FakeTelegram::start().await;
    let outbox = outbox(&fake);
    let chat = ChannelRef::private(natter_telegram::PLATFORM, ALICE.to_string());
    fake.fail_next("sendPhoto", Failure::RetryAfter(7));
    let caption = Rendered::new("<b>bold</b> &lt;3", TextFormat::Html);
    assert_eq!(
        outbox
            .send_image(&chat, &picture(caption.clone()), None)
            .await,
        Err(DeliveryError::RetryAfter(Duration::from_secs(7)))
    );
    fake.fail_next("sendPhoto", Failure::CantParseEntities);
    outbox
        .send_image(&chat, &picture(caption), None)
        .await
        .unwrap();
    let calls = fake.calls_to("sendPhoto");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].caption(), Some("bold <3"));
    assert!(calls[2].params.get("parse_mode").is_none());
    assert!(calls[2].file().is_some(), "the retry left the picture out");

    fake.fail_next("sendPhoto", Failure::ChatNotFound);
    assert!(matches!(
        outbox
            .send_image(&chat, &picture(Rendered::plain("")), None)
            .await,
        Err(DeliveryError::Rejected(_))
    ));
}

#[tokio::test]
async fn photos_in_forum_topics_and_captions_with_mentions_translate() {
    let fake = FakeTelegram::start().await;
    let file = fake.add_file(b"jpeg".to_vec());
    let caption = format!("@{BOT_USERNAME} what is it?");
    let update = updates::photo(
        3,
        group_chat(GROUP, "Pets", true),
        user(ALICE, "Alice"),
        &file,
        Some(&caption),
    );
    let update = updates::with_entity(in_topic(update, 77), "mention", &format!("@{BOT_USERNAME}"));
    let me = BotIdentity {
        id: BOT_ID as u64,
        username: BOT_USERNAME.into(),
    };
    let translator = Translator::new(me, &TelegramSettings::default(), []);
    let message = serde_json::from_value(update["message"].clone()).unwrap();
    let incoming = translator.translate(&message).unwrap();
    assert_eq!(incoming.text, "what is it?");
    assert_eq!(incoming.addressed, natter_core::Addressed::Mentioned);
    assert_eq!(incoming.channel.thread.as_deref(), Some("77"));
    assert_eq!(incoming.attachments[0].reference, file.id);

    let song = fake.add_file(vec![3; 30]);
    let audio = updates::audio(
        4,
        private_chat(ALICE, "Alice"),
        user(ALICE, "Alice"),
        &song,
        180,
        "song.mp3",
        "audio/mpeg",
    );
    let [attachment] = attachments_of(&audio).try_into().unwrap();
    assert_eq!(attachment.kind, AttachmentKind::Audio);
    assert_eq!(attachment.file_name.as_deref(), Some("song.mp3"));
    assert_eq!(attachment.seconds, Some(180));
    assert_eq!(attachment.size, Some(30));
}
