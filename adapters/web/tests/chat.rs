//! The web chat and the dashboard through their handlers: replies stream
//! into the event stream, model output is escaped wherever it is shown,
//! confirmations come with buttons, and the dashboard reads and changes the
//! conversation the chat made.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use natter_core::test_utils::{DrawPlugin, FixedPictures, TINY_PNG};
use natter_core::{
    Command, CommandSpec, Permission, Persona, PersonaSettings, Personas, Plugin, PluginContext,
    PluginError, ToolInvocation, ToolSpec,
};
use serde_json::json;
use support::{Events, Site, text};

#[tokio::test]
async fn a_reply_streams_in_and_model_output_is_escaped_everywhere() {
    let site = Site::start().await;
    let browser = site.login().await;
    let mut events = Events::open(&site, &browser).await;
    site.backend.reply_chunks(
        &[
            "**bold**\n\n",
            "<script>alert(1)</script> ",
            "<img src=x onerror=alert(2)>",
        ],
        Duration::from_millis(5),
    );
    let sent = site
        .send(browser.fetch("/chat/send", &[("text", "say <b>hi</b>")]))
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let seen = events.until_final("onerror").await;
    let kinds: Vec<&str> = seen.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"message"), "{kinds:?}");
    assert!(
        seen.iter()
            .filter(|e| e["html"].as_str().is_some_and(|h| h.contains('▍')))
            .count()
            >= 1,
        "the reply was shown while it was being written: {seen:?}"
    );
    for event in &seen {
        let html = event["html"].as_str().unwrap_or_default();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }
    let last = seen.last().unwrap()["html"].as_str().unwrap();
    assert!(
        last.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{last}"
    );
    assert!(last.contains("<strong>bold</strong>"), "{last}");

    // The turn is recorded before the lane's next message is handled.
    site.send(browser.fetch("/chat/send", &[("text", "/help")]))
        .await;
    events.until_final("Commands:").await;
    for page in ["/chat", "/dashboard/conversations"] {
        let html = text(site.send(browser.get(page)).await).await;
        assert!(!html.contains("<script>alert"), "{page}: {html}");
        assert!(!html.contains("<b>hi</b>"), "{page}: user text escaped too");
    }
    let chat = text(site.send(browser.get("/chat")).await).await;
    assert!(chat.contains("&lt;script&gt;alert(1)"), "{chat}");
    assert!(chat.contains("&lt;b&gt;hi&lt;/b&gt;"), "{chat}");
}

#[tokio::test]
async fn commands_and_stop_work_as_on_every_platform() {
    let site = Site::start().await;
    let browser = site.login().await;
    let mut events = Events::open(&site, &browser).await;
    site.send(browser.fetch("/chat/send", &[("text", "/model")]))
        .await;
    events.until_final("Available: default").await;
    site.backend
        .reply_chunks(&["a ", "very ", "slow ", "reply"], Duration::from_secs(30));
    site.send(browser.fetch("/chat/send", &[("text", "tell me")]))
        .await;
    site.backend.wait_for_requests(1).await;
    site.send(browser.fetch("/chat/send", &[("text", "/stop")]))
        .await;
    let mut seen = events.until_final("(stopped)").await;
    if !seen.iter().any(|e| e["html"] == "<p>Stopped.</p>\n") {
        seen = events.until_final("Stopped.").await;
    }
    assert_eq!(seen.last().unwrap()["html"], "<p>Stopped.</p>\n");
    assert!(
        site.backend.dropped_streams() >= 1,
        "the model's stream was dropped"
    );
}

/// A plugin with a tool that asks before it runs.
struct Deleter;

#[async_trait]
impl Plugin for Deleter {
    fn name(&self) -> &str {
        "deleter"
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec::new("purge", "Deletes everything")]
    }

    fn tools(&self) -> Vec<ToolSpec> {
        vec![
            ToolSpec::with_schema(
                "delete_note",
                "Deletes a note",
                json!({"type": "object", "properties": {"id": {"type": "integer"}}}),
            )
            .permission(Permission::Confirm),
        ]
    }

    async fn on_command(
        &self,
        cx: &mut PluginContext<'_>,
        _command: Command,
    ) -> Result<(), PluginError> {
        cx.reply("purged").await
    }

    async fn call_tool(
        &self,
        _cx: &mut PluginContext<'_>,
        _call: ToolInvocation,
    ) -> Result<String, PluginError> {
        Ok("deleted".into())
    }
}

