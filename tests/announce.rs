//! Announce over HTTP against the real server: bytes on the wire, bencoded fields, swarm rules.

mod common;
use common::*;
use std::net::{IpAddr, SocketAddr};

const H: [u8; 20] = *b"announce-test-hash-1";

#[tokio::test]
async fn every_captured_client_request_is_accepted_and_yields_the_right_swarm() {
    let t = Tracker::start(|_| {}).await;
    let text = std::fs::read_to_string("tests/fixtures/client-announces.tsv").unwrap();
    let mut lines = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (agent, path, query) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let r = get(
            t.addr,
            None,
            &format!("{path}?{query}"),
            &[("User-Agent", agent)],
        )
        .await;
        assert_eq!(r.status, 200, "{agent} {path}");
        let d = r.dict();
        assert!(
            d.get("failure reason").is_none(),
            "{agent}: {:?}",
            d.str("failure reason")
        );
        if path.ends_with("/scrape") {
            assert!(
                d.dict("files").0.contains_key(&unhex(FIXTURE_HASH)),
                "{agent}: scrape misses the hash"
            );
        } else {
            assert!(d.get("interval").is_some(), "{agent}: no interval");
        }
        lines += 1;
    }
    assert_eq!(lines, 20);
    // Replayed in order: seeders Transmission #2 and python-libtorrent stay; libtorrent with
    // announce_ip and the node client leech. Downloads: Transmission's `completed`, then
    // rtorrent, ctorrent and aria2 #2, which stop with left=0 after leeching, without the event.
    let r = t
        .get(&format!("/scrape?info_hash={}", pct(&unhex(FIXTURE_HASH))))
        .await;
    let files = r.dict().dict("files");
    let entry = match files.0.get(&unhex(FIXTURE_HASH)) {
        Some(serde_bencode::value::Value::Dict(d)) => Dict(d.clone()),
        other => panic!("scrape misses the fixture hash: {other:?}"),
    };
    assert_eq!(
        (
            entry.int("complete"),
            entry.int("incomplete"),
            entry.int("downloaded")
        ),
        (2, 2, 4)
    );
}

#[tokio::test]
async fn compact_response_carries_peers_counts_intervals_and_external_ip() {
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=started")).await;
    t.announce(&query(&H, 2, 6002, 500, "&event=started")).await;
    let d = t.announce(&query(&H, 3, 6003, 500, "&event=started")).await;
    assert_eq!(d.int("interval"), 1800);
    assert_eq!(d.int("min interval"), 900);
    assert_eq!(
        (d.int("complete"), d.int("incomplete"), d.int("downloaded")),
        (1, 2, 0)
    );
    assert_eq!(d.bytes("external ip"), vec![127, 0, 0, 1]);
    let mut peers = d.peers4();
    peers.sort();
    let lo = IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        peers,
        vec![SocketAddr::new(lo, 6001), SocketAddr::new(lo, 6002)]
    );
    assert!(d.get("peers6").is_none());
    // The raw bytes: `peers` is a 12-byte string of two 6-byte entries.
    let raw = t
        .get(&format!("/announce?{}", query(&H, 3, 6003, 500, "")))
        .await
        .body;
    let needle = b"5:peers12:";
    assert!(
        raw.windows(needle.len()).any(|w| w == needle),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[tokio::test]
async fn non_compact_lists_dicts_with_peer_id_unless_no_peer_id() {
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 0, "")).await;
    let d = t.announce(&query(&H, 2, 6002, 10, "&compact=0")).await;
    let serde_bencode::value::Value::List(list) = d.get("peers").unwrap() else {
        panic!("not a list")
    };
    assert_eq!(list.len(), 1);
    let serde_bencode::value::Value::Dict(p) = &list[0] else {
        panic!()
    };
    let p = Dict(p.clone());
    assert_eq!(p.str("ip").unwrap(), "127.0.0.1");
    assert_eq!(p.int("port"), 6001);
    assert_eq!(p.bytes("peer id"), id20("-TT0001-", 1).to_vec());
    let d = t
        .announce(&query(&H, 2, 6002, 10, "&compact=0&no_peer_id=1"))
        .await;
    let serde_bencode::value::Value::List(list) = d.get("peers").unwrap() else {
        panic!()
    };
    let serde_bencode::value::Value::Dict(p) = &list[0] else {
        panic!()
    };
    assert!(!p.contains_key(&b"peer id"[..]));
}

#[tokio::test]
async fn ipv6_peers_go_to_peers6_and_families_share_swarms() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0", "[::1]:0"]).await;
    let v6 = t.addrs[1];
    let r = get(
        v6,
        None,
        &format!("/announce?{}", query(&H, 1, 7001, 0, "")),
        &[],
    )
    .await;
    assert_eq!(
        r.dict().bytes("external ip"),
        "::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
            .to_vec()
    );
    t.announce(&query(&H, 2, 7002, 0, "")).await;
    let r = get(
        v6,
        None,
        &format!("/announce?{}", query(&H, 3, 7003, 9, "")),
        &[],
    )
    .await;
    let d = r.dict();
    assert_eq!(
        d.peers6(),
        vec!["[::1]:7001".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        d.peers4(),
        vec!["127.0.0.1:7002".parse::<SocketAddr>().unwrap()]
    );
    let raw = r.body;
    assert!(
        raw.windows(10).any(|w| w == b"6:peers618"),
        "18-byte entries"
    );
}

