//! Tutoring sessions driven through a real engine with a scripted model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use natter_core::test_utils::TestBot;
use natter_core::{Addressed, Author, ChatRequest, MemoryStore, ModelError, Role};
use natter_plugin_tutor::{TutorPlugin, TutorSettings};

fn tutor() -> TutorPlugin {
    TutorPlugin::new(TutorSettings::default()).unwrap()
}

fn bot() -> TestBot {
    TestBot::with_plugin(tutor())
}

fn question(q: &str, answer: &str, hint: &str) -> String {
    serde_json::json!({"question": q, "answer": answer, "hint": hint}).to_string()
}

fn grade(verdict: &str, explanation: &str) -> String {
    serde_json::json!({"verdict": verdict, "explanation": explanation}).to_string()
}

fn system(request: &ChatRequest) -> &str {
    assert_eq!(request.messages[0].role, Role::System);
    &request.messages[0].content
}

fn user(request: &ChatRequest) -> &str {
    &request.messages.last().unwrap().content
}

#[tokio::test]
async fn question_answer_grade_next_question() {
    let bot = bot();
    bot.backend
        .reply(question("What is 2+2?", "4", "Count on your fingers"));
    let shown = bot.say("/tutor arithmetic").await;
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].starts_with("Let's practise arithmetic (beginner). Answer in your next message"),
        "{shown:?}"
    );
    assert!(
        shown[0].ends_with("**Question 1** (arithmetic, beginner): What is 2+2?"),
        "{shown:?}"
    );
    let asked = bot.backend.last_request();
    assert!(system(&asked).contains("JSON"));
    assert!(
        user(&asked).contains("Subject: arithmetic\nLevel: beginner"),
        "{}",
        user(&asked)
    );

    bot.backend
        .reply(grade("correct", "Two and two make four."));
    bot.backend
        .reply(question("What is 3×5?", "15", "Add 5 three times"));
    let shown = bot.say("four").await;
    assert_eq!(
        shown,
        [
            "✅ Correct. Two and two make four.\n\n**Question 2** (arithmetic, beginner): What is 3×5?"
        ]
    );
    let requests = bot.backend.requests();
    let grading = &requests[1];
    assert!(system(grading).contains("grading"));
    assert!(
        user(grading)
            .contains("Question: What is 2+2?\nReference answer: 4\nStudent's answer: four"),
        "{}",
        user(grading)
    );
    assert!(user(&requests[2]).contains("Do not repeat these earlier questions:\n- What is 2+2?"));

    bot.backend.reply(grade("wrong", "3×5 is 15."));
    bot.backend
        .reply(question("What is 10−7?", "3", "Count down"));
    let shown = bot.say("8").await;
    assert_eq!(
        shown,
        [
            "❌ Not quite. 3×5 is 15.\nAnswer: 15\n\n**Question 3** (arithmetic, beginner): What is 10−7?"
        ]
    );

    let summary = bot.say("/tutor stop").await;
    assert_eq!(
        summary,
        [
            "Session over: arithmetic (beginner) — 2 answered: 1 correct, 0 partly, 1 wrong. /tutor progress shows your record."
        ]
    );
    assert_eq!(
        bot.say("hello again").await,
        ["echo: hello again"],
        "answers no longer intercepted"
    );
}

#[tokio::test]
async fn the_level_follows_the_subject() {
    let bot = bot();
    bot.backend.reply(question(
        "Who was Charlemagne?",
        "A Frankish emperor",
        "800 AD",
    ));
    let shown = bot.say("/tutor world history Advanced").await;
    assert!(shown[0].contains("(world history, advanced)"), "{shown:?}");
    assert!(user(&bot.backend.last_request()).contains("Subject: world history\nLevel: advanced"));
}

#[tokio::test]
async fn json_wrapped_in_prose_or_fences_is_understood_first_time() {
    for reply in [
        format!(
            "Sure! Here is a question for you:\n{}\nGood luck!",
            question("Name a mammal.", "A dog", "It barks")
        ),
        format!(
            "```json\n{}\n```",
            question("Name a mammal.", "A dog", "It barks")
        ),
        "{\"Question\": \"Name a mammal.\", \"Answer\": \"A dog\", \"Hint\": \"It barks\",}"
            .to_owned(),
    ] {
        let bot = bot();
        bot.backend.reply(reply.clone());
        let shown = bot.say("/tutor biology").await;
        assert!(
            shown[0].ends_with("**Question 1** (biology, beginner): Name a mammal."),
            "{reply}: {shown:?}"
        );
        assert_eq!(bot.backend.requests().len(), 1, "no retry for {reply}");
        assert_eq!(bot.say("/hint").await, ["Hint: It barks"]);
    }
}

