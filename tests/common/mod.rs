//! Running the real `natter` binary from end-to-end tests, isolated from the
//! developer's own settings: no secret from their environment, no `NATTER_…`
//! variable (config file, `NATTER__…` overrides) unless a test sets it.
#![allow(dead_code, clippy::unwrap_used)]

use std::ffi::OsString;
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

/// Removes from `command` every variable through which the developer's own
/// settings would reach natter: each secret's standard variable
/// (`OPENAI_API_KEY`, `TELEGRAM_BOT_TOKEN`, `DISCORD_TOKEN`) and every
/// `NATTER_…` variable. Set what a test needs after calling this.
pub fn isolate(command: &mut std::process::Command) -> &mut std::process::Command {
    let natter_vars: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .chain(command.get_envs().map(|(name, _)| name.to_owned()))
        .filter(|name| name.to_string_lossy().starts_with("NATTER_"))
        .collect();
    for name in natter_vars {
        command.env_remove(name);
    }
    for name in natter::settings::SECRET_VARIABLES {
        command.env_remove(name);
    }
    command
}

/// Starts `natter --config CONFIG ARGS…` with piped stdio, killed if dropped.
pub fn spawn(config: &Path, args: &[&str], log: &str) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
    isolate(command.as_std_mut());
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", log)
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
