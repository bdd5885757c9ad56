//! Pictures and voice against the fake server: image parts on the wire,
//! vision learned from the name or the server, speech to text as a
//! multipart upload, and pictures made — or refused — as OpenAI answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::settings;
use natter_core::{
    AudioClip, ChatMessage, ChatRequest, ImageGenerator, ImagePart, MediaError, ModelBackend,
    Transcriber,
};
use natter_openai::{
    EndpointSettings, OpenAiBackend, OpenAiImages, OpenAiSettings, OpenAiTranscriber,
};
use natter_test_support::openai::{FakeOpenAi, PICTURE_PNG_BASE64, Server as Acting};
use secrecy::SecretString;

fn endpoint(fake: &FakeOpenAi, model: &str) -> EndpointSettings {
    EndpointSettings {
        base_url: fake.base_url(),
        model: model.into(),
        api_key: Some(SecretString::from("sk-media")),
        max_retries: 0,
        ..EndpointSettings::default()
    }
}

#[tokio::test]
async fn a_picture_goes_as_an_image_url_part_after_the_text() {
    let fake = FakeOpenAi::start().await;
    let backend = OpenAiBackend::connect(settings(&fake, "gpt-4o-mini"))
        .await
        .unwrap();
    assert!(backend.capabilities().vision, "gpt-4o-mini is known to see");
    let picture = ImagePart {
        reference: "file-1".into(),
        mime: "image/png".into(),
        base64: PICTURE_PNG_BASE64.into(),
    };
    let request = ChatRequest::new(vec![
        ChatMessage::user("what is this?").with_images(vec![picture]),
    ]);
    let reply = backend.complete(request).await.unwrap();
    assert_eq!(reply.text, "echo: what is this? [image]");
    assert_eq!(
        fake.requests()[0].image_urls(),
        [format!("data:image/png;base64,{PICTURE_PNG_BASE64}")]
    );
}

#[tokio::test]
async fn vision_is_asked_of_servers_that_say_and_the_setting_wins() {
    let fake = FakeOpenAi::start().await;
    fake.act_as(Acting::LlamaCpp {
        n_ctx: 8192,
        n_ctx_train: 32768,
    });
    let blind = OpenAiBackend::connect(settings(&fake, "qwen2.5-vl"))
        .await
        .unwrap();
    assert!(!blind.capabilities().vision, "no projector loaded");
    fake.advertise_vision(true);
    let seeing = OpenAiBackend::connect(settings(&fake, "qwen2.5-vl"))
        .await
        .unwrap();
    assert!(seeing.capabilities().vision, "modalities.vision says so");
    let configured = OpenAiSettings {
        vision: Some(false),
        ..settings(&fake, "qwen2.5-vl")
    };
    let told = OpenAiBackend::connect(configured).await.unwrap();
    assert!(!told.capabilities().vision, "the setting wins");

    let ollama = FakeOpenAi::start().await;
    ollama.act_as(Acting::Ollama {
        model: "llava".into(),
        context_length: 4096,
        num_ctx: None,
    });
    ollama.advertise_vision(true);
    let llava = OpenAiBackend::connect(settings(&ollama, "llava"))
        .await
        .unwrap();
    assert!(llava.capabilities().vision, "Ollama's capabilities say so");
}

#[tokio::test]
async fn a_voice_note_is_uploaded_as_multipart_and_its_words_come_back() {
    let fake = FakeOpenAi::start().await;
    fake.set_transcript("remind me to call Ana at five");
    let transcriber = OpenAiTranscriber::new(&endpoint(&fake, "whisper-1")).unwrap();
    let transcript = transcriber
        .transcribe(AudioClip {
            bytes: b"OggS\0fake opus".to_vec(),
            file_name: "voice.ogg".into(),
            mime: Some("audio/ogg".into()),
        })
        .await
        .unwrap();
    assert_eq!(transcript.text, "remind me to call Ana at five");
    let sent = &fake.transcriptions()[0];
    assert_eq!(sent.model, "whisper-1");
    assert_eq!(sent.file_name, "voice.ogg");
    assert_eq!(sent.content_type.as_deref(), Some("audio/ogg"));
    assert_eq!(sent.bytes, b"OggS\0fake opus");
    assert_eq!(sent.authorization.as_deref(), Some("Bearer sk-media"));

    let empty = transcriber
        .transcribe(AudioClip {
            bytes: Vec::new(),
            file_name: "voice.ogg".into(),
            mime: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(empty, MediaError::Rejected { status: 400, .. }),
        "{empty:?}"
    );
}

#[tokio::test]
async fn a_picture_is_made_or_refused_as_the_service_says() {
    let fake = FakeOpenAi::start().await;
    fake.refuse_image_words(&["gore"]);
    let images = OpenAiImages::new(&endpoint(&fake, "gpt-image-1"), "1024x1024").unwrap();
    let made = images.generate("a lighthouse at dusk").await.unwrap();
    assert_eq!(made.mime, "image/png");
    assert_eq!(
        made.bytes,
        base64::engine::general_purpose::STANDARD
            .decode(PICTURE_PNG_BASE64)
            .unwrap()
    );
    let asked = &fake.image_requests()[0];
    assert_eq!(asked["model"], "gpt-image-1");
    assert_eq!(asked["prompt"], "a lighthouse at dusk");
    assert_eq!(asked["size"], "1024x1024");

    let refused = images.generate("lots of gore").await.unwrap_err();
    assert_eq!(
        refused.user_message(),
        "Sorry, the image service refused that."
    );
}
