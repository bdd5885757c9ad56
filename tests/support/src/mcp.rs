//! A fake MCP server (Model Context Protocol), written with rmcp's server
//! side, speaking the real protocol over the two transports natter supports:
//!
//! - **stdio**: the `natter-fake-mcp` binary of this crate, run as a child
//!   process. Find it with [`fake_server_binary`]; its flags are
//!   `--fail-at-start MESSAGE` (print MESSAGE on stderr and exit 1, as a
//!   misconfigured server does) and `--pid-file PATH` (write its pid there).
//! - **streamable HTTP**: [`FakeMcpHttp::start`], in-process on `127.0.0.1:0`.
//!
//! Its tools ([`FakeMcp`]):
//!
//! | tool | does | annotations |
//! |---|---|---|
//! | `add(a, b)` | the sum, as text | read-only |
//! | `echo(text)` | the text | — |
//! | `slow(ms)` | waits, then says so (a call that takes long) | read-only |
//! | `fail(message)` | a result with `isError: true` | — |
//! | `picture()` | a text part and an image part | read-only |
//! | `env(name)` | the value of an environment variable, or `(unset)` | read-only |
//! | `grow(name)` | adds a tool `name` (it answers `I am NAME`), then sends `notifications/tools/list_changed` | — |
//! | `dotted.name`, `dotted_name`, [`LONG_TOOL`] | say their own name (names a model cannot call as they are) | — |
//!
//! Over stdio only (they act on the process):
//!
//! | tool | does |
//! |---|---|
//! | `pid()` | the server's process id |
//! | `crash()` | exits the process at once, mid-call, without answering |
//! | `freeze(ms)` | blocks the whole server (no request is answered) for `ms` |
//!
//! # Finding the stdio binary from another crate's tests
//!
//! Cargo sets `CARGO_BIN_EXE_natter-fake-mcp` only for this crate's own
//! tests, and builds a dependency's binaries for nobody. [`fake_server_binary`]
//! derives the path from the running test executable — tests run from
//! `<target>/<profile>/deps/`, binaries live in `<target>/<profile>/` — and,
//! once per test process, runs `cargo build -p natter-test-support --bin
//! natter-fake-mcp` with the same target directory and profile, so the
//! binary is there and current whichever crate's tests ask for it
//! (`cargo test -p natter-mcp` alone included).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A tool name longer than any model accepts (70 characters).
pub const LONG_TOOL: &str =
    "a_tool_whose_name_is_far_too_long_for_any_model_to_accept_as_it_is_now";

/// The fake server's tools and behaviour; one value serves one connection
/// (clones share the tools added by `grow`).
#[derive(Clone)]
pub struct FakeMcp {
    grown: Arc<Mutex<Vec<String>>>,
    process_tools: bool,
}

impl FakeMcp {
    /// The server as the stdio binary runs it: with `pid`, `crash` and `freeze`.
    pub fn stdio() -> Self {
        Self {
            grown: Arc::default(),
            process_tools: true,
        }
    }

    /// The server as the in-process HTTP fake runs it: without the tools
    /// that would act on the test's own process.
    pub fn in_process() -> Self {
        Self {
            grown: Arc::default(),
            process_tools: false,
        }
    }

    fn tools(&self) -> Vec<Tool> {
        let read_only = || ToolAnnotations::new().read_only(true);
        let mut tools = vec![
            Tool::new(
                "add",
                "Adds two numbers.",
                schema(&[("a", "number"), ("b", "number")]),
            )
            .with_annotations(read_only()),
            Tool::new("echo", "Says the text back.", schema(&[("text", "string")])),
            Tool::new(
                "slow",
                "Waits ms milliseconds.",
                schema(&[("ms", "integer")]),
            )
            .with_annotations(read_only()),
            Tool::new(
                "fail",
                "Fails with the message.",
                schema(&[("message", "string")]),
            ),
            Tool::new("picture", "Draws a picture.", schema(&[])).with_annotations(read_only()),
            Tool::new(
                "env",
                "Reads an environment variable.",
                schema(&[("name", "string")]),
            )
            .with_annotations(read_only()),
            Tool::new("grow", "Adds a tool.", schema(&[("name", "string")])),
            Tool::new("dotted.name", "Has a dot in its name.", schema(&[])),
            Tool::new("dotted_name", "Has an underscore in its name.", schema(&[])),
            Tool::new(LONG_TOOL, "Has a long name.", schema(&[])),
        ];
        if self.process_tools {
            tools.extend([
                Tool::new("pid", "The server's process id.", schema(&[]))
                    .with_annotations(read_only()),
                Tool::new("crash", "Exits mid-call.", schema(&[])),
                Tool::new(
                    "freeze",
                    "Blocks the whole server.",
                    schema(&[("ms", "integer")]),
                ),
            ]);
        }
        let grown = self.grown.lock().unwrap().clone();
        tools.extend(
            grown
                .into_iter()
                .map(|name| Tool::new(name, "A tool added while running.", schema(&[]))),
        );
        tools
    }

