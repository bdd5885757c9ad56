//! Several named models: `/model` switches a conversation (kept in the
//! store), a persona may name its model, admins decide in groups, and a
//! model that fails before saying anything falls back to the next one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use natter_core::test_utils::{RecordingOutbox, ScriptedBackend, Step, TestBot};
use natter_core::{
    Addressed, Author, Engine, EngineError, MemoryStore, ModelError, Models, Persona,
    PersonaSettings, Personas,
};

struct Three {
    default: Arc<ScriptedBackend>,
    local: Arc<ScriptedBackend>,
    smart: Arc<ScriptedBackend>,
}

impl Three {
    fn new() -> Self {
        Self {
            default: Arc::new(ScriptedBackend::new().with_model_name("gpt-mini")),
            local: Arc::new(ScriptedBackend::new().with_model_name("smollm2")),
            smart: Arc::new(ScriptedBackend::new().with_model_name("gpt-big")),
        }
    }

    fn bot(&self, store: Arc<MemoryStore>, personas: Personas) -> TestBot {
        let (local, smart) = (self.local.clone(), self.smart.clone());
        TestBot::with_parts(
            self.default.clone(),
            Arc::new(RecordingOutbox::default()),
            |b| {
                b.store(store)
                    .model("local", local)
                    .model("smart", smart)
                    .fallback(vec!["local".into()])
                    .personas(personas)
            },
        )
    }
}

fn tutor_personas() -> Personas {
    let mut personas = BTreeMap::new();
    personas.insert(
        "tutor".to_owned(),
        Persona {
            model: Some("smart".into()),
            ..Persona::new("You teach.")
        },
    );
    personas.insert("assistant".to_owned(), Persona::new("You help."));
    let mut settings = PersonaSettings::default();
    settings
        .channels
        .insert("test:class".into(), "tutor".into());
    Personas::new(settings, personas).unwrap()
}

#[tokio::test]
async fn model_switches_the_conversation_and_survives_a_restart() {
    let models = Three::new();
    let store = Arc::new(MemoryStore::new());
    let bot = models.bot(store.clone(), Personas::default());
    assert_eq!(
        bot.say("/model").await,
        [
            "Model: default (gpt-mini via scripted).\nAvailable: default, local, smart.\n\
          /model NAME switches this conversation; /model reset returns to the default."
        ]
    );
    assert_eq!(
        bot.say("/model smart").await,
        ["This conversation now answers with smart."]
    );
    bot.say("hello").await;
    assert_eq!(models.smart.requests().len(), 1);
    assert!(models.default.requests().is_empty());
    assert_eq!(
        bot.say("/model nope").await,
        ["There is no model called nope. Available: default, local, smart."]
    );

    // A new engine on the same store: the choice is still there.
    let again = models.bot(store, Personas::default());
    again.say("hello again").await;
    assert_eq!(models.smart.requests().len(), 2);
    assert_eq!(again.say("/model reset").await, ["Model reset to default."]);
    again.say("and now").await;
    assert_eq!(models.default.requests().len(), 1);
}

#[tokio::test]
async fn a_persona_names_its_model_and_admins_decide_in_groups() {
    let models = Three::new();
    let bot = models.bot(Arc::new(MemoryStore::new()), tutor_personas());
    let in_class =
        |author: Author, text: &str| bot.group("class", author, Addressed::Mentioned, text);
    bot.send(in_class(Author::user("s", "Sam"), "what is 2+2?"))
        .await;
    assert_eq!(
        models.smart.requests().len(),
        1,
        "the tutor persona's model"
    );
    assert_eq!(
        bot.send(in_class(Author::user("s", "Sam"), "/model local"))
            .await,
        ["Only admins can change the model in group chats."]
    );
    bot.send(in_class(
        Author::user("t", "Teacher").admin(),
        "/model local",
    ))
    .await;
    bot.send(in_class(Author::user("s", "Sam"), "and 3+3?"))
        .await;
    assert_eq!(
        models.local.requests().len(),
        1,
        "/model wins over the persona"
    );
}

#[tokio::test]
async fn a_model_that_fails_before_saying_anything_falls_back_and_says_so() {
    let models = Three::new();
    let store = Arc::new(MemoryStore::new());
    let bot = models.bot(store.clone(), Personas::default());
    models.default.fail(ModelError::Server {
        status: 503,
        message: "overloaded".into(),
    });
    models.local.reply("Hi from the local model.");
    assert_eq!(
        bot.say("hello").await,
        ["Hi from the local model.\n\n(answered by local: default is not available right now)"]
    );
    let rows = store.usage();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].model, "smollm2",
        "the ledger names the model that answered"
    );
    // History keeps what the model said, not the note.
    models.default.reply("ok");
    bot.say("next").await;
    let history = models.default.last_request().messages;
    assert_eq!(history[2].content, "Hi from the local model.");
}

#[tokio::test]
async fn a_model_that_fails_mid_reply_does_not_fall_back() {
    let models = Three::new();
    let bot = models.bot(Arc::new(MemoryStore::new()), Personas::default());
    models.default.script(vec![
        Step::Delta("Half an".into()),
        Step::Fail(ModelError::Timeout(std::time::Duration::from_secs(60))),
    ]);
    assert_eq!(
        bot.say("hello").await,
        ["Half an\n\n⚠️ Sorry, the language model took too long to answer. Please try again."]
    );
    assert!(models.local.requests().is_empty());
}

#[tokio::test]
async fn when_every_model_fails_the_first_failure_is_told() {
    let models = Three::new();
    let bot = models.bot(Arc::new(MemoryStore::new()), Personas::default());
    models
        .default
        .fail(ModelError::Unavailable("refused".into()));
    models.local.fail(ModelError::Engine("no memory".into()));
    assert_eq!(
        bot.say("hello").await,
        ["Sorry, I can't reach the language model right now. Please try again in a moment."]
    );
}

#[test]
fn a_fallback_or_persona_naming_no_model_is_refused_at_build() {
    let backend = Arc::new(ScriptedBackend::new());
    let error = Engine::builder(backend.clone())
        .fallback(vec!["local".into()])
        .build()
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "fallback: there is no model called local (models: default)"
    );
    let error = Engine::builder(backend)
        .personas(tutor_personas())
        .build()
        .err()
        .unwrap();
    assert!(
        matches!(error, EngineError::UnknownModel { ref place, .. } if place == "personas.tutor.model")
    );
    let models = Models::new(Arc::new(ScriptedBackend::new()))
        .with("local", Arc::new(ScriptedBackend::new()))
        .with_fallback(vec!["local".into()])
        .unwrap();
    let after: Vec<&str> = models
        .fallbacks_after("default")
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(after, ["local"]);
}
