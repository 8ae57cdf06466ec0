//! Tests of the network map: the most specific network wins wherever it is named, the two
//! address families and IPv4-mapped IPv6, the MaxMind test databases (tests/fixtures/geoip, see
//! its README for what their sources give for each address used here), and a property test
//! against a plain scan of every network.

use super::*;
use crate::netlist::Networks;
use proptest::prelude::*;
use std::path::Path;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn nets(s: &str) -> Networks {
    s.parse().unwrap()
}

/// A MaxMind test database of tests/fixtures/geoip.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/geoip")
        .join(name)
}

/// The default configuration with these `[NETWORKS]` entries.
fn config(networks: &[(&str, &str)]) -> Config {
    let mut c = Config::default();
    c.locality.networks = networks
        .iter()
        .map(|(n, t)| ((*n).to_owned(), nets(t)))
        .collect();
    c
}

/// `config` with a networks file holding `text`, which lives as long as the returned folder.
fn with_file(mut c: Config, text: &str) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("networks.txt");
    std::fs::write(&path, text).unwrap();
    c.locality.networks_file = Some(path);
    (c, dir)
}

/// The name `map` gives `ip`, or how it describes an unnamed network.
fn named(map: &NetworkMap, addr: &str) -> String {
    let id = map.net_id(ip(addr));
    match map.name(id) {
        Some(name) => name.to_owned(),
        None if id == NetId::block(ip(addr)) => "block".into(),
        None => format!("{id:?}"),
    }
}

#[test]
fn the_empty_map_gives_every_address_its_block() {
    let map = NetworkMap::default();
    assert!(map.is_empty());
    for a in ["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1", "0.0.0.0"] {
        assert_eq!(map.net_id(ip(a)), NetId::block(ip(a)), "{a}");
    }
    let loaded = NetworkMap::load(&Config::default()).unwrap();
    assert!(loaded.is_empty() && loaded.networks().is_empty());
    assert_eq!(
        loaded.net_id(ip("192.0.2.1")),
        NetId::block(ip("192.0.2.1"))
    );
}

#[test]
fn the_most_specific_network_wins_in_either_order() {
    for networks in [
        [("city", "10.1.0.0/16"), ("pop", "10.1.2.0/24")],
        [("pop", "10.1.2.0/24"), ("city", "10.1.0.0/16")],
    ] {
        let map = NetworkMap::load(&config(&networks)).unwrap();
        assert_eq!(named(&map, "10.1.2.3"), "pop", "{networks:?}");
        assert_eq!(named(&map, "10.1.3.3"), "city", "{networks:?}");
        assert_eq!(named(&map, "10.1.1.255"), "city", "{networks:?}");
        assert_eq!(named(&map, "10.2.0.1"), "block", "{networks:?}");
        assert!(map.net_id(ip("10.1.2.3")).is_operator());
        assert!(!map.net_id(ip("10.2.0.1")).is_operator());
    }
}

#[test]
fn the_most_specific_network_wins_across_the_config_and_the_file() {
    // The /24 in the file inside the /16 of [NETWORKS], and the other way round.
    let (c, _dir) = with_file(
        config(&[("north", "10.1.0.0/16"), ("office", "10.9.9.0/24")]),
        "# from BGP\n10.1.2.0/24 north-pop\n10.9.0.0/16 ninth\n10.1.7.0/24 north\n",
    );
    let map = NetworkMap::load(&c).unwrap();
    assert_eq!(named(&map, "10.1.2.3"), "north-pop");
    assert_eq!(named(&map, "10.1.3.3"), "north");
    assert_eq!(named(&map, "10.1.7.3"), "north");
    assert_eq!(named(&map, "10.9.9.9"), "office");
    assert_eq!(named(&map, "10.9.8.9"), "ninth");
    // [NETWORKS] first, then the file's new names as they first appear.
    let names: Vec<&str> = map.names().collect();
    assert_eq!(names, ["north", "office", "north-pop", "ninth"]);
    // A file name that is a [NETWORKS] name (in any case) adds to that network.
    assert_eq!(
        map.networks()[0].cidrs,
        [
            "10.1.0.0/16".parse::<IpNet>().unwrap(),
            "10.1.7.0/24".parse().unwrap()
        ]
    );
}

