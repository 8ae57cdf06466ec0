//! The tracker's own bencode encoders (`protocol::announce::encode_announce`,
//! `protocol::scrape::encode_scrape`, `protocol::encode_failure`) on arbitrary answers, read
//! back by the reference decoder serde_bencode.
//!
//! Every answer decodes, is canonical bencode (re-encoding the decoded value gives the same
//! bytes: sorted keys, no leading zeros) and holds exactly the fields put in: counts, intervals,
//! `external ip`, IPv4 and IPv6 peers in compact (BEP 23, BEP 7) and dictionary (BEP 3) form,
//! `tracker id`, `warning message`; failure reasons with BEP 31 `retry in`; scrape files keyed
//! by hash, the first entry of a hash winning.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use retracker_fuzz::protocol::announce::{encode_announce, AnnounceResponse, ResponsePeer};
use retracker_fuzz::protocol::scrape::{encode_scrape, ScrapeEntry};
use retracker_fuzz::protocol::{encode_failure, RetryIn};
use serde_bencode::value::Value;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Arbitrary, Debug)]
enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
    /// `::ffff:a.b.c.d`, as a dual-stack socket reports an IPv4 client.
    Mapped([u8; 4]),
}

impl Ip {
    fn addr(&self) -> IpAddr {
        match *self {
            Ip::V4(a) => IpAddr::V4(Ipv4Addr::from(a)),
            Ip::V6(a) => IpAddr::V6(Ipv6Addr::from(a)),
            Ip::Mapped(a) => IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped()),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Peer {
    ip: Ip,
    port: u16,
    peer_id: [u8; 20],
}

#[derive(Arbitrary, Debug)]
enum Retry {
    Minutes(u32),
    Never,
}

#[derive(Arbitrary, Debug)]
struct File {
    info_hash: [u8; 20],
    complete: u32,
    incomplete: u32,
    downloaded: u64,
}

#[derive(Arbitrary, Debug)]
struct Input {
    interval: u32,
    min_interval: u32,
    complete: u32,
    incomplete: u32,
    downloaded: u64,
    peers: Vec<Peer>,
    external_ip: Option<Ip>,
    warning: Option<String>,
    tracker_id: Option<Vec<u8>>,
    compact: bool,
    no_peer_id: bool,
    /// The requester came over IPv6: `peers6` even when empty.
    peers6_key: bool,
    failure: String,
    retry_in: Option<Retry>,
    files: Vec<File>,
}

fuzz_target!(|input: Input| {
    check_announce(&input);
    check_failure(&input);
    check_scrape(&input);
});

/// Decodes `bytes`, which must be canonical bencode, into its top dictionary.
fn decode(bytes: &[u8]) -> HashMap<Vec<u8>, Value> {
    let value: Value = serde_bencode::from_bytes(bytes).expect("bencode");
    let again = serde_bencode::to_bytes(&value).expect("re-encodes");
    assert!(again == bytes, "not canonical:\n{bytes:?}\n{again:?}");
    match value {
        Value::Dict(d) => d,
        other => panic!("not a dictionary: {other:?}"),
    }
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Int(i)) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn bytes(v: Option<&Value>) -> &[u8] {
    match v {
        Some(Value::Bytes(b)) => b,
        other => panic!("not a byte string: {other:?}"),
    }
}

/// A count as bencode readers take it: serde_bencode, libtorrent and Transmission read 64-bit
/// signed integers. The tracker's counts come from u32 swarm counters and SQLite INTEGER
/// columns, so a `downloaded` past `i64::MAX` cannot happen; it is kept in range here.
fn count(n: u64) -> u64 {
    n & (i64::MAX as u64)
}

fn check_announce(input: &Input) {
    let peers: Vec<ResponsePeer> = input
        .peers
        .iter()
        .map(|p| ResponsePeer {
            ip: p.ip.addr(),
            port: p.port,
            peer_id: p.peer_id,
        })
        .collect();
    let response = AnnounceResponse {
        interval: input.interval,
        min_interval: input.min_interval,
        complete: input.complete,
        incomplete: input.incomplete,
        downloaded: count(input.downloaded),
        peers: &peers,
        external_ip: input.external_ip.as_ref().map(Ip::addr),
        warning: input.warning.as_deref(),
        tracker_id: input.tracker_id.as_deref(),
        compact: input.compact,
        no_peer_id: input.no_peer_id,
        peers6_key: input.peers6_key,
    };
    let mut out = b"prefix".to_vec();
    encode_announce(&response, &mut out);
    assert!(out.starts_with(b"prefix"), "appends");
    let mut d = decode(&out[6..]);

    assert_eq!(int(d.get(&b"interval"[..])), i64::from(input.interval));
    assert_eq!(
        int(d.get(&b"min interval"[..])),
        i64::from(input.min_interval)
    );
    assert_eq!(int(d.get(&b"complete"[..])), i64::from(input.complete));
    assert_eq!(int(d.get(&b"incomplete"[..])), i64::from(input.incomplete));
    assert_eq!(
        int(d.get(&b"downloaded"[..])) as u64,
        count(input.downloaded)
    );
    match &input.external_ip {
        None => assert!(!d.contains_key(&b"external ip"[..])),
        Some(ip) => assert_eq!(bytes(d.get(&b"external ip"[..])), octets(ip.addr())),
    }
    assert_eq!(
        d.get(&b"warning message"[..]).map(|v| bytes(Some(v))),
        input.warning.as_ref().map(String::as_bytes)
    );
    assert_eq!(
        d.get(&b"tracker id"[..]).map(|v| bytes(Some(v))),
        input.tracker_id.as_deref()
    );

    if input.compact {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for p in &peers {
            let o = octets(p.ip);
            let list = if o.len() == 4 { &mut v4 } else { &mut v6 };
            list.extend_from_slice(&o);
            list.extend_from_slice(&p.port.to_be_bytes());
        }
        assert_eq!(bytes(d.get(&b"peers"[..])), v4);
        match d.get(&b"peers6"[..]) {
            None => assert!(v6.is_empty() && !input.peers6_key, "peers6 missing"),
            Some(v) => assert!(
                (!v6.is_empty() || input.peers6_key) && bytes(Some(v)) == v6,
                "peers6"
            ),
        }
    } else {
        assert!(!d.contains_key(&b"peers6"[..]));
        let Some(Value::List(list)) = d.get(&b"peers"[..]) else {
            panic!("peers is not a list");
        };
        assert_eq!(list.len(), peers.len());
        for (got, p) in list.iter().zip(&peers) {
            let Value::Dict(got) = got else {
                panic!("peer is not a dictionary");
            };
            let text = std::str::from_utf8(bytes(got.get(&b"ip"[..]))).expect("ip is text");
            let ip: IpAddr = text.parse().expect("ip parses");
            assert_eq!(ip, p.ip.to_canonical());
            assert_eq!(int(got.get(&b"port"[..])), i64::from(p.port));
            match got.get(&b"peer id"[..]) {
                None => assert!(input.no_peer_id),
                Some(id) => assert!(!input.no_peer_id && bytes(Some(id)) == p.peer_id),
            }
            assert_eq!(got.len(), if input.no_peer_id { 2 } else { 3 });
        }
    }

    for known in [
        "complete",
        "downloaded",
        "external ip",
        "incomplete",
        "interval",
        "min interval",
        "peers",
        "peers6",
        "tracker id",
        "warning message",
    ] {
        d.remove(known.as_bytes());
    }
    assert!(d.is_empty(), "unexpected keys {:?}", d.keys());
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip.to_canonical() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn check_failure(input: &Input) {
    let retry_in = input.retry_in.as_ref().map(|r| match *r {
        Retry::Minutes(m) => RetryIn::Minutes(m),
        Retry::Never => RetryIn::Never,
    });
    let mut out = Vec::new();
    encode_failure(&input.failure, retry_in, &mut out);
    let d = decode(&out);
    assert_eq!(
        bytes(d.get(&b"failure reason"[..])),
        input.failure.as_bytes()
    );
    match retry_in {
        None => assert_eq!(d.len(), 1),
        Some(RetryIn::Minutes(m)) => assert_eq!(int(d.get(&b"retry in"[..])), i64::from(m)),
        Some(RetryIn::Never) => assert_eq!(bytes(d.get(&b"retry in"[..])), b"never"),
    }
}

fn check_scrape(input: &Input) {
    let entries: Vec<ScrapeEntry> = input
        .files
        .iter()
        .map(|f| ScrapeEntry {
            info_hash: f.info_hash,
            complete: f.complete,
            incomplete: f.incomplete,
            downloaded: count(f.downloaded),
        })
        .collect();
    let mut out = Vec::new();
    encode_scrape(&entries, &mut out);
    let d = decode(&out);
    assert_eq!(d.len(), 1, "only files");
    let Some(Value::Dict(files)) = d.get(&b"files"[..]) else {
        panic!("files is not a dictionary");
    };
    let mut first: HashMap<&[u8], &ScrapeEntry> = HashMap::new();
    for e in &entries {
        first.entry(&e.info_hash[..]).or_insert(e);
    }
    assert_eq!(files.len(), first.len());
    for (hash, e) in first {
        let Some(Value::Dict(f)) = files.get(hash) else {
            panic!("no dictionary for a hash");
        };
        assert_eq!(f.len(), 3);
        assert_eq!(int(f.get(&b"complete"[..])), i64::from(e.complete));
        assert_eq!(int(f.get(&b"incomplete"[..])), i64::from(e.incomplete));
        assert_eq!(int(f.get(&b"downloaded"[..])) as u64, e.downloaded);
    }
}
