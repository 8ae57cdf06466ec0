//! Announce requests and responses.
//!
//! Implements:
//! - BEP 3, "Trackers": the announce GET parameters ([`parse_announce`]) and the response
//!   dictionary `interval`, `peers` as a list of `ip`/`peer id`/`port` dictionaries
//!   ([`encode_announce`] with `compact: false`), plus `failure reason` ([`encode_failure`]);
//! - BEP 23, "Tracker Returns Compact Peer Lists": `peers` as 6 bytes per IPv4 peer;
//! - BEP 7, "IPv6 Tracker Extension": `peers6`, 18 bytes per IPv6 peer;
//! - BEP 24, "Tracker Returns External IP": `external ip`, 4 or 16 raw bytes;
//! - BEP 3's `tracker id`: sent when the operator sets one; a client's `trackerid=` echo is
//!   accepted and ignored like every unknown parameter;
//! - BEP 21, "Extension for partial seeds": `event=paused` is accepted.
//!
//! The response also carries `min interval`, `complete`, `incomplete`, `downloaded` and
//! `warning message`: in no BEP's announce section, but sent by mainstream trackers and read by
//! every client (the three counters use the names BEP 48 gives them in scrape responses).
//!
//! [`parse_announce`] returns these [`ProtocolError`]s: `QueryTooLong`, `Missing`,
//! `InvalidPercentEncoding`, `WrongLength`, `InvalidPort`, `InvalidInteger`, `IntegerTooLarge`,
//! `InvalidNumwant`, `UnknownEvent`.
//!
//! Parsing is the hottest code in the tracker: it makes one pass over the query, decodes
//! `info_hash` and `peer_id` straight into arrays and hashes `key` as a stream; it allocates only
//! for `ip=` (which it must return as a `String`) and for percent-escaped values of the short
//! parameters (`port`, `left`, `event`, ...), which no real client sends. The encoder appends to the caller's buffer with no intermediate allocation.

use super::bencode::{write_bytes, write_bytes_header, write_decimal, write_int};
use super::query::{
    decode_each, decode_fixed, decode_key, pairs, parse_u64, percent_decode, FixedDecodeError,
    NumberError, MAX_KEY_BYTES, MAX_QUERY_BYTES,
};
use super::{InfoHash, PeerId, ProtocolError};
use std::borrow::Cow;
use std::io::Write as _;
use std::net::IpAddr;

pub use super::error::{encode_failure, RetryIn};

/// `event=` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// No event, or `event=` empty: a regular re-announce.
    None,
    /// `started`: first announce of a session.
    Started,
    /// `stopped`: the peer leaves the swarm.
    Stopped,
    /// `completed`: the download finished.
    Completed,
    /// `paused` (BEP 21 partial seed): treated as a regular announce.
    Paused,
}

/// A parsed announce request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// Swarm.
    pub info_hash: InfoHash,
    /// Peer.
    pub peer_id: PeerId,
    /// Port the peer listens on; 0 when it accepts no connections (it gets peers but is not
    /// handed out: see `crate::swarm::Announce::port`).
    pub port: u16,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes left; 0 means seeder.
    pub left: u64,
    /// Event.
    pub event: Event,
    /// Compact response (default true; only `compact=0` turns it off).
    pub compact: bool,
    /// Leave `peer id` out of the non-compact list.
    pub no_peer_id: bool,
    /// Peers wanted; `None` when absent.
    pub numwant: Option<u32>,
    /// 64-bit FNV-1a ([`key_hash`]) of the decoded `key` bytes; `None` when absent or empty.
    pub key: Option<u64>,
    /// `ip=` as the client sent it (lossy UTF-8); `None` when absent or empty. The policy decides
    /// whether to believe it.
    pub ip: Option<String>,
}

