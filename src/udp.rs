//! The UDP tracker (BEP 15): [`serve`] answers connect, announce and scrape packets on one
//! socket, through the same announce core as HTTP ([`crate::http::announce::process`]), so both
//! transports share swarms, the address policy, the blocklist, the numwant cap and statistics.
//!
//! **Connection ids** are stateless: SipHash-2-4 (a MAC for short inputs) of the client's IP
//! address and the current 60-second window, keyed with 128 bits drawn at random once per
//! process. The port is left out, as opentracker and aquatic do: a client may connect from one
//! socket and announce from another (libtorrent per listen interface, the aquatic load test),
//! and what the id proves, that the client receives packets sent to that address, is about the
//! address. An id is accepted in its window and the next one, so it lives 1 to 2 minutes (BEP 15
//! asks for at least one); nothing is stored per client, and a restart invalidates every id (the
//! client then connects again, as BEP 15 prescribes for an error). A wrong or expired id gets the
//! error "connection ID expired or invalid" before anything else is looked at.
//!
//! **Addresses**: there is no proxy in front of UDP, so the client is always the packet's source
//! address whatever `[TRACKER] mode` says; a non-zero `ip` field is judged like HTTP's `ip=`
//! (with `verify_reported_ip`, the default, it is never believed, as no trusted proxy vouches for
//! it). Refusals (`ignore_ip`, `allowed_networks`, blocklist, peer_id taken, too many scrape
//! hashes) send an error packet with the `failure reason` HTTP would send.
//!
//! **Peer families**: an announce response carries one address size, 6 bytes per peer on an
//! IPv4 socket and 18 on an IPv6 one (BEP 15), so an IPv4 socket hands out the swarm's IPv4
//! peers and an IPv6 socket its IPv6 peers; the others are left out (a client reaches them only
//! over that family anyway). The peers are picked before the filter, so in a swarm of both
//! families a UDP answer may hold fewer than numwant peers; HTTP gives both families. A response
//! never exceeds one 1500-byte packet (242 IPv4 or 79 IPv6 peers).
//!
//! **Malformed packets**: an error packet goes back when the packet holds a transaction id and
//! its action may be answered (see [`UdpError::reply_to`], which keeps two trackers from
//! answering each other's errors forever); anything else is dropped silently.
//!
//! Announces and scrapes are counted in [`crate::stats`] like HTTP ones (failure labels included,
//! and `bad_connection_id`); connect requests are not counted.

use crate::http::announce::{process, Answer};
use crate::http::error::RequestError;
use crate::http::Tracker;
use crate::policy;
use crate::protocol::scrape::ScrapeEntry;
use crate::protocol::udp::{
    encode_announce, encode_connect, encode_error, encode_scrape, parse_request, Announce,
    AnnounceResponse, Family, Request, Scrape, UdpError, ACTION_ANNOUNCE, ACTION_SCRAPE,
};
use crate::protocol::ProtocolError;
use crate::stats::{Event, Failure, RequestKind};
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Length of a connection id window; an id is valid in its window and the next.
pub const WINDOW_SECS: u64 = 60;
/// Largest packet read: a full scrape request (16 + 20 × 74 = 1496 bytes) and an announce with
/// generous BEP 41 options fit; longer packets are cut, which only drops options or hashes
/// beyond the limit.
const RECV_BUF: usize = 2048;
/// Tasks reading one socket at most (each with its own buffers).
const MAX_WORKERS: usize = 4;

/// The message of the error for an unknown or expired connection id.
pub const BAD_CONNECTION_ID: &str = "connection ID expired or invalid";

/// Issues and checks connection ids; see the module doc.
#[derive(Clone)]
pub struct ConnectionIds {
    /// The MAC key.
    key: [u8; 16],
    /// Windows count from here: monotonic, immune to wall-clock jumps.
    started: Instant,
}

impl ConnectionIds {
    /// Ids keyed with `key`.
    pub fn new(key: [u8; 16]) -> Self {
        ConnectionIds {
            key,
            started: Instant::now(),
        }
    }

