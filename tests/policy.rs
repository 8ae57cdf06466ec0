//! The client-address policy over HTTP: proxy headers, refusals, reported ip, cleanup key.

mod common;
use common::*;
use retracker::config::Mode;
use std::net::IpAddr;

const H: [u8; 20] = *b"policy-test-hash-abc";

fn from(last: u8) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, last]))
}

#[tokio::test]
async fn proxy_headers_are_believed_only_from_trusted_proxies() {
    let t = Tracker::start(|c| {
        c.tracker.mode = Mode::Proxy;
        c.tracker.trusted_proxies = "127.0.0.1/32".parse().unwrap();
    })
    .await;
    let target = format!("/announce?{}", query(&H, 1, 6001, 5, ""));
    // From the trusted proxy: X-Real-IP wins.
    let d = get(
        t.addr,
        from(1),
        &target,
        &[("X-Real-IP", "10.1.0.7"), ("X-Forwarded-For", "10.9.9.9")],
    )
    .await
    .dict();
    assert_eq!(d.bytes("external ip"), vec![10, 1, 0, 7]);
    // X-Forwarded-For: the right-most entry that is not a trusted proxy; the forged left part is ignored.
    let target2 = format!("/announce?{}", query(&H, 2, 6002, 5, ""));
    let d = get(
        t.addr,
        from(1),
        &target2,
        &[("X-Forwarded-For", "6.6.6.6, 10.2.0.8, 127.0.0.1")],
    )
    .await
    .dict();
    assert_eq!(d.bytes("external ip"), vec![10, 2, 0, 8]);
    // From anyone else the headers change nothing.
    let target3 = format!("/announce?{}", query(&H, 3, 6003, 5, ""));
    let d = get(
        t.addr,
        from(9),
        &target3,
        &[("X-Real-IP", "10.1.0.99"), ("X-Forwarded-For", "10.1.0.99")],
    )
    .await
    .dict();
    assert_eq!(d.bytes("external ip"), vec![127, 0, 0, 9]);
    // What the swarm hands out is the resolved addresses.
    let d = get(
        t.addr,
        from(1),
        &format!("/announce?{}", query(&H, 5, 6005, 5, "")),
        &[("X-Real-IP", "10.3.0.1")],
    )
    .await
    .dict();
    let mut peers: Vec<String> = d.peers4().iter().map(|p| p.to_string()).collect();
    peers.sort();
    assert_eq!(
        peers,
        vec!["10.1.0.7:6001", "10.2.0.8:6002", "127.0.0.9:6003"]
    );
}

/// Behind a proxy the client's family, not the proxy's, decides whether an empty `peers6` is
/// sent (BEP 7): an IPv6 client gets one beside IPv4 peers, an IPv4 one (IPv4-mapped too) not.
#[tokio::test]
async fn the_proxied_clients_family_decides_peers6() {
    let t = Tracker::start(|c| {
        c.tracker.mode = Mode::Proxy;
        c.tracker.trusted_proxies = "127.0.0.1/32".parse().unwrap();
    })
    .await;
    let announce = |n: u32, client: &'static str| {
        let target = format!("/announce?{}", query(&H, n, 6000 + n as u16, 5, ""));
        let addr = t.addr;
        async move {
            get(addr, from(1), &target, &[("X-Real-IP", client)])
                .await
                .body
        }
    };
    announce(1, "10.1.0.7").await;
    let has = |body: &[u8], needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    // IPv4 clients first: the IPv6 one below puts an IPv6 peer into the swarm.
    for (n, client, peers) in [
        (2, "10.1.0.8", "5:peers6:"),
        (3, "::ffff:10.1.0.9", "5:peers12:"),
    ] {
        let v4 = announce(n, client).await;
        assert!(
            has(&v4, peers.as_bytes()) && !has(&v4, b"6:peers6"),
            "{client}: {}",
            String::from_utf8_lossy(&v4)
        );
    }
    let v6 = announce(4, "2001:db8::7").await;
    assert!(
        has(&v6, b"5:peers18:") && v6.ends_with(b"6:peers60:e"),
        "{}",
        String::from_utf8_lossy(&v6)
    );
}

