//! `/metrics`: the numbers after real requests, parsed as Prometheus would, and who may read it.

mod common;

use common::web::{self, basic, request, Browser, PASSWORD};
use common::{pct, query, Resp};
use prometheus_parse::{Sample, Scrape, Value};
use std::net::SocketAddr;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn parse(r: &Resp) -> Scrape {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some(CONTENT_TYPE));
    let text = String::from_utf8(r.body.clone()).unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The one sample of `name` with these labels.
fn sample<'a>(s: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> &'a Sample {
    let found: Vec<&Sample> = s
        .samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0]
}

/// The value of a counter, gauge or untyped sample.
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(s, name, labels).value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name} is not a number: {other:?}"),
    }
}

async fn metrics(addr: SocketAddr, headers: &[(&str, &str)]) -> Resp {
    request(addr, "GET", "/metrics", headers, "").await
}

#[tokio::test]
async fn metrics_count_requests_failures_and_peers() {
    let t = web::start(|c| {
        c.tracker.verify_reported_ip = false;
        c.tracker.allow_internal_ip = true;
    })
    .await;
    let (a, b) = ([1u8; 20], [2u8; 20]);
    t.announce(&query(&a, 1, 6881, 0, "")).await;
    t.announce(&query(&a, 2, 6882, 100, "")).await;
    t.announce(&query(&a, 3, 6883, 0, "&ip=2001:db8::3")).await;
    t.announce(&query(&a, 4, 6884, 10, "&ip=2001:db8::4")).await;
    t.announce(&query(&b, 5, 6885, 10, "&ip=2001:db8::5")).await;
    t.refused("info_hash=short&port=1").await;
    let full = t.get("/scrape").await.dict();
    assert!(full.get("failure reason").is_some(), "full scrape is off");
    let one = t
        .get(&format!("/scrape?info_hash={}", pct(&a)))
        .await
        .dict();
    assert!(one.get("failure reason").is_none());

    let s = parse(&metrics(t.addr, &[]).await);
    for (kind, result, n) in [
        ("announce", "ok", 5.0),
        ("announce", "failed", 1.0),
        ("scrape", "ok", 1.0),
        ("scrape", "failed", 1.0),
    ] {
        let labels = [("kind", kind), ("result", result)];
        assert_eq!(
            value(&s, "retracker_requests_total", &labels),
            n,
            "{labels:?}"
        );
    }
    for reason in [
        "malformed",
        "address_refused",
        "no_proxy_header",
        "blocked",
        "peer_id_taken",
        "full_scrape_disabled",
        "cleanup_not_allowed",
    ] {
        let want = if matches!(reason, "malformed" | "full_scrape_disabled") {
            1.0
        } else {
            0.0
        };
        let got = value(&s, "retracker_failures_total", &[("reason", reason)]);
        assert_eq!(got, want, "{reason}");
    }
    for (family, state, n) in [
        ("ipv4", "seeder", 1.0),
        ("ipv4", "leecher", 1.0),
        ("ipv6", "seeder", 1.0),
        ("ipv6", "leecher", 2.0),
    ] {
        let labels = [("family", family), ("state", state)];
        assert_eq!(value(&s, "retracker_peers", &labels), n, "{labels:?}");
    }
    assert_eq!(value(&s, "retracker_torrents", &[]), 2.0);
    assert_eq!(value(&s, "retracker_unique_addresses", &[]), 4.0);
    assert_eq!(value(&s, "retracker_completed_total", &[]), 0.0);
    assert_eq!(value(&s, "retracker_blocklist_entries", &[]), 0.0);
    assert_eq!(value(&s, "retracker_persistence_failing", &[]), 0.0);
    assert!(value(&s, "retracker_database_bytes", &[]) > 0.0);
    assert!(value(&s, "retracker_start_time_seconds", &[]) > 1.6e9);
    assert!(value(&s, "retracker_uptime_seconds", &[]) >= 0.0);
    assert_eq!(
        value(&s, "retracker_logins_total", &[("result", "ok")]),
        0.0
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(&s, "retracker_build_info", &[("version", version)]),
        1.0
    );
    for name in [
        "retracker_persistence_backlog",
        "retracker_persistence_batches_total",
        "retracker_persistence_rows_total",
        "retracker_persistence_failures_total",
    ] {
        assert!(value(&s, name, &[]) >= 0.0, "{name}");
    }
    assert!(s.docs.contains_key("retracker_requests_total"));

    // Every announce, refused ones too, is timed.
    let hist = "retracker_announce_duration_seconds";
    let Value::Histogram(ref buckets) = sample(&s, hist, &[]).value else {
        panic!("{hist} is not a histogram");
    };
    let last = buckets.last().unwrap();
    assert_eq!((last.less_than, last.count), (f64::INFINITY, 6.0));
    assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count));
    assert_eq!(value(&s, &format!("{hist}_count"), &[]), 6.0);
    assert!(value(&s, &format!("{hist}_sum"), &[]) > 0.0);

    // A completed download and a login show up in the next scrape.
    t.announce(&query(&a, 2, 6882, 0, "&event=completed")).await;
    Browser::login(t.addr).await;
    let s = parse(&metrics(t.addr, &[]).await);
    assert_eq!(value(&s, "retracker_completed_total", &[]), 1.0);
    assert_eq!(
        value(&s, "retracker_logins_total", &[("result", "ok")]),
        1.0
    );
    let labels = [("family", "ipv4"), ("state", "seeder")];
    assert_eq!(value(&s, "retracker_peers", &labels), 2.0);
}

