//! Loopback fakes of the services natter talks to, for tests (an MCP server
//! among them, also as the `natter-fake-mcp` binary: see [`mcp`]). Each binds
//! `127.0.0.1:0`, speaks the real wire protocol, records what it receives, and
//! can be told to misbehave the ways real services do. The code under test
//! reaches them through settings real users have (`base_url`, `api_url`, proxy URLs).
//! [`optional`] decides, in one place, what a test does when a Postgres server
//! or the local model is missing: skip outside CI, fail under `CI=true`.
//! [`browser`] drives a real headless chromium for the web side's tests.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

pub mod browser;
pub mod discord;
mod form;
pub mod mcp;
pub mod openai;
pub mod optional;
pub mod telegram;