#[tokio::test]
async fn a_trusted_proxy_without_headers_gets_a_failure_reason() {
    let t = Tracker::start(|c| c.tracker.mode = Mode::Proxy).await;
    let reason = t.refused(&query(&H, 1, 1, 0, "")).await;
    assert!(reason.contains("X-Real-IP or X-Forwarded-For"), "{reason}");
    let reason = get(
        t.addr,
        None,
        &format!("/announce?{}", query(&H, 1, 1, 0, "")),
        &[("X-Real-IP", "garbage")],
    )
    .await
    .dict()
    .str("failure reason")
    .unwrap();
    assert!(reason.contains("X-Real-IP"), "{reason}");
}

#[tokio::test]
async fn ignore_ip_and_allowed_networks_refuse_with_their_own_reasons() {
    let t = Tracker::start(|c| {
        c.tracker.ignore_ip = "127.0.0.3/32".parse().unwrap();
        c.tracker.allowed_networks = "127.0.0.0/30".parse().unwrap();
    })
    .await;
    let target = format!("/announce?{}", query(&H, 1, 1, 0, ""));
    let blocked = get(t.addr, from(3), &target, &[])
        .await
        .dict()
        .str("failure reason")
        .unwrap();
    assert!(
        blocked.contains("127.0.0.3") && blocked.contains("blocked"),
        "{blocked}"
    );
    let outside = get(t.addr, from(5), &target, &[])
        .await
        .dict()
        .str("failure reason")
        .unwrap();
    assert!(
        outside.contains("127.0.0.5") && outside.contains("not in a network allowed"),
        "{outside}"
    );
    assert_ne!(blocked, outside);
    let scrape = get(
        t.addr,
        from(5),
        &format!("/scrape?info_hash={}", pct(&H)),
        &[],
    )
    .await
    .dict();
    assert!(
        scrape.str("failure reason").is_some(),
        "scrape obeys the same networks"
    );
    assert!(get(t.addr, from(2), &target, &[])
        .await
        .dict()
        .str("failure reason")
        .is_none());
}

#[tokio::test]
async fn reported_ip_follows_the_policy() {
    // Default: verify_reported_ip, so in direct mode nobody can vouch for ip=.
    let t = Tracker::start(|_| {}).await;
    let d = t.announce(&query(&H, 1, 6001, 5, "&ip=8.8.8.8")).await;
    assert!(
        d.str("warning message").unwrap().contains("reported ip"),
        "{d:?}"
    );
    let d = t.announce(&query(&H, 2, 6002, 5, "")).await;
    assert_eq!(d.peers4()[0].to_string(), "127.0.0.1:6001");

    let t = Tracker::start(|c| c.tracker.verify_reported_ip = false).await;
    t.announce(&query(&H, 1, 6001, 5, "&ip=8.8.8.8")).await;
    t.announce(&query(&H, 3, 6003, 5, "&ip=10.0.0.1")).await; // internal, not allowed
    t.announce(&query(&H, 4, 6004, 5, "&ip=999.1.1.1")).await; // invalid, not believed
    let d = t.announce(&query(&H, 2, 6002, 5, "")).await;
    let mut peers: Vec<String> = d.peers4().iter().map(|p| p.to_string()).collect();
    peers.sort();
    assert_eq!(
        peers,
        vec!["127.0.0.1:6003", "127.0.0.1:6004", "8.8.8.8:6001"]
    );

    let t = Tracker::start(|c| {
        c.tracker.verify_reported_ip = false;
        c.tracker.allow_internal_ip = true;
    })
    .await;
    t.announce(&query(&H, 3, 6003, 5, "&ip=10.0.0.1")).await;
    let d = t.announce(&query(&H, 2, 6002, 5, "")).await;
    assert_eq!(d.peers4()[0].to_string(), "10.0.0.1:6003");

    let t = Tracker::start(|c| {
        c.tracker.verify_reported_ip = false;
        c.tracker.ignore_reported_ip = true;
    })
    .await;
    t.announce(&query(&H, 1, 6001, 5, "&ip=8.8.8.8")).await;
    let d = t.announce(&query(&H, 2, 6002, 5, "")).await;
    assert_eq!(d.peers4()[0].to_string(), "127.0.0.1:6001");
}

