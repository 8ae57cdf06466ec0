//! Protocol layer against the outside world: requests captured from real clients
//! (`tests/fixtures/client-announces.tsv`), the exact failure reason for invalid queries, and
//! (in `tests/protocol/`) property tests of the encoders against `serde_bencode` and of the
//! decoders against random input.

#[path = "protocol/decode_props.rs"]
mod decode_props;
#[path = "protocol/encode_props.rs"]
mod encode_props;

use retracker::protocol::announce::{key_hash, parse_announce, AnnounceRequest, Event};
use retracker::protocol::scrape::parse_scrape;

/// The one torrent every fixture line announces: hex 466d846e88635a7aa032ca8cbe2d810495dea262.
const FIXTURE_HASH: [u8; 20] = [
    0x46, 0x6d, 0x84, 0x6e, 0x88, 0x63, 0x5a, 0x7a, 0xa0, 0x32, 0xca, 0x8c, 0xbe, 0x2d, 0x81, 0x04,
    0x95, 0xde, 0xa2, 0x62,
];

struct Line {
    agent: String,
    path: String,
    query: String,
}

fn fixture_lines() -> Vec<Line> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/client-announces.tsv"
    );
    let text = std::fs::read_to_string(path).expect("fixture file");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "three columns in {l:?}");
            Line {
                agent: cols[0].into(),
                path: cols[1].into(),
                query: cols[2].into(),
            }
        })
        .collect()
}

/// Independent, naive reading of one parameter, for cross-checking the parser on every line.
fn naive_param(query: &str, name: &str) -> Option<Vec<u8>> {
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))?;
    let mut out = Vec::new();
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()]
                .iter()
                .map(|&c| c as char)
                .collect();
            out.push(u8::from_str_radix(&hex, 16).unwrap());
        } else {
            out.push(b);
        }
    }
    Some(out)
}

fn naive_number(query: &str, name: &str) -> u64 {
    String::from_utf8(naive_param(query, name).unwrap())
        .unwrap()
        .parse()
        .unwrap()
}

fn announce_of(agent: &str, event: &str) -> AnnounceRequest {
    let line = fixture_lines()
        .into_iter()
        .find(|l| {
            l.agent.starts_with(agent)
                && l.path.ends_with("/announce")
                && naive_param(&l.query, "event").as_deref() == Some(event.as_bytes())
        })
        .unwrap_or_else(|| panic!("no {agent} {event} line"));
    parse_announce(line.query.as_bytes()).unwrap()
}

