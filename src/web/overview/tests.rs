//! Tests of `overview`.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rec(addr: &str, seeder: bool) -> PeerRecord {
    PeerRecord {
        ip: ip(addr),
        port: 6881,
        key: None,
        last_seen: 100,
        seeder,
        seen_leeching: false,
        counted: false,
        net: crate::locality::NetId::UNKNOWN,
    }
}

fn id(prefix: &str) -> PeerId {
    let mut id = [b'x'; 20];
    id[..prefix.len()].copy_from_slice(prefix.as_bytes());
    id
}

#[test]
fn blocks_are_slash_24_and_slash_48() {
    assert_eq!(block_of(ip("10.1.2.3")).to_string(), "10.1.2.0/24");
    assert_eq!(block_of(ip("::ffff:10.1.2.3")).to_string(), "10.1.2.0/24");
    assert_eq!(
        block_of(ip("2001:db8:aaaa:bbbb::1")).to_string(),
        "2001:db8:aaaa::/48"
    );
    let none = Networks::default();
    assert_eq!(
        network_of(ip("192.168.7.9"), &none),
        Some(block_of(ip("192.168.7.1")))
    );
}

#[test]
fn configured_networks_take_the_most_specific_match_or_other() {
    let nets: Networks = "10.0.0.0/8, 10.1.0.0/16, 2001:db8::/32".parse().unwrap();
    let key = |a: &str| network_of(ip(a), &nets).map(|n| n.to_string());
    assert_eq!(key("10.1.2.3").as_deref(), Some("10.1.0.0/16"));
    assert_eq!(key("10.2.2.3").as_deref(), Some("10.0.0.0/8"));
    assert_eq!(key("::ffff:10.9.0.1").as_deref(), Some("10.0.0.0/8"));
    assert_eq!(key("2001:db8:1::5").as_deref(), Some("2001:db8::/32"));
    assert_eq!(key("192.168.1.1"), None);
    assert_eq!(key("2001:db9::1"), None);
}

#[test]
fn network_rows_sort_by_peers_and_keep_the_limit() {
    let nets: Networks = "10.0.0.0/8".parse().unwrap();
    let mut t = Tally::default();
    let h = [1; 20];
    for (addr, seeder) in [
        ("10.0.0.1", true),
        ("10.0.0.2", false),
        ("192.168.0.1", false),
        ("192.168.0.2", false),
        ("192.168.0.3", true),
    ] {
        t.add(&h, &id("-TR3000-"), &rec(addr, seeder), &nets);
    }
    let rows = network_rows(t.networks.clone(), 50);
    let shown: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.network.as_str(),
                r.is_network,
                r.peers,
                r.seeders,
                r.leechers,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [("other", false, 3, 1, 2), ("10.0.0.0/8", true, 2, 1, 1)]
    );

    // Blocks; equal counts fall back to network order, and the limit keeps the biggest.
    let mut t = Tally::default();
    let none = Networks::default();
    for addr in [
        "10.0.3.1",
        "10.0.1.1",
        "10.0.2.1",
        "10.0.2.2",
        "2001:db8:1:2::1",
    ] {
        t.add(&h, &id("-TR3000-"), &rec(addr, false), &none);
    }
    let names: Vec<String> = network_rows(t.networks.clone(), 3)
        .into_iter()
        .map(|r| r.network)
        .collect();
    assert_eq!(names, ["10.0.2.0/24", "10.0.1.0/24", "10.0.3.0/24"]);
    assert_eq!(network_rows(t.networks, 50).len(), 4);
}

#[test]
fn top_torrents_are_by_peers_then_hash() {
    let mut m = HashMap::new();
    let roles = |s: u64, l: u64| Roles {
        peers: s + l,
        seeders: s,
        leechers: l,
    };
    m.insert([3; 20], roles(1, 1));
    m.insert([1; 20], roles(0, 1));
    m.insert([2; 20], roles(0, 2));
    m.insert([4; 20], roles(5, 0));
    m.insert([5; 20], roles(0, 1));
    let order: Vec<u8> = top_torrents(&m, 10).iter().map(|(h, _)| h[0]).collect();
    assert_eq!(order, [4, 3, 2, 1, 5], "seeders break ties, then the hash");
    let order: Vec<u8> = top_torrents(&m, 2).iter().map(|(h, _)| h[0]).collect();
    assert_eq!(order, [4, 3]);
    assert!(top_torrents(&HashMap::new(), 20).is_empty());
}

#[test]
fn tally_counts_families_clients_and_versions() {
    let none = Networks::default();
    let mut t = Tally::default();
    let (a, b) = ([1; 20], [2; 20]);
    t.add(&a, &id("-TR3000-"), &rec("10.0.0.1", true), &none);
    t.add(&a, &id("-TR2940-"), &rec("10.0.0.2", false), &none);
    t.add(&b, &id("-TR3000-"), &rec("10.0.0.1", false), &none);
    t.add(&b, &id("-qB4520-"), &rec("2001:db8::1", true), &none);
    t.add(&b, &id("A2-1-36-0-"), &rec("::ffff:10.0.0.9", false), &none);
    assert_eq!(
        (t.ipv4, t.ipv6),
        (
            Roles {
                peers: 4,
                seeders: 1,
                leechers: 3
            },
            Roles {
                peers: 1,
                seeders: 1,
                leechers: 0
            }
        )
    );
    assert_eq!(t.addrs.len(), 4);
    assert_eq!(t.torrents[&b].peers, 3);
    let rows = client_rows(t.clients, 50, 1);
    let names: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.peers)).collect();
    assert_eq!(
        names,
        [("Transmission", 3), ("aria2", 1), ("qBittorrent", 1)]
    );
    assert_eq!(
        rows[0].versions,
        [VersionCount {
            version: "3.00".into(),
            peers: 2
        }]
    );
    assert_eq!(rows[2].versions[0].version, "4.5.2");
    assert_eq!(rows[1].versions[0].version, "1.36.0");
}