#[tokio::test]
async fn garbage_is_retried_once_with_a_reminder() {
    let bot = bot();
    bot.backend.reply("I'd love to help you learn chemistry!");
    bot.backend
        .reply(question("What is H2O?", "Water", "You drink it"));
    let shown = bot.say("/tutor chemistry").await;
    assert!(shown[0].ends_with("What is H2O?"), "{shown:?}");
    let retry = &bot.backend.requests()[1];
    let n = retry.messages.len();
    assert_eq!(
        retry.messages[n - 2].content,
        "I'd love to help you learn chemistry!"
    );
    assert!(
        retry.messages[n - 1]
            .content
            .contains("not a valid JSON object")
    );
}

#[tokio::test]
async fn twice_garbage_falls_back_to_plain_text() {
    let bot = bot();
    bot.backend.reply("Let's see.");
    bot.backend.reply("What gas do plants take in?");
    let shown = bot.say("/tutor biology").await;
    assert!(
        shown[0].ends_with("**Question 1** (biology, beginner): What gas do plants take in?"),
        "{shown:?}"
    );

    // No hint came with it: the model is asked for one.
    bot.backend.reply("Think about what we breathe out.");
    assert_eq!(
        bot.say("/hint").await,
        ["Hint: Think about what we breathe out."]
    );
    assert!(user(&bot.backend.last_request()).contains("What gas do plants take in?"));

    // No reference answer: the grader judges on its own; a plain-text grade is read too.
    bot.backend.reply("Yes! Carbon dioxide is correct.");
    bot.backend.reply("Correct, well done.");
    bot.backend.reply(question(
        "Name a gas plants give out.",
        "Oxygen",
        "We breathe it",
    ));
    let shown = bot.say("carbon dioxide").await;
    assert!(
        shown[0].starts_with("✅ Correct. Correct, well done."),
        "{shown:?}"
    );
    let grading = &bot.backend.requests()[3];
    assert!(
        user(grading).contains("Reference answer: (none given"),
        "{}",
        user(grading)
    );
}

#[tokio::test]
async fn labelled_plain_text_keeps_answer_and_hint() {
    let bot = bot();
    bot.backend.reply("nope");
    bot.backend.reply(
        "**Question:** What is the capital of Peru?\n**Answer:** Lima\n**Hint:** It starts with L",
    );
    let shown = bot.say("/tutor geography").await;
    assert!(
        shown[0].ends_with("What is the capital of Peru?"),
        "{shown:?}"
    );
    assert_eq!(
        bot.say("/skip").await[0].lines().next().unwrap(),
        "Skipped. The answer: Lima"
    );
}

#[tokio::test]
async fn hint_and_skip() {
    let bot = bot();
    bot.backend
        .reply(question("What is 7×8?", "56", "7×7 is 49"));
    bot.say("/tutor times tables").await;
    let before = bot.backend.requests().len();
    assert_eq!(bot.say("/hint").await, ["Hint: 7×7 is 49"]);
    assert_eq!(
        bot.backend.requests().len(),
        before,
        "the stored hint needs no model call"
    );

    bot.backend
        .reply(question("What is 6×9?", "54", "6×10 minus 6"));
    assert_eq!(
        bot.say("/skip").await,
        ["Skipped. The answer: 56\n\n**Question 2** (times tables, beginner): What is 6×9?"]
    );
    let summary = bot.say("/tutor stop").await;
    assert!(
        summary[0].contains("0 answered: 0 correct, 0 partly, 0 wrong; 1 skipped; 1 hint"),
        "{summary:?}"
    );
}

