//! The store conformance suites: what every implementation of each store
//! part must do. `natter-store` runs them on SQLite and Postgres, core on
//! [`crate::MemoryStore`] and [`crate::CachedStore`].

use super::TEST_PLATFORM;
use crate::chat::ChatMessage;
use crate::message::ConversationKey;
use crate::store::{
    HistoryStore, JobStore, RollingSummary, ScheduledJob, StateStore, Store, Stores, Turn,
    UsageRecord, UsageScope, UsageStore, UsageTotal,
};

/// The store conformance suite: every [`Store`] must pass it. `store` must be
/// empty. It runs the suite of each part: [`history_conformance`],
/// [`state_conformance`], [`job_conformance`] and [`usage_conformance`].
pub async fn store_conformance(store: &dyn Store) {
    history_conformance(store).await;
    state_conformance(store).await;
    usage_conformance(store).await;
    job_conformance(store).await;
}

/// [`store_conformance`] on each part of `stores`, as `natter_store::open`
/// or a hand-assembled [`Stores`] provides them.
pub async fn stores_conformance(stores: &Stores) {
    history_conformance(stores.history.as_ref()).await;
    state_conformance(stores.state.as_ref()).await;
    usage_conformance(stores.usage.as_ref()).await;
    job_conformance(stores.jobs.as_ref()).await;
}

/// What every [`HistoryStore`] must do: turns round-trip in order, windows
/// keep the newest, conversations are isolated, turns are counted, rolling
/// summaries are saved, replaced and cleared with the history, persona
/// choices are per scope. `store` must be empty.
pub async fn history_conformance(store: &dyn HistoryStore) {
    let key = ConversationKey::new(TEST_PLATFORM, "conformance/a");
    let other = ConversationKey::new(TEST_PLATFORM, "conformance/b");
    let turn = |n: usize| {
        let mut user = ChatMessage::user(format!("question {n}")).with_name("Alice");
        if n == 2 {
            // A picture travels with its turn: by reference, with its small copy.
            user = user.with_images(vec![crate::chat::ImagePart {
                reference: "file-2".into(),
                mime: "image/jpeg".into(),
                base64: "/9j/4AAQSkZJRg==".into(),
            }]);
        }
        Turn::new(user, ChatMessage::assistant(format!("answer {n} ✓")))
    };

    // History: append, windowed load, isolation, clear.
    assert!(store.load_turns(&key, 10).await.expect("load").is_empty());
    for n in 0..5 {
        store.append_turn(&key, &turn(n)).await.expect("append");
    }
    store.append_turn(&other, &turn(99)).await.expect("append");
    let all = store.load_turns(&key, 100).await.expect("load");
    assert_eq!(
        all,
        (0..5).map(turn).collect::<Vec<_>>(),
        "turns round-trip in order"
    );
    let last_two = store.load_turns(&key, 2).await.expect("load");
    assert_eq!(
        last_two,
        vec![turn(3), turn(4)],
        "limit keeps the newest turns"
    );
    store.clear_history(&key).await.expect("clear");
    assert!(store.load_turns(&key, 10).await.expect("load").is_empty());
    assert_eq!(
        store.load_turns(&other, 10).await.expect("load"),
        vec![turn(99)]
    );

    // Persona overrides.
    assert_eq!(
        store.persona_override("test/channel/1").await.expect("get"),
        None
    );
    store
        .set_persona_override("test/channel/1", Some("pirate"))
        .await
        .expect("set");
    assert_eq!(
        store
            .persona_override("test/channel/1")
            .await
            .expect("get")
            .as_deref(),
        Some("pirate")
    );
    store
        .set_persona_override("test/channel/1", Some("poet"))
        .await
        .expect("replace");
    assert_eq!(
        store
            .persona_override("test/channel/1")
            .await
            .expect("get")
            .as_deref(),
        Some("poet")
    );
    store
        .set_persona_override("test/channel/1", None)
        .await
        .expect("unset");
    assert_eq!(
        store.persona_override("test/channel/1").await.expect("get"),
        None
    );

    // Model choices, apart from persona choices.
    assert_eq!(store.model_override("test:c/1").await.expect("get"), None);
    store
        .set_model_override("test:c/1", Some("smart"))
        .await
        .expect("set");
    store
        .set_persona_override("test:c/1", Some("pirate"))
        .await
        .expect("set");
    assert_eq!(
        store
            .model_override("test:c/1")
            .await
            .expect("get")
            .as_deref(),
        Some("smart")
    );
    store
        .set_model_override("test:c/1", None)
        .await
        .expect("unset");
    assert_eq!(store.model_override("test:c/1").await.expect("get"), None);
    assert_eq!(
        store
            .persona_override("test:c/1")
            .await
            .expect("get")
            .as_deref(),
        Some("pirate")
    );
    store
        .set_persona_override("test:c/1", None)
        .await
        .expect("unset");

    // Edge cases: a zero window, appending after a clear, names on replies,
    // and text that SQL would misread.
    let key = ConversationKey::new(TEST_PLATFORM, "conformance/edges 100%_sure");
    let turn = |n: usize| {
        Turn::new(
            ChatMessage::user(format!(
                "q{n} 'quoted' \"double\" \\ ; DROP TABLE turns; --"
            )),
            ChatMessage::assistant(format!("a{n}\nline two\u{1F600}")).with_name("Bot"),
        )
    };

    // History: a zero window, appending after a clear, names on replies.
    store.append_turn(&key, &turn(0)).await.expect("append");
    assert!(store.load_turns(&key, 0).await.expect("load").is_empty());
    store.clear_history(&key).await.expect("clear");
    store.append_turn(&key, &turn(1)).await.expect("append");
    store.append_turn(&key, &turn(2)).await.expect("append");
    assert_eq!(
        store.load_turns(&key, 10).await.expect("load"),
        vec![turn(1), turn(2)],
        "history restarts cleanly after a clear"
    );
    store.clear_history(&key).await.expect("clear");

    // Persona overrides are per scope.
    store
        .set_persona_override("test/server/1", Some("pirate"))
        .await
        .expect("set");
    assert_eq!(
        store.persona_override("test/server/10").await.expect("get"),
        None
    );
    store
        .set_persona_override("test/server/1", None)
        .await
        .expect("unset");

    summary_conformance(store).await;
    listing_conformance(store).await;
}

