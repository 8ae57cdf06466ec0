//! Tests of `udp`.

use super::*;
use proptest::prelude::*;

/// An announce packet built field by field, independently of the parser.
#[allow(clippy::too_many_arguments)]
fn announce_packet(
    connection_id: u64,
    transaction_id: u32,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    (downloaded, left, uploaded): (u64, u64, u64),
    event: u32,
    ip: u32,
    key: u32,
    num_want: i32,
    port: u16,
) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&connection_id.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&transaction_id.to_be_bytes());
    p.extend_from_slice(&info_hash);
    p.extend_from_slice(&peer_id);
    p.extend_from_slice(&downloaded.to_be_bytes());
    p.extend_from_slice(&left.to_be_bytes());
    p.extend_from_slice(&uploaded.to_be_bytes());
    p.extend_from_slice(&event.to_be_bytes());
    p.extend_from_slice(&ip.to_be_bytes());
    p.extend_from_slice(&key.to_be_bytes());
    p.extend_from_slice(&num_want.to_be_bytes());
    p.extend_from_slice(&port.to_be_bytes());
    assert_eq!(p.len(), ANNOUNCE_LEN);
    p
}

fn simple_announce() -> Vec<u8> {
    announce_packet(
        7,
        9,
        [b'h'; 20],
        [b'p'; 20],
        (1, 2, 3),
        2,
        0,
        0xdead_beef,
        -1,
        6881,
    )
}

fn header(connection_id: u64, action: u32, transaction_id: u32) -> Vec<u8> {
    let mut p = connection_id.to_be_bytes().to_vec();
    p.extend_from_slice(&action.to_be_bytes());
    p.extend_from_slice(&transaction_id.to_be_bytes());
    p
}

