//! Running the real `natter` binary from end-to-end tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// What a finished natter printed.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
}

/// Starts `natter --config CONFIG ARGS…` with piped stdio, killed if dropped.
pub fn spawn(config: &Path, args: &[&str], log: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_natter"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", log)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Runs natter with `input` on stdin until it exits by itself.
pub async fn run(config: &Path, args: &[&str], input: &str, log: &str) -> Run {
    let mut child = spawn(config, args, log);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    Run {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        success: output.status.success(),
    }
}
