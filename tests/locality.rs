//! Locality as an operator sees it over HTTP: with `[NETWORKS] north` and `south`, an announce
//! answer lists the requester's own network first, then the operator's other network, then the
//! rest; `strict` keeps the two sides of the operator's border apart; every peer handed out is
//! counted by tier on /metrics and in the "kept local" figures of /api/stats and the
//! dashboard; the dashboard groups peers by named network, and by AS and country with
//! MaxMind's test databases; a SIGHUP-style reload that moves a network moves its peers.

mod common;

use common::web::{self, basic, request, PASSWORD};
use common::{query, Tracker};
use retracker::config::Config;
use retracker::locality::Mode;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

const H: [u8; 20] = *b"locality-test-hash-1";

/// North and south are the operator's; ip= is believed, so loopback can stand for anyone.
fn networks(c: &mut Config) {
    c.tracker.verify_reported_ip = false;
    c.tracker.allow_internal_ip = true;
    c.locality.networks = vec![
        ("north".into(), "10.1.0.0/16".parse().unwrap()),
        ("south".into(), "10.2.0.0/16".parse().unwrap()),
    ];
}

/// Which group an address of the test belongs to: 0 north, 1 south, 2 outside.
fn group(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) if v4.octets()[..2] == [10, 1] => 0,
        IpAddr::V4(v4) if v4.octets()[..2] == [10, 2] => 1,
        _ => 2,
    }
}

/// Five seeders in each of north, south and outside (192.0.2.0/24).
async fn crowd(t: &Tracker) {
    for i in 1..=5u32 {
        for (n, prefix) in [(0, "10.1.0"), (10, "10.2.0"), (20, "192.0.2")] {
            let ip = format!("&ip={prefix}.{i}");
            t.announce(&query(&H, n + i, 6000 + (n + i) as u16, 0, &ip))
                .await;
        }
    }
}

/// A leecher at `ip` asking for `numwant` peers: the peers' groups in answer order.
async fn ask(t: &Tracker, n: u32, ip: &str, numwant: u32) -> Vec<u8> {
    let extra = format!("&ip={ip}&numwant={numwant}");
    let d = t
        .announce(&query(&H, n, 7000 + n as u16, 100, &extra))
        .await;
    d.peers4()
        .iter()
        .map(|p: &SocketAddr| group(p.ip()))
        .collect()
}

