//! The one store conformance suite (natter-core's `store_conformance`) against
//! every store natter can run on: memory, SQLite and Postgres, each bare and
//! with its history behind the engine-side `CachedStore` (which caches history
//! only, so it runs the history suite).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;

use natter_core::store::{CachedStore, HistoryStore, MemoryStore};
use natter_core::test_utils::{history_conformance, store_conformance, stores_conformance};
use natter_store::{StoreSettings, connect, open};

use common::{SqliteFile, pg_schema};

fn cached(inner: Arc<dyn HistoryStore>, conversations: usize) -> CachedStore {
    CachedStore::new(inner, NonZeroUsize::new(conversations).unwrap())
}

#[tokio::test]
async fn memory() {
    stores_conformance(&open(&StoreSettings::with_url("memory")).await.unwrap()).await;
}

#[tokio::test]
async fn memory_behind_a_one_conversation_cache() {
    // A cap of one evicts on every switch of conversation: the suite alternates two.
    history_conformance(&cached(Arc::new(MemoryStore::new()), 1)).await;
}

#[tokio::test]
async fn sqlite() {
    let file = SqliteFile::new();
    let store = connect(&file.settings).await.unwrap();
    store_conformance(&store).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_as_opened_with_its_cache() {
    let file = SqliteFile::new();
    stores_conformance(&open(&file.settings).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_in_memory_urls_are_refused_for_memory() {
    let error = connect(&StoreSettings::with_url("sqlite::memory:"))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("url = \"memory\""), "{error}");
}

#[tokio::test]
async fn postgres() {
    let Some(schema) = pg_schema("conformance").await else {
        return;
    };
    let store = connect(&schema.settings).await.unwrap();
    store_conformance(&store).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_behind_a_one_conversation_cache() {
    let Some(schema) = pg_schema("conformance_cached").await else {
        return;
    };
    let store = connect(&schema.settings).await.unwrap();
    history_conformance(&cached(Arc::new(store.clone()), 1)).await;
    store.close().await;
}
