//! A real headless browser for end-to-end tests: Debian's `chromium`,
//! driven over the Chrome DevTools Protocol (JSON over one websocket) by
//! the few commands tests need — open a page, run script in it, wait for a
//! condition in it, take a screenshot. Small on purpose: a full CDP client
//! crate costs minutes of compile time.
//!
//! A missing browser is decided like every optional suite ([`crate::optional`]):
//! `SKIPPED` outside CI, a failure under `CI=true` (`scripts/setup.sh`
//! installs it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// The flags Debian's chromium needs on a machine like CI's: no sandbox
/// (running as root), no GPU, and nothing that reaches the network.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
];

/// How long one DevTools command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// The browser's executable, if installed.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A running headless chromium. Killed when dropped.
pub struct Browser {
    _child: Child,
    _profile: tempfile::TempDir,
    outgoing: mpsc::UnboundedSender<String>,
    pending: Pending,
    events: broadcast::Sender<Value>,
    next_id: Arc<AtomicU64>,
}

impl Browser {
    /// Starts chromium with a fresh profile, or — without chromium — skips
    /// (`None`) outside CI and fails under it.
    pub async fn launch(test: &str) -> Option<Self> {
        let executable = crate::optional::require(
            find_chromium(),
            test,
            "chromium is not installed",
            "Run scripts/setup.sh (it installs Debian's chromium) or apt-get install chromium.",
        )?;
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(executable)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--window-size=1200,800")
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(COMMAND_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("chromium's stderr") {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("chromium exited before it listened for DevTools");
        })
        .await
        .expect("chromium listens for DevTools within 30 s");
        // Keep reading stderr so chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let address = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .expect("a ws:// URL");
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect to DevTools");
        let (socket, _) = tokio_tungstenite::client_async(url.as_str(), stream)
            .await
            .expect("DevTools handshake");
        let (mut sink, mut source) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = to_send.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(1024);
        let (reader_pending, reader_events) = (Arc::clone(&pending), events.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = source.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                match value["id"].as_u64() {
                    Some(id) => {
                        if let Some(reply) = reader_pending.lock().unwrap().remove(&id) {
                            let _ = reply.send(value);
                        }
                    }
                    None => {
                        let _ = reader_events.send(value);
                    }
                }
            }
        });
        Some(Self {
            _child: child,
            _profile: profile,
            outgoing,
            pending,
            events,
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// Sends `method` (to the page `session`, or the browser) and returns its result.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (reply, answer) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, reply);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        self.outgoing
            .send(command.to_string())
            .expect("the DevTools connection is open");
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, answer)
            .await
            .unwrap_or_else(|_| panic!("{method} answered within 30 s"))
            .expect("an answer");
        if let Some(error) = answer.get("error") {
            panic!("{method} failed: {error}");
        }
        answer["result"].clone()
    }

    /// A new tab, `width` × `height` CSS pixels.
    pub async fn page(&self, width: u32, height: u32) -> Page<'_> {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        let session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let page = Page {
            browser: self,
            session,
        };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        page
    }
}

/// One tab.
pub struct Page<'b> {
    browser: &'b Browser,
    session: String,
}

impl Page<'_> {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params).await
    }

    /// Runs `action` and waits for the page it leads to to load.
    async fn until_loaded<F: std::future::Future>(&self, action: F) {
        let mut events = self.browser.events.subscribe();
        action.await;
        tokio::time::timeout(COMMAND_TIMEOUT, async {
            loop {
                let event = events.recv().await.expect("DevTools events");
                if event["method"] == "Page.loadEventFired" && event["sessionId"] == self.session {
                    return;
                }
            }
        })
        .await
        .expect("the page loads within 30 s");
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.until_loaded(self.call("Page.navigate", json!({ "url": url })))
            .await;
    }

    /// Runs `script` (which navigates: a form submitted, a link followed)
    /// and waits for the next page to load.
    pub async fn navigate_by(&self, script: &str) {
        self.until_loaded(self.eval(script)).await;
    }

    /// The value of `expression` (awaited if it is a promise); a script
    /// error fails the test.
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("script failed: {exception}\n{expression}");
        }
        result["result"]["value"].clone()
    }

    /// Waits, in the page, until `condition` (a script expression) is true;
    /// false if it is not within `within`.
    pub async fn wait_for(&self, condition: &str, within: Duration) -> bool {
        let script = format!(
            "new Promise(done => {{ const end = performance.now() + {ms}; \
             const check = () => {{ let ok = false; try {{ ok = !!({condition}); }} catch (e) {{}} \
             if (ok) done(true); else if (performance.now() > end) done(false); \
             else setTimeout(check, 10); }}; check(); }})",
            ms = within.as_millis()
        );
        self.eval(&script).await == json!(true)
    }

    /// Saves what the page shows as a PNG at `path`.
    pub async fn screenshot(&self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}
