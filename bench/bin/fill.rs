//! `fill`: announces N IPv4 peers across T torrents to a running tracker over UDP (BEP 15), as
//! fast as the tracker answers, so that `bench/memory.sh` can read the tracker's memory with a
//! known number of peers in it.
//!
//! Peer `i` joins torrent `i % T` with its own peer_id, a port distinct within its torrent, its own
//! key, `event=started`, `numwant=0` and `left=0` for every fourth peer (a seeder), `left>0`
//! otherwise. Up to `--window` announces are in flight at once; every announce must get an
//! announce reply: one still unanswered after `--timeout-ms` is sent again (UDP may drop it), an
//! expired connection id is renewed and the announce resent, and any other error reply is a
//! failure. The exit status is 0 only when every peer was answered.
//!
//! Only loopback targets are accepted (the benchmark runs in its own network namespace), and the
//! first `--show` requests are printed before the load starts.
//!
//! The client side of BEP 15 is written out here on purpose: the benchmark must not share the
//! server's own parser, or a bug in it would cancel out.

use clap::Parser;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0x0417_2710_1980;
const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_ERROR: u32 = 3;
/// Transaction id of connect requests; announces use their peer index (so N < u32::MAX).
const CONNECT_TID: u32 = u32::MAX;
/// A connection id lives 1 to 2 minutes; renewing well before keeps every announce valid.
const RENEW_AFTER: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(about = "Announce N IPv4 peers across T torrents to a tracker over UDP")]
struct Args {
    /// Tracker UDP address (loopback only).
    #[arg(long, default_value = "127.0.0.1:6969")]
    addr: SocketAddr,
    /// Peers to announce.
    #[arg(long, default_value_t = 100_000)]
    peers: u32,
    /// Torrents they spread over.
    #[arg(long, default_value_t = 10_000)]
    torrents: u32,
    /// Announces in flight at once.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// An announce unanswered this long is sent again.
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
    /// Give up (exit 1) after this many seconds.
    #[arg(long, default_value_t = 600)]
    deadline_secs: u64,
    /// Requests printed before the load.
    #[arg(long, default_value_t = 3)]
    show: u32,
    /// Seconds between progress lines on standard error; 0 = none.
    #[arg(long, default_value_t = 1)]
    progress_secs: u64,
}