#[tokio::test]
async fn commands_without_a_session_say_how_to_start() {
    let bot = bot();
    let none = "No tutoring session here. Start one with /tutor <subject> [level].";
    assert_eq!(bot.say("/hint").await, [none]);
    assert_eq!(bot.say("/skip").await, [none]);
    assert_eq!(bot.say("/tutor stop").await, [none]);
    assert!(bot.say("/tutor").await[0].starts_with("Usage: /tutor <subject> [level]"));
    assert_eq!(
        bot.say("/tutor progress").await,
        ["No progress yet. Start with /tutor <subject> [level]."]
    );
    assert!(bot.backend.requests().is_empty());
}

#[tokio::test]
async fn two_students_in_a_group_are_kept_apart() {
    let bot = bot();
    let alice = Author::user("alice", "Alice");
    let bob = Author::user("bob", "Bob");
    let say = |author: &Author, addressed, text: &str| {
        bot.group("class", author.clone(), addressed, text)
    };

    bot.backend
        .reply(question("What is 9+1?", "10", "One more than nine"));
    let shown = bot
        .send(say(&alice, Addressed::Command, "/tutor maths"))
        .await;
    assert!(
        shown[0].contains("Answer by replying to my message"),
        "{shown:?}"
    );
    assert!(
        shown[0].ends_with("Alice, **Question 1** (maths, beginner): What is 9+1?"),
        "{shown:?}"
    );
    bot.backend.reply(question(
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci",
        "Italian",
    ));
    bot.send(say(&bob, Addressed::Command, "/tutor art")).await;

    // Bob answers: graded against his question, not Alice's.
    bot.backend.reply(grade("correct", "Yes, Leonardo."));
    bot.backend.reply(question(
        "Who painted The Starry Night?",
        "Van Gogh",
        "Dutch",
    ));
    let shown = bot.send(say(&bob, Addressed::ReplyToBot, "Leonardo")).await;
    assert!(
        shown[0].starts_with("Bob, ✅ Correct. Yes, Leonardo."),
        "{shown:?}"
    );
    let grading = &bot.backend.requests()[2];
    assert!(
        user(grading).contains("Question: Who painted the Mona Lisa?"),
        "{}",
        user(grading)
    );

    // Alice's question is still hers.
    bot.backend.reply(grade("partly", "Close, it is 10."));
    bot.backend
        .reply(question("What is 5+5?", "10", "Two hands"));
    let shown = bot.send(say(&alice, Addressed::ReplyToBot, "11")).await;
    assert!(
        shown[0].starts_with("Alice, 🟡 Partly right. Close, it is 10.\nAnswer: 10"),
        "{shown:?}"
    );
    assert!(user(&bot.backend.requests()[4]).contains("Question: What is 9+1?"));

    // Someone without a session just chats.
    let carol = Author::user("carol", "Carol");
    assert_eq!(
        bot.send(say(&carol, Addressed::Mentioned, "hi")).await,
        ["echo: hi"]
    );

    let progress = bot
        .send(say(&bob, Addressed::Command, "/tutor progress"))
        .await;
    assert_eq!(
        progress,
        [
            "Bob, your progress:\n• art — 1 session, 1 answered: 1 correct, 0 partly, 0 wrong (100% correct); last level beginner"
        ]
    );
}

#[tokio::test]
async fn progress_and_sessions_survive_a_restart() {
    let store = Arc::new(MemoryStore::new());
    let start = |store: &Arc<MemoryStore>| {
        let store = store.clone();
        TestBot::with(move |b| {
            b.store(store)
                .plugin(Arc::new(tutor()), serde_json::Value::Null)
        })
    };

    let first = start(&store);
    first.backend.reply(question("What is 2+3?", "5", "Count"));
    first.say("/tutor arithmetic").await;
    first.backend.reply(grade("correct", "Yes."));
    first
        .backend
        .reply(question("What is 4+4?", "8", "Double four"));
    first.say("5").await;
    first
        .engine
        .shutdown(std::time::Duration::from_secs(1))
        .await;
    drop(first);

    let second = start(&store);
    second.backend.reply(grade("wrong", "4+4 is 8."));
    second
        .backend
        .reply(question("What is 1+6?", "7", "Count on"));
    let shown = second.say("9").await;
    assert!(
        shown[0].starts_with("❌ Not quite. 4+4 is 8.\nAnswer: 8"),
        "{shown:?}"
    );
    assert!(user(&second.backend.requests()[0]).contains("Question: What is 4+4?"));

    assert_eq!(
        second.say("/tutor progress").await,
        [
            "Your progress:\n• arithmetic — 1 session, 2 answered: 1 correct, 0 partly, 1 wrong (50% correct); last level beginner"
        ]
    );
}