#[test]
fn connect_request() {
    let p = header(PROTOCOL_ID, 0, 0x0102_0304);
    assert_eq!(
        parse_request(&p),
        Ok(Request::Connect {
            transaction_id: 0x0102_0304
        })
    );
    assert_eq!(&p[..8], [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
    let e = parse_request(&header(1, 0, 5)).unwrap_err();
    assert_eq!(
        (e.kind, e.transaction_id),
        (UdpErrorKind::BadProtocolId, Some(5))
    );
}

#[test]
fn announce_request_maps_to_the_http_request() {
    let Ok(Request::Announce(a)) = parse_request(&simple_announce()) else {
        panic!("not an announce");
    };
    assert_eq!((a.connection_id, a.transaction_id), (7, 9));
    let r = a.request;
    assert_eq!((r.info_hash, r.peer_id), ([b'h'; 20], [b'p'; 20]));
    assert_eq!((r.downloaded, r.left, r.uploaded), (1, 2, 3));
    assert_eq!(
        (r.event, r.port, r.numwant, r.ip),
        (Event::Started, 6881, None, None)
    );
    assert_eq!(r.key, Some(key_hash(b"DEADBEEF")));
    assert!(r.compact && !r.no_peer_id);
}

#[test]
fn announce_fields() {
    let with = |event, ip, num_want, port| {
        parse_request(&announce_packet(
            1,
            2,
            [0; 20],
            [0; 20],
            (0, u64::MAX, 0),
            event,
            ip,
            0,
            num_want,
            port,
        ))
    };
    let req = |r: Result<Request, UdpError>| match r {
        Ok(Request::Announce(a)) => a.request,
        other => panic!("{other:?}"),
    };
    for (raw, event) in [
        (0, Event::None),
        (1, Event::Completed),
        (2, Event::Started),
        (3, Event::Stopped),
    ] {
        assert_eq!(req(with(raw, 0, 5, 1)).event, event);
    }
    let r = req(with(0, 0x0a00_0001, 0, 65535));
    assert_eq!(r.ip.as_deref(), Some("10.0.0.1"));
    assert_eq!((r.numwant, r.port, r.left), (Some(0), 65535, u64::MAX));
    assert_eq!(req(with(0, 0, i32::MAX, 1)).numwant, Some(i32::MAX as u32));
    assert_eq!(req(with(0, 0, i32::MIN, 1)).numwant, None);
    assert_eq!(req(with(0, 0, 0, 1)).key, Some(key_hash(b"00000000")));
    let e = with(4, 0, 0, 1).unwrap_err();
    assert_eq!(e.kind, UdpErrorKind::UnknownEvent(4));
    assert_eq!(e.transaction_id, Some(2));
    assert_eq!(
        e.to_string(),
        "unknown event 4 (expected 0 none, 1 completed, 2 started or 3 stopped)"
    );
    assert_eq!(
        req(with(0, 0, 0, 0)).port,
        0,
        "a client that accepts no connections"
    );
    let short = &simple_announce()[..97];
    let e = parse_request(short).unwrap_err();
    assert_eq!(
        (e.kind, e.reply_to()),
        (UdpErrorKind::AnnounceTooShort(97), Some(9))
    );
}

#[test]
fn bep41_options_never_fail_an_announce() {
    let base = simple_announce();
    let expected = parse_request(&base).unwrap();
    for options in [
        &b""[..],
        b"\x00",
        b"\x02\x0c/announce?pk",
        b"\x01\x01\x02\x03/an\x02\x05nounce\x00garbage",
        b"\x02\x09/announce\x09\x02ab\x02\x00\x00",
        b"\x02\xff/truncated",
        b"\x07",
        b"\x01",
        b"\x00\x02\xff",
    ] {
        let mut p = base.clone();
        p.extend_from_slice(options);
        assert_eq!(parse_request(&p).unwrap(), expected, "{options:?}");
    }
    assert_eq!(skip_options(b"\x02\x03abc\x01\x02\x02de\x00\x02\x01z"), 5);
    assert_eq!(skip_options(b"\x05\x01x\x02\x01y"), 1);
    assert_eq!(skip_options(b"\x02\x05ab"), 0);
}

#[test]
fn scrape_request_keeps_order_and_caps_the_count() {
    let mut p = header(3, 2, 4);
    for b in [b'b', b'a', b'b'] {
        p.extend_from_slice(&[b; 20]);
    }
    p.extend_from_slice(b"partial");
    assert_eq!(
        parse_request(&p),
        Ok(Request::Scrape(Scrape {
            connection_id: 3,
            transaction_id: 4,
            info_hashes: vec![[b'b'; 20], [b'a'; 20], [b'b'; 20]],
        }))
    );
    let mut big = header(3, 2, 4);
    for i in 0..100u8 {
        big.extend_from_slice(&[i; 20]);
    }
    let Ok(Request::Scrape(s)) = parse_request(&big) else {
        panic!()
    };
    assert_eq!(s.info_hashes.len(), MAX_SCRAPE_HASHES);
    assert_eq!(s.info_hashes[73], [73; 20]);
    const { assert!(16 + 20 * MAX_SCRAPE_HASHES <= 1500) };
    let e = parse_request(&header(3, 2, 4)).unwrap_err();
    assert_eq!((e.kind, e.reply_to()), (UdpErrorKind::NoInfoHash, Some(4)));
}

#[test]
fn who_gets_an_error_reply() {
    let e = parse_request(&[0; 15]).unwrap_err();
    assert_eq!((e.kind, e.reply_to()), (UdpErrorKind::TooShort(15), None));
    let e = parse_request(&header(0, 7, 8)).unwrap_err();
    assert_eq!(
        (e.kind, e.reply_to()),
        (UdpErrorKind::UnknownAction(7), Some(8))
    );
    assert_eq!(
        e.to_string(),
        "unknown action 7 (expected 0 connect, 1 announce or 2 scrape)"
    );
    assert_eq!(
        parse_request(&header(0, 3, 8)).unwrap_err().reply_to(),
        None
    );
    assert_eq!(
        parse_request(&header(0, 255, 8)).unwrap_err().reply_to(),
        Some(8)
    );
    assert_eq!(
        parse_request(&header(0, 256, 8)).unwrap_err().reply_to(),
        None
    );
}

#[test]
fn our_own_error_packets_are_never_answered() {
    // Every message this tracker sends starts with text, so an error response reflected
    // back reads as an unanswered action.
    for message in [
        "connection ID expired or invalid",
        "your address 10.0.0.1 is not in a network allowed to use this tracker",
        "unknown action 7 (expected 0 connect, 1 announce or 2 scrape)",
        "scrape request names no info_hash",
    ] {
        let mut out = Vec::new();
        encode_error(1, message, &mut out);
        if let Err(e) = parse_request(&out) {
            assert_eq!(e.reply_to(), None, "{message}");
        }
    }
}

fn peer(ip: &str, port: u16) -> ResponsePeer {
    ResponsePeer {
        ip: ip.parse().unwrap(),
        port,
        peer_id: [0; 20],
    }
}

#[test]
fn byte_exact_responses() {
    let mut out = Vec::new();
    encode_connect(0x0a0b_0c0d, 0x0102_0304_0506_0708, &mut out);
    assert_eq!(
        out,
        b"\0\0\0\0\x0a\x0b\x0c\x0d\x01\x02\x03\x04\x05\x06\x07\x08"
    );

    let peers = [
        peer("10.0.0.1", 0x1ae1),
        peer("fe80::1", 2),
        peer("::ffff:10.0.0.2", 3),
    ];
    let r = AnnounceResponse {
        transaction_id: 5,
        interval: 1800,
        leechers: 2,
        seeders: 1,
        peers: &peers,
    };
    out.clear();
    assert_eq!(encode_announce(&r, Family::V4, &mut out), 2);
    let mut expected = b"\0\0\0\x01\0\0\0\x05\0\0\x07\x08\0\0\0\x02\0\0\0\x01".to_vec();
    expected.extend_from_slice(b"\x0a\0\0\x01\x1a\xe1\x0a\0\0\x02\0\x03");
    assert_eq!(out, expected);
    out.clear();
    assert_eq!(encode_announce(&r, Family::V6, &mut out), 1);
    let mut expected = b"\0\0\0\x01\0\0\0\x05\0\0\x07\x08\0\0\0\x02\0\0\0\x01".to_vec();
    expected.extend_from_slice(b"\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\x02");
    assert_eq!(out, expected);

    out.clear();
    let entry = |b, complete, incomplete, downloaded| ScrapeEntry {
        info_hash: [b; 20],
        complete,
        incomplete,
        downloaded,
    };
    encode_scrape(7, &[entry(1, 1, 2, 3), entry(0, 4, 5, 1 << 40)], &mut out);
    let mut expected = b"\0\0\0\x02\0\0\0\x07".to_vec();
    expected.extend_from_slice(b"\0\0\0\x01\0\0\0\x03\0\0\0\x02");
    expected.extend_from_slice(b"\0\0\0\x04\xff\xff\xff\xff\0\0\0\x05");
    assert_eq!(out, expected);

    out.clear();
    encode_error(0xffff_ffff, "no", &mut out);
    assert_eq!(out, b"\0\0\0\x03\xff\xff\xff\xffno");
}

#[test]
fn peer_lists_fit_one_packet() {
    let v4: Vec<_> = (0..300u16).map(|i| peer("10.0.0.1", i + 1)).collect();
    let v6: Vec<_> = (0..300u16).map(|i| peer("fe80::1", i + 1)).collect();
    for (peers, family, ip_header) in [(&v4, Family::V4, 20), (&v6, Family::V6, 40)] {
        let mut out = Vec::new();
        let r = AnnounceResponse {
            transaction_id: 0,
            interval: 0,
            leechers: 0,
            seeders: 0,
            peers,
        };
        assert_eq!(encode_announce(&r, family, &mut out), family.max_peers());
        assert!(
            ip_header + 8 + out.len() <= 1500,
            "{family:?}: {}",
            out.len()
        );
        let one_more = out.len() + if family == Family::V4 { 6 } else { 18 };
        assert!(ip_header + 8 + one_more > 1500, "{family:?}");
    }
}

/// Decodes an announce response the way a client would.
fn decode_announce(b: &[u8], entry: usize) -> (u32, u32, u32, u32, Vec<(IpAddr, u16)>) {
    let n = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    assert_eq!(n(0), 1);
    let peers = b[20..]
        .chunks(entry)
        .map(|c| {
            let ip = if entry == 6 {
                IpAddr::from(<[u8; 4]>::try_from(&c[..4]).unwrap())
            } else {
                IpAddr::from(<[u8; 16]>::try_from(&c[..16]).unwrap())
            };
            (ip, u16::from_be_bytes([c[entry - 2], c[entry - 1]]))
        })
        .collect();
    (n(4), n(8), n(12), n(16), peers)
}

proptest! {
    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
        let _ = parse_request(&bytes);
    }

    #[test]
    fn any_announce_tail_parses_without_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..400),
        head in proptest::collection::vec(any::<u8>(), 0..98),
    ) {
        let mut p = simple_announce();
        p.extend_from_slice(&tail);
        prop_assert!(parse_request(&p).is_ok());
        let mut short = header(1, 1, 2);
        short.extend_from_slice(&head);
        let _ = parse_request(&short);
    }

    #[test]
    fn announce_round_trips(
        cid in any::<u64>(), tid in any::<u32>(),
        hash in any::<[u8; 20]>(), id in any::<[u8; 20]>(),
        counts in any::<(u64, u64, u64)>(), event in 0u32..4, ip in any::<u32>(),
        key in any::<u32>(), num_want in any::<i32>(), port in 1u16..,
    ) {
        let p = announce_packet(cid, tid, hash, id, counts, event, ip, key, num_want, port);
        let Ok(Request::Announce(a)) = parse_request(&p) else {
            return Err(TestCaseError::fail("not an announce"));
        };
        prop_assert_eq!((a.connection_id, a.transaction_id), (cid, tid));
        let r = a.request;
        prop_assert_eq!((r.info_hash, r.peer_id, r.port), (hash, id, port));
        prop_assert_eq!((r.downloaded, r.left, r.uploaded), counts);
        prop_assert_eq!(r.numwant, (num_want >= 0).then_some(num_want as u32));
        prop_assert_eq!(r.key, Some(key_hash(format!("{key:08X}").as_bytes())));
        let want_ip = (ip != 0).then(|| Ipv4Addr::from(ip).to_string());
        prop_assert_eq!(r.ip, want_ip);
    }

    #[test]
    fn announce_response_round_trips(
        tid in any::<u32>(), counts in any::<(u32, u32, u32)>(),
        peers in proptest::collection::vec((any::<bool>(), any::<[u8; 16]>(), any::<u16>()), 0..300),
    ) {
        let peers: Vec<ResponsePeer> = peers
            .into_iter()
            .map(|(v4, raw, port)| ResponsePeer {
                ip: if v4 {
                    IpAddr::from(<[u8; 4]>::try_from(&raw[..4]).unwrap())
                } else {
                    // Not IPv4-mapped: those are IPv4 peers.
                    let mut raw = raw;
                    raw[0] = 0x20;
                    IpAddr::from(raw)
                },
                port,
                peer_id: [0; 20],
            })
            .collect();
        let r = AnnounceResponse {
            transaction_id: tid,
            interval: counts.0,
            leechers: counts.1,
            seeders: counts.2,
            peers: &peers,
        };
        for (family, entry) in [(Family::V4, 6), (Family::V6, 18)] {
            let mut out = Vec::new();
            let n = encode_announce(&r, family, &mut out);
            let decoded = decode_announce(&out, entry);
            let want: Vec<(IpAddr, u16)> = peers
                .iter()
                .filter(|p| Family::of(p.ip) == family)
                .take(family.max_peers())
                .map(|p| (p.ip, p.port))
                .collect();
            prop_assert_eq!(n, want.len());
            prop_assert_eq!(decoded, (tid, counts.0, counts.1, counts.2, want));
        }
    }

    #[test]
    fn scrape_round_trips(
        tid in any::<u32>(),
        hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..=74),
    ) {
        let mut p = header(5, 2, tid);
        hashes.iter().for_each(|h| p.extend_from_slice(h));
        prop_assert_eq!(
            parse_request(&p),
            Ok(Request::Scrape(Scrape { connection_id: 5, transaction_id: tid, info_hashes: hashes }))
        );
    }
}