/// Parses the raw query string of an announce (without the leading `?`).
///
/// Parameters may come in any order; unknown ones are ignored without being decoded; for every
/// parameter only the first occurrence counts, later ones are ignored just as unknown ones.
/// Errors are reported for the first bad parameter in query order, then for the first missing
/// one in the order `info_hash`, `peer_id`, `port`, `left`.
///
/// Field rules beyond the BEP 3 basics:
/// - `compact`: only `0` turns it off; `no_peer_id`: only `1` turns it on (anything else is the
///   default, as with other trackers, since neither flag can make the answer wrong);
/// - `numwant`: saturates at `u32::MAX`; negative (`-1` from some clients) or empty means absent;
/// - `event`: empty or the literal `empty` (BEP 3's wording) is [`Event::None`];
/// - `key`, `ip`: empty means absent;
/// - `key` is the FNV-1a hash of the decoded bytes, see [`key_hash`].
pub fn parse_announce(query: &[u8]) -> Result<AnnounceRequest, ProtocolError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(ProtocolError::QueryTooLong {
            len: query.len(),
            limit: MAX_QUERY_BYTES,
        });
    }
    let mut info_hash = None;
    let mut peer_id = None;
    let mut port = None;
    let mut uploaded = None;
    let mut downloaded = None;
    let mut left = None;
    let mut event = None;
    let mut compact = None;
    let mut no_peer_id = None;
    // Outer `Some` = seen, so that a first `numwant=-1` still shadows a later `numwant=50`.
    let mut numwant: Option<Option<u32>> = None;
    let mut key: Option<Option<u64>> = None;
    let mut ip: Option<Option<String>> = None;

    for (raw_key, value) in pairs(query) {
        let mut key_buf = [0u8; MAX_KEY_BYTES];
        let Some(name) = decode_key(raw_key, &mut key_buf) else {
            continue;
        };
        match name {
            b"info_hash" if info_hash.is_none() => info_hash = Some(id("info_hash", value)?),
            b"peer_id" if peer_id.is_none() => peer_id = Some(id("peer_id", value)?),
            b"port" if port.is_none() => port = Some(parse_port(value)?),
            b"uploaded" if uploaded.is_none() => uploaded = Some(number("uploaded", value)?),
            b"downloaded" if downloaded.is_none() => {
                downloaded = Some(number("downloaded", value)?)
            }
            b"left" if left.is_none() => left = Some(number("left", value)?),
            b"event" if event.is_none() => event = Some(parse_event(value)?),
            b"compact" if compact.is_none() => compact = Some(*decoded("compact", value)? != *b"0"),
            b"no_peer_id" if no_peer_id.is_none() => {
                no_peer_id = Some(*decoded("no_peer_id", value)? == *b"1")
            }
            b"numwant" if numwant.is_none() => numwant = Some(parse_numwant(value)?),
            b"key" if key.is_none() => key = Some(parse_key(value)?),
            b"ip" if ip.is_none() => {
                let v = decoded("ip", value)?;
                ip = Some((!v.is_empty()).then(|| String::from_utf8_lossy(&v).into_owned()));
            }
            _ => {}
        }
    }

    Ok(AnnounceRequest {
        info_hash: info_hash.ok_or(ProtocolError::Missing("info_hash"))?,
        peer_id: peer_id.ok_or(ProtocolError::Missing("peer_id"))?,
        port: port.ok_or(ProtocolError::Missing("port"))?,
        left: left.ok_or(ProtocolError::Missing("left"))?,
        uploaded: uploaded.unwrap_or(0),
        downloaded: downloaded.unwrap_or(0),
        event: event.unwrap_or(Event::None),
        compact: compact.unwrap_or(true),
        no_peer_id: no_peer_id.unwrap_or(false),
        numwant: numwant.flatten(),
        key: key.flatten(),
        ip: ip.flatten(),
    })
}