/// A reproducible 64-bit mix (splitmix64), so each run announces the same swarms.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Info hashes look like SHA-1 digests: spread over every byte, as the tracker's shards expect.
fn info_hash(t: u32) -> [u8; 20] {
    let mut h = [0u8; 20];
    for (n, chunk) in h.chunks_mut(8).enumerate() {
        let v = mix(u64::from(t) << 8 | n as u64).to_be_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    h
}

/// Azureus-style prefix, then 8 random-looking bytes and the index (unique per peer).
fn peer_id(i: u32) -> [u8; 20] {
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(b"-FL0001-");
    id[8..16].copy_from_slice(&mix(u64::from(i) ^ 0x5eed).to_be_bytes());
    id[16..].copy_from_slice(&i.to_be_bytes());
    id
}

struct Peer {
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    left: u64,
    key: u32,
    port: u16,
}

fn peer(i: u32, torrents: u32) -> Peer {
    Peer {
        info_hash: info_hash(i % torrents),
        peer_id: peer_id(i),
        left: if i % 4 == 0 { 0 } else { 1 << 20 },
        key: mix(u64::from(i)) as u32,
        // Distinct within a torrent (up to 65535 peers each), never 0.
        port: (1 + (i / torrents) % 65_535) as u16,
    }
}

fn announce_packet(conn: u64, tid: u32, p: &Peer, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&conn.to_be_bytes());
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&tid.to_be_bytes());
    out.extend_from_slice(&p.info_hash);
    out.extend_from_slice(&p.peer_id);
    out.extend_from_slice(&0u64.to_be_bytes()); // downloaded
    out.extend_from_slice(&p.left.to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes()); // uploaded
    out.extend_from_slice(&2u32.to_be_bytes()); // event: started
    out.extend_from_slice(&0u32.to_be_bytes()); // ip: the packet's source
    out.extend_from_slice(&p.key.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // num_want: none
    out.extend_from_slice(&p.port.to_be_bytes());
    debug_assert_eq!(out.len(), 98);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// What the run counted.
#[derive(Default)]
struct Tally {
    answered: u32,
    resent: u64,
    connects: u64,
    failures: u64,
    duplicates: u64,
    unexpected: u64,
}

struct Client {
    socket: UdpSocket,
    addr: SocketAddr,
    conn: Option<u64>,
    connected_at: Instant,
    packet: Vec<u8>,
}

impl Client {
    fn send_connect(&mut self) -> std::io::Result<()> {
        let mut p = Vec::with_capacity(16);
        p.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
        p.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
        p.extend_from_slice(&CONNECT_TID.to_be_bytes());
        self.socket.send_to(&p, self.addr).map(|_| ())
    }

    fn send_announce(&mut self, i: u32, torrents: u32) -> std::io::Result<()> {
        let conn = self.conn.expect("connected before announcing");
        announce_packet(conn, i, &peer(i, torrents), &mut self.packet);
        self.socket.send_to(&self.packet, self.addr).map(|_| ())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "fill: {} is not a loopback address; refusing to send",
            args.addr
        );
        return ExitCode::from(2);
    }
    if args.peers == u32::MAX || args.torrents == 0 || args.window == 0 {
        eprintln!("fill: need peers < 2^32-1, torrents > 0, window > 0");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fill: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> std::io::Result<bool> {
    let bind: SocketAddr = if args.addr.is_ipv4() {
        "127.0.0.1:0".parse().expect("literal")
    } else {
        "[::1]:0".parse().expect("literal")
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(bind),
        socket2::Type::DGRAM,
        None,
    )?;
    // Room for a full window of answers even while this process is descheduled.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.bind(&bind.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(Duration::from_millis(2)))?;
    let mut c = Client {
        socket,
        addr: args.addr,
        conn: None,
        connected_at: Instant::now(),
        packet: Vec::with_capacity(98),
    };

    println!(
        "fill: {} peers across {} torrents to udp://{} (window {}, first {} requests below)",
        args.peers, args.torrents, args.addr, args.window, args.show
    );
    for i in 0..args.show.min(args.peers) {
        let p = peer(i, args.torrents);
        announce_packet(0, i, &p, &mut c.packet);
        println!(
            "  #{i}: info_hash={} peer_id={} left={} port={} key={:08x} event=started numwant=0 \
             ({} bytes: {}…)",
            hex(&p.info_hash),
            String::from_utf8_lossy(&p.peer_id[..8]).into_owned() + &hex(&p.peer_id[8..]),
            p.left,
            p.port,
            p.key,
            c.packet.len(),
            hex(&c.packet[8..40])
        );
    }

    let n = args.peers as usize;
    let timeout = Duration::from_millis(args.timeout_ms);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.deadline_secs);
    let mut answered = vec![false; n];
    // Sent and not yet answered, in send order (entries of answered peers are skipped lazily).
    let mut queue: VecDeque<(u32, Instant)> = VecDeque::with_capacity(args.window * 2);
    // Announces refused for an expired connection id, to send again once renewed.
    let mut resend: Vec<u32> = Vec::new();
    let mut outstanding = 0usize;
    let mut next = 0u32;
    let mut t = Tally::default();
    let mut buf = [0u8; 2048];
    let mut connect_sent: Option<Instant> = None;
    let mut last_progress = Instant::now();
    let mut shown_errors = 0;

    while (t.answered as usize) < n {
        let now = Instant::now();
        if now > deadline {
            eprintln!("fill: deadline reached with {} of {n} answered", t.answered);
            break;
        }
        // (Re)connect when there is no id or it gets old; until then nothing is sent.
        let stale = c.conn.is_some() && now - c.connected_at > RENEW_AFTER;
        if (c.conn.is_none() || stale) && connect_sent.is_none_or(|s| now - s > timeout) {
            c.send_connect()?;
            connect_sent = Some(now);
        }
        if c.conn.is_some() {
            while let Some(i) = resend.pop() {
                c.send_announce(i, args.torrents)?;
                queue.push_back((i, now));
            }
            while outstanding < args.window && (next as usize) < n {
                match c.send_announce(next, args.torrents) {
                    Ok(()) => {}
                    // The socket's send queue is full: answers first.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
                queue.push_back((next, now));
                outstanding += 1;
                next += 1;
            }
            while let Some(&(i, sent)) = queue.front() {
                if answered[i as usize] {
                    queue.pop_front();
                } else if now - sent > timeout {
                    queue.pop_front();
                    c.send_announce(i, args.torrents)?;
                    queue.push_back((i, now));
                    t.resent += 1;
                } else {
                    break;
                }
            }
        }
        let len = match c.socket.recv(&mut buf) {
            Ok(len) => len,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => 0,
            Err(e) => return Err(e),
        };
        if len >= 8 {
            let p = &buf[..len];
            let (action, tid) = (be32(p, 0), be32(p, 4));
            match action {
                ACTION_CONNECT if tid == CONNECT_TID && len >= 16 => {
                    c.conn = Some(u64::from_be_bytes(p[8..16].try_into().expect("8 bytes")));
                    c.connected_at = Instant::now();
                    connect_sent = None;
                    t.connects += 1;
                }
                ACTION_ANNOUNCE if (tid as usize) < n && len >= 20 => {
                    let seen = &mut answered[tid as usize];
                    if *seen {
                        t.duplicates += 1; // answer to a resent announce: harmless
                    } else {
                        *seen = true;
                        t.answered += 1;
                        outstanding -= 1;
                    }
                }
                ACTION_ERROR if (tid as usize) < n => {
                    let msg = String::from_utf8_lossy(&p[8..]);
                    if msg.contains("connection ID") {
                        // Renew, then send again: not the tracker's fault.
                        c.conn = None;
                        if !answered[tid as usize] {
                            resend.push(tid);
                        }
                    } else if !answered[tid as usize] {
                        if shown_errors < 5 {
                            eprintln!("fill: announce #{tid} refused: {msg}");
                            shown_errors += 1;
                        }
                        t.failures += 1;
                        // Counted as done so the run ends; the failure makes the exit status 1.
                        answered[tid as usize] = true;
                        t.answered += 1;
                        outstanding -= 1;
                    }
                }
                _ => t.unexpected += 1,
            }
        }
        if args.progress_secs > 0 && last_progress.elapsed().as_secs() >= args.progress_secs {
            last_progress = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "fill: {:>9}/{n} answered, {:>7.0}/s, resent {}",
                t.answered,
                f64::from(t.answered) / secs,
                t.resent
            );
        }
    }

    let secs = start.elapsed().as_secs_f64();
    let ok = t.answered as usize == n && t.failures == 0;
    println!(
        "fill: {} of {n} announces answered in {secs:.2} s ({:.0}/s); resent {}, duplicate \
         answers {}, connection renewals {}, refused {}, unexpected packets {}: {}",
        t.answered,
        f64::from(t.answered) / secs.max(1e-9),
        t.resent,
        t.duplicates,
        t.connects.saturating_sub(1),
        t.failures,
        t.unexpected,
        if ok { "ok" } else { "FAILED" }
    );
    Ok(ok)
}
