//! Pictures and voice against the fake Discord: attachments fetched from
//! where the fake serves them (and nowhere else) within a size limit,
//! pictures posted as multipart message creates, and a voice message
//! reaching the engine as a voice note.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_core::plugin::{Flow, Plugin, PluginContext, PluginError};
use natter_core::test_utils::{ScriptedBackend, TINY_PNG};
use natter_core::{
    Attachment, AttachmentKind, ChannelRef, DeliveryError, DownloadError, Engine, Incoming,
    MessageId, Outbox, OutgoingImage, Rendered, TextFormat,
};
use natter_discord::{DiscordOutbox, DiscordSettings};
use natter_test_support::discord::{FakeDiscord, Post, TOKEN, User};
use secrecy::SecretString;
use serde_json::{Value, json};
use serenity::http::HttpBuilder;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GUILD: u64 = 100;
const CHANNEL: u64 = 200;
const THREAD: u64 = 300;
const DM: u64 = 400;
/// How long an awaited event may take before the test fails.
const WITHIN: Duration = Duration::from_secs(30);

/// An outbox posting to the fake as the adapter does behind a proxy.
fn outbox(fake: &FakeDiscord) -> DiscordOutbox {
    let http = HttpBuilder::new(TOKEN)
        .proxy(fake.proxy_url())
        .ratelimiter_disabled(true)
        .build();
    DiscordOutbox::new(Arc::new(http))
}

/// The engine's attachment for an attachment object of the fake's.
fn attachment_of(file: &Value, kind: AttachmentKind) -> Attachment {
    let mut attachment = Attachment::new(kind, file["url"].as_str().unwrap());
    attachment.size = file["size"].as_u64();
    attachment
}

#[tokio::test]
async fn an_attachment_downloads_from_where_discord_serves_it() {
    let fake = FakeDiscord::start().await;
    let bytes: Vec<u8> = (0..=255).cycle().take(100_000).collect();
    let file = fake.add_attachment("cat.png", "image/png", bytes.clone());
    let got = outbox(&fake)
        .download(&attachment_of(&file, AttachmentKind::Image), 100_000)
        .await
        .unwrap();
    assert!(got == bytes, "{} bytes, not the file", got.len());
    let [path] = fake.downloads().try_into().unwrap();
    assert!(path.ends_with("/cat.png"), "{path}");
}

#[tokio::test]
async fn an_attachment_over_the_limit_is_refused_before_it_is_read() {
    let fake = FakeDiscord::start().await;
    let outbox = outbox(&fake);
    let file = fake.add_attachment("big.bin", "application/octet-stream", vec![0; 5_000]);
    let declared = attachment_of(&file, AttachmentKind::File);
    assert_eq!(
        outbox.download(&declared, 4_999).await,
        Err(DownloadError::TooLarge { limit: 4_999 })
    );
    assert!(
        fake.downloads().is_empty(),
        "fetched a file declared too large"
    );
    // Not declared: the response's length gives it away.
    let mut undeclared = declared.clone();
    undeclared.size = None;
    assert_eq!(
        outbox.download(&undeclared, 4_999).await,
        Err(DownloadError::TooLarge { limit: 4_999 })
    );
    assert_eq!(fake.downloads().len(), 1);
    assert_eq!(
        outbox.download(&undeclared, 5_000).await.unwrap().len(),
        5_000
    );
}

#[tokio::test]
async fn attachments_elsewhere_or_gone_are_refused() {
    let fake = FakeDiscord::start().await;
    let outbox = outbox(&fake);
    // A server of our own, which must never be asked.
    let elsewhere = FakeDiscord::start().await;
    let planted = elsewhere.add_attachment("x.png", "image/png", b"x".to_vec());
    for url in [
        planted["url"].as_str().unwrap().to_owned(),
        "http://example.invalid/x.png".to_owned(),
        "https://cdn.discordapp.com.example.invalid/x.png".to_owned(),
        "not a url".to_owned(),
    ] {
        let result = outbox
            .download(&Attachment::new(AttachmentKind::Image, &url), 1_000)
            .await;
        assert!(
            matches!(result, Err(DownloadError::Refused(_))),
            "{url}: {result:?}"
        );
    }
    assert!(elsewhere.downloads().is_empty());

    let file = fake.add_attachment("x.png", "image/png", b"x".to_vec());
    let url = file["url"].as_str().unwrap().replace("/x.png", "/gone.png");
    let gone = outbox
        .download(&Attachment::new(AttachmentKind::Image, url), 1_000)
        .await;
    assert!(
        matches!(&gone, Err(DownloadError::Refused(why)) if why.contains("404")),
        "{gone:?}"
    );
}