/// The 64-bit FNV-1a hash of a decoded `key` value, as stored in [`AnnounceRequest::key`].
///
/// Why a hash and not the bytes: `key` is opaque and of any length (8 raw bytes from aria2, hex
/// from Transmission, alphanumerics from libtorrent), and it is only ever compared for equality,
/// to recognise a client whose `peer_id` or address changed. A `u64` is fixed-size in the swarm
/// and in SQLite, needs no allocation while parsing, and FNV-1a (unlike std's randomly seeded
/// `DefaultHasher`) gives the same value in every process, which matters because keys are
/// persisted across restarts. It is not a defence against deliberate collisions; neither is the
/// `key` itself, which any peer on the path can read.
pub fn key_hash(decoded: &[u8]) -> u64 {
    decoded.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

fn id(param: &'static str, raw: &[u8]) -> Result<[u8; 20], ProtocolError> {
    decode_fixed::<20>(raw).map_err(|e| match e {
        FixedDecodeError::InvalidEscape => ProtocolError::InvalidPercentEncoding(param),
        FixedDecodeError::WrongLength(len) => ProtocolError::WrongLength { param, len },
    })
}

fn decoded<'a>(param: &'static str, raw: &'a [u8]) -> Result<Cow<'a, [u8]>, ProtocolError> {
    percent_decode(raw).map_err(|_| ProtocolError::InvalidPercentEncoding(param))
}

fn number(param: &'static str, raw: &[u8]) -> Result<u64, ProtocolError> {
    parse_u64(&decoded(param, raw)?).map_err(|e| match e {
        NumberError::NotDecimal => ProtocolError::InvalidInteger(param),
        NumberError::Overflow => ProtocolError::IntegerTooLarge(param),
    })
}

fn parse_port(raw: &[u8]) -> Result<u16, ProtocolError> {
    match parse_u64(&decoded("port", raw)?) {
        Ok(p @ 0..=65535) => Ok(p as u16),
        _ => Err(ProtocolError::InvalidPort),
    }
}

fn parse_numwant(raw: &[u8]) -> Result<Option<u32>, ProtocolError> {
    let v = decoded("numwant", raw)?;
    let (negative, digits) = match v.split_first() {
        None => return Ok(None),
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, &v[..]),
    };
    match parse_u64(digits) {
        Ok(_) if negative => Ok(None),
        Err(NumberError::Overflow) if negative => Ok(None),
        Ok(n) => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
        Err(NumberError::Overflow) => Ok(Some(u32::MAX)),
        Err(NumberError::NotDecimal) => Err(ProtocolError::InvalidNumwant),
    }
}

fn parse_event(raw: &[u8]) -> Result<Event, ProtocolError> {
    let v = decoded("event", raw)?;
    Ok(match &*v {
        b"" | b"empty" => Event::None,
        b"started" => Event::Started,
        b"stopped" => Event::Stopped,
        b"completed" => Event::Completed,
        b"paused" => Event::Paused,
        other => {
            // Cut so that a hostile 8 KiB value is not echoed back whole.
            let shown: String = String::from_utf8_lossy(other).chars().take(64).collect();
            return Err(ProtocolError::UnknownEvent(shown));
        }
    })
}

fn parse_key(raw: &[u8]) -> Result<Option<u64>, ProtocolError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let mut h = FNV_OFFSET;
    decode_each(raw, |b| h = fnv_step(h, b))
        .map_err(|_| ProtocolError::InvalidPercentEncoding("key"))?;
    Ok(Some(h))
}

/// A peer to list in an announce response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResponsePeer {
    /// Address; IPv4-mapped IPv6 addresses are sent as IPv4.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Peer id, used only by the non-compact form.
    pub peer_id: PeerId,
}