    /// The process-wide ids, keyed with 16 random bytes drawn at first use.
    pub fn process() -> &'static ConnectionIds {
        static IDS: OnceLock<ConnectionIds> = OnceLock::new();
        IDS.get_or_init(|| ConnectionIds::new(rand::random()))
    }

    /// The current window.
    fn window(&self) -> u64 {
        self.started.elapsed().as_secs() / WINDOW_SECS
    }

    /// The id for `client` in `window`.
    pub fn id_at(&self, client: IpAddr, window: u64) -> u64 {
        let mut mac = SipHasher24::new_with_key(&self.key);
        match client.to_canonical() {
            IpAddr::V4(v4) => mac.write(&v4.octets()),
            IpAddr::V6(v6) => mac.write(&v6.octets()),
        }
        mac.write(&window.to_be_bytes());
        mac.finish()
    }

    /// True when `id` was issued to `client` in `window` or the one before.
    pub fn valid_at(&self, id: u64, client: IpAddr, window: u64) -> bool {
        use subtle::ConstantTimeEq;
        // Which window matched may show in the timing; that tells an attacker nothing.
        let matches = |w: u64| bool::from(id.ct_eq(&self.id_at(client, w)));
        matches(window) || matches(window.wrapping_sub(1))
    }

    /// The id for `client` now.
    pub fn issue(&self, client: SocketAddr) -> u64 {
        self.id_at(client.ip(), self.window())
    }

    /// True when `id` is valid for `client` now.
    pub fn valid(&self, id: u64, client: SocketAddr) -> bool {
        self.valid_at(id, client.ip(), self.window())
    }
}

/// Why a UDP announce or scrape is refused. `Display` is the error packet's message.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// Not an id this process issued to this address recently.
    #[error("{BAD_CONNECTION_ID}")]
    ConnectionId,
    /// Whatever HTTP would refuse, with the same text.
    #[error(transparent)]
    Request(#[from] RequestError),
}

impl Refusal {
    fn failure(&self) -> Failure {
        match self {
            Refusal::ConnectionId => Failure::BadConnectionId,
            Refusal::Request(e) => e.failure(),
        }
    }
}

/// What every worker of one socket shares.
struct Context {
    tracker: Arc<Tracker>,
    ids: &'static ConnectionIds,
    /// The socket's family: the peers handed out.
    family: Family,
}

/// Buffers one worker reuses for every packet.
struct Buffers {
    packet: Vec<u8>,
    out: Vec<u8>,
    entries: Vec<ScrapeEntry>,
}

/// Serves BEP 15 on `socket` until `stop` changes. Logs one line with the address at start.
pub async fn serve(socket: UdpSocket, tracker: Arc<Tracker>, stop: watch::Receiver<bool>) {
    let family = match socket.local_addr() {
        Ok(addr) => {
            tracing::info!("UDP tracker on udp://{addr}/announce");
            Family::of(addr.ip())
        }
        Err(_) => Family::V4,
    };
    let cx = Arc::new(Context {
        tracker,
        ids: ConnectionIds::process(),
        family,
    });
    let socket = Arc::new(socket);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS);
    // The workers share the socket rather than having one each (SO_REUSEPORT): the kernel
    // would spread client sockets by a hash of their address and port, so a few busy ones (a
    // load test's four) could all land on one worker while the others idle.
    let mut others = tokio::task::JoinSet::new();
    for _ in 1..workers {
        others.spawn(worker(Arc::clone(&socket), Arc::clone(&cx), stop.clone()));
    }
    worker(socket, cx, stop).await;
    while others.join_next().await.is_some() {}
}

