//! `natter-fake-mcp`: the fake MCP server of `natter_test_support::mcp`
//! over stdio, as a child process. Flags: `--fail-at-start MESSAGE` prints
//! MESSAGE on stderr and exits 1; `--pid-file PATH` writes the pid there.
//! It runs on one thread, so `freeze` stops it answering anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use natter_test_support::mcp::FakeMcp;
use rmcp::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(message) = flag("--fail-at-start") {
        eprintln!("{message}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = flag("--pid-file") {
        std::fs::write(path, std::process::id().to_string()).unwrap();
    }
    eprintln!("natter-fake-mcp {} ready on stdio", std::process::id());
    let running = match FakeMcp::stdio().serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("natter-fake-mcp: {error}");
            return ExitCode::FAILURE;
        }
    };
    let _ = running.waiting().await;
    ExitCode::SUCCESS
}
