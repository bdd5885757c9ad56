//! End to end: the `natter` binary with MCP servers configured — `natter
//! check` lists a good server's tools and says why a bad one could not
//! start; a chat starts the servers before the first message and stops
//! them when natter stops; a killed natter leaves no server behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::time::Duration;

mod common;

use natter_test_support::mcp::fake_server_binary;
use natter_test_support::openai::FakeOpenAi;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "mcp-env-never-print-me";

fn config(base_url: &str, servers: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        file,
        r#"
[store]
url = "memory"

[model]
backend = "openai"

[model.openai]
base_url = "{base_url}"
model = "gpt-4o-mini"
max_retries = 0

{servers}
"#
    )
    .unwrap();
    file
}

/// A `[mcp.servers.NAME]` section running the fake server with `args`.
fn server(name: &str, args: &[&str]) -> String {
    let mut command = vec![fake_server_binary().display().to_string()];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    format!(
        "[mcp.servers.{name}]\ncommand = {command:?}\nenv = {{ FAKE_KEY = \"{SECRET}\" }}\ntimeout_secs = 20\n\n"
    )
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `line` without ANSI colour sequences (ESC `[` … `m`).
fn without_colours(line: &str) -> String {
    let mut plain = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no pid file {}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn check_lists_a_good_servers_tools_and_why_a_bad_one_failed() {
    let servers = format!(
        "{}{}",
        server("calc", &[]),
        server("broken", &["--fail-at-start", "cannot read /etc/fake.conf"])
    );
    let config = config("http://127.0.0.1:9/v1", &servers);
    let run = common::run(config.path(), &["check"], "", "warn").await;
    assert!(run.success, "{}", run.stderr);
    let line = |server: &str| {
        run.stdout
            .lines()
            .find(|l| {
                l.trim_start_matches("mcp:")
                    .trim_start()
                    .starts_with(&format!("{server}: "))
            })
            .unwrap_or_else(|| panic!("no line for {server}: {}", run.stdout))
            .to_owned()
    };
    // Servers in name order, the first under the `mcp:` label.
    let broken = line("broken");
    assert_eq!(
        broken,
        "mcp:       broken: could not start: the server exited during the MCP handshake \
         (its stderr: cannot read /etc/fake.conf)"
    );
    let calc = line("calc");
    assert!(
        calc.starts_with("           calc: calc_add (read-only), calc_echo, "),
        "{calc}"
    );
    assert!(
        run.stdout.contains("FAKE_KEY = \"[redacted]\""),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET));
    assert!(
        !run.stderr.contains("ready on stdio"),
        "a server's stderr goes to the log at info, below this run's level: {}",
        run.stderr
    );
}

#[tokio::test]
async fn servers_start_before_the_first_message_and_stop_with_natter() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("calc.pid");
    let config = config(
        &fake.base_url(),
        &server("calc", &["--pid-file", pid_file.to_str().unwrap()]),
    );
    let mut natter = common::spawn(config.path(), &[], "info");
    let mut stdin = natter.stdin.take().unwrap();
    let mut stdout = BufReader::new(natter.stdout.take().unwrap()).lines();
    let mut stderr = natter.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut log = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
            .await
            .unwrap();
        log
    });
    stdin.write_all(b"hello\n").await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.as_deref(), Some("echo: hello"));
    let pid = read_pid(&pid_file);
    assert!(alive(pid), "the server runs while natter does");
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(60), natter.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(!alive(pid), "natter stopped its server before exiting");
    let log = log.await.unwrap();
    let line = log
        .lines()
        .map(without_colours)
        .find(|l| l.contains(&format!("natter-fake-mcp {pid} ready on stdio")))
        .unwrap_or_else(|| panic!("the server's stderr is not in the log: {log}"));
    assert!(
        line.contains("natter_mcp::stderr") && line.contains("server=calc"),
        "{line}"
    );
}

#[tokio::test]
async fn a_killed_natter_leaves_no_server_behind() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("calc.pid");
    let config = config(
        &fake.base_url(),
        &server("calc", &["--pid-file", pid_file.to_str().unwrap()]),
    );
    let mut natter = common::spawn(config.path(), &[], "warn");
    let mut stdin = natter.stdin.take().unwrap();
    let mut stdout = BufReader::new(natter.stdout.take().unwrap()).lines();
    stdin.write_all(b"hello\n").await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.as_deref(), Some("echo: hello"));
    let pid = read_pid(&pid_file);
    natter.kill().await.unwrap();
    // The server reads the end of its input (natter's end of the pipe is
    // gone) and exits, as MCP's stdio transport says it should.
    let gone = async {
        while alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), gone)
        .await
        .unwrap_or_else(|_| panic!("server {pid} outlived a killed natter"));
    drop(stdin);
}
