//! Property tests of the hand-written encoders against the reference: `serde_bencode` applied to
//! plain serde structs (byte strings through `serde_bytes`) that spell out what BEP 3, 7, 23, 24
//! and 48 say the response contains, and BEP 31's `retry in` in failures. serde_bencode sorts dictionary keys itself, so key order is
//! checked too. Every encoder must append to, not replace, what is already in the buffer.

use proptest::collection::vec;
use proptest::prelude::*;
use retracker::protocol::announce::{encode_announce, AnnounceResponse, ResponsePeer};
use retracker::protocol::scrape::{encode_scrape, ScrapeEntry};
use retracker::protocol::{encode_failure, RetryIn};
use serde::Serialize;
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Serialize)]
struct RefAnnounce {
    complete: u32,
    downloaded: u64,
    #[serde(rename = "external ip", skip_serializing_if = "Option::is_none")]
    external_ip: Option<ByteBuf>,
    incomplete: u32,
    interval: u32,
    #[serde(rename = "min interval")]
    min_interval: u32,
    peers: RefPeers,
    #[serde(skip_serializing_if = "Option::is_none")]
    peers6: Option<ByteBuf>,
    #[serde(rename = "tracker id", skip_serializing_if = "Option::is_none")]
    tracker_id: Option<ByteBuf>,
    #[serde(rename = "warning message", skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

#[derive(Serialize)]
struct RefFailure {
    #[serde(rename = "failure reason")]
    reason: String,
    #[serde(rename = "retry in", skip_serializing_if = "Option::is_none")]
    retry_in: Option<RefRetryIn>,
}

/// BEP 31: an integer of minutes, or the string `never`.
#[derive(Serialize)]
#[serde(untagged)]
enum RefRetryIn {
    Minutes(u32),
    Never(&'static str),
}

#[derive(Serialize)]
#[serde(untagged)]
enum RefPeers {
    Compact(ByteBuf),
    List(Vec<RefPeer>),
}

#[derive(Serialize)]
struct RefPeer {
    ip: String,
    #[serde(rename = "peer id", skip_serializing_if = "Option::is_none")]
    peer_id: Option<ByteBuf>,
    port: u16,
}

#[derive(Serialize)]
struct RefScrape {
    files: BTreeMap<ByteBuf, RefFile>,
}

#[derive(Serialize)]
struct RefFile {
    complete: u32,
    downloaded: u64,
    incomplete: u32,
}

/// The address as its family: BEP 7/23 put `::ffff:a.b.c.d` with the IPv4 peers.
fn family(ip: IpAddr) -> Result<Ipv4Addr, Ipv6Addr> {
    match ip {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().ok_or(v6),
    }
}

fn reference_announce(r: &AnnounceResponse<'_>) -> Vec<u8> {
    let (peers, peers6) = if r.compact {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for p in r.peers {
            match family(p.ip) {
                Ok(a) => v4.extend(a.octets().into_iter().chain(p.port.to_be_bytes())),
                Err(a) => v6.extend(a.octets().into_iter().chain(p.port.to_be_bytes())),
            }
        }
        // Empty `peers6` too for a requester that came over IPv6 (BEP 7).
        let v6 = (!v6.is_empty() || r.peers6_key).then(|| ByteBuf::from(v6));
        (RefPeers::Compact(ByteBuf::from(v4)), v6)
    } else {
        let list = r
            .peers
            .iter()
            .map(|p| RefPeer {
                ip: match family(p.ip) {
                    Ok(a) => a.to_string(),
                    Err(a) => a.to_string(),
                },
                peer_id: (!r.no_peer_id).then(|| ByteBuf::from(p.peer_id.to_vec())),
                port: p.port,
            })
            .collect();
        (RefPeers::List(list), None)
    };
    let reference = RefAnnounce {
        complete: r.complete,
        downloaded: r.downloaded,
        external_ip: r.external_ip.map(|ip| {
            ByteBuf::from(match family(ip) {
                Ok(a) => a.octets().to_vec(),
                Err(a) => a.octets().to_vec(),
            })
        }),
        incomplete: r.incomplete,
        interval: r.interval,
        min_interval: r.min_interval,
        peers,
        peers6,
        tracker_id: r.tracker_id.map(|id| ByteBuf::from(id.to_vec())),
        warning: r.warning.map(str::to_owned),
    };
    serde_bencode::to_bytes(&reference).unwrap()
}

fn reference_scrape(files: &[ScrapeEntry]) -> Vec<u8> {
    let mut map = BTreeMap::new();
    for f in files {
        map.entry(ByteBuf::from(f.info_hash.to_vec()))
            .or_insert(RefFile {
                complete: f.complete,
                downloaded: f.downloaded,
                incomplete: f.incomplete,
            });
    }
    serde_bencode::to_bytes(&RefScrape { files: map }).unwrap()
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(IpAddr::V4),
        any::<Ipv6Addr>().prop_map(IpAddr::V6),
        any::<Ipv4Addr>().prop_map(|a| IpAddr::V6(a.to_ipv6_mapped())),
        Just(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    ]
}

fn any_peer() -> impl Strategy<Value = ResponsePeer> {
    (any_ip(), any::<u16>(), any::<[u8; 20]>()).prop_map(|(ip, port, peer_id)| ResponsePeer {
        ip,
        port,
        peer_id,
    })
}

/// Hashes from a tiny alphabet half of the time, so that duplicates and ties are common.
fn any_hash() -> impl Strategy<Value = [u8; 20]> {
    prop_oneof![any::<[u8; 20]>(), (0u8..4).prop_map(|b| [b; 20])]
}

fn any_entry() -> impl Strategy<Value = ScrapeEntry> {
    (any_hash(), any::<u32>(), any::<u32>(), any::<u64>()).prop_map(
        |(info_hash, complete, incomplete, downloaded)| ScrapeEntry {
            info_hash,
            complete,
            incomplete,
            downloaded,
        },
    )
}

proptest! {
    #[test]
    fn announce_matches_serde_bencode(
        counts in any::<(u32, u32, u32, u32, u64)>(),
        peers in vec(any_peer(), 0..24),
        external_ip in proptest::option::of(any_ip()),
        warning in proptest::option::of(".{0,40}"),
        tracker_id in proptest::option::of(vec(any::<u8>(), 0..24)),
        compact in any::<bool>(),
        no_peer_id in any::<bool>(),
        peers6_key in any::<bool>(),
        prefix in vec(any::<u8>(), 0..8),
    ) {
        let (interval, min_interval, complete, incomplete, downloaded) = counts;
        let resp = AnnounceResponse {
            interval,
            min_interval,
            complete,
            incomplete,
            downloaded,
            peers: &peers,
            external_ip,
            warning: warning.as_deref(),
            tracker_id: tracker_id.as_deref(),
            compact,
            no_peer_id,
            peers6_key,
        };
        let mut out = prefix.clone();
        encode_announce(&resp, &mut out);
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &reference_announce(&resp)[..]);
    }