#[tokio::test]
async fn numwant_default_cap_and_zero() {
    let t = Tracker::start(|c| {
        c.tracker.numwant = 3;
        c.tracker.max_numwant = 5;
    })
    .await;
    for n in 1..=10 {
        t.announce(&query(&H, n, 6000 + n as u16, 1, "")).await;
    }
    let me = query(&H, 1, 6001, 1, "");
    assert_eq!(t.announce(&me).await.peers4().len(), 3, "config default");
    let d = t.announce(&format!("{me}&numwant=1000")).await;
    assert_eq!(d.peers4().len(), 5, "capped");
    assert!(d
        .str("warning message")
        .unwrap()
        .contains("numwant capped at 5"));
    assert_eq!(
        t.announce(&format!("{me}&numwant=0")).await.peers4().len(),
        0
    );
    assert_eq!(
        t.announce(&format!("{me}&numwant=2")).await.peers4().len(),
        2
    );
    let mut seen = std::collections::HashSet::new();
    for _ in 0..30 {
        let peers = t.announce(&format!("{me}&numwant=2")).await.peers4();
        assert!(
            !peers.iter().any(|p| p.port() == 6001),
            "requester in its own list"
        );
        seen.extend(peers);
    }
    assert!(
        seen.len() >= 7,
        "peers are not chosen at random: {} distinct",
        seen.len()
    );
}

#[tokio::test]
async fn seeders_get_no_seeders_and_stopped_removes() {
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 0, "")).await;
    t.announce(&query(&H, 2, 6002, 0, "")).await;
    t.announce(&query(&H, 3, 6003, 7, "")).await;
    let d = t.announce(&query(&H, 1, 6001, 0, "")).await;
    assert_eq!(
        d.peers4().iter().map(|p| p.port()).collect::<Vec<_>>(),
        vec![6003]
    );
    let d = t.announce(&query(&H, 3, 6003, 7, "&event=stopped")).await;
    assert_eq!((d.int("complete"), d.int("incomplete")), (2, 0));
    assert!(t
        .announce(&query(&H, 1, 6001, 0, ""))
        .await
        .peers4()
        .is_empty());
}

#[tokio::test]
async fn port_zero_gets_peers_but_is_never_handed_out() {
    // A client that accepts no connections (aquatic_http_load_test sends one in 65,536).
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 0, "")).await;
    let d = t.announce(&query(&H, 2, 0, 7, "&event=started")).await;
    assert!(d.str("failure reason").is_none(), "{:?}", d.0);
    assert_eq!(
        d.peers4().iter().map(|p| p.port()).collect::<Vec<_>>(),
        vec![6001]
    );
    assert_eq!((d.int("complete"), d.int("incomplete")), (1, 0));
    let d = t.announce(&query(&H, 3, 6003, 7, "")).await;
    assert_eq!(
        d.peers4().iter().map(|p| p.port()).collect::<Vec<_>>(),
        vec![6001],
        "port 0 is never handed out"
    );
}

#[tokio::test]
async fn downloads_are_counted_once_per_peer() {
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 9, "&event=started")).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=completed")).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=completed")).await;
    t.announce(&query(&H, 2, 6002, 9, "&event=started")).await;
    let d = t.announce(&query(&H, 2, 6002, 0, "")).await; // finished without the event
    assert_eq!(d.int("downloaded"), 2);
    t.announce(&query(&H, 3, 6003, 0, "&event=started")).await; // seeding from the start
    let d = t.announce(&query(&H, 3, 6003, 0, "")).await;
    assert_eq!((d.int("complete"), d.int("downloaded")), (3, 2));
    assert_eq!(
        t.refused(&query(&H, 4, 6004, 0, "&event=finished")).await,
        r#"unknown event "finished" (expected started, stopped, completed, paused or empty)"#
    );
}

#[tokio::test]
async fn a_peer_id_moves_to_another_address_only_with_its_key() {
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 5, "&key=secret1")).await;
    let other = Some(IpAddr::from([127, 0, 0, 2]));
    let target = |extra: &str| format!("/announce?{}", query(&H, 1, 6001, 5, extra));
    const IN_USE: &str =
        "peer_id is already in use from another address (send the same key to change address)";
    let r = get(t.addr, other, &target("&key=guess"), &[]).await.dict();
    assert_eq!(r.str("failure reason").as_deref(), Some(IN_USE));
    let r = get(t.addr, other, &target("&event=stopped"), &[])
        .await
        .dict();
    assert_eq!(
        r.str("failure reason").as_deref(),
        Some(IN_USE),
        "a stop from elsewhere without the key"
    );
    let r = get(t.addr, other, &target("&key=secret1"), &[])
        .await
        .dict();
    assert!(r.str("failure reason").is_none());
    assert_eq!(r.bytes("external ip"), vec![127, 0, 0, 2]);
    let d = t.announce(&query(&H, 2, 6002, 5, "")).await;
    assert_eq!(
        d.peers4(),
        vec!["127.0.0.2:6001".parse::<SocketAddr>().unwrap()]
    );
}