/// What [`HistoryStore::turn_count`], [`HistoryStore::summary`] and
/// [`HistoryStore::save_summary`] must do: turns counted since the last
/// clear, a summary per conversation that round-trips, is replaced by the
/// next one, and goes with the history when it is cleared.
async fn summary_conformance(store: &dyn HistoryStore) {
    let key = ConversationKey::new(TEST_PLATFORM, "conformance/summary");
    let other = ConversationKey::new(TEST_PLATFORM, "conformance/summary-other");
    let turn = |n: usize| {
        Turn::new(
            ChatMessage::user(format!("q{n}")),
            ChatMessage::assistant(format!("a{n}")),
        )
    };
    assert_eq!(store.turn_count(&key).await.expect("count"), 0);
    assert_eq!(store.summary(&key).await.expect("summary"), None);
    for n in 0..3 {
        store.append_turn(&key, &turn(n)).await.expect("append");
    }
    store.append_turn(&other, &turn(9)).await.expect("append");
    assert_eq!(store.turn_count(&key).await.expect("count"), 3);
    assert_eq!(store.turn_count(&other).await.expect("count"), 1);

    let first = RollingSummary {
        text: "Alice (\"Al\") asked about 'q0'; 100% sure ✓\nOpen: q1.".into(),
        turns_covered: 2,
    };
    store.save_summary(&key, &first).await.expect("save");
    assert_eq!(
        store.summary(&key).await.expect("summary").as_ref(),
        Some(&first),
        "a summary round-trips"
    );
    assert_eq!(
        store.summary(&other).await.expect("summary"),
        None,
        "summaries are per conversation"
    );
    let second = RollingSummary {
        text: "Alice asked three things.".into(),
        turns_covered: 3,
    };
    store.save_summary(&key, &second).await.expect("overwrite");
    assert_eq!(
        store.summary(&key).await.expect("summary").as_ref(),
        Some(&second),
        "the newest summary replaces the one before"
    );
    assert_eq!(
        store.turn_count(&key).await.expect("count"),
        3,
        "saving a summary adds no turn"
    );

    store.clear_history(&key).await.expect("clear");
    assert_eq!(
        store.summary(&key).await.expect("summary"),
        None,
        "clearing the history clears its summary"
    );
    assert_eq!(store.turn_count(&key).await.expect("count"), 0);
    store.append_turn(&key, &turn(5)).await.expect("append");
    assert_eq!(
        store.turn_count(&key).await.expect("count"),
        1,
        "turns are numbered from 1 again after a clear"
    );
    store.clear_history(&key).await.expect("clear");
    store.clear_history(&other).await.expect("clear");
}