/// Everything an announce response says; see [`encode_announce`].
#[derive(Clone, Copy, Debug)]
pub struct AnnounceResponse<'a> {
    /// `interval`: seconds until the next regular announce.
    pub interval: u32,
    /// `min interval`: clients must not re-announce sooner.
    pub min_interval: u32,
    /// `complete`: seeders in the swarm.
    pub complete: u32,
    /// `incomplete`: leechers in the swarm.
    pub incomplete: u32,
    /// `downloaded`: completed downloads seen by this tracker.
    pub downloaded: u64,
    /// Peers to hand out, already chosen and limited by the caller.
    pub peers: &'a [ResponsePeer],
    /// `external ip` (BEP 24): the address the request came from, if it should be told.
    pub external_ip: Option<IpAddr>,
    /// `warning message`, if any.
    pub warning: Option<&'a str>,
    /// `tracker id` (BEP 3), if the operator set one.
    pub tracker_id: Option<&'a [u8]>,
    /// Compact peer lists (BEP 23/BEP 7) instead of the BEP 3 list of dictionaries.
    pub compact: bool,
    /// Leave `peer id` out of the non-compact list.
    pub no_peer_id: bool,
    /// Compact only: write `peers6` even when no IPv6 peer is listed (then empty, `6:peers60:`).
    /// Set for requesters that came over IPv6: an empty `peers6` tells them that this tracker
    /// hands out IPv6 peers (BEP 7) and has none in this swarm, where an answer without the key
    /// reads as one from a tracker that never does (the warning of `retracker query`,
    /// `src/query/bep7.rs`). Unset, `peers6` is written only when there are IPv6 peers, so
    /// IPv4 requesters get the same bytes as before the field existed.
    pub peers6_key: bool,
}

/// Appends the bencoded announce response to `out`.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`), which dual-stack sockets report for IPv4
/// clients, are treated as the IPv4 addresses they are, for peers and for `external ip` alike:
/// such peers are reachable only over IPv4.
///
/// Keys in the sorted order bencode requires: `complete`, `downloaded`, `external ip` (when
/// set), `incomplete`, `interval`, `min interval`, `peers`, `peers6` (compact, when there is an
/// IPv6 peer or `peers6_key` is set), `tracker id` (when set), `warning message` (when set).
///
/// - compact: `peers` holds 4 address + 2 port bytes (big-endian) per IPv4 peer and is always
///   present, possibly empty; `peers6` holds 16 + 2 bytes per IPv6 peer, and is written empty
///   (`6:peers60:`) for a requester that came over IPv6 ([`AnnounceResponse::peers6_key`]) when
///   there is none, so that it still tells the requester IPv6 peers are handed out (BEP 7);
/// - non-compact: `peers` is a list of `d2:ip<text>7:peer id<20 bytes>4:porti<n>ee` for all
///   peers of both families (`peer id` left out when `no_peer_id`), and there is no `peers6`.
pub fn encode_announce(resp: &AnnounceResponse<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"d8:complete");
    write_int(out, resp.complete.into());
    out.extend_from_slice(b"10:downloaded");
    write_int(out, resp.downloaded);
    if let Some(ip) = resp.external_ip {
        out.extend_from_slice(b"11:external ip");
        match ip.to_canonical() {
            IpAddr::V4(v4) => write_bytes(out, &v4.octets()),
            IpAddr::V6(v6) => write_bytes(out, &v6.octets()),
        }
    }
    out.extend_from_slice(b"10:incomplete");
    write_int(out, resp.incomplete.into());
    out.extend_from_slice(b"8:interval");
    write_int(out, resp.interval.into());
    out.extend_from_slice(b"12:min interval");
    write_int(out, resp.min_interval.into());
    if resp.compact {
        write_compact_peers(resp.peers, resp.peers6_key, out);
    } else {
        write_peer_dicts(resp.peers, resp.no_peer_id, out);
    }
    if let Some(id) = resp.tracker_id {
        out.extend_from_slice(b"10:tracker id");
        write_bytes(out, id);
    }
    if let Some(warning) = resp.warning {
        out.extend_from_slice(b"15:warning message");
        write_bytes(out, warning.as_bytes());
    }
    out.push(b'e');
}

