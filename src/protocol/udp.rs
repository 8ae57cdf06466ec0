//! The UDP tracker protocol: BEP 15, with the BEP 41 options of an announce.
//!
//! Every packet starts with a 16-byte header: a 64-bit connection id (for a connect request,
//! the magic [`PROTOCOL_ID`]), a 32-bit action and a 32-bit transaction id; every response starts
//! with the action and the transaction id. All integers are big-endian.
//!
//! | request  | bytes 16..                                                                        |
//! |----------|-----------------------------------------------------------------------------------|
//! | connect  | nothing                                                                           |
//! | announce | info_hash 20, peer_id 20, downloaded 8, left 8, uploaded 8, event 4, ip 4, key 4, num_want 4, port 2 (98 bytes), then BEP 41 options |
//! | scrape   | info_hash 20 × n                                                                  |
//!
//! | response | bytes 8..                                                                         |
//! |----------|-----------------------------------------------------------------------------------|
//! | connect  | connection_id 8                                                                   |
//! | announce | interval 4, leechers 4, seeders 4, then 6 bytes per IPv4 peer or 18 per IPv6 peer  |
//! | scrape   | seeders 4, completed 4, leechers 4 per hash, in request order                     |
//! | error    | message text                                                                      |
//!
//! [`parse_request`] maps an announce to the same [`AnnounceRequest`] the HTTP parser yields, so
//! one announce core serves both transports. It never panics and never reads past the packet;
//! its [`UdpError`] carries the transaction id whenever the packet is long enough to hold one,
//! and [`UdpError::reply_to`] says whether an error packet should go back at all.
//!
//! Encoders append to a caller-owned buffer, as the HTTP encoders do.

use super::announce::{key_hash, AnnounceRequest, Event, ResponsePeer};
use super::scrape::ScrapeEntry;
use super::InfoHash;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// The magic number a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// `action` of a connect request or response.
pub const ACTION_CONNECT: u32 = 0;
/// `action` of an announce request or response.
pub const ACTION_ANNOUNCE: u32 = 1;
/// `action` of a scrape request or response.
pub const ACTION_SCRAPE: u32 = 2;
/// `action` of an error response.
pub const ACTION_ERROR: u32 = 3;
/// Length of the header every request starts with.
pub const HEADER_LEN: usize = 16;
/// Length of an announce request without BEP 41 options.
pub const ANNOUNCE_LEN: usize = 98;
/// Most info hashes read from one scrape request: BEP 15's "about 74", what fits a 1500-byte
/// packet (16 + 20 × 74 = 1496). Further hashes are ignored.
pub const MAX_SCRAPE_HASHES: usize = 74;
/// Most IPv4 peers in one announce response: what fits a 1500-byte IPv4 packet
/// (1500 − 20 IP − 8 UDP − 20 header = 1452 bytes = 242 × 6), so that it is never fragmented.
pub const MAX_PEERS_V4: usize = 242;
/// Most IPv6 peers in one announce response: what fits a 1500-byte IPv6 packet
/// (1500 − 40 IP − 8 UDP − 20 header = 1432 bytes, 79 × 18).
pub const MAX_PEERS_V6: usize = 79;
/// Actions from here up are never answered, even with an error: see [`UdpError::reply_to`].
const UNANSWERED_ACTIONS: u32 = 256;

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Asks for a connection id.
    Connect {
        /// Echoed in the response.
        transaction_id: u32,
    },
    /// An announce.
    Announce(Announce),
    /// A scrape.
    Scrape(Scrape),
}

/// An announce request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// As handed out by the connect response.
    pub connection_id: u64,
    /// Echoed in the response.
    pub transaction_id: u32,
    /// The announce, as the HTTP parser would give it:
    /// - `event`: 0 none, 1 completed, 2 started, 3 stopped;
    /// - `ip`: the `ip` field as dotted text when not 0 (the policy decides whether to use it);
    /// - `key`: [`key_hash`] of the key as 8 upper-case hex digits, the text libtorrent and
    ///   Transmission send as `key=` over HTTP, so a client announcing over both transports
    ///   proves the same identity;
    /// - `numwant`: `None` when negative (BEP 15's default is -1);
    /// - `uploaded`, `downloaded`, `left`: the 64 bits as unsigned (a negative `left`, which
    ///   some clients send while the size is unknown, is a non-zero left: a leecher);
    /// - `compact` true, `no_peer_id` false (neither means anything here).
    pub request: AnnounceRequest,
}

/// A scrape request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scrape {
    /// As handed out by the connect response.
    pub connection_id: u64,
    /// Echoed in the response.
    pub transaction_id: u32,
    /// The hashes in request order (duplicates kept: the response has one entry per hash asked),
    /// at most [`MAX_SCRAPE_HASHES`].
    pub info_hashes: Vec<InfoHash>,
}

