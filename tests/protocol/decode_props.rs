//! Property tests of the decoders: percent-decoding round-trips whatever mix of literal,
//! upper-case and lower-case escapes a client chooses; a whole announce survives encoding in any
//! parameter order; and no input, however malformed, makes a parser panic.

use proptest::collection::vec;
use proptest::prelude::*;
use retracker::protocol::announce::{key_hash, parse_announce, AnnounceRequest, Event};
use retracker::protocol::query::percent_decode;
use retracker::protocol::scrape::parse_scrape;

/// How one byte is written in a query.
#[derive(Clone, Copy, Debug)]
enum Escape {
    Literal,
    Upper,
    Lower,
}

fn escapes() -> impl Strategy<Value = Vec<Escape>> {
    vec(
        prop_oneof![
            Just(Escape::Literal),
            Just(Escape::Upper),
            Just(Escape::Lower)
        ],
        64,
    )
}

/// Writes `bytes` as a query value; `%` and `&` are always escaped since they cannot be literal.
fn encode(bytes: &[u8], how: &[Escape]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match how[i % how.len()] {
            Escape::Literal if b != b'%' && b != b'&' => out.push(b),
            Escape::Lower => out.extend_from_slice(format!("%{b:02x}").as_bytes()),
            _ => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
        }
    }
    out
}

fn event_name(e: Event) -> &'static str {
    match e {
        Event::None => "",
        Event::Started => "started",
        Event::Stopped => "stopped",
        Event::Completed => "completed",
        Event::Paused => "paused",
    }
}

fn any_event() -> impl Strategy<Value = Option<Event>> {
    proptest::option::of(prop_oneof![
        Just(Event::None),
        Just(Event::Started),
        Just(Event::Stopped),
        Just(Event::Completed),
        Just(Event::Paused),
    ])
}

fn hex_digit() -> impl Strategy<Value = u8> {
    proptest::sample::select(b"0123456789abcdefABCDEF".to_vec())
}

fn non_hex() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("not a hex digit", |b| !b.is_ascii_hexdigit())
}

/// Fragments that steer random queries into the parser's deeper branches.
const TOKENS: &[&str] = &[
    "info_hash=",
    "peer_id=",
    "port=",
    "left=",
    "uploaded=",
    "downloaded=",
    "event=",
    "numwant=",
    "key=",
    "ip=",
    "compact=",
    "no_peer_id=",
    "&",
    "=",
    "%",
    "%4",
    "%41",
    "%zz",
    "%FF",
    "-",
    "+",
    "0",
    "1",
    "65535",
    "99999999999999999999999",
    "aaaaaaaaaaaaaaaaaaaa",
    "started",
    "%2D",
];

proptest! {
    #[test]
    fn percent_decoding_round_trips(bytes in vec(any::<u8>(), 0..64), how in escapes()) {
        let encoded = encode(&bytes, &how);
        prop_assert_eq!(percent_decode(&encoded).unwrap().into_owned(), bytes);
    }

    #[test]
    fn bad_escapes_are_rejected(
        before in vec(any::<u8>(), 0..16),
        after in vec(any::<u8>(), 0..16),
        how in escapes(),
        (bad, may_continue) in prop_oneof![
            // `%` or `%4` at the very end.
            Just((Vec::new(), false)),
            hex_digit().prop_map(|h| (vec![h], false)),
            // `%G` or `%4G`, which nothing after them can repair.
            non_hex().prop_map(|b| (vec![b], true)),
            (hex_digit(), non_hex()).prop_map(|(h, b)| (vec![h, b], true)),
        ],
    ) {
        let mut q = encode(&before, &how);
        q.push(b'%');
        q.extend_from_slice(&bad);
        if may_continue {
            q.extend_from_slice(&encode(&after, &how));
        }
        prop_assert!(percent_decode(&q).is_err(), "{:?}", q);
    }

    #[test]
    fn announces_round_trip_in_any_order(
        info_hash in any::<[u8; 20]>(),
        peer_id in any::<[u8; 20]>(),
        port in 1u16..,
        left in any::<u64>(),
        uploaded in proptest::option::of(any::<u64>()),
        downloaded in proptest::option::of(any::<u64>()),
        event in any_event(),
        numwant in proptest::option::of(any::<u32>()),
        key in proptest::option::of(vec(any::<u8>(), 1..16)),
        ip in proptest::option::of(any::<std::net::Ipv4Addr>()),
        compact in proptest::option::of(any::<bool>()),
        no_peer_id in proptest::option::of(any::<bool>()),
        how in escapes(),
        order in vec(any::<u32>(), 16),
    ) {
        let mut params: Vec<Vec<u8>> = vec![
            [b"info_hash=".to_vec(), encode(&info_hash, &how)].concat(),
            [b"peer_id=".to_vec(), encode(&peer_id, &how)].concat(),
            format!("port={port}").into_bytes(),
            format!("left={left}").into_bytes(),
            b"supportcrypto=1".to_vec(),
            b"junk=%zz".to_vec(),
        ];
        params.extend(uploaded.map(|v| format!("uploaded={v}").into_bytes()));
        params.extend(downloaded.map(|v| format!("downloaded={v}").into_bytes()));
        params.extend(event.map(|e| format!("event={}", event_name(e)).into_bytes()));
        params.extend(numwant.map(|v| format!("numwant={v}").into_bytes()));
        params.extend(key.as_ref().map(|k| [b"key=".to_vec(), encode(k, &how)].concat()));
        params.extend(ip.map(|a| format!("ip={a}").into_bytes()));
        params.extend(compact.map(|c| format!("compact={}", u8::from(c)).into_bytes()));
        params.extend(no_peer_id.map(|n| format!("no_peer_id={}", u8::from(n)).into_bytes()));
        let mut keyed: Vec<_> = params.into_iter().zip(order).collect();
        keyed.sort_by_key(|(_, k)| *k);
        let query = keyed.into_iter().map(|(p, _)| p).collect::<Vec<_>>().join(&b'&');

        let expected = AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: uploaded.unwrap_or(0),
            downloaded: downloaded.unwrap_or(0),
            left,
            event: event.unwrap_or(Event::None),
            compact: compact.unwrap_or(true),
            no_peer_id: no_peer_id.unwrap_or(false),
            numwant,
            key: key.as_deref().map(key_hash),
            ip: ip.map(|a| a.to_string()),
        };
        prop_assert_eq!(parse_announce(&query), Ok(expected));
    }

    #[test]
    fn parse_announce_never_panics(bytes in vec(any::<u8>(), 0..1024)) {
        let _ = parse_announce(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(
        tokens in vec(proptest::sample::select(TOKENS), 0..48),
        max_hashes in 0usize..4,
    ) {
        let query = tokens.concat();
        let _ = parse_announce(query.as_bytes());
        let _ = parse_scrape(query.as_bytes(), max_hashes);
    }

    #[test]
    fn parse_scrape_never_panics(bytes in vec(any::<u8>(), 0..1024), max_hashes in 0usize..100) {
        let _ = parse_scrape(&bytes, max_hashes);
    }
}
