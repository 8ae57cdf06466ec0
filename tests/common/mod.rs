//! Test harness: starts the real server on 127.0.0.1:0 with a real SQLite file in a temp dir,
//! and talks to it over raw TCP so tests see the bytes on the wire.
#![allow(dead_code)]

pub mod cdp;
pub mod html;
pub mod process;
pub mod testca;
pub mod web;

use retracker::config::Config;
use retracker::server::Listeners;
use retracker::tracker::Clock;
use serde_bencode::value::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The info hash of every fixture line (v1-private.torrent).
pub const FIXTURE_HASH: &str = "466d846e88635a7aa032ca8cbe2d810495dea262";

/// A running tracker.
pub struct Tracker {
    /// Where it listens (first listener).
    pub addr: SocketAddr,
    /// Every listener's address.
    pub addrs: Vec<SocketAddr>,
    /// The HTTPS listeners' addresses (none unless started with some).
    pub https: Vec<SocketAddr>,
    /// Every UDP tracker socket's address (none unless started with [`Tracker::start_udp`] or
    /// [`Tracker::start_binds`]).
    pub udp_addrs: Vec<SocketAddr>,
    /// The database file.
    pub db: PathBuf,
    /// Keeps the temp dir alive.
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    reloads: watch::Sender<Arc<Config>>,
    handle: Option<JoinHandle<Result<(), retracker::server::ServerError>>>,
    /// The tracker's clock: the system's, or a manual one the test moves
    /// ([`Tracker::start_manual`]) instead of sleeping.
    pub clock: Clock,
}

/// The default config with a database in `dir`.
pub fn config_in(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.db.path = dir.join("retracker.sqlite");
    c.db.flush_interval_ms = 50;
    c.logging.log_file = None;
    // Exact `interval` values in answers; tests/extras.rs turns the jitter on to test it.
    c.tracker.announce_interval_jitter = 0;
    c
}