fn picture(caption: &str) -> OutgoingImage {
    OutgoingImage {
        bytes: b"\x89PNG\r\n\x1a\n\x00 picture".to_vec(),
        mime: "image/png".into(),
        file_name: "cat.png".into(),
        caption: Rendered::new(caption, TextFormat::Markdown),
    }
}

fn in_thread() -> ChannelRef {
    ChannelRef::group(natter_discord::PLATFORM, CHANNEL.to_string())
        .in_server(GUILD.to_string())
        .in_thread(THREAD.to_string())
}

#[tokio::test]
async fn send_image_attaches_the_picture_under_its_caption() {
    let fake = FakeDiscord::start().await;
    let id = outbox(&fake)
        .send_image(
            &in_thread(),
            &picture("**A cat** in a hat"),
            Some(&MessageId("12345".into())),
        )
        .await
        .unwrap();
    let [posted] = fake.posted_in(THREAD).try_into().unwrap();
    assert_eq!(id, MessageId(posted.id.to_string()));
    assert_eq!(posted.content, "**A cat** in a hat");
    assert_eq!(posted.reply_to, Some(12345));
    let [file] = posted.files.try_into().unwrap();
    assert_eq!(file.file_name, "cat.png");
    assert_eq!(file.bytes, b"\x89PNG\r\n\x1a\n\x00 picture");
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    let call = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "POST" && c.path.ends_with("/messages"))
        .unwrap();
    assert_eq!(call.files.len(), 1, "not a multipart upload");
    assert_eq!(call.body["allowed_mentions"]["parse"], json!([]));
    assert!(
        fake.posted_in(CHANNEL).is_empty(),
        "posted outside the thread"
    );
}

#[tokio::test]
async fn a_caption_longer_than_a_message_is_split_after_the_picture() {
    let fake = FakeDiscord::start().await;
    let outbox = outbox(&fake);
    let long: String = (0..300)
        .map(|n| format!("Sentence {n} of the caption. "))
        .collect();
    let long = long.trim_end();
    assert!(long.chars().count() > 2 * 2_000);
    let id = outbox
        .send_image(&in_thread(), &picture(long), None)
        .await
        .unwrap();
    let posted = fake.posted_in(THREAD);
    assert!(posted.len() >= 3, "{} messages", posted.len());
    assert_eq!(id, MessageId(posted[0].id.to_string()));
    assert_eq!(posted[0].files.len(), 1);
    assert!(posted[1..].iter().all(|p| p.files.is_empty()));
    assert!(posted.iter().all(|p| p.content.chars().count() <= 2_000));
    assert!(posted[1..].iter().all(|p| p.reply_to.is_none()));
    let shown: Vec<&str> = posted
        .iter()
        .flat_map(|p| p.content.split_whitespace())
        .collect();
    assert_eq!(shown, long.split_whitespace().collect::<Vec<_>>());
}

#[tokio::test]
async fn send_image_failures_map_like_sends() {
    let fake = FakeDiscord::start().await;
    let outbox = outbox(&fake);
    let limited =
        json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false});
    fake.fail_next("POST", "/messages", 429, limited);
    assert!(matches!(
        outbox.send_image(&in_thread(), &picture("x"), None).await,
        Err(DeliveryError::RetryAfter(_))
    ));
    fake.fail_next(
        "POST",
        "/messages",
        403,
        json!({"message": "Missing Permissions", "code": 50_013}),
    );
    assert!(matches!(
        outbox.send_image(&in_thread(), &picture("x"), None).await,
        Err(DeliveryError::Rejected(_))
    ));
    fake.fail_next(
        "POST",
        "/messages",
        502,
        json!({"message": "Bad Gateway", "code": 0}),
    );
    assert!(matches!(
        outbox.send_image(&in_thread(), &picture("x"), None).await,
        Err(DeliveryError::Transient(_))
    ));
}

/// The real adapter running against the fake, through the settings users
/// have (`proxy_url`, `gateway_url`).
struct Adapter {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), natter_discord::DiscordError>>,
}