/// A packet that is not a request this tracker can answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpError {
    /// The transaction id, when the packet is long enough to hold one.
    pub transaction_id: Option<u32>,
    /// The action field, when the packet is long enough to hold one.
    pub action: Option<u32>,
    /// What is wrong.
    pub kind: UdpErrorKind,
}

/// What is wrong with a packet. `Display` is the message of the error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UdpErrorKind {
    /// Shorter than the 16-byte header.
    #[error("packet too short: {0} bytes (at least 16)")]
    TooShort(usize),
    /// Action 0 without the magic protocol id.
    #[error("not a connect request: the protocol id must be 0x41727101980")]
    BadProtocolId,
    /// An action that is not connect, announce or scrape.
    #[error("unknown action {0} (expected 0 connect, 1 announce or 2 scrape)")]
    UnknownAction(u32),
    /// An announce shorter than 98 bytes.
    #[error("announce request too short: {0} bytes (at least 98)")]
    AnnounceTooShort(usize),
    /// An event other than 0 to 3.
    #[error("unknown event {0} (expected 0 none, 1 completed, 2 started or 3 stopped)")]
    UnknownEvent(u32),
    /// Port 0.
    #[error("port must be a number from 1 to 65535")]
    InvalidPort,
    /// A scrape without any complete info hash.
    #[error("scrape request names no info_hash")]
    NoInfoHash,
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for UdpError {}

impl UdpError {
    /// The transaction id to send an error response with, or `None` when nothing must be sent.
    ///
    /// Nothing goes back to a packet shorter than the header (no transaction id to echo), nor to
    /// one whose action is [`ACTION_ERROR`] or 256 or more. The latter rule stops reflection
    /// loops: any response of this tracker, fed back to it (or to another tracker like it) by a
    /// spoofed source address, reads as a request whose action is whatever its bytes 8..12
    /// hold. For an error response those are the first four bytes of its message, text, so at
    /// least 0x20202020: never answered. Any other response is answered at most with an error,
    /// so a spoofed packet costs one or two replies, never an endless exchange.
    pub fn reply_to(&self) -> Option<u32> {
        match self.action {
            Some(a) if a == ACTION_ERROR || a >= UNANSWERED_ACTIONS => None,
            Some(_) => self.transaction_id,
            None => None,
        }
    }
}

/// Reads a big-endian integer of `N` bytes at `at`; the caller has checked the length.
fn be<const N: usize>(packet: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&packet[at..at + N]);
    out
}

fn u32_at(packet: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(be(packet, at))
}

fn u64_at(packet: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(be(packet, at))
}

/// Parses one request packet. Never panics, whatever the bytes.
pub fn parse_request(packet: &[u8]) -> Result<Request, UdpError> {
    if packet.len() < HEADER_LEN {
        return Err(UdpError {
            transaction_id: None,
            action: None,
            kind: UdpErrorKind::TooShort(packet.len()),
        });
    }
    let connection_id = u64_at(packet, 0);
    let action = u32_at(packet, 8);
    let transaction_id = u32_at(packet, 12);
    let fail = |kind| UdpError {
        transaction_id: Some(transaction_id),
        action: Some(action),
        kind,
    };
    match action {
        ACTION_CONNECT if connection_id == PROTOCOL_ID => Ok(Request::Connect { transaction_id }),
        ACTION_CONNECT => Err(fail(UdpErrorKind::BadProtocolId)),
        ACTION_ANNOUNCE => parse_announce(packet)
            .map(|request| {
                Request::Announce(Announce {
                    connection_id,
                    transaction_id,
                    request,
                })
            })
            .map_err(fail),
        ACTION_SCRAPE => {
            let info_hashes: Vec<InfoHash> = packet[HEADER_LEN..]
                .chunks_exact(20)
                .take(MAX_SCRAPE_HASHES)
                .map(|c| be::<20>(c, 0))
                .collect();
            if info_hashes.is_empty() {
                return Err(fail(UdpErrorKind::NoInfoHash));
            }
            Ok(Request::Scrape(Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            }))
        }
        other => Err(fail(UdpErrorKind::UnknownAction(other))),
    }
}

/// The announce fields after the header; see [`Announce::request`].
fn parse_announce(p: &[u8]) -> Result<AnnounceRequest, UdpErrorKind> {
    if p.len() < ANNOUNCE_LEN {
        return Err(UdpErrorKind::AnnounceTooShort(p.len()));
    }
    let event = match u32_at(p, 80) {
        0 => Event::None,
        1 => Event::Completed,
        2 => Event::Started,
        3 => Event::Stopped,
        other => return Err(UdpErrorKind::UnknownEvent(other)),
    };
    let port = u16::from_be_bytes(be(p, 96));
    if port == 0 {
        return Err(UdpErrorKind::InvalidPort);
    }
    let ip = match u32_at(p, 84) {
        0 => None,
        raw => Some(Ipv4Addr::from(raw).to_string()),
    };
    let numwant = u32::try_from(i32::from_be_bytes(be(p, 92))).ok();
    // BEP 41 options are read only to be skipped: this tracker serves every path alike, so the
    // URL data changes nothing; a broken option list must not cost the client its announce.
    let _url_data_len = skip_options(&p[ANNOUNCE_LEN..]);
    Ok(AnnounceRequest {
        info_hash: be(p, 16),
        peer_id: be(p, 36),
        port,
        downloaded: u64_at(p, 56),
        left: u64_at(p, 64),
        uploaded: u64_at(p, 72),
        event,
        compact: true,
        no_peer_id: false,
        numwant,
        key: Some(udp_key_hash(u32_at(p, 88))),
        ip,
    })
}