    #[test]
    fn failure_matches_serde_bencode(
        reason in ".{0,60}",
        retry_in in proptest::option::of(prop_oneof![
            any::<u32>().prop_map(RetryIn::Minutes),
            Just(RetryIn::Never),
        ]),
        prefix in vec(any::<u8>(), 0..8),
    ) {
        let mut out = prefix.clone();
        encode_failure(&reason, retry_in, &mut out);
        let reference = RefFailure {
            reason: reason.clone(),
            retry_in: retry_in.map(|r| match r {
                RetryIn::Minutes(m) => RefRetryIn::Minutes(m),
                RetryIn::Never => RefRetryIn::Never("never"),
            }),
        };
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &serde_bencode::to_bytes(&reference).unwrap()[..]);
    }

    #[test]
    fn scrape_matches_serde_bencode(
        files in vec(any_entry(), 0..24),
        sort_first in any::<bool>(),
        prefix in vec(any::<u8>(), 0..8),
    ) {
        let mut files = files;
        if sort_first {
            // Exercise the already-sorted fast path as well.
            files.sort_by_key(|f| f.info_hash);
            files.dedup_by_key(|f| f.info_hash);
        }
        let mut out = prefix.clone();
        encode_scrape(&files, &mut out);
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &reference_scrape(&files)[..]);
    }
}