/// What [`HistoryStore::list_conversations`] must do: the most recently
/// active first, with turn counts and the newest user message; filtered by
/// platform and by text in the scope or the messages, ASCII case ignored,
/// `%` and `_` taken literally; at most `limit`; cleared ones gone.
async fn listing_conformance(store: &dyn HistoryStore) {
    let listed = crate::message::Platform::new("listed");
    let elsewhere = crate::message::Platform::new("elsewhere");
    let key = |platform, scope: &str| ConversationKey::new(platform, scope);
    let said = |user: &str, assistant: &str| {
        Turn::new(ChatMessage::user(user), ChatMessage::assistant(assistant))
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let alpha = key(listed, "room/Alpha");
    let beta = key(listed, "room/beta");
    let gamma = key(listed, "dm/gamma");
    let other = key(elsewhere, "room/Alpha");
    for (k, turn) in [
        (&alpha, said("hello there", "hi")),
        (&beta, said("what about ZEBRAS?", "they are striped")),
        (
            &alpha,
            said("second question", "an answer mentioning 100%_sure"),
        ),
        (&other, said("elsewhere", "elsewhere")),
        (&gamma, said("gamma one", "ok")),
        (&gamma, said("gamma two", "ok")),
        (&gamma, said("gamma three", "ok")),
    ] {
        store.append_turn(k, &turn).await.expect("append");
    }
    let scopes = |found: &[crate::store::ConversationSummary]| -> Vec<String> {
        found.iter().map(|c| c.key.to_string()).collect()
    };
    let only_listed = crate::store::ConversationFilter {
        platform: Some(listed),
        text: None,
    };
    let found = store
        .list_conversations(&only_listed, 10)
        .await
        .expect("list");
    assert_eq!(
        scopes(&found),
        ["listed:dm/gamma", "listed:room/Alpha", "listed:room/beta"],
        "most recently active first, one platform"
    );
    assert_eq!(found[0].turns, 3);
    assert_eq!(found[0].last_user_text, "gamma three");
    assert_eq!(found[1].turns, 2);
    assert_eq!(found[1].last_user_text, "second question");
    assert!(
        found.iter().all(|c| c.last_active_ms >= started - 1_000),
        "last activity is the time of the newest turn: {found:?}"
    );
    assert!(found[0].last_active_ms >= found[2].last_active_ms);
    assert_eq!(
        store
            .list_conversations(&only_listed, 2)
            .await
            .expect("list")
            .len(),
        2,
        "at most the limit"
    );
    let text = |text: &str, platform| crate::store::ConversationFilter {
        platform,
        text: Some(text.to_owned()),
    };
    let search = |text_filter| async move {
        scopes(
            &store
                .list_conversations(&text_filter, 10)
                .await
                .expect("search"),
        )
    };
    assert_eq!(
        search(text("alpha", None)).await,
        ["elsewhere:room/Alpha", "listed:room/Alpha"],
        "scope matches, any platform, case ignored"
    );
    assert_eq!(
        search(text("zebras", Some(listed))).await,
        ["listed:room/beta"],
        "a user message matches"
    );
    assert_eq!(
        search(text("STRIPED", None)).await,
        ["listed:room/beta"],
        "a reply matches"
    );
    assert_eq!(
        search(text("100%_s", Some(listed))).await,
        ["listed:room/Alpha"],
        "% and _ are literal"
    );
    assert!(search(text("1%0", Some(listed))).await.is_empty());
    assert!(search(text("no such words", None)).await.is_empty());
    store.clear_history(&gamma).await.expect("clear");
    assert_eq!(
        scopes(
            &store
                .list_conversations(&only_listed, 10)
                .await
                .expect("list")
        ),
        ["listed:room/Alpha", "listed:room/beta"],
        "a cleared conversation is not listed"
    );
    for k in [&alpha, &beta, &other] {
        store.clear_history(k).await.expect("clear");
    }
}

/// What every [`StateStore`] must do: values are namespaced per plugin,
/// overwritten by a put, listed by literal prefix in byte order. `store` must be empty.
pub async fn state_conformance(store: &dyn StateStore) {
    // Plugin state is namespaced.
    let value = serde_json::json!({"score": 3, "subject": "math"});
    store
        .plugin_put("tutor", "alice/math", &value)
        .await
        .expect("put");
    store
        .plugin_put("tutor", "alice/physics", &serde_json::json!(1))
        .await
        .expect("put");
    store
        .plugin_put("tutor", "bob/math", &serde_json::json!(2))
        .await
        .expect("put");
    store
        .plugin_put("other", "alice/math", &serde_json::json!("x"))
        .await
        .expect("put");
    assert_eq!(
        store.plugin_get("tutor", "alice/math").await.expect("get"),
        Some(value.clone())
    );
    let listed = store.plugin_list("tutor", "alice/").await.expect("list");
    assert_eq!(
        listed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        vec!["alice/math", "alice/physics"]
    );
    assert!(
        store
            .plugin_delete("tutor", "alice/math")
            .await
            .expect("delete")
    );
    assert!(
        !store
            .plugin_delete("tutor", "alice/math")
            .await
            .expect("delete")
    );
    assert_eq!(
        store.plugin_get("tutor", "alice/math").await.expect("get"),
        None
    );
    assert_eq!(
        store.plugin_get("other", "alice/math").await.expect("get"),
        Some(serde_json::json!("x"))
    );

    // Plugin state: overwrite, wildcard characters are literal, empty prefix lists all.
    store
        .plugin_put("edges", "a%", &serde_json::json!(1))
        .await
        .expect("put");
    store
        .plugin_put("edges", "a%", &serde_json::json!([1, 2.5, null, "x"]))
        .await
        .expect("overwrite");
    store
        .plugin_put("edges", "ab", &serde_json::json!(true))
        .await
        .expect("put");
    store
        .plugin_put("edges", "a_c", &serde_json::json!({"nested": {"k": "v"}}))
        .await
        .expect("put");
    store
        .plugin_put("edges", "B", &serde_json::json!("upper"))
        .await
        .expect("put");
    assert_eq!(
        store.plugin_get("edges", "a%").await.expect("get"),
        Some(serde_json::json!([1, 2.5, null, "x"])),
        "put replaces"
    );
    let keys = |listed: Vec<(String, serde_json::Value)>| {
        listed.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
    };
    assert_eq!(
        keys(store.plugin_list("edges", "a%").await.expect("list")),
        vec!["a%"],
        "% is not a wildcard"
    );
    assert_eq!(
        keys(store.plugin_list("edges", "a_").await.expect("list")),
        vec!["a_c"],
        "_ is not a wildcard"
    );
    assert_eq!(
        keys(store.plugin_list("edges", "").await.expect("list")),
        vec!["B", "a%", "a_c", "ab"],
        "an empty prefix lists every key, in byte order"
    );
    for key in ["a%", "ab", "a_c", "B"] {
        store.plugin_delete("edges", key).await.expect("delete");
    }
}

/// What every [`UsageStore`] must do: keep rows, and add them up per model
/// for a user (on one platform), a conversation or everyone, within a span of
/// time; rank users by tokens. `store` must be empty.
pub async fn usage_conformance(store: &dyn UsageStore) {
    let other_platform = crate::message::Platform::new("other");
    let chat = ConversationKey::new(TEST_PLATFORM, "conformance/a");
    let group = ConversationKey::new(TEST_PLATFORM, "conformance/group");
    let elsewhere = ConversationKey::new(other_platform, "conformance/a");
    let row = |key: &ConversationKey, user: &str, model: &str, prompt: u32, at: i64| UsageRecord {
        key: key.clone(),
        user_id: user.into(),
        backend: "scripted".into(),
        model: model.into(),
        prompt_tokens: prompt,
        completion_tokens: 5,
        audio_seconds: if model == "big" { 30 } else { 0 },
        images: if model == "big" { 2 } else { 0 },
        at_unix_ms: at,
    };
    for record in [
        row(&chat, "alice", "small", 10, 1_000),
        row(&chat, "alice", "small", 20, 2_000),
        row(&group, "alice", "big", 100, 2_500),
        row(&group, "bob", "small", 7, 3_000),
        row(&elsewhere, "alice", "small", 1_000, 2_000),
        row(&chat, "alice", "small", 30, 9_000),
    ] {
        store.record_usage(&record).await.expect("usage");
    }
    let alice = UsageScope::User {
        platform: TEST_PLATFORM,
        user_id: "alice".into(),
    };
    let total = |model: &str, prompt: u64, calls: u64| UsageTotal {
        model: model.into(),
        prompt_tokens: prompt,
        completion_tokens: 5 * calls,
        calls,
        audio_seconds: if model == "big" { 30 * calls } else { 0 },
        images: if model == "big" { 2 * calls } else { 0 },
    };
    assert_eq!(
        store.usage_totals(&alice, 0, 5_000).await.expect("totals"),
        [total("big", 100, 1), total("small", 30, 2)],
        "one user, per model, in name order, her own platform only"
    );
    assert_eq!(
        store
            .usage_totals(&alice, 1_500, 2_600)
            .await
            .expect("totals"),
        [total("big", 100, 1), total("small", 20, 1)],
        "since is inclusive, until exclusive"
    );
    assert_eq!(
        store
            .usage_totals(&UsageScope::Conversation(group.clone()), 0, 10_000)
            .await
            .expect("totals"),
        [total("big", 100, 1), total("small", 7, 1)]
    );
    assert_eq!(
        store
            .usage_totals(&UsageScope::Everyone, 0, 10_000)
            .await
            .expect("totals"),
        [total("big", 100, 1), total("small", 1_067, 5)]
    );
    assert!(
        store
            .usage_totals(&alice, 10_000, 20_000)
            .await
            .expect("totals")
            .is_empty()
    );
    let top = store.top_users(0, 5_000, 2).await.expect("top");
    let ranked: Vec<(&str, &str, u64)> = top
        .iter()
        .map(|u| {
            (
                u.platform.as_str(),
                u.user_id.as_str(),
                u.prompt_tokens + u.completion_tokens,
            )
        })
        .collect();
    assert_eq!(ranked, [("other", "alice", 1_005), ("test", "alice", 145)]);
}

/// What every [`JobStore`] must do: jobs are taken once, in due order, up to
/// the limit; owners cancel only their own. `store` must be empty.
pub async fn job_conformance(store: &dyn JobStore) {
    // Scheduled jobs: taken once, in due order; cancel only your own.
    let job = |owner: &str, due: i64| ScheduledJob {
        id: 0,
        namespace: "remind".into(),
        owner: owner.into(),
        due_unix_ms: due,
        payload: serde_json::json!({"text": format!("at {due}")}),
    };
    assert_eq!(store.next_job_due().await.expect("next"), None);
    let late = store
        .schedule_job(&job("alice", 3_000))
        .await
        .expect("schedule");
    let early = store
        .schedule_job(&job("alice", 1_000))
        .await
        .expect("schedule");
    let bobs = store
        .schedule_job(&job("bob", 2_000))
        .await
        .expect("schedule");
    assert_eq!(store.next_job_due().await.expect("next"), Some(1_000));
    let mine = store.list_jobs("remind", "alice").await.expect("list");
    assert_eq!(
        mine.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![early, late]
    );
    assert!(
        !store
            .cancel_job("remind", "alice", bobs)
            .await
            .expect("cancel")
    );
    let due = store
        .lease_due_jobs(2_500, 60_000, "one", 10)
        .await
        .expect("lease");
    assert_eq!(
        due.iter().map(|l| l.job.id).collect::<Vec<_>>(),
        vec![early, bobs]
    );
    assert_eq!(due[0].job.payload, serde_json::json!({"text": "at 1000"}));
    assert!(
        due.iter()
            .all(|l| l.holder == "one" && l.until_unix_ms == 60_000)
    );
    assert!(due.iter().all(|l| l.attempt == 1));
    assert!(
        store
            .lease_due_jobs(2_500, 60_000, "two", 10)
            .await
            .expect("lease")
            .is_empty(),
        "held by one holder at a time"
    );
    // Held jobs stay listed until done; the next to take is the earliest lease end.
    assert_eq!(
        store
            .list_jobs("remind", "alice")
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(store.next_job_due().await.expect("next"), Some(3_000));
    assert!(store.finish_job(early, "one").await.expect("finish"));
    assert!(
        !store.finish_job(early, "one").await.expect("finish"),
        "done once"
    );
    assert!(
        !store.finish_job(bobs, "two").await.expect("finish"),
        "only the holder finishes a job"
    );
    assert!(
        store
            .cancel_job("remind", "alice", late)
            .await
            .expect("cancel")
    );
    // A lease that runs out: the job is taken again, by another holder.
    assert!(
        store
            .renew_job_lease(bobs, "one", 70_000)
            .await
            .expect("renew")
    );
    assert!(
        store
            .lease_due_jobs(65_000, 90_000, "two", 10)
            .await
            .expect("lease")
            .is_empty(),
        "renewed"
    );
    let again = store
        .lease_due_jobs(70_000, 90_000, "two", 10)
        .await
        .expect("lease");
    assert_eq!(
        again.iter().map(|l| l.job.id).collect::<Vec<_>>(),
        vec![bobs]
    );
    assert_eq!(again[0].attempt, 2, "taken the second time");
    assert!(
        !store
            .renew_job_lease(bobs, "one", 99_000)
            .await
            .expect("renew"),
        "the old holder lost it"
    );
    assert!(!store.finish_job(bobs, "one").await.expect("finish"));
    // Let go: due again later, takeable by anyone then.
    assert!(
        store
            .release_job(bobs, "two", 80_000)
            .await
            .expect("release")
    );
    assert_eq!(store.next_job_due().await.expect("next"), Some(80_000));
    assert!(
        store
            .lease_due_jobs(79_999, 90_000, "three", 10)
            .await
            .expect("lease")
            .is_empty()
    );
    let released = store
        .lease_due_jobs(80_000, 90_000, "three", 10)
        .await
        .expect("lease");
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].job.due_unix_ms, 80_000);
    assert!(store.finish_job(bobs, "three").await.expect("finish"));
    assert_eq!(store.next_job_due().await.expect("next"), None);

    // Jobs: the limit takes the earliest; the rest stay.
    let job = |due: i64| ScheduledJob {
        id: 0,
        namespace: "edges".into(),
        owner: "carol".into(),
        due_unix_ms: due,
        payload: serde_json::json!(due),
    };
    let second = store.schedule_job(&job(20)).await.expect("schedule");
    let first = store.schedule_job(&job(10)).await.expect("schedule");
    let taken = store
        .lease_due_jobs(100, 1_000, "one", 1)
        .await
        .expect("lease");
    assert_eq!(
        taken.iter().map(|l| l.job.id).collect::<Vec<_>>(),
        vec![first]
    );
    assert_eq!(store.next_job_due().await.expect("next"), Some(20));
    let taken = store
        .lease_due_jobs(100, 1_000, "one", 5)
        .await
        .expect("lease");
    assert_eq!(
        taken.iter().map(|l| l.job.id).collect::<Vec<_>>(),
        vec![second]
    );
    for id in [first, second] {
        assert!(store.finish_job(id, "one").await.expect("finish"));
    }
    assert_eq!(store.next_job_due().await.expect("next"), None);
}