/// Reads packets and answers them until `stop` changes.
async fn worker(socket: Arc<UdpSocket>, cx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut bufs = Buffers {
        packet: vec![0; RECV_BUF],
        out: Vec::with_capacity(1500),
        entries: Vec::new(),
    };
    while !*stop.borrow() {
        let (len, from) = tokio::select! {
            received = socket.recv_from(&mut bufs.packet) => match received {
                Ok(pair) => pair,
                Err(e) => {
                    static THROTTLE: crate::logging::Throttle = crate::logging::Throttle::new(60);
                    if THROTTLE.ready() {
                        tracing::warn!("receiving UDP packets fails: {e} (logged at most once a minute)");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        bufs.out.clear();
        let Buffers {
            packet,
            out,
            entries,
        } = &mut bufs;
        cx.handle(&packet[..len], from, out, entries);
        if !out.is_empty() {
            if let Err(e) = socket.send_to(out, from).await {
                tracing::debug!("UDP answer to {from}: {e}");
            }
        }
    }
}

impl Context {
    /// Writes the answer to one packet into `out`, or nothing when it gets none.
    fn handle(
        &self,
        packet: &[u8],
        from: SocketAddr,
        out: &mut Vec<u8>,
        entries: &mut Vec<ScrapeEntry>,
    ) {
        let started = Instant::now();
        let (kind, transaction_id, result) = match parse_request(packet) {
            Ok(Request::Connect { transaction_id }) => {
                encode_connect(transaction_id, self.ids.issue(from), out);
                return;
            }
            Ok(Request::Announce(a)) => (
                RequestKind::Announce,
                a.transaction_id,
                self.announce(&a, from, out),
            ),
            Ok(Request::Scrape(s)) => (
                RequestKind::Scrape,
                s.transaction_id,
                self.scrape(&s, from, out, entries),
            ),
            Err(e) => return self.malformed(&e, started, out),
        };
        let failure = match result {
            Ok(()) => None,
            Err(refusal) => {
                out.clear();
                encode_error(transaction_id, &refusal.to_string(), out);
                Some(refusal.failure())
            }
        };
        self.tracker.stats.event(Event::Request {
            kind,
            failure,
            elapsed: started.elapsed(),
        });
    }

    fn announce(&self, a: &Announce, from: SocketAddr, out: &mut Vec<u8>) -> Result<(), Refusal> {
        if !self.ids.valid(a.connection_id, from) {
            return Err(Refusal::ConnectionId);
        }
        let req = &a.request;
        // Over UDP the client is always the source address, proxy mode or not.
        let settings = self.tracker.settings();
        let resolved = policy::resolve_direct(&settings.policy, from.ip(), req.ip.as_deref())
            .map_err(RequestError::from)?;
        // The warning (reported ip not used, numwant capped) has no place in a BEP 15 answer.
        let Answer {
            outcome, interval, ..
        } = process(&self.tracker, &settings, req, &resolved)?;
        encode_announce(
            &AnnounceResponse {
                transaction_id: a.transaction_id,
                interval,
                leechers: outcome.incomplete,
                seeders: outcome.complete,
                peers: &outcome.peers,
            },
            self.family,
            out,
        );
        Ok(())
    }

    fn scrape(
        &self,
        s: &Scrape,
        from: SocketAddr,
        out: &mut Vec<u8>,
        entries: &mut Vec<ScrapeEntry>,
    ) -> Result<(), Refusal> {
        if !self.ids.valid(s.connection_id, from) {
            return Err(Refusal::ConnectionId);
        }
        let settings = self.tracker.settings();
        let limit = settings.max_scrape_hashes;
        if s.info_hashes.len() > limit {
            let e = ProtocolError::TooManyInfoHashes {
                count: s.info_hashes.len(),
                limit,
            };
            return Err(RequestError::from(e).into());
        }
        // The same networks that may announce may scrape.
        policy::resolve_direct(&settings.policy, from.ip(), None).map_err(RequestError::from)?;
        // An empty list never gets here (the codec refuses it), so no full scrape over UDP.
        crate::http::scrape::counts(&self.tracker, &s.info_hashes, entries)?;
        encode_scrape(s.transaction_id, entries, out);
        Ok(())
    }

    /// Answers a packet the codec refused, when it may be answered; counts announces and
    /// scrapes among them as malformed.
    fn malformed(&self, e: &UdpError, started: Instant, out: &mut Vec<u8>) {
        let kind = match e.action {
            Some(ACTION_ANNOUNCE) => Some(RequestKind::Announce),
            Some(ACTION_SCRAPE) => Some(RequestKind::Scrape),
            _ => None,
        };
        if let Some(kind) = kind {
            self.tracker.stats.event(Event::Request {
                kind,
                failure: Some(Failure::Malformed),
                elapsed: started.elapsed(),
            });
        }
        if let Some(transaction_id) = e.reply_to() {
            encode_error(transaction_id, &e.to_string(), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ids_last_two_windows_and_belong_to_one_address() {
        let ids = ConnectionIds::new(*b"sixteen byte key");
        let me = addr("10.0.0.1:6881");
        let id = ids.issue(me);
        let window = ids.window();
        assert!(ids.valid_at(id, me.ip(), window));
        assert!(ids.valid_at(id, me.ip(), window + 1));
        assert!(!ids.valid_at(id, me.ip(), window + 2));
        assert!(!ids.valid_at(id, me.ip(), window.wrapping_sub(1)));
        // Another socket of the same client (another port) may use it; another address not.
        assert!(ids.valid(id, addr("10.0.0.1:6882")));
        assert!(!ids.valid(id, addr("10.0.0.2:6881")));
        assert!(!ids.valid(id ^ 1, me));
        // An IPv4 client seen through a dual-stack socket is the same client.
        assert!(ids.valid(id, addr("[::ffff:10.0.0.1]:6881")));
        assert!(ids.valid_at(ids.id_at(me.ip(), 0), me.ip(), 0));
    }

    #[test]
    fn ids_depend_on_the_key() {
        let me: IpAddr = "fe80::1".parse().unwrap();
        let a = ConnectionIds::new([1; 16]).id_at(me, 5);
        assert_ne!(a, ConnectionIds::new([2; 16]).id_at(me, 5));
        assert_eq!(a, ConnectionIds::new([1; 16]).id_at(me, 5));
        assert_ne!(a, ConnectionIds::new([1; 16]).id_at(me, 6));
        let ids = ConnectionIds::process();
        let client = SocketAddr::new(me, 1);
        assert!(ids.valid(ids.issue(client), client));
    }
}
