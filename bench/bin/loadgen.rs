//! Announce load generator of `bench/latency.sh` (latency at a given load) and of the
//! `Connection: close` runs of `bench/http.sh`: HTTP/1.1 announces over raw tokio TCP
//! connections to a loopback address, either open-loop at a fixed total rate or closed-loop
//! with `--max` (the peak); keep-alive, or with `--close` one announce per connection.
//!
//! Open-loop: a pacer thread makes the schedule, intended send times evenly spaced at the
//! total rate, and hands them to the connections in turn (so each has rate/connections per
//! second); it sleeps with the OS's fine timer, as tokio's timer ticks in milliseconds and would
//! send in 1-ms bursts. Latency is counted from the intended send time whenever the previous
//! answer on that connection came after it (the server held the schedule up: coordinated
//! omission corrected), and from the actual send otherwise, so that the generator's own
//! lateness is not charged to the server (it is printed). Closed-loop (`--max`): every connection sends its next announce as soon as the
//! previous answer arrives; latency is from the send.
//!
//! The workload: `--torrents` random info hashes and `--peers` simulated peers, each with its
//! own random peer_id, port, torrent and `left`; every announce is from a random peer, so the
//! swarms reach a steady size and announces update peers the tracker already has. Failures are
//! answers other than 200, bodies with `failure reason`, I/O errors and answers later than
//! `--timeout-ms`. The last line is `RESULT key=value ...` for the scripts; its
//! `peers_per_answer` (the mean number of peers in the compact `peers`/`peers6` of the
//! answers counted) lets a script check that two runs did equal work.
//!
//! `--peer-seed` draws the peers (ids, ports, torrents, `left`, and which peer announces
//! next) from a seed of their own while `--seed` keeps drawing the info hashes: several
//! generators with one `--seed` and distinct `--peer-seed`s announce into the same swarms
//! as distinct peers (`bench/cluster.sh`, one generator per node).

use clap::Parser;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Command line.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "loadgen",
    about = "HTTP announce load generator (loopback only)"
)]
struct Args {
    /// Tracker address, e.g. 127.0.0.1:3000 (loopback addresses only).
    addr: SocketAddr,
    /// Total announces per second over all connections (open-loop; ignored with --max).
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of load, warm-up included.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds at the start not counted in the results.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Distinct info hashes.
    #[arg(long, default_value_t = 10_000)]
    torrents: usize,
    /// Simulated peers (each on one torrent).
    #[arg(long, default_value_t = 100_000)]
    peers: usize,
    /// numwant sent with every announce.
    #[arg(long, default_value_t = 50)]
    numwant: u32,
    /// Closed-loop: send as fast as answers come back, to find the peak rate.
    #[arg(long)]
    max: bool,
    /// One announce per connection: send `Connection: close`, read the answer, close the
    /// connection (whether or not the server does) and connect anew for the next one.
    #[arg(long)]
    close: bool,
    /// Tokio worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// An answer later than this is a failure (and the connection is opened anew).
    #[arg(long, default_value_t = 5_000)]
    timeout_ms: u64,
    /// Example request URLs printed before the run.
    #[arg(long, default_value_t = 3)]
    show_urls: usize,
    /// Seed of the workload (info hashes, peers and their choice).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed of the peers and their choice only (default: drawn after the info hashes from
    /// --seed). Generators with the same --seed and different --peer-seed share the torrents
    /// but not the peers.
    #[arg(long)]
    peer_seed: Option<u64>,
}

/// A simulated BitTorrent client on one torrent.
struct Peer {
    torrent: usize,
    peer_id: [u8; 20],
    port: u16,
    left: u64,
}

/// Torrents and peers shared by every connection.
struct Workload {
    info_hashes: Vec<[u8; 20]>,
    peers: Vec<Peer>,
    numwant: u32,
    host: String,
    close: bool,
}

