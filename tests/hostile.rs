//! Hostile and unusual HTTP against the real server (issue 7, "Hostile HTTP"): pipelining,
//! HTTP/1.0, oversized queries, URLs and headers, thousands of parameters, slowloris. Every
//! case checks what the client gets back and that other clients are served meanwhile.

mod common;
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const H: [u8; 20] = *b"hostile-test-hash-01";

/// Reads until the server closes the connection (or 15 s pass).
async fn read_all(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut raw))
        .await
        .expect("the server closes the connection")
        .expect("read");
    raw
}

#[tokio::test]
async fn pipelined_announces_are_answered_in_order_on_one_connection() {
    let t = Tracker::start(|_| {}).await;
    let mut s = connect(t.addr, None).await;
    let mut burst = String::new();
    for n in 1..=3u32 {
        let close = if n == 3 { "Connection: close\r\n" } else { "" };
        burst.push_str(&format!(
            "GET /announce?{} HTTP/1.1\r\nHost: x\r\n{close}\r\n",
            query(&H, n, 6000 + n as u16, 5, "")
        ));
    }
    s.write_all(burst.as_bytes()).await.unwrap();
    let raw = read_all(&mut s).await;
    let mut at = 0;
    for n in 1..=3i64 {
        let (resp, used) = parse_response(&raw[at..]);
        at += used;
        assert_eq!(resp.status, 200);
        let d = resp.dict();
        // The n-th announce sees the n-1 before it: the answers are in request order.
        assert_eq!(d.int("incomplete"), n, "answer {n}");
        assert_eq!(d.peers4().len() as i64, n - 1, "answer {n}");
    }
    assert_eq!(at, raw.len(), "exactly three answers");
}

#[tokio::test]
async fn http_1_0_without_keep_alive_is_answered_then_closed() {
    let t = Tracker::start(|_| {}).await;
    let mut s = connect(t.addr, None).await;
    let req = format!(
        "GET /announce?{} HTTP/1.0\r\n\r\n",
        query(&H, 1, 6001, 0, "")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let raw = read_all(&mut s).await;
    assert!(
        raw.starts_with(b"HTTP/1.0 200"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    let (resp, used) = parse_response(&raw);
    assert_eq!(used, raw.len());
    assert_eq!(resp.dict().int("complete"), 1);
}

#[tokio::test]
async fn oversized_queries_urls_and_headers_get_an_answer_and_others_are_served() {
    let t = Tracker::start(|_| {}).await;
    // 20 KB of query: parsed by hyper, refused by the tracker with a failure reason.
    let long = format!(
        "/announce?{}&x={}",
        query(&H, 1, 6001, 0, ""),
        "y".repeat(20_000)
    );
    let r = get(t.addr, None, &long, &[]).await;
    assert_eq!(r.status, 200);
    let reason = r.dict().str("failure reason").unwrap();
    assert!(reason.starts_with("query too long"), "{reason}");

    // 10,000 parameters (40 KB): the same, at once.
    let many = format!(
        "/announce?{}{}",
        query(&H, 1, 6001, 0, ""),
        "&a=1".repeat(10_000)
    );
    let reason = get(t.addr, None, &many, &[])
        .await
        .dict()
        .str("failure reason");
    assert!(reason.unwrap().starts_with("query too long"));

    // A URL beyond hyper's 64 KB limit, or a head beyond what the server buffers (1 MB in one
    // header): an HTTP error (414, 431) before the tracker sees it, not a hang, and the
    // connection is closed.
    for (target, header) in [
        (
            format!("/announce?x={}", "y".repeat(100_000)),
            String::new(),
        ),
        (
            format!("/announce?{}", query(&H, 1, 6001, 0, "")),
            format!("X-Junk: {}\r\n", "z".repeat(1 << 20)),
        ),
    ] {
        let mut s = connect(t.addr, None).await;
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\n{header}\r\n");
        // The server may stop reading and answer before the whole request is sent.
        let _ = s.write_all(req.as_bytes()).await;
        let raw = read_all(&mut s).await;
        let status = String::from_utf8_lossy(&raw[..raw.len().min(12)]).to_string();
        assert!(
            status.starts_with("HTTP/1.1 4"),
            "a 4xx status for an oversized head, got {status:?}"
        );
    }

    // Nothing of that reached the swarm, and a normal client is served.
    let d = t.announce(&query(&H, 2, 6002, 0, "")).await;
    assert_eq!(d.int("complete"), 1);
}

#[tokio::test]
async fn slowloris_is_cut_off_and_other_clients_are_served_meanwhile() {
    let t = Tracker::start(|_| {}).await;
    let mut slow = connect(t.addr, None).await;
    let head = format!(
        "GET /announce?{} HTTP/1.1\r\nHost: x\r\n",
        query(&H, 1, 6001, 0, "")
    );
    let mut sent = 0;
    let mut closed = false;
    // One byte a second, never finishing the headers: the server's header timeout (10 s)
    // closes the connection. Meanwhile every other client gets its answer.
    for (i, byte) in head.bytes().chain(std::iter::repeat(b'x')).enumerate() {
        if slow.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        sent += 1;
        let d = t.announce(&query(&H, 100 + i as u32, 7000, 5, "")).await;
        assert!(d.str("failure reason").is_none());
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {} // an error page before the close is fine
            Err(_) => {}    // still open: send the next byte
        }
        assert!(i < 30, "still open after 30 s of trickling");
    }
    assert!(closed, "the slow connection was closed after {sent} bytes");
    assert!(
        sent >= 5,
        "closed after {sent} bytes: too early to be the header timeout"
    );
}
