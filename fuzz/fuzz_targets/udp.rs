//! The BEP 15 packet parser (`protocol::udp::parse_request`) on raw datagrams, and the replies
//! the tracker would send for what it parsed.
//!
//! Never a panic. A parsed request holds the packet's own bytes at the offsets BEP 15 gives;
//! its reply has the length BEP 15 gives (the peers taken from the packet's tail, as many as
//! fit one 1500-byte datagram). A refused packet carries its transaction id exactly when it is
//! long enough to hold one, and an error reply fed back to the parser is never answered (no
//! reflection loop between two trackers).

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker_fuzz::protocol::announce::{encode_announce, AnnounceResponse, ResponsePeer};
use retracker_fuzz::protocol::scrape::ScrapeEntry;
use retracker_fuzz::protocol::udp::{self, Family, Request, UdpError, HEADER_LEN};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    match udp::parse_request(data) {
        Ok(request) => check_request(data, &request),
        Err(error) => check_error(data, &error),
    }
});

fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(data[at..at + 4].try_into().unwrap())
}

fn be64(data: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(data[at..at + 8].try_into().unwrap())
}

fn check_request(data: &[u8], request: &Request) {
    assert!(data.len() >= HEADER_LEN);
    let mut out = Vec::new();
    match request {
        Request::Connect { transaction_id } => {
            assert_eq!(be64(data, 0), udp::PROTOCOL_ID);
            assert_eq!(be32(data, 8), udp::ACTION_CONNECT);
            assert_eq!(*transaction_id, be32(data, 12));
            udp::encode_connect(*transaction_id, 0x0123_4567_89ab_cdef, &mut out);
            assert_eq!(out.len(), 16);
            assert_eq!(be32(&out, 4), *transaction_id);
        }
        Request::Announce(a) => {
            assert!(data.len() >= udp::ANNOUNCE_LEN);
            assert_eq!(be32(data, 8), udp::ACTION_ANNOUNCE);
            assert_eq!(
                (a.connection_id, a.transaction_id),
                (be64(data, 0), be32(data, 12))
            );
            let r = &a.request;
            assert_eq!(&r.info_hash[..], &data[16..36]);
            assert_eq!(&r.peer_id[..], &data[36..56]);
            assert_eq!(r.downloaded, be64(data, 56));
            assert_eq!(r.left, be64(data, 64));
            assert_eq!(r.uploaded, be64(data, 72));
            assert!(be32(data, 80) <= 3);
            let ip = be32(data, 84);
            assert_eq!(
                r.ip.as_deref().map(|t| t.parse::<Ipv4Addr>().unwrap()),
                (ip != 0).then(|| Ipv4Addr::from(ip))
            );
            assert_eq!(r.key, Some(udp::udp_key_hash(be32(data, 88))));
            let numwant = be32(data, 92) as i32;
            assert_eq!(r.numwant, u32::try_from(numwant).ok());
            assert_eq!(r.port, u16::from_be_bytes([data[96], data[97]]));

            let peers = peers_from(&data[udp::ANNOUNCE_LEN..], r.peer_id);
            for family in [Family::V4, Family::V6] {
                out.clear();
                let response = udp::AnnounceResponse {
                    transaction_id: a.transaction_id,
                    interval: 1800,
                    leechers: 1,
                    seeders: 2,
                    peers: &peers,
                };
                let written = udp::encode_announce(&response, family, &mut out);
                let in_family = peers.iter().filter(|p| Family::of(p.ip) == family).count();
                assert_eq!(written, in_family.min(family.max_peers()));
                // Peer size, and the largest UDP payload of a 1500-byte IP packet.
                let (size, mtu_payload) = match family {
                    Family::V4 => (6, 1500 - 20 - 8),
                    Family::V6 => (18, 1500 - 40 - 8),
                };
                assert_eq!(out.len(), 20 + size * written);
                assert!(out.len() <= mtu_payload, "fits one datagram");
            }
            // The same request answered over HTTP by the shared announce core.
            out.clear();
            encode_announce(
                &AnnounceResponse {
                    interval: 1800,
                    min_interval: 900,
                    complete: 2,
                    incomplete: 1,
                    downloaded: 0,
                    peers: &peers,
                    external_ip: None,
                    warning: None,
                    tracker_id: None,
                    compact: r.compact,
                    no_peer_id: r.no_peer_id,
                    peers6_key: false,
                },
                &mut out,
            );
            serde_bencode::from_bytes::<serde_bencode::value::Value>(&out).expect("bencode");
        }
        Request::Scrape(s) => {
            assert_eq!(be32(data, 8), udp::ACTION_SCRAPE);
            assert_eq!(
                (s.connection_id, s.transaction_id),
                (be64(data, 0), be32(data, 12))
            );
            let expected: Vec<&[u8]> = data[HEADER_LEN..]
                .chunks_exact(20)
                .take(udp::MAX_SCRAPE_HASHES)
                .collect();
            let got: Vec<&[u8]> = s.info_hashes.iter().map(|h| &h[..]).collect();
            assert_eq!(got, expected);
            let entries: Vec<ScrapeEntry> = s
                .info_hashes
                .iter()
                .map(|&info_hash| ScrapeEntry {
                    info_hash,
                    complete: 1,
                    incomplete: 2,
                    downloaded: u64::MAX,
                })
                .collect();
            udp::encode_scrape(s.transaction_id, &entries, &mut out);
            assert_eq!(out.len(), 8 + 12 * entries.len());
            assert!(out.len() <= 1500 - 40 - 8, "fits one datagram");
        }
    }
}

fn check_error(data: &[u8], error: &UdpError) {
    let has_header = data.len() >= HEADER_LEN;
    assert_eq!(error.transaction_id.is_some(), has_header);
    assert_eq!(error.action.is_some(), has_header);
    if let Some(transaction_id) = error.reply_to() {
        let mut reply = Vec::new();
        udp::encode_error(transaction_id, &error.to_string(), &mut reply);
        match udp::parse_request(&reply) {
            Ok(request) => panic!("an error reply parses as {request:?}"),
            Err(again) => assert_eq!(again.reply_to(), None, "an error reply is answered"),
        }
    }
}

/// Peers for the reply, 19 bytes each from `tail`: a flag byte choosing the family, an
/// address, a port.
fn peers_from(tail: &[u8], peer_id: [u8; 20]) -> Vec<ResponsePeer> {
    tail.chunks_exact(19)
        .map(|c| {
            let v6: [u8; 16] = c[1..17].try_into().unwrap();
            let ip = match c[0] % 3 {
                0 => IpAddr::V4(Ipv4Addr::new(c[1], c[2], c[3], c[4])),
                1 => IpAddr::V6(Ipv6Addr::from(v6)),
                _ => IpAddr::V6(Ipv4Addr::new(c[1], c[2], c[3], c[4]).to_ipv6_mapped()),
            };
            ResponsePeer {
                ip,
                port: u16::from_be_bytes([c[17], c[18]]),
                peer_id,
            }
        })
        .collect()
}