#[tokio::test]
async fn a_confirmation_comes_with_buttons_and_the_button_answers_it() {
    let site = Site::with(
        |b| b.plugin(Arc::new(Deleter), serde_json::Value::Null),
        false,
        Vec::new(),
    )
    .await;
    let browser = site.login().await;
    let mut events = Events::open(&site, &browser).await;
    site.backend.call("delete_note", r#"{"id": 3}"#);
    site.backend.reply("Done, note 3 is gone.");
    site.send(browser.fetch("/chat/send", &[("text", "delete note 3")]))
        .await;
    let asked = loop {
        let event = events.next().await;
        if event["kind"] == "approval" {
            break event;
        }
    };
    assert!(asked["html"].as_str().unwrap().contains("delete_note"));
    let approval = asked["approval"].as_str().unwrap().to_owned();
    let answer = site
        .send(browser.fetch(
            "/chat/approval",
            &[("approval", &approval), ("decision", "allow")],
        ))
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(text(answer).await, r#"{"message":"Allowed."}"#);
    events.until_final("note 3 is gone").await;
    let again = site
        .send(browser.fetch(
            "/chat/approval",
            &[("approval", &approval), ("decision", "allow")],
        ))
        .await;
    assert!(text(again).await.contains("Nothing is waiting"));

    let setup = text(site.send(browser.get("/dashboard/setup")).await).await;
    assert!(setup.contains("deleter"), "{setup}");
    assert!(setup.contains("/purge"), "{setup}");
    assert!(
        setup.contains("delete_note") && setup.contains("asks first"),
        "{setup}"
    );
}

#[tokio::test]
async fn the_dashboard_reads_resets_and_sets_the_persona_of_a_chat_conversation() {
    let personas = Personas::new(
        PersonaSettings::default(),
        [
            ("assistant".to_owned(), Persona::new("You assist.")),
            ("pirate".to_owned(), Persona::new("You are a pirate.")),
        ]
        .into_iter()
        .collect(),
    )
    .unwrap();
    let site = Site::with(|b| b.personas(personas), false, Vec::new()).await;
    let browser = site.login().await;
    let mut events = Events::open(&site, &browser).await;
    site.send(browser.fetch("/chat/send", &[("text", "remember the walrus")]))
        .await;
    events.until_final("remember the walrus").await;
    site.send(browser.fetch("/chat/send", &[("text", "/help")]))
        .await;
    events.until_final("Commands:").await;

    let list = text(
        site.send(browser.get("/dashboard/conversations?q=WALRUS&platform=web"))
            .await,
    )
    .await;
    let key = list
        .split("/dashboard/conversation?key=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(key.starts_with("web%3Achat/"), "{key}");
    let none = text(
        site.send(browser.get("/dashboard/conversations?q=narwhal"))
            .await,
    )
    .await;
    assert!(!none.contains("/dashboard/conversation?key="), "{none}");

    let page = text(
        site.send(browser.get(&format!("/dashboard/conversation?key={key}")))
            .await,
    )
    .await;
    assert!(page.contains("remember the walrus"), "{page}");
    assert!(page.contains("echo: remember the walrus"), "{page}");

    let plain_key = key.replace("%3A", ":");
    let set = site
        .send(browser.post(
            "/dashboard/conversation/persona",
            &[("key", &plain_key), ("choice", "pirate")],
        ))
        .await;
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    site.send(browser.fetch("/chat/send", &[("text", "ahoy")]))
        .await;
    events.until_final("echo: ahoy").await;
    assert_eq!(
        site.backend.last_request().messages[0].content,
        "You are a pirate.",
        "the chat answers with the persona the dashboard chose"
    );
    let unknown = site
        .send(browser.post(
            "/dashboard/conversation/persona",
            &[("key", &plain_key), ("choice", "ghost")],
        ))
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);

    let reset = site
        .send(browser.post("/dashboard/conversation/reset", &[("key", &plain_key)]))
        .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    let page = text(
        site.send(browser.get(&format!("/dashboard/conversation?key={key}")))
            .await,
    )
    .await;
    assert!(page.contains("No history."), "{page}");

    let overview = text(site.send(browser.get("/dashboard")).await).await;
    assert!(overview.contains("<td>web</td>"), "{overview}");
    assert!(overview.contains("connected"), "{overview}");
    let usage = text(site.send(browser.get("/dashboard/usage?days=7")).await).await;
    assert!(usage.contains("<svg class=\"chart\""), "{usage}");
    assert!(usage.contains("<td>web</td><td>operator</td>"), "{usage}");
}

#[tokio::test]
async fn a_picture_from_the_browser_reaches_a_model_that_sees_and_pictures_made_are_shown() {
    let backend = Arc::new(natter_core::test_utils::ScriptedBackend::new().with_vision());
    let engine = natter_core::Engine::builder(backend.clone())
        .image_generator(Arc::new(FixedPictures::png(TINY_PNG.to_vec())))
        .plugin(Arc::new(DrawPlugin), serde_json::Value::Null)
        .build()
        .unwrap();
    let site = Site::on(engine, backend, false, Vec::new()).await;
    let browser = site.login().await;
    let mut events = Events::open(&site, &browser).await;

    let sent = site
        .send(browser.picture("what is this?", TINY_PNG, "image/png"))
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    events.until_final("echo: what is this?").await;
    let asked = site.backend.requests();
    let user = asked[0].messages.last().unwrap();
    assert_eq!(user.images.len(), 1, "the picture went with the caption");

    let refused = site
        .send(browser.picture("", b"%PDF-1.7", "application/pdf"))
        .await;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    site.send(browser.fetch("/chat/send", &[("text", "/draw <a lighthouse>")]))
        .await;
    let shown = events.until_final("<figure").await;
    let html = shown.last().unwrap()["html"].as_str().unwrap().to_owned();
    assert!(
        html.contains("<img alt=\"A picture natter made\" src=\"data:image/png;base64,iVBOR"),
        "{html}"
    );
    assert!(
        html.contains("&lt;a lighthouse&gt;"),
        "the caption is escaped: {html}"
    );
    // Handled in order: the picture's turn was stored before /draw ran.
    let chat = text(site.send(browser.get("/chat")).await).await;
    assert!(
        chat.contains("<img class=\"sent\" alt=\"your picture\" src=\"data:image/png;base64,iVBOR"),
        "the sent picture shows again from history: {chat}"
    );
    assert!(chat.contains("<p>what is this?</p>"), "{chat}");
    let usage = text(site.send(browser.get("/dashboard/usage")).await).await;
    assert!(usage.contains("<td>painter</td>"), "{usage}");
    assert!(usage.contains("<td>1 picture</td>"), "{usage}");
}