#[test]
fn ipv6_and_ipv4_mapped_ipv6() {
    let map = NetworkMap::load(&config(&[
        ("north", "10.1.0.0/16, 2001:db8:1::/48"),
        ("north-lab", "2001:db8:1:77::/64"),
    ]))
    .unwrap();
    assert_eq!(named(&map, "2001:db8:1::5"), "north");
    assert_eq!(named(&map, "2001:db8:1:77::5"), "north-lab");
    assert_eq!(named(&map, "2001:db8:2::5"), "block");
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: the same network, the same id.
    assert_eq!(named(&map, "::ffff:10.1.2.3"), "north");
    assert_eq!(
        map.net_id(ip("::ffff:10.1.2.3")),
        map.net_id(ip("10.1.2.3"))
    );
    assert_eq!(
        map.net_id(ip("::ffff:192.0.2.1")),
        NetId::block(ip("192.0.2.1"))
    );
    // Both families of one name are one network.
    assert_eq!(map.net_id(ip("2001:db8:1::5")), map.net_id(ip("10.1.0.1")));
    let where_ = map.locate(ip("::ffff:10.1.2.3"));
    assert_eq!(where_.ip, ip("10.1.2.3"));
    assert_eq!(where_.block.to_string(), "10.1.2.0/24");
    assert_eq!(
        map.locate(ip("2001:db8:5:6::1")).block.to_string(),
        "2001:db8:5::/48"
    );
}

#[test]
fn stats_peer_networks_are_unnamed_operator_networks() {
    let mut c = config(&[("north", "10.1.0.0/16")]);
    c.stats.peer_networks = nets("10.1.0.0/16, 192.168.0.0/16, ::ffff:172.16.0.0/108");
    let map = NetworkMap::load(&c).unwrap();
    // 10.1.0.0/16 keeps its name; the others are named by their CIDR text.
    let names: Vec<&str> = map.names().collect();
    assert_eq!(names, ["north", "192.168.0.0/16", "172.16.0.0/12"]);
    assert_eq!(named(&map, "192.168.5.5"), "192.168.0.0/16");
    assert_eq!(named(&map, "10.1.5.5"), "north");
    assert!(map.locate(ip("172.20.0.1")).is_operator());
    // An existing config with only peer_networks loads unchanged and groups as before.
    let mut c = Config::default();
    c.stats.peer_networks = nets("10.1.0.0/24, 10.2.0.0/24");
    let map = NetworkMap::load(&c).unwrap();
    assert_eq!(named(&map, "10.2.0.9"), "10.2.0.0/24");
}

#[test]
fn a_network_under_two_names_is_refused_naming_both() {
    let (c, dir) = with_file(
        config(&[("north", "10.1.0.0/16")]),
        "10.3.0.0/16 east\n\n10.1.0.0/16 south\n",
    );
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3: 10.1.0.0/16 is named south here but is already [NETWORKS] north; a network \
             has one name",
            dir.path().join("networks.txt").display()
        )
    );
    let (c, dir) = with_file(Config::default(), "10.3.0.0/16 east\n10.3.0.0/16 west\n");
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:2: 10.3.0.0/16 is named west here but is already east on line 1; a network has \
             one name",
            dir.path().join("networks.txt").display()
        )
    );
    // The same network under the same name, in [NETWORKS] and the file: harmless.
    let (c, _dir) = with_file(config(&[("east", "10.3.0.0/16")]), "10.3.0.0/16 EAST\n");
    assert_eq!(NetworkMap::load(&c).unwrap().networks().len(), 1);
    // A Config built in code is checked too.
    let err = NetworkMap::load(&config(&[("a", "10.0.0.0/8"), ("b", "10.0.0.0/8")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "[NETWORKS] b: 10.0.0.0/8 is named b here but is already [NETWORKS] a; a network has one name"
    );
}

#[test]
fn a_bad_or_missing_networks_file_names_the_file() {
    let (c, dir) = with_file(Config::default(), "10.3.0.0/16 east\nnot-a-net west\n");
    assert_eq!(
        NetworkMap::load(&c).unwrap_err().to_string(),
        format!(
            "{}:2: \"not-a-net\" is not an address or CIDR network",
            dir.path().join("networks.txt").display()
        )
    );
    let mut c = Config::default();
    c.locality.networks_file = Some("/nonexistent/networks.txt".into());
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "/nonexistent/networks.txt: cannot read the networks file ([LOCALITY] networks_file): "
        ),
        "{err}"
    );
}

