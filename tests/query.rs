//! `retracker query` and `retracker report` as a user runs them: the real binary against
//! retracker itself (HTTP, HTTPS, UDP) with peers announced first, against fake trackers written
//! here (refused, silent, malformed, recording what they are sent), and with bad command lines.
//! Every output format is parsed. Traffic goes to 127.0.0.0/8 and ::1 only.

mod common;

use common::{pct, query, Tracker};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const HASH: &str = "466d846e88635a7aa032ca8cbe2d810495dea262";
const HYBRID_V1: &str = "ed5790779b59bf64be1415eb81854af639002ac0";
const HYBRID_V2: &str = "8ab16bf527dc9eb4ebb3d0c05db6eb8651ebe8ca";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` (off the runtime: the tracker runs on it).
async fn run(args: &[&str]) -> Out {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_retracker"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn hash() -> [u8; 20] {
    common::unhex(HASH).try_into().unwrap()
}

/// Two seeders (127.0.0.2:6002, 127.0.0.3:6003) and a leecher (127.0.0.4:6004).
async fn seed_swarm(t: &Tracker) -> BTreeSet<String> {
    for (n, left) in [(2u32, 0u64), (3, 0), (4, 5)] {
        let from: IpAddr = format!("127.0.0.{n}").parse().unwrap();
        let port = 6000 + n as u16;
        let d = t
            .announce_from(from, &query(&hash(), n, port, left, "&event=started"))
            .await;
        assert!(d.get("failure reason").is_none());
    }
    ["127.0.0.2:6002", "127.0.0.3:6003", "127.0.0.4:6004"]
        .map(str::to_owned)
        .into()
}

fn json(out: &Out) -> Vec<Value> {
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
        .as_array()
        .unwrap()
        .clone()
}

fn peers_of(row: &Value) -> BTreeSet<String> {
    row["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap().to_owned())
        .collect()
}

/// CSV records (this test's CSV has no quoted fields; a quote would fail the parse).
fn csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"), "CRLF line ends: {text:?}");
    text.trim_end_matches("\r\n")
        .split("\r\n")
        .map(|l| {
            assert!(!l.contains('"'), "{l}");
            l.split(',').map(str::to_owned).collect()
        })
        .collect()
}

/// The CSV as maps of header to field.
fn csv_maps(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let records = csv(text);
    let (header, rows) = records.split_first().unwrap();
    rows.iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{r:?}");
            header.iter().cloned().zip(r.iter().cloned()).collect()
        })
        .collect()
}

/// The leechers the tracker counts now, by a scrape.
async fn leechers(t: &Tracker) -> i64 {
    let r = t.get(&format!("/scrape?info_hash={}", pct(&hash()))).await;
    let files = r.dict().dict("files");
    match files.0.get(hash().as_slice()) {
        Some(serde_bencode::value::Value::Dict(d)) => match d.get(&b"incomplete"[..]) {
            Some(serde_bencode::value::Value::Int(n)) => *n,
            other => panic!("incomplete: {other:?}"),
        },
        other => panic!("no scrape entry: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_announce_in_every_format_leaves_no_phantom_peer() {
    let t = Tracker::start(|c| c.tracker.announce_interval = 1234).await;
    let swarm = seed_swarm(&t).await;
    let url = format!("http://{}/announce", t.addr);

    let out = run(&["query", &url, "--info-hash", HASH, "--format", "json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json(&out);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["url"], url.as_str());
    assert_eq!(r["info_hash"], HASH);
    assert_eq!(r["status"], "ok");
    assert_eq!(r["interval"], 1234);
    assert_eq!(r["min_interval"], 617);
    // The query's own announce counts as the second leecher.
    assert_eq!(
        (r["seeders"].as_i64(), r["leechers"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["downloaded"], 0);
    assert_eq!(peers_of(r), swarm);
    assert_eq!(r["external_ip"], "127.0.0.1");
    assert_eq!(r["attempts"], 1);
    // ...and its `stopped` took it out again.
    assert_eq!(leechers(&t).await, 1);

    let out = run(&["query", &url, "--info-hash", HASH, "--format", "csv"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = csv_maps(&out.stdout);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r["status"].as_str(), r["seeders"].as_str()), ("ok", "2"));
    assert_eq!(
        (r["leechers"].as_str(), r["interval"].as_str()),
        ("2", "1234")
    );
    assert_eq!(r["peer_count"], "3");
    let listed: BTreeSet<String> = r["peers"].split(' ').map(str::to_owned).collect();
    assert_eq!(listed, swarm);

    let out = run(&["query", &url, "--info-hash", HASH, "--peers"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let field = |name: &str| -> String {
        out.stdout
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {}", out.stdout))
            .trim()
            .to_owned()
    };
    assert_eq!(field("status"), "ok");
    assert_eq!(field("interval"), "1234 s (min 617 s)");
    assert_eq!(
        (field("seeders"), field("leechers")),
        ("2".into(), "2".into())
    );
    assert_eq!(field("peers"), "3");
    assert_eq!(field("external ip"), "127.0.0.1");
    assert!(field("time").ends_with("ms (1 attempt)"), "{}", out.stdout);
    let listed: BTreeSet<String> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(|l| l.trim().to_owned())
        .collect();
    assert_eq!(listed, swarm);

    // With --event the one announce is all: the peer stays, as asked.
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--event",
        "started",
        "--port",
        "7777",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(leechers(&t).await, 2);

    // Scrape (BEP 48 URL) in JSON.
    let out = run(&[
        "query",
        &url,
        "--scrape",
        "--info-hash",
        HASH,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &json(&out)[0];
    assert_eq!(
        (
            r["request"].as_str(),
            r["seeders"].as_i64(),
            r["leechers"].as_i64()
        ),
        (Some("scrape"), Some(2), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_announce_and_scrape() {
    let t = Tracker::start_udp(|c| c.tracker.announce_interval = 1500).await;
    let swarm = seed_swarm(&t).await;
    let url = format!("udp://{}", t.udp_addr());
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--format",
        "json",
        "--numwant",
        "10",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &json(&out)[0];
    assert_eq!(
        (r["status"].as_str(), r["interval"].as_i64()),
        (Some("ok"), Some(1500))
    );
    assert_eq!(
        (r["seeders"].as_i64(), r["leechers"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(peers_of(r), swarm);
    assert_eq!(
        leechers(&t).await,
        1,
        "the stopped announce went out over UDP too"
    );

    let out = run(&[
        "query",
        &url,
        "--scrape",
        "--info-hash",
        HASH,
        "--format",
        "csv",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &csv_maps(&out.stdout)[0];
    assert_eq!(
        (
            r["seeders"].as_str(),
            r["leechers"].as_str(),
            r["downloaded"].as_str()
        ),
        ("2", "1", "0")
    );

    let out = run(&["query", &url, "--full-scrape"]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--full-scrape needs http://"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrent_files_give_their_hashes_and_name() {
    let t = Tracker::start(|_| {}).await;
    let url = format!("http://{}/announce", t.addr);
    let out = run(&[
        "query",
        &url,
        "--torrent",
        "tests/fixtures/v1-private.torrent",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["info_hash"], HASH);
    let meta = retracker::protocol::metainfo::Metainfo::from_bytes(
        &std::fs::read("tests/fixtures/v1-private.torrent").unwrap(),
    )
    .unwrap();
    assert_eq!(rows[0]["name"], meta.name.as_str());

    let out = run(&[
        "query",
        &url,
        "--torrent",
        "tests/fixtures/hybrid-v1-v2.torrent",
        "--scrape",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let hashes: Vec<String> = json(&out)
        .iter()
        .map(|r| r["info_hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hashes, [HYBRID_V1, HYBRID_V2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scrape_lists_every_torrent() {
    let t = Tracker::start(|c| c.tracker.full_scrape = true).await;
    let mut want = BTreeSet::new();
    // Enough torrents for a gzip answer (512 bytes or more).
    for n in 0..20u8 {
        let h = [n; 20];
        t.announce(&query(&h, 1, 6881, 0, "")).await;
        want.insert(h.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    let url = format!("http://{}/announce", t.addr);
    let out = run(&["query", &url, "--full-scrape", "--format", "json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = json(&out);
    let got: BTreeSet<String> = rows
        .iter()
        .map(|r| r["info_hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
    assert!(rows
        .iter()
        .all(|r| r["seeders"] == 1 && r["request"] == "full scrape"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracker_refusal_is_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("allow.txt");
    std::fs::write(&list, format!("{}\n", "11".repeat(20))).unwrap();
    let t = Tracker::start(move |c| {
        c.access.mode = retracker::config::AccessMode::Allow;
        c.access.file = Some(list);
    })
    .await;
    let url = format!("http://{}/announce", t.addr);
    let out = run(&["query", &url, "--info-hash", HASH, "--format", "json"]).await;
    assert_eq!(out.code, 1);
    let r = &json(&out)[0];
    assert_eq!(r["status"], "failure");
    assert_eq!(r["retry_in"], "never");
    let reason = r["error"].as_str().unwrap();
    assert!(!reason.is_empty());
    assert!(
        out.stderr.contains(&url) && out.stderr.contains(reason),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let files = common::testca::write(dir.path());
    let mut config = common::config_in(dir.path());
    let listeners = common::testca::https_listeners(&mut config, &files).await;
    let t = Tracker::start_with(tempfile::tempdir().unwrap(), config, listeners).await;
    let swarm = seed_swarm(&t).await;
    let url = format!("https://localhost:{}/announce", t.https[0].port());
    let ca_path = files.ca.to_str().unwrap();

    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--ca-cert",
        ca_path,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &json(&out)[0];
    assert_eq!(peers_of(r), swarm);
    assert_eq!(r["seeders"], 2);

    let out = run(&["query", &url, "--info-hash", HASH]).await;
    assert_eq!(out.code, 1, "an unknown CA is refused");
    assert!(
        out.stderr.contains(&url) && out.stderr.contains("TLS"),
        "{}",
        out.stderr
    );

    let plain = format!("https://localhost:{}/announce", t.addr.port());
    let out = run(&["query", &plain, "--info-hash", HASH, "--ca-cert", ca_path]).await;
    assert_eq!(out.code, 1, "TLS to a plain HTTP port");
    assert!(
        out.stderr.contains("does the port serve plain http://"),
        "{}",
        out.stderr
    );

    let out = run(&["query", &url, "--info-hash", HASH, "--insecure", "--scrape"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure"), "{}", out.stderr);

    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--ca-cert",
        "/nonexistent.pem",
    ])
    .await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/nonexistent.pem"), "{}", out.stderr);
}

/// A fake HTTP tracker: counts connections, answers each with `answer(n)` (raw bytes; `None`:
/// accept and stay silent).
async fn fake_http(
    answer: impl Fn(usize) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                match answer(n) {
                    Some(bytes) => {
                        let _ = s.write_all(&bytes).await;
                        let _ = s.shutdown().await;
                    }
                    None => {
                        // Silent until the client gives up.
                        let _ = s.read(&mut chunk).await;
                    }
                }
            });
        }
    });
    (addr, count)
}

fn http_200(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_silent_and_malformed_trackers() {
    // Refused: a port nobody listens on any more.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{gone}/announce");
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--retries",
        "2",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 1);
    let r = &json(&out)[0];
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_i64()),
        (Some("error"), Some(3))
    );
    assert!(
        r["error"].as_str().unwrap().contains("cannot connect"),
        "{r}"
    );
    assert!(out.stderr.contains(&url), "{}", out.stderr);

    // Silent: accepted, never answered; one retry, so two connections.
    let (addr, count) = fake_http(|_| None).await;
    let url = format!("http://{addr}/announce");
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--timeout",
        "0.5",
        "--retries",
        "1",
        "--format",
        "csv",
    ])
    .await;
    assert_eq!(out.code, 1);
    let r = &csv_maps(&out.stdout)[0];
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_str()),
        ("error", "2")
    );
    assert!(r["error"].contains("no answer within 500ms"), "{r:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // Malformed answers are not retried.
    for (body, want) in [
        (
            &b"<html><body>502 Bad Gateway</body></html>"[..],
            "not valid bencode",
        ),
        (b"d8:intervali1800e5:peers12:abc", "not valid bencode"),
        (b"d5:peers0:e", "no \"interval\""),
    ] {
        let body = body.to_vec();
        let (addr, count) = fake_http(move |_| Some(http_200(&body))).await;
        let url = format!("http://{addr}/announce");
        let out = run(&["query", &url, "--info-hash", HASH, "--retries", "2"]).await;
        assert_eq!(out.code, 1, "{want}");
        assert!(
            out.stderr.contains(&url)
                && out.stderr.contains("malformed answer")
                && out.stderr.contains(want),
            "{}",
            out.stderr
        );
        assert_eq!(count.load(Ordering::SeqCst), 1, "not retried");
    }

    // An HTTP error page.
    let (addr, _) = fake_http(|_| {
        Some(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec())
    })
    .await;
    let out = run(&[
        "query",
        &format!("http://{addr}/announce"),
        "--info-hash",
        HASH,
    ])
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("HTTP status 404 Not Found"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed() {
    let t = Tracker::start(|_| {}).await;
    seed_swarm(&t).await;
    let target = format!("http://{}/scrape?info_hash={}", t.addr, pct(&hash()));
    let (addr, count) = fake_http(move |_| {
        Some(
            format!("HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
        )
    })
    .await;
    let out = run(&[
        "query",
        &format!("http://{addr}/announce"),
        "--scrape",
        "--info-hash",
        HASH,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out)[0]["seeders"], 2);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let (addr, count) = fake_http(|_| {
        Some(b"HTTP/1.1 301 Moved\r\nLocation: /announce\r\nContent-Length: 0\r\n\r\n".to_vec())
    })
    .await;
    let out = run(&[
        "query",
        &format!("http://{addr}/announce"),
        "--info-hash",
        HASH,
    ])
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("more than 3 redirects"),
        "{}",
        out.stderr
    );
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

/// A fake UDP tracker: counts packets, answers each with `answer(packet)`.
async fn fake_udp(
    answer: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            seen.fetch_add(1, Ordering::SeqCst);
            if let Some(reply) = answer(&buf[..n]) {
                let _ = s.send_to(&reply, from).await;
            }
        }
    });
    (addr, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_failures() {
    let (addr, count) = fake_udp(|_| None).await;
    let out = run(&[
        "query",
        &format!("udp://{addr}"),
        "--info-hash",
        HASH,
        "--timeout",
        "0.5",
        "--retries",
        "1",
    ])
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no answer within 500ms"),
        "{}",
        out.stderr
    );
    assert_eq!(count.load(Ordering::SeqCst), 2, "one connect per attempt");

    // A connect reply with another transaction id.
    let (addr, count) = fake_udp(|p| {
        let mut r = vec![0, 0, 0, 0];
        let tid = u32::from_be_bytes(p[12..16].try_into().unwrap()).wrapping_add(1);
        r.extend_from_slice(&tid.to_be_bytes());
        r.extend_from_slice(&[9; 8]);
        Some(r)
    })
    .await;
    let out = run(&[
        "query",
        &format!("udp://{addr}"),
        "--info-hash",
        HASH,
        "--retries",
        "2",
    ])
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("malformed answer: transaction id"),
        "{}",
        out.stderr
    );
    assert_eq!(count.load(Ordering::SeqCst), 1, "not retried");

    // A short packet.
    let (addr, _) = fake_udp(|_| Some(vec![0, 0, 0])).await;
    let out = run(&["query", &format!("udp://{addr}"), "--info-hash", HASH]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("reply too short: 3 bytes"),
        "{}",
        out.stderr
    );

    // An error reply is the tracker's failure reason.
    let (addr, _) = fake_udp(|p| {
        let mut r = vec![0, 0, 0, 3];
        r.extend_from_slice(&p[12..16]);
        r.extend_from_slice(b"go away");
        Some(r)
    })
    .await;
    let out = run(&[
        "query",
        &format!("udp://{addr}"),
        "--info-hash",
        HASH,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 1);
    assert_eq!(json(&out)[0]["error"], "go away");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.torrent");
    std::fs::write(&junk, b"not bencode").unwrap();
    let junk = junk.to_str().unwrap();
    for (args, want) in [
        (
            &["query", "ftp://t/announce", "--info-hash", HASH][..],
            "unsupported scheme \"ftp\"",
        ),
        (
            &["query", "http://t/announce", "--info-hash", "xyz"],
            "expected 40 hex digits",
        ),
        (
            &["query", "http://t/announce"],
            "give --info-hash HEX or --torrent FILE",
        ),
        (
            &[
                "query",
                "http://t/announce",
                "--info-hash",
                HASH,
                "--torrent",
                junk,
            ],
            "not both",
        ),
        (
            &[
                "query",
                "http://t/announce",
                "--torrent",
                "/nonexistent.torrent",
            ],
            "/nonexistent.torrent",
        ),
        (
            &["query", "http://t/announce", "--torrent", junk],
            "junk.torrent",
        ),
        (
            &["query", "http://t/a", "--scrape", "--info-hash", HASH],
            "BEP 48",
        ),
        (
            &["query", "udp://t/announce", "--info-hash", HASH],
            "needs a port",
        ),
        (
            &[
                "query",
                "http://t/announce",
                "--info-hash",
                HASH,
                "--timeout",
                "0",
            ],
            "--timeout",
        ),
        (
            &[
                "query",
                "http://t/announce",
                "--info-hash",
                HASH,
                "--format",
                "xml",
            ],
            "xml",
        ),
    ] {
        let out = run(args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The first name /etc/hosts gives 127.0.0.1.
fn hosts_name() -> Option<String> {
    std::fs::read_to_string("/etc/hosts")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut words = l.split('#').next()?.split_whitespace();
            (words.next()? == "127.0.0.1")
                .then(|| words.next().map(str::to_owned))
                .flatten()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_dns_of_peers() {
    let Some(name) = hosts_name() else {
        eprintln!("no 127.0.0.1 line in /etc/hosts: nothing to compare with");
        return;
    };
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&hash(), 9, 6009, 0, "")).await;
    let url = format!("http://{}/announce", t.addr);
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--rdns",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let peers = json(&out)[0]["peers"].clone();
    assert_eq!(peers[0]["address"], "127.0.0.1:6009");
    assert_eq!(peers[0]["host"], name.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_sorts_by_time_with_failures_last() {
    let t = Tracker::start_udp(|_| {}).await;
    seed_swarm(&t).await;
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trackers.txt");
    let (http, udp, dead) = (
        format!("http://{}/announce", t.addr),
        format!("udp://{}", t.udp_addr()),
        format!("http://{gone}/announce"),
    );
    std::fs::write(
        &file,
        format!("# LAN trackers\n{dead}\n\n{http}\n  {udp}  \n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = run(&[
        "query",
        "--batch",
        file,
        "--info-hash",
        HASH,
        "--format",
        "json",
        "--concurrency",
        "2",
    ])
    .await;
    assert_eq!(out.code, 1, "one failed");
    let rows = json(&out);
    let urls: Vec<&str> = rows.iter().map(|r| r["url"].as_str().unwrap()).collect();
    assert_eq!(urls.len(), 3);
    assert_eq!(urls[2], dead, "failures last");
    assert_eq!(
        BTreeSet::from([urls[0], urls[1]]),
        BTreeSet::from([http.as_str(), udp.as_str()])
    );
    assert!(rows[0]["time_ms"].as_i64() <= rows[1]["time_ms"].as_i64());
    assert!(rows[..2].iter().all(|r| r["seeders"] == 2));

    let out = run(&[
        "query",
        "--batch",
        file,
        "--info-hash",
        HASH,
        "--format",
        "csv",
    ])
    .await;
    let rows = csv_maps(&out.stdout);
    assert_eq!(
        rows.iter()
            .map(|r| r["status"].as_str())
            .collect::<Vec<_>>(),
        ["ok", "ok", "error"]
    );

    let out = run(&["query", "--batch", file, "--info-hash", HASH]).await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(
        lines[0].starts_with("status") && lines[0].contains("seeders"),
        "{}",
        out.stdout
    );
    assert!(
        lines[1].starts_with("ok") && lines[2].starts_with("ok"),
        "{}",
        out.stdout
    );
    assert!(
        lines[3].starts_with("error") && lines[3].contains(&dead),
        "{}",
        out.stdout
    );

    std::fs::write(
        dir.path().join("bad.txt"),
        "http://t/announce\ngopher://x\n",
    )
    .unwrap();
    let out = run(&[
        "query",
        "--batch",
        dir.path().join("bad.txt").to_str().unwrap(),
        "--info-hash",
        HASH,
    ])
    .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("bad.txt line 2: gopher://x"),
        "{}",
        out.stderr
    );
}

fn report(file: &Path, format: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retracker"))
        .args(["report", file.to_str().unwrap(), "--format", format])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_records_and_report_exports() {
    let t = Tracker::start_udp(|_| {}).await;
    let swarm = seed_swarm(&t).await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["polls.sqlite", "polls.csv"] {
        let file = dir.path().join(name);
        let url = format!("udp://{}", t.udp_addr());
        let out = run(&[
            "query",
            &url,
            "--info-hash",
            HASH,
            "--watch",
            "0.2",
            "--count",
            "3",
            "--record",
            file.to_str().unwrap(),
        ])
        .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);

        let json_out = report(&file, "json");
        assert!(
            json_out.status.success(),
            "{}",
            String::from_utf8_lossy(&json_out.stderr)
        );
        let polls: Vec<Value> = serde_json::from_slice(&json_out.stdout).unwrap();
        assert_eq!(polls.len(), 3, "{name}");
        for p in &polls {
            assert_eq!(
                (p["url"].as_str(), p["status"].as_str()),
                (Some(url.as_str()), Some("ok"))
            );
            assert_eq!(
                (p["seeders"].as_i64(), p["leechers"].as_i64()),
                (Some(2), Some(2))
            );
            let peers: BTreeSet<String> = p["peers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(peers, swarm);
            assert!(p["time"].as_str().unwrap().ends_with('Z'));
        }
        let csv_out = report(&file, "csv");
        let rows = csv_maps(&String::from_utf8(csv_out.stdout).unwrap());
        assert_eq!(rows.len(), 3);
        assert!(rows
            .iter()
            .all(|r| r["info_hash"] == HASH && r["seeders"] == "2"));
    }
    assert_eq!(
        retracker::storage::record::Recording::application_id(&dir.path().join("polls.sqlite"))
            .unwrap(),
        Some(retracker::storage::record::RECORD_APPLICATION_ID)
    );
    // A tracker database is not a recording, and is left alone.
    let out = run(&[
        "query",
        "udp://127.0.0.1:1",
        "--info-hash",
        HASH,
        "--watch",
        "1",
        "--count",
        "1",
        "--record",
        t.db.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("it is a retracker tracker database"),
        "{}",
        out.stderr
    );
    let out = report(&t.db, "csv");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_watch_with_the_file_closed() {
    let t = Tracker::start_udp(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("polls.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_retracker"))
        .args([
            "query",
            &format!("udp://{}", t.udp_addr()),
            "--info-hash",
            HASH,
        ])
        .args(["--watch", "0.1", "--record", file.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Poll the file (no sleep for readiness): two recorded polls, then SIGTERM.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&file).map_or(0, |s| s.lines().count()) < 3 {
        assert!(std::time::Instant::now() < deadline, "no polls recorded");
        tokio::task::yield_now().await;
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let out = report(&file, "json");
    assert!(out.status.success());
    let polls: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(polls.len() >= 2);
    assert!(polls.iter().all(|p| p["status"] == "ok"));
}

/// A fake HTTP tracker on `bind` that records each request's head (request line and headers)
/// and answers every one with `body`.
async fn capturing_http(
    bind: &str,
    body: Vec<u8>,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    let answer = http_200(&body);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            let head = String::from_utf8_lossy(&buf).into_owned();
            seen.lock().unwrap().push(head);
            let _ = s.write_all(&answer).await;
            let _ = s.shutdown().await;
        }
    });
    (addr, heads)
}

/// The value of header `name` in a request head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The raw value of `name` in a request head's query string.
fn param<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    let target = head.lines().next()?.split(' ').nth(1)?;
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Transmission's peer id filler: 12 base-36 characters whose values sum to a multiple of 36.
fn transmission_filler(rest: &[u8]) -> bool {
    const POOL: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let values: Option<Vec<usize>> = rest
        .iter()
        .map(|b| POOL.iter().position(|c| c == b))
        .collect();
    rest.len() == 12 && values.is_some_and(|v| v.iter().sum::<usize>() % 36 == 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_transmission_is_the_peer_id_the_tracker_keeps() {
    let t = Tracker::start(|_| {}).await;
    let url = format!("http://{}/announce", t.addr);
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--client",
        "transmission",
        "--event",
        "started",
        "--port",
        "7777",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Another peer asks for the dictionary form, which carries the peer ids the tracker keeps.
    let d = t
        .announce_from(
            "127.0.0.9".parse().unwrap(),
            &query(&hash(), 9, 6009, 5, "&compact=0"),
        )
        .await;
    let Some(serde_bencode::value::Value::List(peers)) = d.get("peers") else {
        panic!("no peer list: {d:?}");
    };
    let ids: Vec<Vec<u8>> = peers
        .iter()
        .filter_map(|p| match p {
            serde_bencode::value::Value::Dict(p) => {
                match (p.get(&b"port"[..]), p.get(&b"peer id"[..])) {
                    (
                        Some(serde_bencode::value::Value::Int(7777)),
                        Some(serde_bencode::value::Value::Bytes(id)),
                    ) => Some(id.clone()),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "the query's peer on port 7777: {peers:?}");
    let id = &ids[0];
    assert!(
        id.starts_with(b"-TR4130-") && transmission_filler(&id[8..]),
        "{:?}",
        String::from_utf8_lossy(id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sends_the_user_agent_key_and_numwant_of_that_client() {
    let body = b"d8:intervali1800e5:peers0:e".to_vec();
    let (addr, heads) = capturing_http("127.0.0.1:0", body).await;
    let url = format!("http://{addr}/announce");

    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--client",
        "transmission",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = std::mem::take(&mut *heads.lock().unwrap());
    assert_eq!(seen.len(), 2, "started, then stopped: {seen:?}");
    for head in &seen {
        assert_eq!(
            header(head, "user-agent"),
            Some("Transmission/4.1.3"),
            "{head}"
        );
        let id = param(head, "peer_id").unwrap();
        assert!(
            id.starts_with("-TR4130-") && transmission_filler(&id.as_bytes()[8..]),
            "{head}"
        );
        let key = param(head, "key").unwrap();
        assert!(
            key.len() == 8
                && key
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()),
            "{head}"
        );
    }
    // Transmission's numwant: 80, and 0 on the stopped announce, as Transmission does.
    assert_eq!(param(&seen[0], "numwant"), Some("80"), "{}", seen[0]);
    assert_eq!(param(&seen[1], "event"), Some("stopped"), "{}", seen[1]);
    assert_eq!(param(&seen[1], "numwant"), Some("0"), "{}", seen[1]);

    // An explicit --numwant wins; without --client it is retracker's own.
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--numwant",
        "7",
        "--event",
        "started",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = std::mem::take(&mut *heads.lock().unwrap());
    assert_eq!(seen.len(), 1);
    assert!(
        header(&seen[0], "user-agent").is_some_and(|ua| ua.starts_with("retracker/")),
        "{}",
        seen[0]
    );
    assert!(
        param(&seen[0], "peer_id").unwrap().starts_with("-RQ"),
        "{}",
        seen[0]
    );
    assert_eq!(param(&seen[0], "numwant"), Some("7"));

    // random names the one it picked, and sends that one's User-Agent.
    let out = run(&[
        "query",
        &url,
        "--info-hash",
        HASH,
        "--client",
        "random",
        "--event",
        "started",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = std::mem::take(&mut *heads.lock().unwrap());
    let ua = header(&seen[0], "user-agent").unwrap();
    let named = out
        .stderr
        .split_once("--client random: announcing as ")
        .unwrap_or_else(|| panic!("{}", out.stderr))
        .1
        .trim();
    let product = named.split(' ').next().unwrap().replace('µ', "u");
    assert!(
        ua.to_lowercase().starts_with(&product.to_lowercase()),
        "{named} sent {ua}"
    );
}

/// An announce answer with one IPv4 peer, and with `peers6` (one IPv6 peer) when asked.
fn answer_with(peers6: bool) -> Vec<u8> {
    let mut b = b"d8:intervali1800e5:peers6:\x7f\x00\x00\x02\x1a\xe1".to_vec();
    if peers6 {
        b.extend_from_slice(b"6:peers618:");
        b.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        b.extend_from_slice(&[0x1a, 0xe2]);
    }
    b.push(b'e');
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_tracker_without_peers6_is_flagged_bep7() {
    const LINE: &str =
        "warning: reached over IPv6 but the answer has no peers6 (BEP 7): IPv6 peers are not handed out";
    let cases = [
        ("[::1]:0", false, true),
        ("[::1]:0", true, false),
        // The same answer over IPv4 asks nothing of peers6.
        ("127.0.0.1:0", false, false),
    ];
    for (bind, peers6, flagged) in cases {
        let (addr, _) = capturing_http(bind, answer_with(peers6)).await;
        let url = format!("http://{addr}/announce");
        let out = run(&["query", &url, "--info-hash", HASH]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout.contains(LINE),
            flagged,
            "{bind} {peers6}: {}",
            out.stdout
        );
        assert_eq!(
            out.stderr.contains(LINE),
            flagged,
            "{bind} {peers6}: {}",
            out.stderr
        );
        let out = run(&["query", &url, "--info-hash", HASH, "--format", "json"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let r = &json(&out)[0];
        assert_eq!(r["peers"].as_array().unwrap().len(), 1 + peers6 as usize);
        assert_eq!(r["ipv6_without_peers6"], flagged, "{bind} {peers6}: {r}");
    }
}

/// retracker itself reached over IPv6, with only IPv4 peers in the swarm: its answer carries an
/// empty `peers6`, so the BEP 7 warning that the fake tracker above trips is not printed, and
/// the IPv4 peers are listed. Needs ::1: a machine without it fails here (`start_dual` panics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retracker_over_ipv6_with_only_ipv4_peers_is_not_flagged_bep7() {
    const LINE: &str =
        "warning: reached over IPv6 but the answer has no peers6 (BEP 7): IPv6 peers are not handed out";
    // One port on 127.0.0.1 and ::1: the peers announce over IPv4, the query asks over IPv6.
    let t = Tracker::start_dual(|_| {}).await;
    let (v4, v6) = (t.addrs[0], t.addrs[1]);
    assert!(v4.is_ipv4() && v6.is_ipv6(), "{:?}", t.addrs);
    let swarm = seed_swarm(&t).await;

    // started then stopped: the query's own peer (::1) leaves no IPv6 peer behind for the next.
    let url = format!("http://{v6}/announce");
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let out = run(&["query", &url, "--info-hash", HASH, "--peers"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains(LINE), "{}", out.stdout);
    assert!(!out.stderr.contains(LINE), "{}", out.stderr);
    for address in &swarm {
        assert!(
            out.stdout.contains(address.as_str()),
            "{address}: {}",
            out.stdout
        );
    }
    let out = run(&["query", &url, "--info-hash", HASH, "--format", "json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = &json(&out)[0];
    assert_eq!(r["ipv6_without_peers6"], false, "{r}");
    assert_eq!(r["external_ip"], "::1", "{r}");
    assert_eq!(peers_of(r), swarm, "{r}");

    // On the wire: an IPv4 requester's answer has no `peers6`, as before; an IPv6 requester's
    // has `peers` with the IPv4 peers, then an empty `peers6`.
    let contains = |body: &[u8], needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    let target = format!("/announce?{}", query(&hash(), 9, 6009, 5, ""));
    let body = common::get(v4, None, &target, &[]).await.body;
    assert!(
        contains(&body, b"5:peers18:") && !contains(&body, b"6:peers6"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let target = format!("/announce?{}", query(&hash(), 10, 6010, 5, ""));
    let body = common::get(v6, None, &target, &[]).await.body;
    assert!(
        contains(&body, b"5:peers24:") && contains(&body, b"6:peers60:e"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}