#[tokio::test]
async fn explain_streams_steps_and_keeps_them_for_the_check_question() {
    let bot = bot();
    let explanation =
        "1. Sunlight scatters.\n2. Blue scatters most.\n\nCheck: why are sunsets red?";
    bot.backend.reply(explanation);
    assert_eq!(
        bot.say("/explain why is the sky blue?").await,
        [explanation]
    );
    let request = bot.backend.last_request();
    assert!(system(&request).contains("step by step"));
    assert!(system(&request).contains("check question"));
    assert_eq!(user(&request), "why is the sky blue?");

    bot.say("because the light travels further?").await;
    let messages = bot.backend.last_request().messages;
    assert!(
        messages.iter().any(|m| m.content == explanation),
        "{messages:?}"
    );
    assert_eq!(
        bot.say("/explain").await,
        ["Usage: /explain <question> — e.g. /explain why is the sky blue?"]
    );
}

#[tokio::test]
async fn a_grading_failure_keeps_the_question_open() {
    let bot = bot();
    bot.backend.reply(question("What is 2+2?", "4", "Fingers"));
    bot.say("/tutor arithmetic").await;
    bot.backend.fail(ModelError::Unavailable("down".into()));
    let shown = bot.say("4").await;
    assert_eq!(
        shown,
        [ModelError::Unavailable(String::new()).user_message()]
    );

    bot.backend.reply(grade("correct", "Right."));
    bot.backend.reply(question("What is 3+3?", "6", "Double"));
    let shown = bot.say("4").await;
    assert!(shown[0].starts_with("✅ Correct. Right."), "{shown:?}");
}

#[test]
fn settings_are_checked() {
    let settings = TutorSettings {
        default_level: "expert".into(),
        ..TutorSettings::default()
    };
    assert!(TutorPlugin::new(settings).is_err());
    let parsed: TutorSettings = serde_json::from_value(
        serde_json::json!({"levels": ["easy", "hard"], "default_level": "easy"}),
    )
    .unwrap();
    assert!(TutorPlugin::new(parsed).is_ok());
}

/// A 1×1 PNG.
fn photo_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(1, 1))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn a_photo_of_a_written_answer_is_graded_by_a_model_that_sees() {
    use natter_core::test_utils::{RecordingOutbox, ScriptedBackend};
    use natter_core::{Attachment, AttachmentKind};
    let seeing = TestBot::with_parts(
        Arc::new(ScriptedBackend::new().with_vision()),
        Arc::new(RecordingOutbox::default()),
        |b| b.plugin(Arc::new(tutor()), serde_json::Value::Null),
    );
    seeing
        .backend
        .reply(question("Solve 2x = 6", "x = 3", "Divide"));
    seeing.say("/tutor algebra").await;
    seeing.outbox.add_file("work-1", photo_bytes());
    seeing
        .backend
        .reply(grade("correct", "Dividing both sides by 2 gives 3."));
    seeing
        .backend
        .reply(question("Solve x + 1 = 5", "x = 4", "Subtract"));
    let mut answer = seeing.private("");
    answer.attachments =
        vec![Attachment::new(AttachmentKind::Image, "work-1").with_mime("image/png")];
    let shown = seeing.send(answer).await;
    assert!(shown[0].starts_with("✅ Correct."), "{shown:?}");
    let grading = &seeing.backend.requests()[1];
    assert!(
        user(grading).contains("Student's answer: (written on the attached photo)"),
        "{}",
        user(grading)
    );
    assert_eq!(grading.messages.last().unwrap().images.len(), 1);

    // A model that cannot see says so and grades nothing.
    let blind = bot();
    blind
        .backend
        .reply(question("Solve 2x = 6", "x = 3", "Divide"));
    blind.say("/tutor algebra").await;
    blind.outbox.add_file("work-1", photo_bytes());
    let mut answer = blind.private("");
    answer.attachments =
        vec![Attachment::new(AttachmentKind::Image, "work-1").with_mime("image/png")];
    assert_eq!(
        blind.send(answer).await,
        ["I can't see pictures with this model — please tell me in words."]
    );
    assert_eq!(blind.backend.requests().len(), 1, "nothing graded");
}
