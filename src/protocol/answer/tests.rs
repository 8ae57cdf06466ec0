//! Tests of `answer`: the decoders read back what the tracker's own encoders write
//! (`announce::encode_announce`, `scrape::encode_scrape`, `encode_failure`), for any values.

use super::*;
use crate::protocol::announce::{encode_announce, AnnounceResponse, ResponsePeer};
use crate::protocol::encode_failure;
use crate::protocol::scrape::{encode_scrape, ScrapeEntry};
use proptest::prelude::*;

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(b.into())),
        // Not IPv4-mapped: the encoder sends those as IPv4, which `expected_peers` checks apart.
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(b.into())),
    ]
}

fn any_peer() -> impl Strategy<Value = ResponsePeer> {
    (any_ip(), any::<u16>(), any::<[u8; 20]>()).prop_map(|(ip, port, peer_id)| ResponsePeer {
        ip,
        port,
        peer_id,
    })
}

/// What a client should read back: compact lists put IPv4 peers (`peers`) before IPv6 ones
/// (`peers6`); the dictionary form keeps the order and carries the peer ids.
fn expected_peers(peers: &[ResponsePeer], compact: bool, no_peer_id: bool) -> Vec<Peer> {
    let peer = |p: &ResponsePeer| Peer {
        ip: p.ip.to_canonical(),
        port: p.port,
        peer_id: (!compact && !no_peer_id).then(|| p.peer_id.to_vec()),
    };
    if compact {
        let v4 = peers.iter().filter(|p| p.ip.to_canonical().is_ipv4());
        let v6 = peers.iter().filter(|p| !p.ip.to_canonical().is_ipv4());
        v4.chain(v6).map(peer).collect()
    } else {
        peers.iter().map(peer).collect()
    }
}

proptest! {
    #[test]
    fn announce_answers_read_back(
        interval: u32, min_interval: u32, complete: u32, incomplete: u32,
        downloaded in 0..=i64::MAX as u64,
        peers in proptest::collection::vec(any_peer(), 0..12),
        external_ip in proptest::option::of(any_ip()),
        warning in proptest::option::of("[ -~]{0,40}"),
        tracker_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
        compact: bool, no_peer_id: bool, peers6_key: bool,
    ) {
        let mut out = Vec::new();
        encode_announce(&AnnounceResponse {
            interval, min_interval, complete, incomplete, downloaded,
            peers: &peers, external_ip, warning: warning.as_deref(),
            tracker_id: tracker_id.as_deref(), compact, no_peer_id, peers6_key,
        }, &mut out);
        let Answer::Success(a) = decode_announce(&out).unwrap() else { panic!("a failure") };
        let v4_count = peers.iter().filter(|p| p.ip.to_canonical().is_ipv4()).count();
        prop_assert_eq!(a, AnnounceAnswer {
            interval: interval.into(),
            min_interval: Some(min_interval.into()),
            complete: Some(complete.into()),
            incomplete: Some(incomplete.into()),
            downloaded: Some(downloaded as i64),
            peers: expected_peers(&peers, compact, no_peer_id),
            // The encoder always writes a compact `peers`, and `peers6` for IPv6 peers or, even
            // empty, when asked to (an IPv6 requester).
            compact_peers: if compact { v4_count } else { 0 },
            peers6_key: compact && (peers6_key || v4_count < peers.len()),
            external_ip: external_ip.map(|ip| ip.to_canonical()),
            warning,
            tracker_id,
        });
    }

    #[test]
    fn scrape_answers_read_back(
        entries in proptest::collection::btree_map(
            any::<[u8; 20]>(), (any::<u32>(), any::<u32>(), 0..=i64::MAX as u64), 0..10),
    ) {
        let entries: Vec<ScrapeEntry> = entries.into_iter()
            .map(|(info_hash, (complete, incomplete, downloaded))| ScrapeEntry {
                info_hash, complete, incomplete, downloaded,
            })
            .collect();
        let mut out = Vec::new();
        encode_scrape(&entries, &mut out);
        let Answer::Success(s) = decode_scrape(&out).unwrap() else { panic!("a failure") };
        prop_assert_eq!(s.min_request_interval, None);
        let read: Vec<_> = s.files.iter()
            .map(|f| (f.info_hash, f.complete, f.incomplete, f.downloaded, f.name.clone()))
            .collect();
        let want: Vec<_> = entries.iter()
            .map(|e| (e.info_hash, Some(e.complete.into()), Some(e.incomplete.into()),
                      Some(e.downloaded as i64), None))
            .collect();
        prop_assert_eq!(read, want);
    }

    #[test]
    fn failures_read_back(reason in "[ -~]{0,60}", retry in proptest::option::of(
        prop_oneof![any::<u32>().prop_map(RetryIn::Minutes), Just(RetryIn::Never)])) {
        let mut out = Vec::new();
        encode_failure(&reason, retry, &mut out);
        let want = Failure { reason, retry_in: retry };
        prop_assert_eq!(decode_announce(&out).unwrap(), Answer::Failure(want.clone()));
        prop_assert_eq!(decode_scrape(&out).unwrap(), Answer::Failure(want));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_announce(&body);
        let _ = decode_scrape(&body);
    }
}

#[test]
fn scrape_flags_and_names() {
    let body = b"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei5e10:downloadedi50e10:incompletei10e4:name3:fooee5:flagsd20:min_request_intervali3600eee";
    let Answer::Success(s) = decode_scrape(body).unwrap() else {
        panic!()
    };
    assert_eq!(s.min_request_interval, Some(3600));
    assert_eq!(s.files[0].name.as_deref(), Some("foo"));
    assert_eq!(s.files[0].complete, Some(5));
}

#[test]
fn unusable_answers_name_the_key() {
    let cases: [(&[u8], &str); 9] = [
        (b"<html>502 Bad Gateway</html>", "not valid bencode"),
        (b"d8:intervali1800e5:peers", "not valid bencode"),
        (b"li1ee", "not a bencoded dictionary"),
        (b"d5:peers0:e", "no \"interval\""),
        (b"d8:interval3:abce", "\"interval\" is not an integer"),
        (
            b"d8:intervali1e5:peers5:abcdee",
            "\"peers\" is not a multiple of 6 bytes",
        ),
        (
            b"d8:intervali1e6:peers64:abcde",
            "\"peers6\" is not a multiple of 18 bytes",
        ),
        (
            b"d11:external ip3:abc8:intervali1ee",
            "\"external ip\" is not 4 or 16 bytes",
        ),
        (
            b"d8:intervali1e5:peersld2:ip5:nope!4:porti1eeee",
            "IP address in \"ip\"",
        ),
    ];
    for (body, want) in cases {
        let e = decode_announce(body).unwrap_err().to_string();
        assert!(
            e.contains(want),
            "{e} for {}",
            String::from_utf8_lossy(body)
        );
    }
    let e = decode_scrape(b"d5:filesd3:abcd8:completei1eeee").unwrap_err();
    assert!(e.to_string().contains("20-byte"), "{e}");
    let e = decode_scrape(b"de").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no \"files\" and no \"failure reason\" in the answer"
    );
}
