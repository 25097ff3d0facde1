//! A headless Chromium driven over the Chrome DevTools Protocol: the browser is started by
//! this test (and stopped by its process id), and spoken to over its `--remote-debugging-port`
//! websocket with a small client (HTTP/1.1 upgrade, masked text frames out, text frames in).
//!
//! Chromium comes from Debian's `chromium` package, which `scripts/test.sh` installs. Without
//! it, [`Browser::launch`] fails the test naming the install command.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader, BufStream,
};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long any one step may take before the test fails (a cold browser start on a loaded
/// 2-core machine takes a few seconds).
const STEP: Duration = Duration::from_secs(60);

/// The command that installs the browser, named in failures.
pub(crate) const INSTALL: &str = "apt-get install -y chromium (scripts/test.sh runs it)";

/// The Chromium binary: `COGNITO_AUTHZ_CHROMIUM`, else Debian's, else `chromium` or
/// `chromium-browser` on `PATH`.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("COGNITO_AUTHZ_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let debian = Path::new("/usr/lib/chromium/chromium");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|folder| [folder.join("chromium"), folder.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

/// A running headless Chromium and a DevTools connection to it.
pub(crate) struct Browser {
    child: Child,
    devtools: DevTools,
    profile: PathBuf,
    /// What the browser wrote on stderr (for failure messages).
    log: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    /// Starts Chromium with a fresh profile and connects to it.
    ///
    /// # Panics
    /// Chromium is not installed (naming the command that installs it), does not start, or
    /// does not offer its DevTools endpoint.
    pub(crate) async fn launch() -> Self {
        let Some(binary) = binary() else {
            panic!(
                "Chromium is not installed; the browser tests need it: {INSTALL}, or set \
                 COGNITO_AUTHZ_CHROMIUM to a Chromium binary"
            );
        };
        let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "chromium-profile-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        // Headless Chromium blocks third-party cookies by default (it withholds them with
        // the reason "UserPreferences"), which would stop a cross-site `fetch` before our
        // check sees it. Desktop Chrome allows them by default, so the profile does too.
        let preferences = profile.join("Default");
        std::fs::create_dir_all(&preferences).expect("profile folder");
        std::fs::write(
            preferences.join("Preferences"),
            json!({ "profile": { "cookie_controls_mode": 0, "block_third_party_cookies": false } })
                .to_string(),
        )
        .expect("profile preferences");
        let mut child = Command::new(&binary)
            .args([
                "--headless",
                // Containers and CI run tests as root, where Chromium's sandbox cannot start;
                // the browser only ever loads this test's pages on 127.0.0.1.
                "--no-sandbox",
                "--disable-gpu",
                // CI containers often have a small /dev/shm, where Chromium's tabs crash.
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {}: {error}; {INSTALL}", binary.display())
            });
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(stderr).lines();
        // Chromium announces its endpoint on stderr: "DevTools listening on ws://…".
        let endpoint: Option<String> = tokio::time::timeout(STEP, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let found = line
                    .strip_prefix("DevTools listening on ")
                    .map(str::to_owned);
                log.lock().expect("log").push(line);
                if found.is_some() {
                    return found;
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(endpoint) = endpoint else {
            let _ = child.kill().await;
            panic!(
                "{} did not open its DevTools endpoint; its stderr:\n{}",
                binary.display(),
                log.lock().expect("log").join("\n")
            );
        };
        // Keep draining stderr so the browser never blocks on a full pipe.
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().expect("log").push(line);
            }
        });
        let devtools = DevTools::connect(&endpoint).await;
        Self {
            child,
            devtools,
            profile,
            log,
        }
    }

    /// Opens a new tab and attaches to it; returns its session id.
    pub(crate) async fn new_tab(&mut self) -> String {
        let target = self
            .devtools
            .call("Target.createTarget", json!({ "url": "about:blank" }), None)
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = self
            .devtools
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                None,
            )
            .await;
        let session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned();
        // Network events say which cookies the browser withheld from a request, and why.
        self.devtools
            .call("Network.enable", json!({}), Some(&session))
            .await;
        session
    }

    /// The cookies Chromium withheld from requests so far, and why (names and reasons only).
    pub(crate) async fn withheld_cookies(&mut self) -> Vec<String> {
        // A round trip collects the events that arrived since the last command.
        self.devtools
            .call("Browser.getVersion", json!({}), None)
            .await;
        let mut withheld = Vec::new();
        for event in &self.devtools.events {
            if event["method"] != "Network.requestWillBeSentExtraInfo" {
                continue;
            }
            let cookies = event["params"]["associatedCookies"].as_array();
            for cookie in cookies.into_iter().flatten() {
                let reasons = &cookie["blockedReasons"];
                if reasons
                    .as_array()
                    .is_some_and(|reasons| !reasons.is_empty())
                {
                    withheld.push(format!("{} {reasons}", cookie["cookie"]["name"]));
                }
            }
        }
        withheld
    }

    /// Loads `url` in the tab (returns once the navigation has its response).
    pub(crate) async fn navigate(&mut self, tab: &str, url: &str) {
        let result = self
            .devtools
            .call("Page.navigate", json!({ "url": url }), Some(tab))
            .await;
        if let Some(error) = result.get("errorText").and_then(Value::as_str) {
            panic!("navigating to {url} failed: {error}");
        }
    }

    /// Every cookie in the browser's jar.
    pub(crate) async fn cookies(&mut self) -> Vec<Value> {
        let result = self
            .devtools
            .call("Storage.getCookies", json!({}), None)
            .await;
        result["cookies"].as_array().cloned().unwrap_or_default()
    }

    /// The browser's stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Closes the browser (asking it first, then killing its process) and removes its profile.
    pub(crate) async fn close(mut self) {
        let asked = tokio::time::timeout(
            Duration::from_secs(5),
            self.devtools.send("Browser.close", json!({}), None),
        )
        .await;
        let exited = match asked {
            Ok(()) => tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok(),
            Err(_) => false,
        };
        if !exited {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A per-run suffix so two test processes never share a profile folder.
fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

/// A DevTools protocol connection: JSON commands with ids over a websocket.
struct DevTools {
    stream: BufStream<TcpStream>,
    next_id: u64,
    /// Events received while waiting for answers.
    events: Vec<Value>,
}

impl DevTools {
    /// Opens the websocket at `ws://host:port/path`.
    async fn connect(endpoint: &str) -> Self {
        let rest = endpoint
            .strip_prefix("ws://")
            .unwrap_or_else(|| panic!("unexpected DevTools endpoint {endpoint:?}"));
        let (host, path) = rest.split_once('/').expect("endpoint path");
        let tcp = TcpStream::connect(host).await.expect("DevTools connects");
        let mut stream = BufStream::new(tcp);
        let handshake = format!(
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: Y29nbml0by1hdXRoei10ZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(handshake.as_bytes())
            .await
            .expect("handshake sent");
        stream.flush().await.expect("handshake flushed");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.expect("handshake answer"));
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "DevTools refused the websocket: {}",
            String::from_utf8_lossy(&head)
        );
        Self {
            stream,
            next_id: 0,
            events: Vec::new(),
        }
    }

    /// Sends a command and returns its result, skipping events (panics on an error answer).
    async fn call(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        let id = self.next_id + 1;
        tokio::time::timeout(STEP, async {
            self.send(method, params, session).await;
            loop {
                let message: Value =
                    serde_json::from_str(&self.read_message().await).expect("DevTools JSON");
                if message.get("id").is_none() {
                    self.events.push(message);
                    continue;
                }
                if message["id"].as_u64() != Some(id) {
                    continue;
                }
                if let Some(error) = message.get("error") {
                    panic!("DevTools {method} failed: {error}");
                }
                return message["result"].clone();
            }
        })
        .await
        .unwrap_or_else(|_| panic!("DevTools {method} did not answer within {STEP:?}"))
    }

    /// Sends a command without waiting for its answer.
    async fn send(&mut self, method: &str, params: Value, session: Option<&str>) {
        self.next_id += 1;
        let mut command = json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = session.into();
        }
        let payload = command.to_string().into_bytes();
        // A client frame: FIN + text, masked (RFC 6455 requires masking from clients).
        let mut frame = vec![0x81];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | u8::try_from(len).expect("small")),
            len @ 126..=0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend(u16::try_from(len).expect("medium").to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend(u64::try_from(len).expect("large").to_be_bytes());
            }
        }
        let mask = [0x5a, 0x17, 0xc3, 0x8e];
        frame.extend(mask);
        frame.extend(
            payload
                .iter()
                .enumerate()
                .map(|(index, byte)| byte ^ mask[index % 4]),
        );
        self.stream.write_all(&frame).await.expect("frame sent");
        self.stream.flush().await.expect("frame flushed");
    }

    /// The next whole text message (continuation frames joined; pings answered).
    async fn read_message(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let first = self.stream.read_u8().await.expect("frame");
            let second = self.stream.read_u8().await.expect("frame");
            let length = match second & 0x7f {
                126 => u64::from(self.stream.read_u16().await.expect("length")),
                127 => self.stream.read_u64().await.expect("length"),
                short => u64::from(short),
            };
            let mask = if second & 0x80 == 0 {
                None
            } else {
                let mut mask = [0; 4];
                self.stream.read_exact(&mut mask).await.expect("mask");
                Some(mask)
            };
            let mut payload = vec![0; usize::try_from(length).expect("frame fits in memory")];
            self.stream.read_exact(&mut payload).await.expect("payload");
            if let Some(mask) = mask {
                for (index, byte) in payload.iter_mut().enumerate() {
                    *byte ^= mask[index % 4];
                }
            }
            match first & 0x0f {
                0x0..=0x2 => {
                    message.extend(payload);
                    if first & 0x80 != 0 {
                        return String::from_utf8(message).expect("UTF-8 message");
                    }
                }
                0x8 => panic!("DevTools closed the connection"),
                0x9 => {
                    // Pong with the same payload (masked, as every client frame).
                    let mut pong = vec![0x8a, 0x80 | u8::try_from(payload.len()).unwrap_or(0)];
                    pong.extend([0, 0, 0, 0]);
                    pong.extend(&payload);
                    self.stream.write_all(&pong).await.expect("pong");
                    self.stream.flush().await.expect("pong flushed");
                }
                _ => {}
            }
        }
    }
}