impl Workload {
    fn new(args: &Args) -> Workload {
        let mut rng = SmallRng::seed_from_u64(args.seed);
        let info_hashes: Vec<[u8; 20]> = (0..args.torrents.max(1)).map(|_| rng.random()).collect();
        if let Some(s) = args.peer_seed {
            rng = SmallRng::seed_from_u64(s);
        }
        let peers = (0..args.peers.max(1))
            .map(|_| Peer {
                torrent: rng.random_range(0..info_hashes.len()),
                peer_id: rng.random(),
                port: rng.random_range(1025..65535),
                left: if rng.random_bool(0.25) {
                    0
                } else {
                    rng.random_range(1..1 << 30)
                },
            })
            .collect();
        Workload {
            info_hashes,
            peers,
            numwant: args.numwant,
            host: args.addr.to_string(),
            close: args.close,
        }
    }

    /// The target of an announce by peer `i`: `/announce?...`.
    fn target(&self, i: usize) -> String {
        let peer = &self.peers[i];
        let mut t = String::with_capacity(200);
        t.push_str("/announce?info_hash=");
        percent_encode(&mut t, &self.info_hashes[peer.torrent]);
        t.push_str("&peer_id=");
        percent_encode(&mut t, &peer.peer_id);
        let _ = write!(
            t,
            "&port={}&uploaded=0&downloaded=0&left={}&compact=1&numwant={}",
            peer.port, peer.left, self.numwant
        );
        t
    }

    /// The whole HTTP/1.1 request of an announce by peer `i`, written into `buf`.
    fn request(&self, i: usize, buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(b"GET ");
        buf.extend_from_slice(self.target(i).as_bytes());
        buf.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        buf.extend_from_slice(self.host.as_bytes());
        buf.extend_from_slice(b"\r\nUser-Agent: retracker-loadgen\r\n");
        if self.close {
            buf.extend_from_slice(b"Connection: close\r\n");
        }
        buf.extend_from_slice(b"\r\n");
    }
}

/// Appends `bytes` as a query value: unreserved characters as they are, the rest as `%XX`.
fn percent_encode(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// What went wrong with one announce.
#[derive(Debug)]
enum Fault {
    Status,
    FailureReason,
    Io,
    Timeout,
}

/// Counts and latencies of one connection (then of all).
#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    status: u64,
    failure_reason: u64,
    io: u64,
    timeout: u64,
    /// Sends that started later than intended while the connection was idle (generator lag).
    late_sends: u64,
    max_send_lag_us: u64,
    /// Peers in the answers counted (compact `peers` and `peers6`).
    peers: u64,
}

impl Stats {
    fn failures(&self) -> u64 {
        self.status + self.failure_reason + self.io + self.timeout
    }

    fn count(&mut self, f: &Fault) {
        match f {
            Fault::Status => self.status += 1,
            Fault::FailureReason => self.failure_reason += 1,
            Fault::Io => self.io += 1,
            Fault::Timeout => self.timeout += 1,
        }
    }

    fn merge(&mut self, other: Stats) {
        self.latencies_us.extend(other.latencies_us);
        self.status += other.status;
        self.failure_reason += other.failure_reason;
        self.io += other.io;
        self.timeout += other.timeout;
        self.late_sends += other.late_sends;
        self.peers += other.peers;
        self.max_send_lag_us = self.max_send_lag_us.max(other.max_send_lag_us);
    }
}

/// Sends `req` and reads one answer; checks the status and the body. Returns whether the
/// server closes the connection, and the peers in the answer.
async fn exchange(
    stream: &mut TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(bool, u64), Fault> {
    stream.write_all(req).await.map_err(|_| Fault::Io)?;
    buf.clear();
    let header_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 || read_more(stream, buf).await? == 0 {
            return Err(Fault::Io);
        }
    };
    let head = std::str::from_utf8(&buf[..header_end]).map_err(|_| Fault::Io)?;
    let status_ok = head.starts_with("HTTP/1.1 200 ") || head.starts_with("HTTP/1.0 200 ");
    let mut content_length = None;
    let mut close = head.starts_with("HTTP/1.0");
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    // Without a length (chunked, or until close) the answer cannot be delimited here.
    let len = content_length.ok_or(Fault::Io)?;
    while buf.len() < header_end + len {
        if read_more(stream, buf).await? == 0 {
            return Err(Fault::Io);
        }
    }
    let body = &buf[header_end..header_end + len];
    if !status_ok {
        return Err(Fault::Status);
    }
    if find(body, b"failure reason").is_some() {
        return Err(Fault::FailureReason);
    }
    let peers = compact_len(body, b"5:peers", 6) + compact_len(body, b"6:peers6", 18);
    Ok((close, peers))
}