#[test]
fn every_fixture_line_parses() {
    let lines = fixture_lines();
    assert!(lines.len() >= 20, "fixture has {} lines", lines.len());
    for line in &lines {
        let q = &line.query;
        if line.path.ends_with("/scrape") {
            assert_eq!(
                parse_scrape(q.as_bytes(), 64).unwrap(),
                vec![FIXTURE_HASH],
                "{}",
                line.agent
            );
            continue;
        }
        assert!(line.path.ends_with("/announce"), "{}", line.path);
        let r = parse_announce(q.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", line.agent));
        assert_eq!(r.info_hash, FIXTURE_HASH, "{}", line.agent);
        assert_eq!(
            r.peer_id.to_vec(),
            naive_param(q, "peer_id").unwrap(),
            "{}",
            line.agent
        );
        assert_eq!(u64::from(r.port), naive_number(q, "port"), "{}", line.agent);
        assert_eq!(r.left, naive_number(q, "left"), "{}", line.agent);
        let event = match naive_param(q, "event").as_deref() {
            None => Event::None,
            Some(b"started") => Event::Started,
            Some(b"stopped") => Event::Stopped,
            Some(b"completed") => Event::Completed,
            Some(other) => panic!("unexpected event {other:?} in fixture"),
        };
        assert_eq!(r.event, event, "{}", line.agent);
        assert!(r.compact, "{}", line.agent);
    }
}

#[test]
fn aria2_raw_byte_peer_id_and_key() {
    let r = announce_of("aria2", "started");
    let mut peer_id = b"A2-1-36-0-".to_vec();
    peer_id.extend_from_slice(&[0x5c, 0xd3, b'y', 0xd2, 0xea, b'D', 0x86, 0x9a, b'w', 0x9f]);
    assert_eq!(r.peer_id.to_vec(), peer_id);
    assert_eq!(
        r.key,
        Some(key_hash(&[b'y', 0xd2, 0xea, b'D', 0x86, 0x9a, b'w', 0x9f]))
    );
    assert_eq!((r.port, r.left, r.numwant), (6891, 0, Some(50)));
    assert!(r.no_peer_id);
}

#[test]
fn ctorrent_escapes_dashes() {
    let r = announce_of("Enhanced-CTorrent", "started");
    let mut peer_id = b"-CD0303-".to_vec();
    peer_id.extend_from_slice(&[0x12, 0xaa, 0xe3, 0x87, 0x9c, 0x8d, b'C', b'x', 0x9c, b'Y']);
    peer_id.extend_from_slice(&[0xf7, 0x14]);
    assert_eq!(r.peer_id.to_vec(), peer_id);
    assert_eq!(r.key, Some(key_hash(b"A6TVB9I8")));
    assert_eq!((r.port, r.left, r.numwant), (6897, 1_048_576, Some(100)));
    assert!(!r.no_peer_id);
}

#[test]
fn transmission_lower_case_hex() {
    let r = announce_of("Transmission/3.00", "started");
    assert_eq!(&r.peer_id, b"-TR3000-0qf3wu14q2jm");
    assert_eq!(r.key, Some(key_hash(b"77e22587")));
    assert_eq!((r.port, r.left, r.numwant), (6893, 1_048_576, Some(80)));
    let r = announce_of("Transmission/3.00", "completed");
    assert_eq!(
        (r.downloaded, r.left, r.event),
        (1_048_576, 0, Event::Completed)
    );
}

#[test]
fn rtorrent_sends_no_numwant() {
    let r = announce_of("rtorrent", "started");
    let mut peer_id = b"-lt0D80-yH:".to_vec();
    peer_id.extend_from_slice(&[0x88, 0xcf, 0xac, 0x8b, b']', 0xc1, 0x9d, b'l', b'L']);
    assert_eq!(r.peer_id.to_vec(), peer_id);
    assert_eq!(r.numwant, None);
    assert_eq!(r.key, Some(key_hash(b"43f42d33")));
    assert_eq!((r.port, r.left), (6896, 1_048_576));
}

#[test]
fn libtorrent_announce_ip() {
    let r = announce_of("libtorrent/2.0.8.0 (announce_ip set)", "started");
    assert_eq!(r.ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(&r.peer_id, b"-LT2080-9nNpt!lg1FKE");
    assert_eq!((r.port, r.numwant), (6895, Some(200)));
    assert!(r.no_peer_id);
    assert_eq!(announce_of("python-libtorrent", "started").ip, None);
}

#[test]
fn node_client_parameter_order() {
    let r = announce_of("bittorrent-tracker", "started");
    assert_eq!(&r.peer_id, b"-WW0001-abcdefghijkl");
    assert_eq!(
        (r.port, r.left, r.numwant, r.key),
        (6902, 16_384, Some(50), None)
    );
}

#[test]
fn qbittorrent_literal_bang_and_stopped() {
    let r = announce_of("qBittorrent", "stopped");
    assert_eq!(&r.peer_id, b"-qB4520-!EYzUIYz4!gq");
    assert_eq!(
        (r.uploaded, r.numwant, r.event),
        (5_242_880, Some(0), Event::Stopped)
    );
}

const VALID: &str = "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=6881&left=0";

fn with(replace: &str, by: &str) -> String {
    assert!(VALID.contains(replace), "{replace}");
    VALID.replacen(replace, by, 1)
}

#[test]
fn invalid_announces_name_the_problem() {
    let unknown_event = |v: &str| {
        format!("unknown event \"{v}\" (expected started, stopped, completed, paused or empty)")
    };
    let cases: Vec<(String, String)> = vec![
        ("".into(), "missing info_hash".into()),
        (
            with("info_hash=aaaaaaaaaaaaaaaaaaaa&", ""),
            "missing info_hash".into(),
        ),
        (
            with("&peer_id=bbbbbbbbbbbbbbbbbbbb", ""),
            "missing peer_id".into(),
        ),
        (with("&port=6881", ""), "missing port".into()),
        (with("&left=0", ""), "missing left".into()),
        (
            with("aaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaa"),
            "info_hash must be 20 bytes, got 19".into(),
        ),
        (
            with("aaaaaaaaaaaaaaaaaaaa", ""),
            "info_hash must be 20 bytes, got 0".into(),
        ),
        (
            with("aaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaa%41%42%43"),
            "info_hash must be 20 bytes, got 21".into(),
        ),
        (
            with("bbbbbbbbbbbbbbbbbbbb", "bbbbbbbbbbbbbbbbbbbbb"),
            "peer_id must be 20 bytes, got 21".into(),
        ),
        (
            with("bbbbbbbbbbbbbbbbbbbb", "bbbbbbbbbbbbbbbbbbb%G1"),
            "invalid percent-encoding in peer_id".into(),
        ),
        (
            with("aaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaa%4"),
            "invalid percent-encoding in info_hash".into(),
        ),
        (
            with("port=6881", "port=65536"),
            "port must be a number from 0 to 65535".into(),
        ),
        (
            with("port=6881", "port=-1"),
            "port must be a number from 0 to 65535".into(),
        ),
        (
            with("port=6881", "port=68a1"),
            "port must be a number from 0 to 65535".into(),
        ),
        (
            with("port=6881", "port="),
            "port must be a number from 0 to 65535".into(),
        ),
        (
            with("port=6881", "port=%3"),
            "invalid percent-encoding in port".into(),
        ),
        (
            with("left=0", "left=-1"),
            "left must be a non-negative integer".into(),
        ),
        (
            with("left=0", "left=+1"),
            "left must be a non-negative integer".into(),
        ),
        (
            with("left=0", "left=1%20"),
            "left must be a non-negative integer".into(),
        ),
        (
            with("left=0", "left="),
            "left must be a non-negative integer".into(),
        ),
        (
            format!("{VALID}&uploaded=1.5"),
            "uploaded must be a non-negative integer".into(),
        ),
        (
            format!("{VALID}&downloaded=18446744073709551616"),
            "downloaded must be at most 18446744073709551615".into(),
        ),
        (format!("{VALID}&event=foo"), unknown_event("foo")),
        (format!("{VALID}&event=Started"), unknown_event("Started")),
        (format!("{VALID}&event=%22%0A"), unknown_event("\\\"\\n")),
        (
            format!("{VALID}&event=%zz"),
            "invalid percent-encoding in event".into(),
        ),
        (
            format!("{VALID}&numwant=lots"),
            "numwant must be an integer".into(),
        ),
        (
            format!("{VALID}&numwant=1e3"),
            "numwant must be an integer".into(),
        ),
        (
            format!("{VALID}&key=%4"),
            "invalid percent-encoding in key".into(),
        ),
        (
            format!("{VALID}&ip=%%"),
            "invalid percent-encoding in ip".into(),
        ),
        (
            format!("{VALID}&compact=%x0"),
            "invalid percent-encoding in compact".into(),
        ),
        (
            format!("{VALID}&x={}", "y".repeat(9000 - VALID.len() - 3)),
            "query too long: 9000 bytes (limit 8192)".into(),
        ),
        // The first bad parameter in query order is the one reported.
        (
            format!("port=65536&{VALID}"),
            "port must be a number from 0 to 65535".into(),
        ),
    ];
    for (query, reason) in cases {
        let err = parse_announce(query.as_bytes()).expect_err(&query);
        assert_eq!(err.to_string(), reason, "query {query:?}");
    }
}

#[test]
fn tolerated_announce_oddities() {
    // Duplicates after a valid first value, unknown parameters with bad escapes, a negative
    // numwant, escaped names and a literal plus: none of these is an error.
    let q = format!("{VALID}&port=0&left=x&junk=%zz&numwant=-1&%6Eo_peer_id=1&key=a+b");
    let r = parse_announce(q.as_bytes()).unwrap();
    assert_eq!((r.port, r.left, r.numwant), (6881, 0, None));
    assert!(r.no_peer_id);
    assert_eq!(r.key, Some(key_hash(b"a+b")));
}

#[test]
fn invalid_scrapes_name_the_problem() {
    let hash = "info_hash=aaaaaaaaaaaaaaaaaaaa";
    let many = vec![hash; 80].join("&");
    let cases: Vec<(String, usize, &str)> = vec![
        (many, 64, "too many info_hash values: 80 (limit 64)"),
        (
            "info_hash=aaaaaaaaaaaaaaaaaaa".into(),
            64,
            "info_hash must be 20 bytes, got 19",
        ),
        (
            "info_hash=aaaaaaaaaaaaaaaaaaa%".into(),
            64,
            "invalid percent-encoding in info_hash",
        ),
        (
            format!("{hash}&x={}", "y".repeat(9000 - hash.len() - 3)),
            64,
            "query too long: 9000 bytes (limit 8192)",
        ),
    ];
    for (query, max, reason) in cases {
        let err = parse_scrape(query.as_bytes(), max).expect_err(&query);
        assert_eq!(err.to_string(), reason, "query {query:?}");
    }
}
