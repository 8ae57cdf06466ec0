//! The HTTP announce and scrape query parsers (`protocol::announce::parse_announce`,
//! `protocol::scrape::parse_scrape`) on raw query bytes.
//!
//! Never a panic. An accepted announce holds exactly what a naive, independent reading of the
//! query finds in the first `info_hash`, `peer_id`, `port` and `left` parameters, and written
//! back as a canonical query it parses to the same request. An accepted scrape holds, sorted
//! and once each, the hashes of the query's `info_hash` parameters. A refusal becomes a bencoded
//! `failure reason` that serde_bencode reads back, short enough that hostile input is not
//! echoed whole. A flag parameter (`?gc`) is found exactly where the naive reading finds it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker_fuzz::protocol::announce::{parse_announce, AnnounceRequest, Event};
use retracker_fuzz::protocol::query::{query_has_key, MAX_QUERY_BYTES};
use retracker_fuzz::protocol::scrape::parse_scrape;
use retracker_fuzz::protocol::{encode_failure, ProtocolError};
use serde::Deserialize;

/// Scrape limit as configured by default (`[TRACKER] max_scrape_hashes`).
const MAX_HASHES: usize = 64;
/// Longest `failure reason` any query may produce: the parser cuts echoed values to 64
/// characters, each at most 10 bytes once debug-escaped (`\u{10ffff}`).
const MAX_REASON_BYTES: usize = 1024;

fuzz_target!(|data: &[u8]| {
    match parse_announce(data) {
        Ok(request) => check_announce(data, &request),
        Err(error) => check_failure(&error),
    }
    match parse_scrape(data, MAX_HASHES) {
        Ok(hashes) => check_scrape(data, &hashes),
        Err(error) => check_failure(&error),
    }
    // The `run_gc_key` flag: present, with or without a value, under its decoded name.
    assert_eq!(
        query_has_key(data, b"gc"),
        !naive_all(data, "gc").is_empty()
    );
});

fn check_announce(query: &[u8], r: &AnnounceRequest) {
    assert!(query.len() <= MAX_QUERY_BYTES);
    assert_eq!(naive(query, "info_hash").as_deref(), Some(&r.info_hash[..]));
    assert_eq!(naive(query, "peer_id").as_deref(), Some(&r.peer_id[..]));
    let port = naive(query, "port").expect("an accepted announce has a port");
    assert_eq!(decimal(&port), Some(u64::from(r.port)));
    let left = naive(query, "left").expect("an accepted announce has left");
    assert_eq!(decimal(&left), Some(r.left));

    let again = parse_announce(&canonical(r)).expect("a canonical query parses");
    assert_eq!(
        AnnounceRequest {
            key: r.key,
            ..again
        },
        *r
    );
}

fn check_scrape(query: &[u8], hashes: &[[u8; 20]]) {
    assert!(hashes.len() <= MAX_HASHES);
    assert!(hashes.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
    let mut expected: Vec<Vec<u8>> = naive_all(query, "info_hash")
        .into_iter()
        .map(|v| v.expect("an accepted scrape has no bad escape"))
        .collect();
    expected.sort();
    expected.dedup();
    let got: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_vec()).collect();
    assert_eq!(got, expected);
}

#[derive(Deserialize)]
struct Failure {
    #[serde(rename = "failure reason", with = "serde_bytes")]
    reason: Vec<u8>,
}

fn check_failure(error: &ProtocolError) {
    let reason = error.to_string();
    assert!(reason.len() <= MAX_REASON_BYTES, "{reason}");
    let mut out = Vec::new();
    encode_failure(&reason, None, &mut out);
    let decoded: Failure = serde_bencode::from_bytes(&out).expect("failure is bencode");
    assert_eq!(decoded.reason, reason.as_bytes());
}

/// Decodes `%XX` (either case); `None` for a `%` without two hex digits after it.
fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Decoded values of every parameter whose decoded name is `name`, in query order (`None` for
/// a value with a bad escape).
fn naive_all(query: &[u8], name: &str) -> Vec<Option<Vec<u8>>> {
    query
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| {
            let (key, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            (unescape(key)? == name.as_bytes()).then(|| unescape(value))
        })
        .collect()
}

/// The decoded value of the first parameter named `name`.
fn naive(query: &[u8], name: &str) -> Option<Vec<u8>> {
    naive_all(query, name).into_iter().next().flatten()
}

fn decimal(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `r` as the query a careful client would send: every byte of the ids escaped.
fn canonical(r: &AnnounceRequest) -> Vec<u8> {
    let escape = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("%{b:02X}")).collect() };
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact={}&no_peer_id={}",
        escape(&r.info_hash),
        escape(&r.peer_id),
        r.port,
        r.uploaded,
        r.downloaded,
        r.left,
        u8::from(r.compact),
        u8::from(r.no_peer_id),
    );
    let event = match r.event {
        Event::None => "",
        Event::Started => "started",
        Event::Stopped => "stopped",
        Event::Completed => "completed",
        Event::Paused => "paused",
    };
    q.push_str(&format!("&event={event}"));
    if let Some(n) = r.numwant {
        q.push_str(&format!("&numwant={n}"));
    }
    if let Some(ip) = &r.ip {
        q.push_str(&format!("&ip={}", escape(ip.as_bytes())));
    }
    q.into_bytes()
}