async fn get_auth(t: &Tracker, target: &str) -> common::Resp {
    let r = request(
        t.addr,
        "GET",
        target,
        &[("Authorization", &basic("admin", PASSWORD))],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    r
}

/// `retracker_peers_handed_out_total{tier=...}` by tier, network first.
fn handed_out(metrics: &str) -> [f64; 3] {
    ["network", "operator", "outside"].map(|tier| {
        let prefix = format!("retracker_peers_handed_out_total{{tier=\"{tier}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
            .trim()
            .parse()
            .unwrap()
    })
}

#[tokio::test]
async fn answers_list_the_own_network_first_and_what_was_kept_is_counted() {
    let t = web::start(networks).await;
    crowd(&t).await;

    // The whole swarm fits: every peer, nearest first.
    let all = ask(&t, 100, "10.1.0.100", 50).await;
    assert_eq!(all, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    // Five of fifteen, outside_share 0.2: one drawn from the whole swarm, four from north;
    // listed nearest first whatever was drawn.
    for _ in 0..20 {
        let five = ask(&t, 101, "10.1.0.101", 5).await;
        assert_eq!(five.len(), 5);
        assert!(five.iter().filter(|&&g| g == 0).count() >= 4, "{five:?}");
        assert!(five.windows(2).all(|w| w[0] <= w[1]), "{five:?}");
    }
    // A south subscriber: south first, then north, then outside.
    let south = ask(&t, 102, "10.2.0.102", 10).await;
    assert_eq!(&south[..4], [1, 1, 1, 1], "{south:?}");
    assert!(
        south.windows(2).all(|w| (w[0] == 1) >= (w[1] == 1)),
        "{south:?}"
    );

    // Every peer handed out is counted by tier, on /metrics and in /api/stats.
    let metrics = get_auth(&t, "/metrics").await.text();
    let [network, operator, outside] = handed_out(&metrics);
    let total = network + operator + outside;
    // The seeders got nothing as they joined (no leechers yet, and seeders get no seeders).
    assert_eq!(total, (15 + 20 * 5 + 10) as f64);
    assert!(network >= 5.0 + 20.0 * 4.0 + 4.0, "{network}");
    let stats: Value = serde_json::from_slice(&get_auth(&t, "/api/stats").await.body).unwrap();
    let kept = &stats["kept_local"];
    assert_eq!(kept["network"], network as u64);
    assert_eq!(kept["operator"], operator as u64);
    assert_eq!(kept["outside"], outside as u64);
    let share = kept["network_share"].as_f64().unwrap();
    assert!((share - network / total).abs() < 1e-9, "{kept}");

    // The dashboard: the kept-local cards and the peers by named network.
    let html = get_auth(&t, "/stat").await.text();
    let card = format!("data-value=\"{}\"", network / total);
    assert!(html.contains("id=\"kept-network\""), "{html}");
    assert!(html.contains(&card), "{card} in {html}");
    let named: Vec<(String, u64)> = stats["geography"]["named_networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["peers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("north".to_owned(), 7),
            ("south".to_owned(), 6),
            ("outside".to_owned(), 5)
        ]
    );
    assert!(html.contains("id=\"named-networks\""));
    assert!(!html.contains("id=\"asns\""), "no ASN database, no table");
}

#[tokio::test]
async fn strict_keeps_each_side_of_the_border_to_itself() {
    let t = web::start(|c| {
        networks(c);
        c.locality.mode = Mode::Strict;
    })
    .await;
    crowd(&t).await;
    for _ in 0..10 {
        let inside = ask(&t, 100, "10.1.0.100", 50).await;
        assert_eq!(inside, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], "no outside peer");
        let outside = ask(&t, 101, "198.51.100.7", 50).await;
        assert_eq!(outside, [2, 2, 2, 2, 2], "no peer of the operator's");
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/geoip")
        .join(name)
}

#[tokio::test]
async fn the_dashboard_shows_peers_by_as_and_country_with_the_databases() {
    let t = web::start(|c| {
        networks(c);
        c.locality.asn_db = Some(fixture("GeoLite2-ASN-Test.mmdb"));
        c.locality.country_db = Some(fixture("GeoLite2-Country-Test.mmdb"));
    })
    .await;
    // 89.160.20.130: AS29518 Bredband2 AB, SE; 1.128.0.1: AS1221 Telstra, no country.
    t.announce(&query(&H, 1, 6001, 0, "&ip=89.160.20.130"))
        .await;
    t.announce(&query(&H, 2, 6002, 10, "&ip=89.160.20.131"))
        .await;
    t.announce(&query(&H, 3, 6003, 0, "&ip=1.128.0.1")).await;
    let stats: Value = serde_json::from_slice(&get_auth(&t, "/api/stats").await.body).unwrap();
    let rows = |table: &str| -> Vec<(String, String, u64, u64)> {
        stats["geography"][table]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_owned(),
                    r["name"].as_str().unwrap().to_owned(),
                    r["seeders"].as_u64().unwrap(),
                    r["leechers"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        rows("asns"),
        [
            ("AS29518".into(), "Bredband2 AB".into(), 1, 1),
            ("AS1221".into(), "Telstra Pty Ltd".into(), 1, 0)
        ]
    );
    assert_eq!(
        rows("countries"),
        [
            ("SE".into(), "Sweden".into(), 1, 1),
            ("unknown".into(), String::new(), 1, 0)
        ]
    );
    let html = get_auth(&t, "/stat").await.text();
    assert!(html.contains("id=\"asns\"") && html.contains("Bredband2 AB"));
    assert!(html.contains("id=\"countries\"") && html.contains("Sweden"));
}

#[tokio::test]
async fn a_reload_that_moves_a_network_moves_its_peers() {
    let t = web::start(networks).await;
    crowd(&t).await;
    assert_eq!(&ask(&t, 100, "10.1.0.100", 50).await[..5], [0; 5]);
    // South becomes part of north: north's subscribers now have ten peers of their network.
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config_in(dir.path());
    config.db.path = t.db.clone();
    config.stats.access_username = "admin".into();
    config.stats.access_password = PASSWORD.into();
    networks(&mut config);
    config.locality.networks = vec![("north".into(), "10.0.0.0/14".parse().unwrap())];
    t.reload(config);
    let start = std::time::Instant::now();
    loop {
        let m = get_auth(&t, "/metrics").await.text();
        let before = handed_out(&m)[0];
        let groups = ask(&t, 100, "10.1.0.100", 50).await;
        let after = handed_out(&get_auth(&t, "/metrics").await.text())[0];
        if after - before == 10.0 {
            assert_eq!(groups.iter().filter(|&&g| g < 2).count(), 10);
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the reloaded map never applied: {groups:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