#[tokio::test]
async fn verify_reported_ip_believes_only_what_a_trusted_proxy_wrote() {
    // nginx on 127.0.0.1 and an ISP-side proxy in 10.6/16 are trusted; subscribers are behind both.
    let t = Tracker::start(|c| {
        c.tracker.mode = Mode::Proxy;
        c.tracker.use_x_real_ip = false;
        c.tracker.allow_internal_ip = true;
        c.tracker.trusted_proxies = "127.0.0.1/32, 10.6.0.0/16".parse().unwrap();
    })
    .await;
    let q = |n: u32, port: u16, extra: &str| format!("/announce?{}", query(&H, n, port, 5, extra));
    // The proxies wrote 10.5.0.1 (the subscriber): believed.
    let d = get(
        t.addr,
        None,
        &q(1, 6001, "&ip=10.5.0.1"),
        &[("X-Forwarded-For", "10.5.0.1, 10.6.0.1")],
    )
    .await
    .dict();
    assert!(d.str("warning message").is_none(), "{d:?}");
    // The client prepended 10.8.8.8 itself and claims it: not believed, its real address is used.
    let d = get(
        t.addr,
        None,
        &q(3, 6003, "&ip=10.8.8.8"),
        &[("X-Forwarded-For", "10.8.8.8, 10.5.0.3, 10.6.0.1")],
    )
    .await
    .dict();
    assert!(
        d.str("warning message").unwrap().contains("not verified"),
        "{d:?}"
    );
    let d = get(
        t.addr,
        None,
        &q(2, 6002, ""),
        &[("X-Forwarded-For", "10.5.0.2")],
    )
    .await
    .dict();
    let mut peers: Vec<String> = d.peers4().iter().map(|p| p.to_string()).collect();
    peers.sort();
    assert_eq!(peers, vec!["10.5.0.1:6001", "10.5.0.3:6003"]);
}

#[tokio::test]
async fn cleanup_key_works_from_loopback_only_when_configured() {
    let t = Tracker::start(|c| c.tracker.run_gc_key = "sweep".into()).await;
    t.announce(&query(&H, 1, 1, 0, "")).await;
    let r = t.get("/announce?sweep").await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("cleanup done: 0 expired peers"));
    // The default key is not special any more.
    assert!(t
        .get("/announce?gc")
        .await
        .dict()
        .str("failure reason")
        .unwrap()
        .contains("missing info_hash"));
    let t = Tracker::start(|c| c.tracker.run_gc_key = String::new()).await;
    assert!(t
        .get("/announce?gc")
        .await
        .dict()
        .str("failure reason")
        .is_some());
    // Behind nginx (a trusted proxy on loopback) the subscriber's address decides, not nginx's.
    let t = Tracker::start(|c| c.tracker.mode = Mode::Proxy).await;
    let r = get(t.addr, None, "/announce?gc", &[("X-Real-IP", "10.1.0.5")]).await;
    assert!(r
        .dict()
        .str("failure reason")
        .unwrap()
        .contains("cleanup may only be triggered"));
    let r = get(t.addr, None, "/announce?gc", &[("X-Real-IP", "127.0.0.1")]).await;
    assert!(String::from_utf8_lossy(&r.body).contains("cleanup done"));
}