/// The [`AnnounceRequest::key`] of a UDP `key`: [`key_hash`] of its 8 upper-case hex digits.
pub fn udp_key_hash(key: u32) -> u64 {
    let mut text = [0u8; 8];
    for (i, b) in text.iter_mut().enumerate() {
        let nibble = (key >> (28 - 4 * i)) & 0xf;
        *b = b"0123456789ABCDEF"[nibble as usize];
    }
    key_hash(&text)
}

/// Walks the BEP 41 options after the fixed announce fields: 0x0 ends them, 0x1 is one byte of
/// padding, 0x2 (URL data) and any unknown type carry a length byte and that many bytes. A
/// truncated option ends the walk. Gives the total length of the URL data seen.
fn skip_options(mut rest: &[u8]) -> usize {
    let mut url_data = 0;
    while let Some((&kind, tail)) = rest.split_first() {
        match kind {
            0x0 => break,
            0x1 => rest = tail,
            _ => {
                let Some((&len, body)) = tail.split_first() else {
                    break;
                };
                let len = usize::from(len);
                if body.len() < len {
                    break;
                }
                if kind == 0x2 {
                    url_data += len;
                }
                rest = &body[len..];
            }
        }
    }
    url_data
}

/// Appends a connect response.
pub fn encode_connect(transaction_id: u32, connection_id: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// The address family of an announce response's peer list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// 6 bytes per peer.
    V4,
    /// 18 bytes per peer.
    V6,
}

impl Family {
    /// The family of a socket address (IPv4-mapped IPv6 counts as IPv4).
    pub fn of(ip: IpAddr) -> Family {
        match ip.to_canonical() {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Most peers of this family in one response.
    pub fn max_peers(self) -> usize {
        match self {
            Family::V4 => MAX_PEERS_V4,
            Family::V6 => MAX_PEERS_V6,
        }
    }
}

/// What an announce response says.
#[derive(Clone, Copy, Debug)]
pub struct AnnounceResponse<'a> {
    /// Echoed from the request.
    pub transaction_id: u32,
    /// Seconds until the next announce.
    pub interval: u32,
    /// Leechers in the swarm.
    pub leechers: u32,
    /// Seeders in the swarm.
    pub seeders: u32,
    /// Peers chosen for the client; only those of the response's family are written.
    pub peers: &'a [ResponsePeer],
}

/// Appends an announce response with the peers of `family` (IPv4-mapped addresses count as
/// IPv4), at most [`Family::max_peers`] of them; gives the number of peers written.
pub fn encode_announce(r: &AnnounceResponse<'_>, family: Family, out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&r.transaction_id.to_be_bytes());
    out.extend_from_slice(&r.interval.to_be_bytes());
    out.extend_from_slice(&r.leechers.to_be_bytes());
    out.extend_from_slice(&r.seeders.to_be_bytes());
    let mut written = 0;
    for p in r.peers {
        if written == family.max_peers() {
            break;
        }
        match (p.ip.to_canonical(), family) {
            (IpAddr::V4(v4), Family::V4) => out.extend_from_slice(&v4.octets()),
            (IpAddr::V6(v6), Family::V6) => out.extend_from_slice(&v6.octets()),
            _ => continue,
        }
        out.extend_from_slice(&p.port.to_be_bytes());
        written += 1;
    }
    written
}

/// Appends a scrape response: one entry per hash, in the order of `entries` (the request's);
/// `downloaded` saturates at `u32::MAX`.
pub fn encode_scrape(transaction_id: u32, entries: &[ScrapeEntry], out: &mut Vec<u8>) {
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    for e in entries {
        let completed = u32::try_from(e.downloaded).unwrap_or(u32::MAX);
        out.extend_from_slice(&e.complete.to_be_bytes());
        out.extend_from_slice(&completed.to_be_bytes());
        out.extend_from_slice(&e.incomplete.to_be_bytes());
    }
}

/// Appends an error response carrying `message`.
pub fn encode_error(transaction_id: u32, message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(message.as_bytes());
}

#[cfg(test)]
mod tests {
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
            with(0, 0, 0, 0).unwrap_err().kind,
            UdpErrorKind::InvalidPort
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
}
