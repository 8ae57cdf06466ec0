//! Hostile and unusual HTTP against the real server (issue 7, "Hostile HTTP"): pipelining,
//! HTTP/1.0, oversized queries, URLs and headers, thousands of parameters, slowloris, idle
//! connections against the connection cap. Every case checks what the client gets back and that
//! other clients are served meanwhile. (Invalid percent-encoding: `tests/announce.rs`.)

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

/// True once the server has closed `stream` (end of file or a reset), waiting up to 5 s.
async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_idle_connection_makes_room_for_a_new_client() {
    let t = Tracker::start(|c| c.tracker.max_connections = 4).await;
    // a, b, c connect and say nothing; d announces and keeps its connection.
    let mut a = connect(t.addr, None).await;
    let mut b = connect(t.addr, None).await;
    let mut c = connect(t.addr, None).await;
    let mut d = connect(t.addr, None).await;
    let first = get_on(&mut d, &format!("/announce?{}", query(&H, 1, 6001, 5, ""))).await;
    assert_eq!(first.dict().int("incomplete"), 1);

    // The table is full; a new client is served at once, and a (the least recently active) is
    // the one closed for it, not b, c or d.
    let e = t.announce(&query(&H, 2, 6002, 5, "")).await;
    assert_eq!(e.int("incomplete"), 2);
    assert!(closed_by_server(&mut a).await, "a was closed to make room");
    for (name, s, n) in [("b", &mut b, 3), ("c", &mut c, 4), ("d", &mut d, 1)] {
        let r = get_on(
            s,
            &format!("/announce?{}", query(&H, n, 6000 + n as u16, 5, "")),
        )
        .await;
        assert!(r.dict().get("interval").is_some(), "{name} still served");
    }

    // However many connect, no more than 4 are ever open.
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(connect(t.addr, None).await);
    }
    let m = String::from_utf8(t.get("/metrics").await.body).unwrap();
    assert!(metric(&m, "retracker_http_connections") <= 4.0, "{m}");
    assert!(
        metric(&m, "retracker_http_connections_evicted_total") >= 10.0,
        "{m}"
    );
}

#[tokio::test]
async fn a_flood_of_silent_connections_does_not_lock_clients_out() {
    let t = Tracker::start(|c| c.tracker.max_connections = 50).await;
    // 200 connections that never send a byte: each new one pushes out the oldest, so the
    // header timeout (10 s) need not expire before real clients get in.
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(connect(t.addr, None).await);
    }
    for n in 1..=20u32 {
        let d = t.announce(&query(&H, n, 7000 + n as u16, 5, "")).await;
        assert_eq!(d.int("incomplete"), i64::from(n));
    }
    let mut gone = 0;
    for s in &mut silent[..150] {
        gone += usize::from(closed_by_server(s).await);
    }
    assert_eq!(gone, 150, "the 150 oldest silent connections were closed");
    let m = String::from_utf8(t.get("/metrics").await.body).unwrap();
    assert!(metric(&m, "retracker_http_connections") <= 50.0, "{m}");
}
