//! A small Chrome DevTools Protocol client for browser tests: launches Debian's headless
//! chromium, connects to its page over a WebSocket (tungstenite, blocking) and sends commands.
//!
//! Every wait has a deadline, so a hung browser fails the test instead of hanging it, and the
//! browser is killed when the [`Chrome`] is dropped. Blocking: call it from
//! `tokio::task::spawn_blocking` when the server under test runs on the test's runtime.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// Where Debian installs chromium; `RETRACKER_CHROMIUM` overrides it.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The chromium binary to use.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("RETRACKER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM))
}

/// A running headless chromium; killed on drop.
pub struct Chrome {
    child: Child,
    /// Where its DevTools HTTP endpoint listens.
    pub devtools: SocketAddr,
    /// The last lines chromium wrote to stderr (for failure messages).
    stderr: Arc<Mutex<Vec<String>>>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Starts chromium headless with a fresh profile and waits (up to `timeout`) until its
    /// DevTools endpoint listens.
    pub fn launch(timeout: Duration) -> Result<Chrome, String> {
        let path = chromium_path();
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(&path)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;

        // Read stderr for the whole life of the browser (a full pipe would stall it), and hand
        // the DevTools address over when it appears.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr is piped");
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("DevTools listening on ws://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_owned());
                }
                let mut l = lines.lock().unwrap();
                l.push(line);
                if l.len() > 200 {
                    l.remove(0);
                }
            }
        });
        let mut chrome = Chrome {
            child,
            devtools: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            _profile: profile,
        };
        let host = match rx.recv_timeout(timeout) {
            Ok(host) => host,
            Err(_) => {
                let status = chrome.child.try_wait().ok().flatten();
                return Err(format!(
                    "chromium did not print its DevTools address within {timeout:?} (exit status {status:?}); its stderr:\n{}",
                    chrome.stderr_tail()
                ));
            }
        };
        chrome.devtools = host
            .parse()
            .map_err(|e| format!("bad DevTools address {host:?}: {e}"))?;
        Ok(chrome)
    }

    /// The last lines of chromium's stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// GET `path` from the DevTools HTTP endpoint, as JSON.
    fn devtools_json(&self, path: &str) -> Result<Value, String> {
        let mut s = TcpStream::connect_timeout(&self.devtools, Duration::from_secs(10))
            .map_err(|e| format!("DevTools endpoint {}: {e}", self.devtools))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.devtools
        )
        .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("reading {path}: {e}")),
            }
            // Stop once the whole body announced by Content-Length is in.
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|len| raw.len() >= end + 4 + len) {
                    break;
                }
            }
        }
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("no HTTP answer to {path}"))?;
        serde_json::from_slice(&raw[end + 4..])
            .map_err(|e| format!("{path} is not JSON: {e}: {}", String::from_utf8_lossy(&raw)))
    }

    /// Connects to the first page (the `about:blank` tab chromium opened), found through
    /// `/json/list`.
    pub fn page(&self) -> Result<Page, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let list = self.devtools_json("/json/list")?;
            let found = list.as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    .map(str::to_owned)
            });
            match found {
                Some(url) => break url,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                None => return Err(format!("no page target in /json/list: {list}")),
            }
        };
        Page::connect(&url)
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One page (tab), driven over its DevTools WebSocket.
pub struct Page {
    ws: WebSocket<TcpStream>,
    next_id: u64,
}

impl Page {
    /// Connects to a page's `webSocketDebuggerUrl`.
    pub fn connect(url: &str) -> Result<Page, String> {
        let host = url
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .ok_or_else(|| format!("not a ws:// URL: {url}"))?;
        let addr: SocketAddr = host
            .parse()
            .map_err(|e| format!("bad address in {url}: {e}"))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connecting to {url}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let (ws, _) =
            tungstenite::client(url, stream).map_err(|e| format!("WebSocket {url}: {e}"))?;
        // Short reads from here on, so each wait can check its own deadline.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        Ok(Page { ws, next_id: 0 })
    }

    /// Sends `method` with `params` and waits for its answer (events are ignored). A protocol
    /// error is an `Err` with its message.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws
            .send(Message::Text(msg.into()))
            .map_err(|e| format!("sending {method}: {e}"))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                return Err(format!("no answer to {method} within {COMMAND_TIMEOUT:?}"));
            }
            let text = match self.ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(c)) => return Err(format!("page closed the WebSocket: {c:?}")),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(format!("waiting for {method}: {e}")),
            };
            let v: Value =
                serde_json::from_str(text.as_str()).map_err(|e| format!("bad CDP message: {e}"))?;
            if v["id"].as_u64() != Some(id) {
                continue; // an event, or an answer to an earlier command
            }
            if let Some(err) = v.get("error") {
                return Err(format!("{method}: {err}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value (promises are
    /// awaited); a thrown exception is an `Err`.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {ex}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expression` until it is `true`, or fails after `timeout`.
    pub fn wait_until(&mut self, expression: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            // Between documents the context may be gone for a moment: try again.
            if let Ok(Value::Bool(true)) = self.eval(expression) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let href = self.eval("location.href").unwrap_or_default();
                return Err(format!(
                    "`{expression}` not true within {timeout:?} (page: {href})"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `action` (something that loads another document: a navigation, a form
    /// submission) and waits until the new document has loaded. Returns its URL.
    pub fn load_after(
        &mut self,
        action: impl FnOnce(&mut Page) -> Result<(), String>,
    ) -> Result<String, String> {
        // The old document carries a marker; the new one does not.
        self.eval("window.__cdp_old_document = true")?;
        action(self)?;
        self.wait_until(
            "window.__cdp_old_document !== true && document.readyState === 'complete'",
            Duration::from_secs(20),
        )?;
        let href = self.eval("location.href")?;
        Ok(href.as_str().unwrap_or_default().to_owned())
    }

    /// Opens `url` and waits until it (or where it redirected to) has loaded; returns the
    /// final URL.
    pub fn navigate(&mut self, url: &str) -> Result<String, String> {
        self.load_after(|p| {
            let r = p.call("Page.navigate", json!({ "url": url }))?;
            match r.get("errorText") {
                Some(e) => Err(format!("navigating to {url}: {e}")),
                None => Ok(()),
            }
        })
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot_png(&mut self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        let data = r["data"].as_str().ok_or("no screenshot data")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("screenshot is not base64: {e}"))
    }
}