#[test]
fn asn_and_country_from_the_maxmind_test_databases() {
    let mut c = config(&[("north", "10.1.0.0/16")]);
    c.locality.asn_db = Some(fixture("GeoLite2-ASN-Test.mmdb"));
    c.locality.country_db = Some(fixture("GeoLite2-Country-Test.mmdb"));
    let map = NetworkMap::load(&c).unwrap();
    assert!(!map.is_empty() && map.has_asn_db() && map.has_country_db());

    // Outside the named networks, the network is the AS.
    assert_eq!(map.net_id(ip("89.160.20.130")), NetId::asn(29518));
    assert_eq!(map.net_id(ip("::ffff:89.160.20.130")), NetId::asn(29518));
    assert_eq!(map.net_id(ip("1.128.0.1")), NetId::asn(1221));
    assert_eq!(map.net_id(ip("2001:1700::1")), NetId::asn(6730));
    // Not in the ASN database: the block.
    assert_eq!(
        map.net_id(ip("203.0.113.9")),
        NetId::block(ip("203.0.113.9"))
    );
    assert_eq!(
        map.net_id(ip("2001:218::1")),
        NetId::block(ip("2001:218::1"))
    );
    // Named networks come before the AS.
    assert_eq!(map.name(map.net_id(ip("10.1.0.1"))), Some("north"));

    let sweden = map.locate(ip("89.160.20.130"));
    assert_eq!(sweden.id, NetId::asn(29518));
    assert!(!sweden.is_operator());
    assert_eq!(
        sweden.asn,
        Some(Asn {
            number: 29518,
            organization: Some("Bredband2 AB".into())
        })
    );
    assert_eq!(
        sweden.asn.as_ref().unwrap().to_string(),
        "AS29518 Bredband2 AB"
    );
    assert_eq!(
        sweden.country,
        Some(Country {
            iso_code: "SE".into(),
            name: Some("Sweden".into())
        })
    );
    // An AS without an organisation in the database.
    assert_eq!(
        map.locate(ip("12.81.96.1")).asn.unwrap().to_string(),
        "AS7018"
    );
    let japan = map.locate(ip("2001:218::1"));
    assert_eq!(japan.asn, None);
    assert_eq!(japan.country.unwrap().to_string(), "JP Japan");
    let nowhere = map.locate(ip("203.0.113.9"));
    assert_eq!((nowhere.asn, nowhere.country), (None, None));
    let north = map.locate(ip("10.1.0.1"));
    assert_eq!(
        north.inside,
        Some(Inside {
            name: "north".into(),
            cidr: "10.1.0.0/16".parse().unwrap()
        })
    );

    // A City database gives the country too.
    c.locality.country_db = Some(fixture("GeoLite2-City-Test.mmdb"));
    let map = NetworkMap::load(&c).unwrap();
    assert_eq!(
        map.locate(ip("89.160.20.130")).country.unwrap().to_string(),
        "SE Sweden"
    );
}