#[tokio::test]
async fn invalid_requests_get_a_failure_reason_and_the_connection_survives() {
    let t = Tracker::start(|_| {}).await;
    let ih = pct(&H);
    let pid = pct(&id20("-TT0001-", 1));
    let long = format!(
        "info_hash={ih}&peer_id={pid}&port=1&left=0&x={}",
        "a".repeat(9000)
    );
    let too_long = format!(
        "query too long: {} bytes (limit {})",
        long.len(),
        retracker::protocol::query::MAX_QUERY_BYTES
    );
    // The exact text: the reason is all a user sees in their client's tracker tab, so it must
    // name the parameter and what is wrong with it.
    let cases: Vec<(String, &str)> = vec![
        (format!("peer_id={pid}&port=1&left=0"), "missing info_hash"),
        (
            format!("info_hash={}&peer_id={pid}&port=1&left=0", pct(&H[..19])),
            "info_hash must be 20 bytes, got 19",
        ),
        (
            format!("info_hash={ih}%00&peer_id={pid}&port=1&left=0"),
            "info_hash must be 20 bytes, got 21",
        ),
        (format!("info_hash={ih}&port=1&left=0"), "missing peer_id"),
        (
            format!("info_hash={ih}&peer_id=abc&port=1&left=0"),
            "peer_id must be 20 bytes, got 3",
        ),
        (
            format!("info_hash={ih}&peer_id={pid}&left=0"),
            "missing port",
        ),
        (
            format!("info_hash={ih}&peer_id={pid}&port=70000&left=0"),
            "port must be a number from 0 to 65535",
        ),
        (
            format!("info_hash={ih}&peer_id={pid}&port=abc&left=0"),
            "port must be a number from 0 to 65535",
        ),
        (
            format!("info_hash={ih}&peer_id={pid}&port=1&left=lots"),
            "left must be a non-negative integer",
        ),
        (
            format!("info_hash={ih}&peer_id={pid}&port=1&left=0&uploaded=-5"),
            "uploaded must be a non-negative integer",
        ),
        (
            format!("info_hash={ih}&peer_id={pid}&port=1&left=0&downloaded=1e6"),
            "downloaded must be a non-negative integer",
        ),
        (
            format!("info_hash=%ZZ{ih}&peer_id={pid}&port=1&left=0"),
            "invalid percent-encoding in info_hash",
        ),
        (
            format!("info_hash=%+a{ih}&peer_id={pid}&port=1&left=0"),
            "invalid percent-encoding in info_hash",
        ),
        (long, &too_long),
        (String::new(), "missing info_hash"),
    ];
    // All on one keep-alive connection: a bad request must not cost the client its connection.
    let mut stream = connect(t.addr, None).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    for (q, want) in &cases {
        let req = format!("GET /announce?{q} HTTP/1.1\r\nHost: x\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let resp = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                let len: usize = head
                    .split("content-length: ")
                    .nth(1)
                    .unwrap()
                    .split("\r\n")
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                if buf.len() >= pos + 4 + len {
                    let (r, used) = parse_response(&buf);
                    buf.drain(..used);
                    break r;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed after {q:.60}");
            buf.extend_from_slice(&chunk[..n]);
        };
        assert_eq!(resp.status, 200);
        let reason = resp.dict().str("failure reason").unwrap_or_default();
        assert_eq!(reason, *want, "{q:.80}");
    }
    // And a good one on the same connection.
    let req = format!(
        "GET /announce?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        query(&H, 1, 6001, 0, "")
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    stream.read_to_end(&mut buf).await.unwrap();
    assert!(parse_response(&buf).0.dict().get("interval").is_some());
}

#[tokio::test]
async fn other_paths_and_methods_get_http_errors() {
    let t = Tracker::start(|_| {}).await;
    assert_eq!(t.get("/nothing-here").await.status, 404);
    let mut s = connect(t.addr, None).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(
        b"POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    assert_eq!(parse_response(&raw).0.status, 405);
    // The .php aliases and prefixed paths answer like /announce.
    assert!(t
        .get(&format!("/announce.php?{}", query(&H, 1, 1, 0, "")))
        .await
        .dict()
        .get("interval")
        .is_some());
    assert!(t
        .get(&format!("/pass/announce?{}", query(&H, 1, 1, 0, "")))
        .await
        .dict()
        .get("interval")
        .is_some());
}
