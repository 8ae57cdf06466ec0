//! The UDP tracker (BEP 15): [`serve`] answers connect, announce and scrape packets on one
//! socket, through the same announce core as HTTP ([`crate::tracker`]), so both
//! transports share swarms, the address policy, the blocklist, the numwant cap and statistics.
//!
//! Like opentracker's `ot_udp.c` this is an adapter: [`handle`] decodes a packet, checks the
//! connection id, resolves the client's address, calls the core and encodes the answer; this
//! file reads and writes the socket.
//!
//! **Connection ids** ([`connection_id`]) are stateless: SipHash-2-4 (a MAC for short inputs) of the client's IP
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
//! peers and an IPv6 socket its IPv6 peers (a client reaches the others only over that family
//! anyway). The core picks from the socket's family only, so an answer holds numwant peers of
//! it when the swarm has them, and the peers counted as handed out are the ones sent; HTTP
//! gives both families. A response
//! never exceeds one 1500-byte packet (242 IPv4 or 79 IPv6 peers).
//!
//! **Malformed packets**: an error packet goes back when the packet holds a transaction id and
//! its action may be answered (see [`UdpError::reply_to`], which keeps two trackers from
//! answering each other's errors forever); anything else is dropped silently.
//!
//! Announces and scrapes are counted in [`crate::stats`] like HTTP ones (failure labels included,
//! and `bad_connection_id`); connect requests are not counted.

mod connection_id;
mod handle;

pub use connection_id::{ConnectionIds, BAD_CONNECTION_ID, WINDOW_SECS};

use crate::protocol::scrape::ScrapeEntry;
use crate::protocol::udp::Family;
use crate::tracker::Tracker;
use handle::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Largest packet read: a full scrape request (16 + 20 × 74 = 1496 bytes) and an announce with
/// generous BEP 41 options fit; longer packets are cut, which only drops options or hashes
/// beyond the limit.
const RECV_BUF: usize = 2048;
/// Tasks reading one socket at most (each with its own buffers).
const MAX_WORKERS: usize = 4;

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
    let cx = Arc::new(Context::new(tracker, ConnectionIds::process(), family));
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