impl Adapter {
    /// Starts the adapter on `engine` and waits until it is connected.
    async fn start(fake: &FakeDiscord, engine: Engine) -> Self {
        let settings = DiscordSettings {
            token: Some(SecretString::from(TOKEN)),
            proxy_url: Some(fake.proxy_url()),
            gateway_url: Some(fake.gateway_url()),
            ..DiscordSettings::default()
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(natter_discord::run(settings, engine, shutdown.clone()));
        fake.wait_ready().await;
        Self { shutdown, task }
    }

    /// Stops it; it must end cleanly.
    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .unwrap()
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

/// Hands every message it sees to the test, and answers it itself.
struct Seen(mpsc::UnboundedSender<Incoming>);

#[async_trait]
impl Plugin for Seen {
    fn name(&self) -> &str {
        "seen"
    }

    async fn on_message(
        &self,
        _cx: &mut PluginContext<'_>,
        msg: &Incoming,
    ) -> Result<Flow, PluginError> {
        let _ = self.0.send(msg.clone());
        Ok(Flow::Handled)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_message_reaches_the_engine_as_a_voice_note_that_downloads() {
    let fake = FakeDiscord::start().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .plugin(Arc::new(Seen(tx)), json!({}))
        .build()
        .unwrap();
    let adapter = Adapter::start(&fake, engine).await;

    let recording = b"OggS\x00\x02 opus".to_vec();
    let voice = fake.add_voice_message(recording.clone(), 2.3);
    fake.post(
        Post::direct(DM, &User::human(11, "alice"), "")
            .with_attachment(voice)
            .as_voice_message(),
    );
    let incoming = tokio::time::timeout(WITHIN, seen.recv())
        .await
        .expect("the voice message reached the engine")
        .unwrap();
    let [note] = incoming.attachments.try_into().unwrap();
    assert_eq!(note.kind, AttachmentKind::Voice);
    assert_eq!(note.seconds, Some(3));
    assert_eq!(note.mime.as_deref(), Some("audio/ogg"));
    assert_eq!(note.file_name.as_deref(), Some("voice-message.ogg"));
    assert_eq!(note.size, Some(recording.len() as u64));
    let got = outbox(&fake).download(&note, 1 << 20).await.unwrap();
    assert_eq!(got, recording);

    adapter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_in_a_dm_reaches_a_model_that_sees_as_an_image_part() {
    let fake = FakeDiscord::start().await;
    let backend = Arc::new(ScriptedBackend::new().with_vision());
    let engine = Engine::builder(backend.clone()).build().unwrap();
    let adapter = Adapter::start(&fake, engine).await;

    let photo = fake.add_attachment("error.png", "image/png", TINY_PNG.to_vec());
    fake.post(
        Post::direct(DM, &User::human(11, "alice"), "what does this error mean?")
            .with_attachment(photo),
    );
    let replies = fake.wait_replies(DM, 1).await;
    assert_eq!(replies[0].content, "echo: what does this error mean?");
    let asked = backend.requests();
    let user = asked[0].messages.last().unwrap();
    assert_eq!(user.images.len(), 1, "the picture went with the text");
    assert_eq!(user.images[0].mime, "image/png");
    assert_eq!(fake.downloads().len(), 1);

    adapter.stop().await;
}

/// Hears the same words in any clip, and keeps what it was given.
struct Hears(std::sync::Mutex<Vec<natter_core::AudioClip>>);

#[async_trait]
impl natter_core::Transcriber for Hears {
    fn model(&self) -> &str {
        "whisper-test"
    }

    async fn transcribe(
        &self,
        clip: natter_core::AudioClip,
    ) -> Result<natter_core::Transcript, natter_core::MediaError> {
        self.0.lock().unwrap().push(clip);
        Ok(natter_core::Transcript {
            text: "what time is it in Lima".into(),
            seconds: Some(2.3),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_message_is_transcribed_shown_and_answered() {
    let fake = FakeDiscord::start().await;
    let hears = Arc::new(Hears(std::sync::Mutex::new(Vec::new())));
    let engine = Engine::builder(Arc::new(ScriptedBackend::new()))
        .transcriber(hears.clone())
        .build()
        .unwrap();
    let adapter = Adapter::start(&fake, engine).await;

    let recording = b"OggS\x00\x02 opus".to_vec();
    let voice = fake.add_voice_message(recording.clone(), 2.3);
    fake.post(
        Post::direct(DM, &User::human(11, "alice"), "")
            .with_attachment(voice)
            .as_voice_message(),
    );
    let replies = fake.wait_replies(DM, 2).await;
    let said: Vec<&str> = replies.iter().map(|p| p.content.as_str()).collect();
    assert_eq!(
        said,
        [
            "🎙️ “what time is it in Lima”",
            "echo: what time is it in Lima"
        ]
    );
    let clip = hears.0.lock().unwrap()[0].clone();
    assert_eq!(clip.bytes, recording, "the voice message, fetched whole");
    assert_eq!(clip.file_name, "voice-message.ogg");

    adapter.stop().await;
}
