//! The UDP tracker (BEP 15) against the real server, through a client written here byte by byte
//! (not the server's codec), so that both sides of the wire are checked independently.

mod common;
use common::*;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

const H: [u8; 20] = *b"udp-test-hash-number";
const MAGIC: [u8; 8] = [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80];
/// How long to wait for an answer that must come.
const ANSWER: Duration = Duration::from_secs(5);
/// How long to wait to be sure that no answer comes.
const SILENCE: Duration = Duration::from_millis(500);

/// A UDP tracker client.
struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    next_tid: u32,
}

/// The fields of an announce request.
#[derive(Clone)]
struct Ann {
    hash: [u8; 20],
    peer: u32,
    left: u64,
    event: u32,
    ip: [u8; 4],
    key: u32,
    num_want: i32,
    port: u16,
    options: Vec<u8>,
}

impl Ann {
    fn new(hash: [u8; 20], peer: u32, port: u16, left: u64) -> Ann {
        Ann {
            hash,
            peer,
            left,
            event: 2,
            ip: [0; 4],
            key: 0x1234_5678 + peer,
            num_want: -1,
            port,
            options: Vec::new(),
        }
    }

    /// The 98 bytes of BEP 15, then the options.
    fn bytes(&self, connection_id: u64, tid: u32) -> Vec<u8> {
        let mut p = Vec::with_capacity(98 + self.options.len());
        p.extend_from_slice(&connection_id.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1]);
        p.extend_from_slice(&tid.to_be_bytes());
        p.extend_from_slice(&self.hash);
        p.extend_from_slice(&id20("-UD0001-", self.peer));
        p.extend_from_slice(&0u64.to_be_bytes()); // downloaded
        p.extend_from_slice(&self.left.to_be_bytes());
        p.extend_from_slice(&0u64.to_be_bytes()); // uploaded
        p.extend_from_slice(&self.event.to_be_bytes());
        p.extend_from_slice(&self.ip);
        p.extend_from_slice(&self.key.to_be_bytes());
        p.extend_from_slice(&self.num_want.to_be_bytes());
        p.extend_from_slice(&self.port.to_be_bytes());
        assert_eq!(p.len(), 98);
        p.extend_from_slice(&self.options);
        p
    }
}

/// A decoded announce response.
#[derive(Debug)]
struct AnnounceReply {
    interval: u32,
    leechers: u32,
    seeders: u32,
    peers: Vec<SocketAddr>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

impl Client {
    async fn new(server: SocketAddr) -> Client {
        let local = if server.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        Self::from(local, server).await
    }

    async fn from(local: &str, server: SocketAddr) -> Client {
        Client {
            sock: UdpSocket::bind(local).await.unwrap(),
            server,
            next_tid: 0x5eed_0000,
        }
    }

    fn tid(&mut self) -> u32 {
        self.next_tid += 1;
        self.next_tid
    }

    async fn send(&self, packet: &[u8]) {
        self.sock.send_to(packet, self.server).await.unwrap();
    }

    /// The next packet within `wait`, if any.
    async fn recv_within(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(wait, self.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                assert_eq!(from, self.server);
                Some(buf[..n].to_vec())
            }
            Ok(Err(e)) => panic!("recv: {e}"),
            Err(_) => None,
        }
    }

    async fn recv(&self) -> Vec<u8> {
        self.recv_within(ANSWER).await.expect("an answer")
    }