    async fn call(
        &self,
        name: &str,
        args: &JsonObject,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let text = |text: String| Ok(CallToolResult::success(vec![ContentBlock::text(text)]));
        let number = |key: &str| {
            args.get(key)
                .and_then(Value::as_f64)
                .ok_or_else(|| ErrorData::invalid_params(format!("{key} must be a number"), None))
        };
        let string = |key: &str| {
            args.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ErrorData::invalid_params(format!("{key} must be a string"), None))
        };
        let millis = |key: &str| number(key).map(|ms| Duration::from_millis(ms as u64));
        match name {
            "add" => text(format!("{}", number("a")? + number("b")?)),
            "echo" => text(string("text")?),
            "slow" => {
                let wait = millis("ms")?;
                tokio::time::sleep(wait).await;
                text(format!("slept {} ms", wait.as_millis()))
            }
            "fail" => Ok(CallToolResult::error(vec![ContentBlock::text(string(
                "message",
            )?)])),
            "picture" => Ok(CallToolResult::success(vec![
                ContentBlock::text("a red dot"),
                ContentBlock::image("iVBORw0KGgo=", "image/png"),
            ])),
            "env" => text(std::env::var(string("name")?).unwrap_or_else(|_| "(unset)".into())),
            "grow" => {
                let name = string("name")?;
                self.grown.lock().unwrap().push(name.clone());
                let _ = context.peer.notify_tool_list_changed().await;
                text(format!("added {name}"))
            }
            "pid" if self.process_tools => text(std::process::id().to_string()),
            "crash" if self.process_tools => std::process::exit(3),
            "freeze" if self.process_tools => {
                // Blocks the runtime's only thread: nothing is answered meanwhile.
                std::thread::sleep(millis("ms")?);
                text("thawed".into())
            }
            _ => {
                let grown = self.grown.lock().unwrap().iter().any(|g| g == name);
                if grown {
                    text(format!("I am {name}"))
                } else if self.tools().iter().any(|t| t.name == name) {
                    text(name.to_owned())
                } else {
                    Err(ErrorData::invalid_params(format!("no tool {name}"), None))
                }
            }
        }
    }
}

/// A JSON Schema object with the given (name, type) properties, all required.
fn schema(properties: &[(&str, &str)]) -> JsonObject {
    let props: serde_json::Map<String, Value> = properties
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), json!({ "type": kind })))
        .collect();
    let required: Vec<&str> = properties.iter().map(|(name, _)| *name).collect();
    let Value::Object(object) =
        json!({ "type": "object", "properties": props, "required": required })
    else {
        unreachable!("json! of an object is an object")
    };
    object
}

impl ServerHandler for FakeMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("natter-fake-mcp", "0.1.0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let name: Cow<'_, str> = request.name.clone();
        self.call(&name, &args, &context).await.map(Into::into)
    }
}

/// The fake MCP server over streamable HTTP, on `127.0.0.1:0`; stops when dropped.
pub struct FakeMcpHttp {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl FakeMcpHttp {
    /// Starts serving.
    pub async fn start() -> Self {
        let stop = CancellationToken::new();
        let config =
            StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
        let server = FakeMcp::in_process();
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let router = axum::Router::new().nest_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await;
        });
        Self { addr, stop }
    }

    /// The endpoint, e.g. `http://127.0.0.1:41234/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

impl Drop for FakeMcpHttp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The path of the `natter-fake-mcp` binary, built (once per process) if
/// missing or out of date. See the module docs for how it is found.
pub fn fake_server_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build_fake_server).clone()
}

fn build_fake_server() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/<test> → <target>/<profile>
    let mut profile_dir = exe.parent().unwrap().to_owned();
    if profile_dir.ends_with("deps") {
        profile_dir.pop();
    }
    let binary = profile_dir.join(format!("natter-fake-mcp{}", std::env::consts::EXE_SUFFIX));
    let target_dir = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => "dev".to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "natter-test-support",
            "--bin",
            "natter-fake-mcp",
        ])
        .arg("--profile")
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace_root())
        .status();
    match status {
        Ok(status) if status.success() => {}
        // No cargo here (a test binary copied elsewhere): use what is there.
        _ if binary.exists() => {}
        other => panic!(
            "cannot build natter-fake-mcp ({other:?}); run `cargo build -p natter-test-support --bin natter-fake-mcp`"
        ),
    }
    assert!(
        binary.exists(),
        "{} is missing after the build",
        binary.display()
    );
    binary
}

fn workspace_root() -> &'static Path {
    // tests/support → the workspace
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
}