#[tokio::test]
async fn outside_the_allowed_networks_metrics_need_a_login() {
    let t = web::start(|c| c.metrics.allowed_networks = "10.0.0.0/8".parse().unwrap()).await;
    let r = metrics(t.addr, &[]).await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    let wrong = metrics(t.addr, &[("Authorization", &basic("admin", "nope"))]).await;
    assert_eq!(wrong.status, 401);
    parse(&metrics(t.addr, &[("Authorization", &basic("admin", PASSWORD))]).await);
    let b = Browser::login(t.addr).await;
    parse(&b.get("/metrics").await);
}

#[tokio::test]
async fn with_the_ui_disabled_metrics_are_for_allowed_networks_only() {
    let open = common::Tracker::start(|c| c.stats.access_password.clear()).await;
    parse(&metrics(open.addr, &[]).await);
    assert_eq!(
        request(open.addr, "GET", "/stat", &[], "").await.status,
        404
    );

    let closed = common::Tracker::start(|c| {
        c.stats.access_password.clear();
        c.metrics.allowed_networks = "10.0.0.0/8".parse().unwrap();
    })
    .await;
    let r = metrics(closed.addr, &[("Authorization", &basic("admin", "x"))]).await;
    assert_eq!(r.status, 403);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("[METRICS] allowed_networks"), "{body}");
}

#[tokio::test]
async fn a_metrics_listener_serves_only_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_in(dir.path());
    let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tracker, metrics_addr) = (l1.local_addr().unwrap(), l2.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listeners = retracker::server::Listeners {
        tracker: vec![l1],
        web: vec![],
        metrics: vec![l2],
        udp: vec![],
    };
    let server = tokio::spawn(retracker::server::run(config, listeners, async {
        let _ = stopped.await;
    }));

    let r = common::get(
        tracker,
        None,
        &format!("/announce?{}", query(&[7; 20], 1, 6881, 0, "")),
        &[],
    )
    .await;
    assert!(r.dict().get("failure reason").is_none());
    let s = parse(&metrics(metrics_addr, &[]).await);
    let labels = [("kind", "announce"), ("result", "ok")];
    assert_eq!(value(&s, "retracker_requests_total", &labels), 1.0);
    assert_eq!(metrics(tracker, &[]).await.status, 404);
    let announce = format!("/announce?{}", query(&[7; 20], 2, 6881, 0, ""));
    assert_eq!(
        request(metrics_addr, "GET", &announce, &[], "")
            .await
            .status,
        404
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