    /// Connects and gives the connection id.
    async fn connect(&mut self) -> u64 {
        let tid = self.tid();
        let mut p = MAGIC.to_vec();
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&tid.to_be_bytes());
        self.send(&p).await;
        let r = self.recv().await;
        assert_eq!(r.len(), 16, "{r:?}");
        assert_eq!(be32(&r, 0), 0, "action connect");
        assert_eq!(be32(&r, 4), tid, "transaction id");
        u64::from_be_bytes(r[8..16].try_into().unwrap())
    }

    /// Sends an announce and gives the raw answer and the transaction id used.
    async fn announce_raw(&mut self, cid: u64, a: &Ann) -> (Vec<u8>, u32) {
        let tid = self.tid();
        self.send(&a.bytes(cid, tid)).await;
        (self.recv().await, tid)
    }

    /// Connects, announces, and decodes the answer (IPv4 or IPv6 peers by the server's family).
    async fn announce(&mut self, a: &Ann) -> AnnounceReply {
        let cid = self.connect().await;
        let (r, tid) = self.announce_raw(cid, a).await;
        assert_eq!(be32(&r, 0), 1, "action announce: {}", error_text(&r));
        assert_eq!(be32(&r, 4), tid);
        let entry = if self.server.is_ipv4() { 6 } else { 18 };
        assert_eq!((r.len() - 20) % entry, 0, "{} bytes", r.len());
        let peers = r[20..]
            .chunks(entry)
            .map(|c| {
                let ip = if entry == 6 {
                    IpAddr::from(<[u8; 4]>::try_from(&c[..4]).unwrap())
                } else {
                    IpAddr::from(<[u8; 16]>::try_from(&c[..16]).unwrap())
                };
                SocketAddr::new(ip, u16::from_be_bytes([c[entry - 2], c[entry - 1]]))
            })
            .collect();
        AnnounceReply {
            interval: be32(&r, 8),
            leechers: be32(&r, 12),
            seeders: be32(&r, 16),
            peers,
        }
    }

    /// Scrapes `hashes`: (seeders, completed, leechers) each, in request order.
    async fn scrape(
        &mut self,
        cid: u64,
        hashes: &[[u8; 20]],
    ) -> Result<Vec<(u32, u32, u32)>, String> {
        let tid = self.tid();
        let mut p = cid.to_be_bytes().to_vec();
        p.extend_from_slice(&[0, 0, 0, 2]);
        p.extend_from_slice(&tid.to_be_bytes());
        hashes.iter().for_each(|h| p.extend_from_slice(h));
        self.send(&p).await;
        let r = self.recv().await;
        assert_eq!(be32(&r, 4), tid);
        match be32(&r, 0) {
            2 => {
                assert_eq!(r.len(), 8 + 12 * hashes.len());
                Ok(r[8..]
                    .chunks(12)
                    .map(|c| (be32(c, 0), be32(c, 4), be32(c, 8)))
                    .collect())
            }
            3 => Err(error_text(&r)),
            other => panic!("action {other}"),
        }
    }
}

/// The message of an error packet (action 3); panics on anything else.
fn error_text(r: &[u8]) -> String {
    assert!(
        r.len() >= 8 && be32(r, 0) == 3,
        "not an error packet: {r:?}"
    );
    String::from_utf8(r[8..].to_vec()).unwrap()
}