fn write_compact_peers(peers: &[ResponsePeer], peers6_key: bool, out: &mut Vec<u8>) {
    // Two passes instead of two temporary buffers: the length prefixes come first.
    let v4_count = peers
        .iter()
        .filter(|p| p.ip.to_canonical().is_ipv4())
        .count();
    let v6_count = peers.len() - v4_count;
    out.reserve(v4_count * 6 + v6_count * 18 + 24);
    out.extend_from_slice(b"5:peers");
    write_bytes_header(out, v4_count * 6);
    for p in peers {
        if let IpAddr::V4(v4) = p.ip.to_canonical() {
            out.extend_from_slice(&v4.octets());
            out.extend_from_slice(&p.port.to_be_bytes());
        }
    }
    if v6_count > 0 || peers6_key {
        out.extend_from_slice(b"6:peers6");
        write_bytes_header(out, v6_count * 18);
        for p in peers {
            if let IpAddr::V6(v6) = p.ip.to_canonical() {
                out.extend_from_slice(&v6.octets());
                out.extend_from_slice(&p.port.to_be_bytes());
            }
        }
    }
}

fn write_peer_dicts(peers: &[ResponsePeer], no_peer_id: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"5:peersl");
    for p in peers {
        out.extend_from_slice(b"d2:ip");
        match p.ip.to_canonical() {
            // std's Display for addresses supports width and padding and cost about 150 ns a
            // peer: dotted quads are written by hand.
            IpAddr::V4(v4) => {
                let octets = v4.octets();
                let digits = |b: u8| 1 + usize::from(b >= 10) + usize::from(b >= 100);
                write_bytes_header(out, 3 + octets.into_iter().map(digits).sum::<usize>());
                for (i, octet) in octets.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    write_decimal(out, octet.into());
                }
            }
            v6 => {
                // The longest IPv6 text form is 45 bytes; format on the stack, not into a String.
                let mut text = [0u8; 64];
                let mut cursor = &mut text[..];
                let written = write!(cursor, "{v6}");
                debug_assert!(written.is_ok(), "64 bytes hold any IP address");
                let len = 64 - cursor.len();
                write_bytes(out, &text[..len]);
            }
        }
        if !no_peer_id {
            out.extend_from_slice(b"7:peer id");
            write_bytes(out, &p.peer_id);
        }
        out.extend_from_slice(b"4:port");
        write_int(out, p.port.into());
        out.push(b'e');
    }
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &[u8] =
        b"info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&left=0";

    fn parse_with(extra: &str) -> Result<AnnounceRequest, ProtocolError> {
        let mut q = BASE.to_vec();
        q.extend_from_slice(extra.as_bytes());
        parse_announce(&q)
    }

    #[test]
    fn defaults() {
        let r = parse_announce(BASE).unwrap();
        assert_eq!(r.info_hash, *b"aaaaaaaaaaaaaaaaaaaa");
        assert_eq!(r.peer_id, *b"bbbbbbbbbbbbbbbbbbbb");
        assert_eq!((r.port, r.left, r.uploaded, r.downloaded), (1, 0, 0, 0));
        assert_eq!(r.event, Event::None);
        assert!(r.compact && !r.no_peer_id);
        assert_eq!((r.numwant, r.key, r.ip), (None, None, None));
    }

    #[test]
    fn first_occurrence_wins() {
        let r = parse_with("&port=2&numwant=-1&numwant=5&event=started&event=bogus").unwrap();
        assert_eq!((r.port, r.numwant, r.event), (1, None, Event::Started));
    }

    #[test]
    fn flags_and_numwant() {
        assert!(!parse_with("&compact=0").unwrap().compact);
        assert!(parse_with("&compact=yes").unwrap().compact);
        assert!(parse_with("&no_peer_id=1").unwrap().no_peer_id);
        assert!(!parse_with("&no_peer_id=true").unwrap().no_peer_id);
        assert_eq!(
            parse_with("&numwant=99999999999").unwrap().numwant,
            Some(u32::MAX)
        );
        assert_eq!(
            parse_with("&numwant=999999999999999999999999")
                .unwrap()
                .numwant,
            Some(u32::MAX)
        );
        assert_eq!(
            parse_with("&numwant=-99999999999999999999")
                .unwrap()
                .numwant,
            None
        );
        assert_eq!(parse_with("&numwant=").unwrap().numwant, None);
        assert_eq!(parse_with("&numwant=%35").unwrap().numwant, Some(5));
        assert_eq!(
            parse_with("&numwant=-").unwrap_err(),
            ProtocolError::InvalidNumwant
        );
    }

    #[test]
    fn events() {
        for (v, e) in [
            ("", Event::None),
            ("empty", Event::None),
            ("started", Event::Started),
            ("stopped", Event::Stopped),
            ("completed", Event::Completed),
            ("paused", Event::Paused),
        ] {
            assert_eq!(parse_with(&format!("&event={v}")).unwrap().event, e);
        }
        let long = "x".repeat(100);
        let err = parse_with(&format!("&event={long}")).unwrap_err();
        assert_eq!(err, ProtocolError::UnknownEvent("x".repeat(64)));
    }

    #[test]
    fn key_is_fnv1a_of_decoded_bytes() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(key_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(key_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(key_hash(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(
            parse_with("&key=fo%6fbar").unwrap().key,
            Some(key_hash(b"foobar"))
        );
        assert_eq!(parse_with("&key=").unwrap().key, None);
    }

    #[test]
    fn escaped_parameter_names() {
        let r = parse_with("&n%75mwant=7&%6Bey=x").unwrap();
        assert_eq!((r.numwant, r.key), (Some(7), Some(key_hash(b"x"))));
    }

    #[test]
    fn trackerid_from_clients_is_ignored() {
        // Clients echo the tracker id they were given (BEP 3), in any bytes, even badly escaped.
        let plain = parse_announce(BASE).unwrap();
        for extra in [
            "&trackerid=retracker-1",
            "&trackerid=%FF%00",
            "&trackerid=%Z",
            "&trackerid",
        ] {
            assert_eq!(parse_with(extra).unwrap(), plain, "{extra}");
        }
    }

    #[test]
    fn tracker_id_comes_after_the_peers() {
        let mut out = Vec::new();
        encode_announce(
            &AnnounceResponse {
                interval: 1,
                min_interval: 1,
                complete: 0,
                incomplete: 0,
                downloaded: 0,
                peers: &[],
                external_ip: None,
                warning: Some("w"),
                tracker_id: Some(b"lan-1"),
                compact: true,
                no_peer_id: false,
                peers6_key: false,
            },
            &mut out,
        );
        assert!(
            out.ends_with(b"5:peers0:10:tracker id5:lan-115:warning message1:we"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn ip_is_lossy_text() {
        assert_eq!(
            parse_with("&ip=%FF1").unwrap().ip.as_deref(),
            Some("\u{fffd}1")
        );
        assert_eq!(parse_with("&ip=").unwrap().ip, None);
    }

    fn response(peers: &[ResponsePeer], compact: bool) -> Vec<u8> {
        response_to(peers, compact, false)
    }

    /// The answer to a requester that came over IPv6 when `peers6_key`.
    fn response_to(peers: &[ResponsePeer], compact: bool, peers6_key: bool) -> Vec<u8> {
        let mut out = Vec::new();
        encode_announce(
            &AnnounceResponse {
                interval: 1800,
                min_interval: 60,
                complete: 1,
                incomplete: 2,
                downloaded: 3,
                peers,
                external_ip: Some("::ffff:10.0.0.9".parse().unwrap()),
                warning: None,
                tracker_id: None,
                compact,
                no_peer_id: false,
                peers6_key,
            },
            &mut out,
        );
        out
    }

    #[test]
    fn compact_response_splits_families() {
        let peers = [
            ResponsePeer {
                ip: "10.0.0.1".parse().unwrap(),
                port: 0x1ae1,
                peer_id: [b'p'; 20],
            },
            ResponsePeer {
                ip: "fe80::1".parse().unwrap(),
                port: 2,
                peer_id: [b'q'; 20],
            },
            ResponsePeer {
                ip: "::ffff:10.0.0.2".parse().unwrap(),
                port: 3,
                peer_id: [b'r'; 20],
            },
        ];
        let mut expected =
            b"d8:completei1e10:downloadedi3e11:external ip4:\x0a\x00\x00\x09".to_vec();
        expected.extend_from_slice(b"10:incompletei2e8:intervali1800e12:min intervali60e");
        expected.extend_from_slice(b"5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x03");
        expected.extend_from_slice(b"6:peers618:\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x02e");
        assert_eq!(response(&peers, true), expected);
    }

    #[test]
    fn non_compact_response_lists_dicts() {
        let peers = [ResponsePeer {
            ip: "::ffff:10.0.0.2".parse().unwrap(),
            port: 3,
            peer_id: [b'r'; 20],
        }];
        let out = response(&peers, false);
        let tail = b"5:peersld2:ip8:10.0.0.27:peer id20:rrrrrrrrrrrrrrrrrrrr4:porti3eeee";
        assert!(out.ends_with(tail), "{}", String::from_utf8_lossy(&out));
    }

    /// Two IPv4 peers, one of them IPv4-mapped: no IPv6 peer.
    fn ipv4_peers() -> [ResponsePeer; 2] {
        [
            ResponsePeer {
                ip: "10.0.0.1".parse().unwrap(),
                port: 0x1ae1,
                peer_id: [b'p'; 20],
            },
            ResponsePeer {
                ip: "::ffff:10.0.0.2".parse().unwrap(),
                port: 3,
                peer_id: [b'r'; 20],
            },
        ]
    }

    const IPV4_PEERS_ANSWER: &[u8] =
        b"d8:completei1e10:downloadedi3e11:external ip4:\x0a\x00\x00\x09\
        10:incompletei2e8:intervali1800e12:min intervali60e\
        5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x03e";

    #[test]
    fn an_ipv4_requester_gets_no_peers6_without_ipv6_peers() {
        assert_eq!(response(&ipv4_peers(), true), IPV4_PEERS_ANSWER);
        assert_eq!(
            response(&[], true)
                .windows(6)
                .filter(|w| w == b"peers6")
                .count(),
            0
        );
    }

    #[test]
    fn an_ipv6_requester_gets_an_empty_peers6_beside_ipv4_peers() {
        // The same answer with `6:peers60:` between `peers` and the end (BEP 7; sorted keys).
        let mut expected = IPV4_PEERS_ANSWER[..IPV4_PEERS_ANSWER.len() - 1].to_vec();
        expected.extend_from_slice(b"6:peers60:e");
        assert_eq!(response_to(&ipv4_peers(), true, true), expected);
        // No peer at all: both keys, both empty.
        assert!(response_to(&[], true, true).ends_with(b"5:peers0:6:peers60:e"));
    }

    #[test]
    fn an_empty_peers6_keeps_the_key_order() {
        let mut out = Vec::new();
        encode_announce(
            &AnnounceResponse {
                interval: 1,
                min_interval: 1,
                complete: 0,
                incomplete: 0,
                downloaded: 0,
                peers: &ipv4_peers()[..1],
                external_ip: None,
                warning: Some("w"),
                tracker_id: Some(b"lan-1"),
                compact: true,
                no_peer_id: false,
                peers6_key: true,
            },
            &mut out,
        );
        let tail: &[u8] =
            b"5:peers6:\x0a\x00\x00\x01\x1a\xe16:peers60:10:tracker id5:lan-115:warning message1:we";
        assert!(out.ends_with(tail), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn peers6_key_changes_nothing_else() {
        let mixed = [
            ipv4_peers()[0],
            ResponsePeer {
                ip: "fe80::1".parse().unwrap(),
                port: 2,
                peer_id: [b'q'; 20],
            },
        ];
        // With an IPv6 peer `peers6` is there anyway, once; the dictionary form has no `peers6`.
        assert_eq!(response_to(&mixed, true, true), response(&mixed, true));
        for peers in [&mixed[..], &ipv4_peers()[..], &[]] {
            assert_eq!(response_to(peers, false, true), response(peers, false));
        }
    }
}