impl Tracker {
    /// Starts a tracker on 127.0.0.1:0 with the default config changed by `tweak`.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Tracker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        tweak(&mut config);
        Self::start_in(dir, config, &["127.0.0.1:0"]).await
    }

    /// Starts a tracker on 127.0.0.1:0 with the default config changed by `tweak` and a manual
    /// clock standing at the current time: peers age, expire and get snapshotted only when the
    /// test moves [`Tracker::clock`].
    pub async fn start_manual(tweak: impl FnOnce(&mut Config)) -> Tracker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        tweak(&mut config);
        let mut listeners = Listeners::default();
        listeners
            .tracker
            .push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let clock = Clock::manual(retracker::tracker::unix_now());
        Self::start_clocked(dir, config, listeners, clock).await
    }

    /// Starts a tracker on 127.0.0.1:0 with a UDP tracker socket on 127.0.0.1:0 too, with the
    /// default config changed by `tweak`.
    pub async fn start_udp(tweak: impl FnOnce(&mut Config)) -> Tracker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        tweak(&mut config);
        Self::start_binds(dir, config, &["127.0.0.1:0"], &["127.0.0.1:0"]).await
    }

    /// Starts a tracker with `config` listening on `binds`, keeping `dir`.
    pub async fn start_in(dir: tempfile::TempDir, config: Config, binds: &[&str]) -> Tracker {
        Self::start_binds(dir, config, binds, &[]).await
    }

    /// Starts a tracker with `config` listening on `binds` (HTTP) and `udp_binds` (BEP 15).
    pub async fn start_binds(
        dir: tempfile::TempDir,
        config: Config,
        binds: &[&str],
        udp_binds: &[&str],
    ) -> Tracker {
        let mut listeners = retracker::server::Listeners::default();
        for b in binds {
            listeners.tracker.push(TcpListener::bind(b).await.unwrap());
        }
        for b in udp_binds {
            let addr = b.parse().unwrap();
            listeners
                .udp
                .push(retracker::server::bind_udp(addr).unwrap());
        }
        Self::start_with(dir, config, listeners).await
    }

    /// Starts a tracker as `host = 127.0.0.1, ::1` does: one IPv4 and one IPv6 listener on the
    /// same port (`addrs[0]` and `addrs[1]`), with the default config changed by `tweak`.
    pub async fn start_dual(tweak: impl FnOnce(&mut Config)) -> Tracker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_in(dir.path());
        config.tracker.host = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        tweak(&mut config);
        // The port free on 127.0.0.1 may be taken on ::1: try a few.
        for _ in 0..20 {
            let v4 = retracker::server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let port = v4.local_addr().unwrap().port();
            if let Ok(v6) = retracker::server::bind(SocketAddr::new("::1".parse().unwrap(), port)) {
                return Self::start_with(dir, config, vec![v4, v6].into()).await;
            }
        }
        panic!("no port free on both 127.0.0.1 and ::1");
    }

    /// Starts a tracker with `config` on `listeners` (tracker ones first), keeping `dir`.
    pub async fn start_with(
        dir: tempfile::TempDir,
        config: Config,
        listeners: Listeners,
    ) -> Tracker {
        Self::start_clocked(dir, config, listeners, Clock::system()).await
    }

    /// [`Tracker::start_with`] with the tracker's clock.
    pub async fn start_clocked(
        dir: tempfile::TempDir,
        config: Config,
        listeners: Listeners,
        clock: Clock,
    ) -> Tracker {
        let addrs: Vec<_> = listeners
            .tracker
            .iter()
            .map(|l| l.local_addr().unwrap())
            .collect();
        let https: Vec<_> = listeners
            .https
            .iter()
            .map(|l| l.local_addr().unwrap())
            .collect();
        let udp_addrs: Vec<_> = listeners
            .udp
            .iter()
            .map(|s| s.local_addr().unwrap())
            .collect();
        let (stop, stopped) = oneshot::channel::<()>();
        let (reloads, reloaded) = watch::channel(Arc::new(config.clone()));
        let db = config.db.path.clone();
        let options = retracker::server::Options {
            reloads: Some(reloaded),
            clock: clock.clone(),
            ..Default::default()
        };
        let handle = tokio::spawn(retracker::server::run_with(
            config,
            listeners,
            async {
                let _ = stopped.await;
            },
            options,
        ));
        Tracker {
            addr: addrs[0],
            addrs,
            https,
            udp_addrs,
            db,
            dir,
            stop: Some(stop),
            reloads,
            handle: Some(handle),
            clock,
        }
    }

    /// Hands `config` to the running tracker as a SIGHUP would.
    pub fn reload(&self, config: Config) {
        self.reloads.send(Arc::new(config)).unwrap();
    }

    /// Shuts down (flushing to SQLite) and returns the temp dir, for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.handle.take().unwrap().await.unwrap().unwrap();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// The first UDP tracker socket's address.
    pub fn udp_addr(&self) -> SocketAddr {
        *self.udp_addrs.first().expect("started with a UDP socket")
    }

    /// GET `target` (path and query) from 127.0.0.1.
    pub async fn get(&self, target: &str) -> Resp {
        get(self.addr, None, target, &[]).await
    }

    /// Announce with `query` from the local address `from` (e.g. 127.0.0.2); returns the
    /// decoded dict, refusal or not.
    pub async fn announce_from(&self, from: IpAddr, query: &str) -> Dict {
        let r = get(self.addr, Some(from), &format!("/announce?{query}"), &[]).await;
        assert_eq!(r.status, 200, "tracker answers are HTTP 200");
        r.dict()
    }

    /// Announce with `query`, expecting success; returns the decoded dict.
    pub async fn announce(&self, query: &str) -> Dict {
        let r = self.get(&format!("/announce?{query}")).await;
        assert_eq!(r.status, 200);
        let d = r.dict();
        assert!(
            d.get("failure reason").is_none(),
            "refused: {:?} for {query}",
            d.str("failure reason")
        );
        d
    }

    /// Announce with `query`, expecting a failure reason; returns it.
    pub async fn refused(&self, query: &str) -> String {
        let r = self.get(&format!("/announce?{query}")).await;
        assert_eq!(r.status, 200, "failures are HTTP 200");
        r.dict()
            .str("failure reason")
            .unwrap_or_else(|| panic!("not refused: {query}"))
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as a bencoded dict.
    pub fn dict(&self) -> Dict {
        decode_dict(&self.body)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A decoded bencoded dict with typed getters.
#[derive(Debug, Clone)]
pub struct Dict(pub HashMap<Vec<u8>, Value>);

impl Dict {
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.get(k.as_bytes())
    }
    pub fn int(&self, k: &str) -> i64 {
        match self.get(k) {
            Some(Value::Int(i)) => *i,
            other => panic!("{k} is not an int: {other:?}"),
        }
    }
    pub fn bytes(&self, k: &str) -> Vec<u8> {
        match self.get(k) {
            Some(Value::Bytes(b)) => b.clone(),
            other => panic!("{k} is not a byte string: {other:?}"),
        }
    }
    pub fn str(&self, k: &str) -> Option<String> {
        match self.get(k) {
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
    pub fn dict(&self, k: &str) -> Dict {
        match self.get(k) {
            Some(Value::Dict(d)) => Dict(d.clone()),
            other => panic!("{k} is not a dict: {other:?}"),
        }
    }
    /// Compact IPv4 peers as socket addresses.
    pub fn peers4(&self) -> Vec<SocketAddr> {
        self.bytes("peers")
            .chunks(6)
            .map(|c| {
                SocketAddr::new(
                    IpAddr::from([c[0], c[1], c[2], c[3]]),
                    u16::from_be_bytes([c[4], c[5]]),
                )
            })
            .collect()
    }
    /// Compact IPv6 peers (absent = none).
    pub fn peers6(&self) -> Vec<SocketAddr> {
        match self.get("peers6") {
            None => vec![],
            Some(_) => self
                .bytes("peers6")
                .chunks(18)
                .map(|c| {
                    let ip: [u8; 16] = c[..16].try_into().unwrap();
                    SocketAddr::new(IpAddr::from(ip), u16::from_be_bytes([c[16], c[17]]))
                })
                .collect(),
        }
    }
}

/// Decodes a bencoded dict, failing the test when it is not one.
pub fn decode_dict(body: &[u8]) -> Dict {
    match serde_bencode::from_bytes::<Value>(body) {
        Ok(Value::Dict(d)) => Dict(d),
        other => panic!(
            "not a bencoded dict: {other:?}: {:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

/// Sends one GET with `Connection: close` from `from` (a local address to bind) and reads the answer.
pub async fn get(
    addr: SocketAddr,
    from: Option<IpAddr>,
    target: &str,
    headers: &[(&str, &str)],
) -> Resp {
    let mut stream = connect(addr, from).await;
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("answer within 10 s")
    .unwrap();
    parse_response(&raw).0
}

/// Opens a connection, optionally from a chosen local address (e.g. 127.0.0.2).
pub async fn connect(addr: SocketAddr, from: Option<IpAddr>) -> TcpStream {
    match from {
        None => TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let sock = if ip.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .unwrap();
            sock.bind(SocketAddr::new(ip, 0)).unwrap();
            sock.connect(addr).await.unwrap()
        }
    }
}

/// Parses one HTTP/1.1 response with Content-Length from `raw`; returns it and the bytes used.
pub fn parse_response(raw: &[u8]) -> (Resp, usize) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete headers")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(raw.len() - end);
    (
        Resp {
            status,
            headers,
            body: raw[end..end + len].to_vec(),
        },
        end + len,
    )
}

/// Percent-encodes every byte (what a client may do for info_hash and peer_id).
pub fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// A 20-byte id with `n` in it.
pub fn id20(prefix: &str, n: u32) -> [u8; 20] {
    let s = format!("{prefix}{n:0>width$}", width = 20 - prefix.len());
    s.as_bytes().try_into().unwrap()
}

/// Hex to bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A standard announce query for peer `n` of torrent `hash`.
pub fn query(hash: &[u8; 20], n: u32, port: u16, left: u64, extra: &str) -> String {
    format!(
        "info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}{extra}",
        pct(hash),
        pct(&id20("-TT0001-", n))
    )
}

/// Sends one keep-alive GET on `stream` and reads exactly its answer (the connection stays open).
pub async fn get_on(stream: &mut TcpStream, target: &str) -> Resp {
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("a Content-Length");
            if raw.len() >= end + 4 + len {
                return parse_response(&raw).0;
            }
        }
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("answer within 10 s")
            .unwrap();
        assert!(n > 0, "connection closed before the answer");
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// The value of an unlabelled sample in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}