fn v4(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn connect_then_announce_byte_by_byte() {
    let t = Tracker::start_udp(|_| {}).await;
    let mut c = Client::new(t.udp_addr()).await;
    c.announce(&Ann::new(H, 1, 6001, 0)).await;
    c.announce(&Ann::new(H, 2, 6002, 500)).await;
    let r = c.announce(&Ann::new(H, 3, 6003, 500)).await;
    assert_eq!((r.interval, r.leechers, r.seeders), (1800, 2, 1));
    let mut peers = r.peers;
    peers.sort();
    assert_eq!(peers, [v4("127.0.0.1:6001"), v4("127.0.0.1:6002")]);

    // A seeder gets the leechers only; numwant is honoured.
    let mut again = Ann::new(H, 1, 6001, 0);
    again.event = 0;
    again.num_want = 1;
    let r = c.announce(&again).await;
    assert_eq!((r.leechers, r.seeders, r.peers.len()), (2, 1, 1));
    assert!(
        [v4("127.0.0.1:6002"), v4("127.0.0.1:6003")].contains(&r.peers[0]),
        "{:?}",
        r.peers
    );

    // Stopped: gone from the swarm.
    let mut stop = Ann::new(H, 3, 6003, 500);
    stop.event = 3;
    c.announce(&stop).await;
    let r = c.announce(&Ann::new(H, 4, 6004, 500)).await;
    assert_eq!((r.leechers, r.seeders), (2, 1));
    assert!(!r.peers.contains(&v4("127.0.0.1:6003")), "{:?}", r.peers);
}

#[tokio::test]
async fn scrape_of_two_hashes_in_request_order() {
    let t = Tracker::start_udp(|_| {}).await;
    let other = *b"udp-test-hash-other!";
    let unknown = *b"udp-test-hash-nobody";
    let mut c = Client::new(t.udp_addr()).await;
    c.announce(&Ann::new(H, 1, 6001, 0)).await;
    c.announce(&Ann::new(H, 2, 6002, 100)).await;
    c.announce(&Ann::new(H, 3, 6003, 100)).await;
    let mut done = Ann::new(H, 3, 6003, 0);
    done.event = 1;
    c.announce(&done).await;
    c.announce(&Ann::new(other, 4, 6004, 100)).await;

    let cid = c.connect().await;
    assert_eq!(
        c.scrape(cid, &[other, H, unknown]).await,
        Ok(vec![(0, 0, 1), (2, 1, 1), (0, 0, 0)])
    );
    // The same counts over HTTP.
    let files = t
        .get(&format!("/scrape?info_hash={}", pct(&H)))
        .await
        .dict()
        .dict("files");
    let serde_bencode::value::Value::Dict(e) = &files.0[&H.to_vec()] else {
        panic!("no entry");
    };
    let e = Dict(e.clone());
    assert_eq!(
        (e.int("complete"), e.int("downloaded"), e.int("incomplete")),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn scrape_limit_is_max_scrape_hashes() {
    let t = Tracker::start_udp(|c| c.tracker.max_scrape_hashes = 2).await;
    let mut c = Client::new(t.udp_addr()).await;
    let cid = c.connect().await;
    assert_eq!(c.scrape(cid, &[[1; 20], [2; 20]]).await.unwrap().len(), 2);
    assert_eq!(
        c.scrape(cid, &[[1; 20], [2; 20], [3; 20]]).await,
        Err("too many info_hash values: 3 (limit 2)".into())
    );
}

#[tokio::test]
async fn bad_connection_id_gets_the_error_and_is_counted() {
    let t = Tracker::start_udp(|_| {}).await;
    let mut c = Client::new(t.udp_addr()).await;
    let cid = c.connect().await;
    let (r, tid) = c.announce_raw(cid ^ 0x55, &Ann::new(H, 1, 6001, 0)).await;
    assert_eq!(be32(&r, 4), tid);
    assert_eq!(error_text(&r), "connection ID expired or invalid");
    assert_eq!(
        c.scrape(0x0123_4567_89ab_cdef, &[H]).await,
        Err("connection ID expired or invalid".into())
    );
    // An id is tied to the address it was given to: another host gets the error...
    let mut other = Client::from("127.0.0.2:0", t.udp_addr()).await;
    let (r, _) = other.announce_raw(cid, &Ann::new(H, 1, 6001, 0)).await;
    assert_eq!(error_text(&r), "connection ID expired or invalid");
    // ...and nothing was announced.
    assert_eq!(c.scrape(cid, &[H]).await, Ok(vec![(0, 0, 0)]));
    // Another socket of the same host may use it (clients announce from several sockets).
    let mut sibling = Client::new(t.udp_addr()).await;
    assert_eq!(
        sibling.scrape(cid, &[H]).await,
        Ok(vec![(0, 0, 0)]),
        "same address, other port"
    );

    let m = t.get("/metrics").await;
    let text = String::from_utf8_lossy(&m.body);
    for line in [
        "retracker_failures_total{reason=\"bad_connection_id\"} 3",
        "retracker_requests_total{kind=\"announce\",result=\"failed\"} 2",
        "retracker_requests_total{kind=\"scrape\",result=\"failed\"} 1",
        "retracker_requests_total{kind=\"scrape\",result=\"ok\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}

#[tokio::test]
async fn short_packets_get_no_answer_and_others_an_error() {
    let t = Tracker::start_udp(|_| {}).await;
    let mut c = Client::new(t.udp_addr()).await;
    c.send(&MAGIC[..]).await;
    c.send(&[0u8; 15]).await;
    // The server is alive: the connect is answered, and nothing else arrives.
    c.connect().await;
    assert_eq!(c.recv_within(SILENCE).await, None);

    // Unknown action: an error with the transaction id.
    let mut p = 0u64.to_be_bytes().to_vec();
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(&0xabcd_0001u32.to_be_bytes());
    c.send(&p).await;
    let r = c.recv().await;
    assert_eq!(be32(&r, 4), 0xabcd_0001);
    assert_eq!(
        error_text(&r),
        "unknown action 7 (expected 0 connect, 1 announce or 2 scrape)"
    );
    // An error packet sent to the tracker (as a reflected answer would be) gets nothing back.
    let mut reflected = vec![0, 0, 0, 3, 0xab, 0xcd, 0, 1];
    reflected.extend_from_slice(b"connection ID expired or invalid");
    c.send(&reflected).await;
    p[8..12].copy_from_slice(&3u32.to_be_bytes());
    c.send(&p).await;
    assert_eq!(c.recv_within(SILENCE).await, None);

    // A connect without the magic, a short announce, a bad event: errors saying so.
    let mut no_magic = 1u64.to_be_bytes().to_vec();
    no_magic.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]);
    c.send(&no_magic).await;
    assert!(error_text(&c.recv().await).contains("protocol id"));
    let cid = c.connect().await;
    let full = Ann::new(H, 1, 6001, 0).bytes(cid, 10);
    c.send(&full[..60]).await;
    assert_eq!(
        error_text(&c.recv().await),
        "announce request too short: 60 bytes (at least 98)"
    );
    let mut bad_event = Ann::new(H, 1, 6001, 0);
    bad_event.event = 9;
    let (r, _) = c.announce_raw(cid, &bad_event).await;
    assert!(error_text(&r).starts_with("unknown event 9"));
}

#[tokio::test]
async fn refused_address_gets_the_http_failure_reason() {
    let t =
        Tracker::start_udp(|c| c.tracker.allowed_networks = "10.0.0.0/8".parse().unwrap()).await;
    let mut c = Client::new(t.udp_addr()).await;
    let cid = c.connect().await;
    let (r, _) = c.announce_raw(cid, &Ann::new(H, 1, 6001, 0)).await;
    let http = t.refused(&query(&H, 1, 6001, 0, "")).await;
    assert_eq!(error_text(&r), http);
    assert_eq!(
        http,
        "your address 127.0.0.1 is not in a network allowed to use this tracker"
    );
    assert_eq!(c.scrape(cid, &[H]).await, Err(http));
}

#[tokio::test]
async fn peer_id_rules_and_the_http_key_apply_over_udp() {
    // A peer_id announced over HTTP from 127.0.0.1 cannot be taken over UDP from 127.0.0.2
    // without the same key.
    let t = Tracker::start_udp(|_| {}).await;
    let mut id = Ann::new(H, 1, 6001, 0);
    let http_key = format!("{:08X}", id.key);
    t.announce(&format!("{}&key={http_key}", query_for(&id)))
        .await;
    let mut from2 = Client::from("127.0.0.2:0", t.udp_addr()).await;
    id.key ^= 1;
    let cid = from2.connect().await;
    let (r, _) = from2.announce_raw(cid, &id).await;
    assert!(
        error_text(&r).starts_with("peer_id is already in use"),
        "{r:?}"
    );
    // The key HTTP saw, as libtorrent and Transmission send it (8 hex digits), proves identity.
    id.key ^= 1;
    let r = from2.announce(&id).await;
    assert_eq!((r.seeders, r.leechers), (1, 0));
}

/// The HTTP query for the same announce as `a`.
fn query_for(a: &Ann) -> String {
    format!(
        "info_hash={}&peer_id={}&port={}&left={}",
        pct(&a.hash),
        pct(&id20("-UD0001-", a.peer)),
        a.port,
        a.left
    )
}

#[tokio::test]
async fn http_and_udp_peers_share_swarms() {
    let t = Tracker::start_udp(|_| {}).await;
    t.announce(&query(&H, 1, 7001, 0, "&event=started")).await;
    let mut c = Client::new(t.udp_addr()).await;
    let r = c.announce(&Ann::new(H, 2, 7002, 100)).await;
    assert_eq!((r.seeders, r.leechers), (1, 1));
    assert_eq!(r.peers, [v4("127.0.0.1:7001")]);
    let d = t.announce(&query(&H, 3, 7003, 100, "")).await;
    let mut peers = d.peers4();
    peers.sort();
    assert_eq!(peers, [v4("127.0.0.1:7001"), v4("127.0.0.1:7002")]);
}

#[tokio::test]
async fn ipv6_socket_answers_18_byte_ipv6_peers() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let t = Tracker::start_binds(dir, config, &["127.0.0.1:0"], &["[::1]:0"]).await;
    assert!(t.udp_addr().is_ipv6());
    // An IPv4 peer over HTTP: counted, but not in an IPv6 answer.
    t.announce(&query(&H, 9, 7009, 0, "")).await;
    let mut c = Client::new(t.udp_addr()).await;
    c.announce(&Ann::new(H, 1, 7001, 0)).await;
    let r = c.announce(&Ann::new(H, 2, 7002, 100)).await;
    assert_eq!((r.seeders, r.leechers), (2, 1));
    assert_eq!(r.peers, ["[::1]:7001".parse::<SocketAddr>().unwrap()]);
}

#[tokio::test]
async fn reported_ip_rules_follow_the_policy() {
    // Default: verify_reported_ip, and no proxy can vouch over UDP: the source address is used.
    let t = Tracker::start_udp(|_| {}).await;
    let mut c = Client::new(t.udp_addr()).await;
    let mut claimed = Ann::new(H, 1, 7001, 0);
    claimed.ip = [10, 9, 8, 7];
    c.announce(&claimed).await;
    let r = c.announce(&Ann::new(H, 2, 7002, 100)).await;
    assert_eq!(r.peers, [v4("127.0.0.1:7001")]);

    // Trusted reported addresses: the ip field is used.
    let t = Tracker::start_udp(|c| {
        c.tracker.verify_reported_ip = false;
        c.tracker.allow_internal_ip = true;
    })
    .await;
    let mut c = Client::new(t.udp_addr()).await;
    c.announce(&claimed).await;
    let r = c.announce(&Ann::new(H, 2, 7002, 100)).await;
    assert_eq!(r.peers, [v4("10.9.8.7:7001")]);

    // Proxy mode changes nothing over UDP: the client is the source, even from a trusted proxy
    // address (127.0.0.1 by default), which would need headers over HTTP.
    let t = Tracker::start_udp(|c| c.tracker.mode = retracker::config::Mode::Proxy).await;
    let mut c = Client::new(t.udp_addr()).await;
    c.announce(&Ann::new(H, 1, 7001, 0)).await;
    let r = c.announce(&Ann::new(H, 2, 7002, 100)).await;
    assert_eq!(r.peers, [v4("127.0.0.1:7001")]);
}

#[tokio::test]
async fn bep41_url_option_is_skipped() {
    let t = Tracker::start_udp(|_| {}).await;
    let mut c = Client::new(t.udp_addr()).await;
    let mut a = Ann::new(H, 1, 7001, 0);
    // libtorrent's form: the path and query as URL data, then end of options.
    a.options = b"\x02\x0c/announce?pk\x01\x02\x05=1234\x00".to_vec();
    c.announce(&a).await;
    let mut b = Ann::new(H, 2, 7002, 100);
    b.options = b"\x02\xff/cut short".to_vec();
    let r = c.announce(&b).await;
    assert_eq!((r.seeders, r.leechers), (1, 1));
    assert_eq!(r.peers, [v4("127.0.0.1:7001")]);
}

#[tokio::test]
async fn an_ipv4_socket_answers_numwant_ipv4_peers_from_a_swarm_of_both_families() {
    let t = Tracker::start_udp(|c| {
        c.tracker.verify_reported_ip = false;
        c.tracker.allow_internal_ip = true;
    })
    .await;
    // Ten IPv6 seeders and ten IPv4 seeders, over HTTP.
    for i in 1..=10u32 {
        t.announce(&query(
            &H,
            i,
            7000 + i as u16,
            0,
            &format!("&ip=2001:db8::{i}"),
        ))
        .await;
        t.announce(&query(&H, 100 + i, 8000 + i as u16, 0, ""))
            .await;
    }
    let mut c = Client::new(t.udp_addr()).await;
    let mut a = Ann::new(H, 200, 9000, 100);
    a.num_want = 10;
    let r = c.announce(&a).await;
    assert_eq!((r.seeders, r.leechers), (20, 1));
    // Chosen from the socket's family only: all ten IPv4 peers, not half of a mixed draw.
    let mut ports: Vec<u16> = r.peers.iter().map(|p| p.port()).collect();
    ports.sort();
    assert_eq!(ports, (8001..=8010).collect::<Vec<u16>>(), "{:?}", r.peers);
    assert!(r.peers.iter().all(|p| p.is_ipv4()));
}