/// Peers in a compact list of a bencoded answer: the string after `key` (e.g. `5:peers`,
/// then `300:...`) divided by `size` bytes a peer; 0 without that key.
fn compact_len(body: &[u8], key: &[u8], size: u64) -> u64 {
    let Some(at) = find(body, key) else {
        return 0;
    };
    let rest = &body[at + key.len()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b':') {
        return 0;
    }
    std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .map_or(0, |n| n / size)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Fault> {
    let old = buf.len();
    buf.resize(old + 4096, 0);
    let n = stream.read(&mut buf[old..]).await.map_err(|_| Fault::Io)?;
    buf.truncate(old + n);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

/// Times of the run, shared by every connection.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    measure_from: Instant,
    end: Instant,
}

/// One connection (kept alive unless `--close`): its announces and its counts. Open-loop, it
/// sends when the pacer hands it an intended send time; closed-loop (`ticks` is `None`), as
/// soon as the previous answer is in.
async fn connection(
    id: usize,
    args: Arc<Args>,
    work: Arc<Workload>,
    clock: Clock,
    mut ticks: Option<UnboundedReceiver<Instant>>,
) -> Stats {
    let mut stats = Stats::default();
    let seed = args.peer_seed.unwrap_or(args.seed);
    let mut rng = SmallRng::seed_from_u64(seed ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9));
    let paced = ticks.is_some();
    let mut prev_done = clock.start;
    let mut stream: Option<TcpStream> = None;
    let (mut req, mut buf) = (Vec::with_capacity(512), Vec::with_capacity(8192));
    let timeout = Duration::from_millis(args.timeout_ms);
    loop {
        // An overloaded server leaves a backlog of intended sends: give up on it after the end.
        if Instant::now() >= clock.end + timeout {
            break;
        }
        let intended = match ticks.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(t) => t,
                None => break,
            },
            None if Instant::now() >= clock.end => break,
            None => Instant::now(),
        };
        let s = match stream.as_mut() {
            Some(s) => s,
            None => match connect(args.addr).await {
                Some(s) => stream.insert(s),
                None => {
                    if Instant::now() >= clock.measure_from {
                        stats.io += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        work.request(rng.random_range(0..work.peers.len()), &mut req);
        let sent = Instant::now();
        let result = match tokio::time::timeout(timeout, exchange(s, &req, &mut buf)).await {
            Ok(r) => r,
            Err(_) => Err(Fault::Timeout),
        };
        let done = Instant::now();
        // From the intended time when the previous answer held this send up, else from the send.
        let origin = if paced && prev_done > intended {
            intended
        } else {
            sent
        };
        if paced && prev_done <= intended {
            let lag = sent.saturating_duration_since(intended).as_micros() as u64;
            if lag > LATE_US {
                stats.late_sends += 1;
            }
            stats.max_send_lag_us = stats.max_send_lag_us.max(lag);
        }
        let counted = sent >= clock.measure_from;
        match result {
            Ok((close, peers)) => {
                if counted {
                    let us = done.duration_since(origin).as_micros();
                    stats.latencies_us.push(us.min(u32::MAX as u128) as u32);
                    stats.peers += peers;
                }
                if close || args.close {
                    stream = None;
                }
            }
            Err(f) => {
                if counted {
                    stats.count(&f);
                }
                stream = None;
            }
        }
        prev_done = done;
    }
    stats
}

/// A send this much later than intended, on an idle connection, counts as generator lag.
const LATE_US: u64 = 200;

/// The open-loop schedule, on a thread of its own: intended send times evenly spaced at
/// `rate` per second, handed to the connections in turn. It sleeps with the OS's fine timer
/// (tokio's ticks in milliseconds, which would send in 1-ms bursts) and hands out every time
/// due within the next 50 µs at once, to wake up at most 20,000 times a second.
fn pace(senders: Vec<UnboundedSender<Instant>>, rate: f64, clock: Clock) {
    let ahead = Duration::from_micros(50);
    let mut k: u64 = 0;
    loop {
        let next = clock.start + Duration::from_secs_f64(k as f64 / rate);
        if next >= clock.end {
            break;
        }
        let now = Instant::now();
        if next > now + ahead {
            std::thread::sleep(next - now);
            continue;
        }
        // A connection task that has ended (it gave up) no longer listens: nothing to do.
        let _ = senders[(k % senders.len() as u64) as usize].send(next);
        k += 1;
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "loadgen: {} is not a loopback address; only 127.0.0.0/8 and ::1 are allowed",
            args.addr
        );
        return std::process::ExitCode::from(2);
    }
    if args.connections == 0 || args.duration <= args.warmup || (!args.max && args.rate <= 0.0) {
        eprintln!("loadgen: need connections > 0, duration > warmup and rate > 0");
        return std::process::ExitCode::from(2);
    }
    let work = Arc::new(Workload::new(&args));
    for i in 0..args.show_urls.min(work.peers.len()) {
        println!(
            "example request: GET http://{}{}",
            args.addr,
            work.target(i)
        );
    }
    let mode = if args.max {
        "closed-loop (max)"
    } else {
        "open-loop"
    };
    println!(
        "loadgen: {mode}, target {} announces/s, {} connections, {} s ({} s warm-up not counted), \
         {} torrents, {} peers, numwant {}",
        if args.max {
            "max".to_owned()
        } else {
            format!("{}", args.rate)
        },
        args.connections,
        args.duration,
        args.warmup,
        args.torrents,
        args.peers,
        args.numwant
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let args = Arc::new(args);
    let stats = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(50);
        let clock = Clock {
            start,
            measure_from: start + Duration::from_secs_f64(args.warmup),
            end: start + Duration::from_secs_f64(args.duration),
        };
        let mut senders = Vec::new();
        let tasks: Vec<_> = (0..args.connections)
            .map(|id| {
                let ticks = (!args.max).then(|| {
                    let (tx, rx) = unbounded_channel();
                    senders.push(tx);
                    rx
                });
                tokio::spawn(connection(id, args.clone(), work.clone(), clock, ticks))
            })
            .collect();
        let rate = args.rate;
        let pacer = (!args.max).then(|| std::thread::spawn(move || pace(senders, rate, clock)));
        let mut all = Stats::default();
        for t in tasks {
            all.merge(t.await.expect("connection task"));
        }
        if let Some(p) = pacer {
            p.join().expect("pacer thread");
        }
        all
    });
    let mut lat = stats.latencies_us.clone();
    lat.sort_unstable();
    let window = args.duration - args.warmup;
    let rate = lat.len() as f64 / window;
    let (p50, p90, p99, p999) = (
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        percentile(&lat, 99.0),
        percentile(&lat, 99.9),
    );
    let max = lat.last().copied().unwrap_or(0);
    println!(
        "achieved {rate:.0} announces/s ({} answered in {window} s)",
        lat.len()
    );
    println!("latency (us): p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {max}");
    println!(
        "failures: {} (status not 200: {}, failure reason: {}, I/O: {}, timeout: {})",
        stats.failures(),
        stats.status,
        stats.failure_reason,
        stats.io,
        stats.timeout
    );
    if !args.max {
        println!(
            "generator lag: {} idle sends more than {LATE_US} us late, worst {} us (not charged to \
             the server)",
            stats.late_sends, stats.max_send_lag_us
        );
    }
    let peers_per_answer = stats.peers as f64 / lat.len().max(1) as f64;
    println!("peers per answer: {peers_per_answer:.1}");
    println!(
        "RESULT mode={} close={} target_rate={} rate={rate:.0} answered={} p50_us={p50} p90_us={p90} \
         p99_us={p99} p999_us={p999} max_us={max} failures={} peers_per_answer={peers_per_answer:.1}",
        if args.max { "max" } else { "open" },
        args.close,
        if args.max { 0.0 } else { args.rate },
        lat.len(),
        stats.failures()
    );
    if stats.failures() > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    }
}
