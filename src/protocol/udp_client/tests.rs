//! Tests of `udp_client`: the tracker's parser reads what the client writes, and the client
//! reads what the tracker's encoders write, for any values.

use super::*;
use crate::protocol::announce::{Event, ResponsePeer};
use crate::protocol::scrape::ScrapeEntry;
use crate::protocol::udp::{self, Request};
use proptest::prelude::*;
use std::net::IpAddr;

fn any_event() -> impl Strategy<Value = UdpEvent> {
    prop_oneof![
        Just(UdpEvent::None),
        Just(UdpEvent::Completed),
        Just(UdpEvent::Started),
        Just(UdpEvent::Stopped)
    ]
}

proptest! {
    #[test]
    fn the_tracker_reads_our_requests(
        connection_id: u64, transaction_id: u32, info_hash: [u8; 20], peer_id: [u8; 20],
        downloaded: u64, left: u64, uploaded: u64, event in any_event(), key: u32,
        num_want: i32, port: u16,
        hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..74),
    ) {
        let mut out = Vec::new();
        encode_connect(transaction_id, &mut out);
        prop_assert_eq!(udp::parse_request(&out).unwrap(), Request::Connect { transaction_id });

        out.clear();
        encode_announce(&AnnounceRequest {
            connection_id, transaction_id, info_hash, peer_id, downloaded, left, uploaded,
            event, key, num_want, port,
        }, &mut out);
        let Request::Announce(a) = udp::parse_request(&out).unwrap() else { panic!() };
        prop_assert_eq!((a.connection_id, a.transaction_id), (connection_id, transaction_id));
        let r = a.request;
        prop_assert_eq!((r.info_hash, r.peer_id, r.port), (info_hash, peer_id, port));
        prop_assert_eq!((r.downloaded, r.left, r.uploaded), (downloaded, left, uploaded));
        let want_event = match event {
            UdpEvent::None => Event::None,
            UdpEvent::Completed => Event::Completed,
            UdpEvent::Started => Event::Started,
            UdpEvent::Stopped => Event::Stopped,
        };
        prop_assert_eq!(r.event, want_event);
        prop_assert_eq!(r.numwant, u32::try_from(num_want).ok());
        prop_assert_eq!(r.key, Some(udp::udp_key_hash(key)));
        prop_assert_eq!(r.ip, None);

        out.clear();
        encode_scrape(connection_id, transaction_id, &hashes, &mut out);
        let Request::Scrape(s) = udp::parse_request(&out).unwrap() else { panic!() };
        prop_assert_eq!((s.connection_id, s.transaction_id), (connection_id, transaction_id));
        prop_assert_eq!(s.info_hashes, hashes);
    }

    #[test]
    fn we_read_the_trackers_replies(
        transaction_id: u32, connection_id: u64, interval: u32, leechers: u32, seeders: u32,
        v4 in proptest::collection::vec((any::<[u8; 4]>(), any::<u16>()), 0..20),
        v6 in proptest::collection::vec((any::<[u8; 16]>(), any::<u16>()), 0..20),
        counts in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 0..20),
        message in "[ -~]{0,40}",
    ) {
        let mut out = Vec::new();
        udp::encode_connect(transaction_id, connection_id, &mut out);
        prop_assert_eq!(parse_reply(&out, Family::V4).unwrap(),
            Reply::Connect { transaction_id, connection_id });

        let peers: Vec<ResponsePeer> = v4.iter().map(|(ip, port)| (IpAddr::from(*ip), *port))
            .chain(v6.iter().map(|(ip, port)| (IpAddr::from(*ip), *port)))
            .map(|(ip, port)| ResponsePeer { ip, port, peer_id: [0; 20] })
            .collect();
        for family in [Family::V4, Family::V6] {
            out.clear();
            let resp = udp::AnnounceResponse { transaction_id, interval, leechers, seeders, peers: &peers };
            udp::encode_announce(&resp, family, &mut out);
            let want: Vec<Peer> = peers.iter()
                .filter(|p| Family::of(p.ip) == family)
                .map(|p| Peer { ip: p.ip.to_canonical(), port: p.port, peer_id: None })
                .collect();
            prop_assert_eq!(parse_reply(&out, family).unwrap(),
                Reply::Announce { transaction_id, interval, leechers, seeders, peers: want });
        }

        out.clear();
        let entries: Vec<ScrapeEntry> = counts.iter().map(|&(complete, completed, incomplete)| ScrapeEntry {
            info_hash: [0; 20], complete, incomplete, downloaded: completed.into(),
        }).collect();
        udp::encode_scrape(transaction_id, &entries, &mut out);
        let want = counts.iter().map(|&(seeders, completed, leechers)| ScrapeCounts {
            seeders, completed, leechers,
        }).collect();
        prop_assert_eq!(parse_reply(&out, Family::V4).unwrap(),
            Reply::Scrape { transaction_id, entries: want });

        out.clear();
        udp::encode_error(transaction_id, &message, &mut out);
        prop_assert_eq!(parse_reply(&out, Family::V4).unwrap(),
            Reply::Error { transaction_id, message });
    }

    #[test]
    fn any_bytes_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_reply(&p, Family::V4);
        let _ = parse_reply(&p, Family::V6);
    }
}

#[test]
fn short_and_ragged_replies_are_errors() {
    assert_eq!(
        parse_reply(&[0, 0, 0], Family::V4).unwrap_err().to_string(),
        "reply too short: 3 bytes (at least 8 for action 0)"
    );
    assert!(matches!(
        parse_reply(&[0, 0, 0, 0, 0, 0, 0, 1, 9], Family::V4),
        Err(ReplyError::TooShort { need: 16, .. })
    ));
    let mut announce = vec![0, 0, 0, 1, 0, 0, 0, 1];
    announce.extend_from_slice(&[0; 12]);
    announce.extend_from_slice(&[1, 2, 3, 4, 5]);
    assert!(matches!(
        parse_reply(&announce, Family::V4),
        Err(ReplyError::Ragged { .. })
    ));
    assert_eq!(
        parse_reply(&[0, 0, 0, 9, 0, 0, 0, 1], Family::V4),
        Err(ReplyError::UnknownAction(9))
    );
}
