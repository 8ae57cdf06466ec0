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
    // 0 is a client that accepts no connections, as over HTTP.
    let port = u16::from_be_bytes(be(p, 96));
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
mod tests;