#[test]
fn a_database_of_the_wrong_kind_or_no_database_is_refused() {
    let mut c = Config::default();
    c.locality.asn_db = Some(fixture("GeoLite2-Country-Test.mmdb"));
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: cannot be used as [LOCALITY] asn_db: it is a GeoLite2-Country database; \
             expected an ASN database (GeoLite2-ASN, GeoIP2-ISP or DB-IP ASN Lite)",
            fixture("GeoLite2-Country-Test.mmdb").display()
        )
    );
    let mut c = Config::default();
    c.locality.country_db = Some(fixture("GeoLite2-ASN-Test.mmdb"));
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert!(
        err.contains("[LOCALITY] country_db: it is a GeoLite2-ASN database"),
        "{err}"
    );
    let mut c = Config::default();
    c.locality.asn_db = Some(fixture("README.md"));
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert!(
        err.contains("cannot be used as [LOCALITY] asn_db: not a MaxMind DB (.mmdb) file"),
        "{err}"
    );
    let mut c = Config::default();
    c.locality.asn_db = Some("/nonexistent/asn.mmdb".into());
    let err = NetworkMap::load(&c).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "/nonexistent/asn.mmdb: cannot be used as [LOCALITY] asn_db: cannot read it: "
        ),
        "{err}"
    );
}

/// The name index of the longest prefix holding `addr` among `entries`: the definition,
/// checked on every entry.
fn naive(entries: &[(IpNet, u32)], addr: IpAddr) -> Option<u32> {
    entries
        .iter()
        .filter(|(net, _)| net.contains(&addr))
        .max_by_key(|(net, _)| net.prefix_len())
        .map(|(_, index)| *index)
}

/// An IPv4 network inside 10.0.0.0/14 (so that random networks overlap often), /14 to /32.
fn v4_net() -> impl Strategy<Value = IpNet> {
    (0u32..1 << 18, 14u8..=32).prop_map(|(low, len)| {
        let addr = std::net::Ipv4Addr::from(0x0a00_0000 | low);
        IpNet::new(IpAddr::V4(addr), len).unwrap().trunc()
    })
}

/// An IPv6 network inside 2001:db8::/110, /110 to /128.
fn v6_net() -> impl Strategy<Value = IpNet> {
    (0u128..1 << 18, 110u8..=128).prop_map(|(low, len)| {
        let base: u128 = 0x2001_0db8 << 96;
        let addr = std::net::Ipv6Addr::from(base | low);
        IpNet::new(IpAddr::V6(addr), len).unwrap().trunc()
    })
}

/// An address in or near the space of [`v4_net`] and [`v6_net`], some IPv4-mapped.
fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u32..1 << 19).prop_map(|low| IpAddr::V4((0x0a00_0000 | low).into())),
        (0u32..1 << 19).prop_map(|low| IpAddr::V6(
            std::net::Ipv4Addr::from(0x0a00_0000 | low).to_ipv6_mapped()
        )),
        (0u128..1 << 19).prop_map(|low| IpAddr::V6(((0x2001_0db8u128 << 96) | low).into())),
    ]
}

proptest! {
    #[test]
    fn net_id_is_the_longest_prefix_of_a_plain_scan(
        networks in prop::collection::vec(
            (prop_oneof![v4_net(), v6_net()], 0u32..6),
            0..40,
        ),
        addresses in prop::collection::vec(address(), 1..60),
    ) {
        // One name per network, as the map requires: the first name given wins here.
        let mut entries: Vec<(IpNet, u32)> = Vec::new();
        for (net, name) in networks {
            if !entries.iter().any(|(n, _)| *n == net) {
                entries.push((net, name));
            }
        }
        let mut by_name: Vec<(String, Vec<IpNet>)> =
            (0..6).map(|i| (format!("n{i}"), Vec::new())).collect();
        for (net, name) in &entries {
            by_name[*name as usize].1.push(*net);
        }
        let map = NetworkMap::from_networks(
            by_name.iter().map(|(n, nets)| (n.as_str(), nets.as_slice())),
        )
        .unwrap();
        for addr in addresses {
            let canonical = addr.to_canonical();
            let want = match naive(&entries, canonical) {
                Some(index) => NetId::named(index),
                None => NetId::block(canonical),
            };
            prop_assert_eq!(map.net_id(addr), want, "{}", addr);
        }
    }
}
