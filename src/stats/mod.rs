//! What the tracker has done, for the dashboard, `/api/stats`, `/metrics` and the history.
//!
//! Every counter is changed through one function, [`Stats::event`] (as opentracker funnels its
//! statistics through `stats_issue_event`), so a new statistic is one new [`Event`] arm and the
//! request path holds no knowledge of what is counted. Counters are relaxed atomics: an
//! announce pays a few uncontended increments, never a lock. "Per second now" rates come from
//! totals sampled once a second by [`Stats::tick`].
//!
//! [`census`] walks the swarms for the numbers that are not counters (peers by family and role,
//! unique addresses).

pub mod census;
pub mod prometheus;

use crate::locality::Tier;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A tracker request type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `/announce`.
    Announce,
    /// `/scrape`.
    Scrape,
}

impl RequestKind {
    /// Every kind, in label order.
    pub const ALL: [RequestKind; 2] = [RequestKind::Announce, RequestKind::Scrape];

    /// The `kind` label in metrics.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Announce => "announce",
            RequestKind::Scrape => "scrape",
        }
    }
}

/// Why a tracker request was refused, coarse enough for a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The query could not be parsed or lacks a field.
    Malformed,
    /// `ignore_ip` or `allowed_networks` refused the client.
    AddressRefused,
    /// A trusted proxy sent no usable client address.
    NoProxyHeader,
    /// The operator's blocklist refused the torrent or the address.
    Blocked,
    /// The info-hash access list refused the torrent.
    AccessList,
    /// The peer_id belongs to a peer at another address.
    PeerIdTaken,
    /// A full scrape while they are disabled.
    FullScrapeDisabled,
    /// A cleanup request from someone who may not ask for it.
    CleanupNotAllowed,
    /// A UDP request with a connection id this tracker did not hand out, or an expired one.
    BadConnectionId,
}

impl Failure {
    /// Every reason, in label order.
    pub const ALL: [Failure; 9] = [
        Failure::Malformed,
        Failure::AddressRefused,
        Failure::NoProxyHeader,
        Failure::Blocked,
        Failure::AccessList,
        Failure::PeerIdTaken,
        Failure::FullScrapeDisabled,
        Failure::CleanupNotAllowed,
        Failure::BadConnectionId,
    ];

    /// The `reason` label in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::AddressRefused => "address_refused",
            Failure::NoProxyHeader => "no_proxy_header",
            Failure::Blocked => "blocked",
            Failure::AccessList => "access_list",
            Failure::PeerIdTaken => "peer_id_taken",
            Failure::FullScrapeDisabled => "full_scrape_disabled",
            Failure::CleanupNotAllowed => "cleanup_not_allowed",
            Failure::BadConnectionId => "bad_connection_id",
        }
    }
}

/// Something worth counting.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// A tracker request was answered.
    Request {
        /// Announce or scrape.
        kind: RequestKind,
        /// `None` when it succeeded.
        failure: Option<Failure>,
        /// Time from the parsed request to the encoded answer.
        elapsed: Duration,
    },
    /// A web UI login attempt (form or HTTP basic auth).
    Login {
        /// The password was right.
        ok: bool,
    },
    /// An HTTP(S) connection was accepted, closed, or closed early for the connection cap.
    Connection(ConnEvent),
    /// Peers handed out in one announce answer, by [`Tier`] (in [`Tier::ALL`] order) from the
    /// requester's point of view: what locality kept near.
    HandedOut([u32; 3]),
}

/// What happened to an HTTP(S) connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEvent {
    /// Accepted.
    Opened,
    /// Gone, for whatever reason.
    Closed,
    /// Told to close because `max_connections` were open and a new client was waiting.
    Evicted,
}

/// Upper bounds of the announce latency histogram, in microseconds (Prometheus `le`).
pub const LATENCY_BOUNDS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 10_000, 50_000, 250_000, 1_000_000,
];

/// Samples kept for "per second now" (one a second: the rate is over the last 10 s).
const RATE_SAMPLES: usize = 11;

/// The counters.
pub struct Stats {
    /// Unix seconds when the tracker started.
    started_unix: u32,
    /// For uptime, immune to wall-clock jumps.
    started: Instant,
    /// `[kind][0 = ok, 1 = failed]`.
    requests: [[AtomicU64; 2]; 2],
    /// By [`Failure`] position in [`Failure::ALL`].
    failures: [AtomicU64; Failure::ALL.len()],
    /// Announce latency counts per bucket (not cumulative); the last bucket is +Inf.
    latency: [AtomicU64; LATENCY_BOUNDS_US.len() + 1],
    /// Sum of announce latencies, microseconds.
    latency_sum_us: AtomicU64,
    /// `[0 = ok, 1 = failed]` logins.
    logins: [AtomicU64; 2],
    /// Connections by [`ConnEvent`] position: opened, closed, evicted.
    connections: [AtomicU64; 3],
    /// Peers handed out by [`Tier`] position in [`Tier::ALL`].
    handed_out: [AtomicU64; 3],
    /// (when, announces total, scrapes total), oldest first.
    samples: Mutex<VecDeque<(Instant, u64, u64)>>,
}

/// The counters' values at one moment, for rendering.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Unix seconds when the tracker started.
    pub started_unix: u32,
    /// Announces answered without a failure.
    pub announces_ok: u64,
    /// Announces answered with a failure reason.
    pub announces_failed: u64,
    /// Scrapes answered without a failure.
    pub scrapes_ok: u64,
    /// Scrapes answered with a failure reason.
    pub scrapes_failed: u64,
    /// Refusals by reason, every reason listed (zeros too), in [`Failure::ALL`] order.
    pub failures: Vec<(Failure, u64)>,
    /// Announce latency: cumulative counts per upper bound in seconds, +Inf last.
    pub latency_buckets: Vec<(f64, u64)>,
    /// Sum of announce latencies, seconds.
    pub latency_sum_secs: f64,
    /// Successful logins.
    pub logins_ok: u64,
    /// Failed logins.
    pub logins_failed: u64,
    /// HTTP(S) connections accepted since start.
    pub connections_opened: u64,
    /// HTTP(S) connections open now.
    pub connections_open: u64,
    /// Connections closed early because `max_connections` were open.
    pub connections_evicted: u64,
    /// Peers handed out since start, by tier in [`Tier::ALL`] order.
    pub handed_out: [u64; 3],
    /// Announces per second over the last ~10 s.
    pub announces_per_sec: f64,
    /// Scrapes per second over the last ~10 s.
    pub scrapes_per_sec: f64,
}

impl Stats {
    /// Counters at zero, started now (`started_unix` is the wall clock for display).
    pub fn new(started_unix: u32) -> Stats {
        Stats {
            started_unix,
            started: Instant::now(),
            requests: Default::default(),
            failures: Default::default(),
            latency: Default::default(),
            latency_sum_us: AtomicU64::new(0),
            logins: Default::default(),
            connections: Default::default(),
            handed_out: Default::default(),
            samples: Mutex::new(VecDeque::with_capacity(RATE_SAMPLES)),
        }
    }

    /// Counts one event.
    pub fn event(&self, e: Event) {
        match e {
            Event::Request {
                kind,
                failure,
                elapsed,
            } => {
                let k = kind as usize;
                self.requests[k][usize::from(failure.is_some())].fetch_add(1, Ordering::Relaxed);
                if let Some(f) = failure {
                    self.failures[f as usize].fetch_add(1, Ordering::Relaxed);
                }
                if kind == RequestKind::Announce {
                    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                    let bucket = LATENCY_BOUNDS_US
                        .iter()
                        .position(|&b| us <= b)
                        .unwrap_or(LATENCY_BOUNDS_US.len());
                    self.latency[bucket].fetch_add(1, Ordering::Relaxed);
                    self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
                }
            }
            Event::Login { ok } => {
                self.logins[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
            }
            Event::Connection(c) => {
                self.connections[c as usize].fetch_add(1, Ordering::Relaxed);
            }
            Event::HandedOut(by_tier) => {
                // Most answers hand out peers of one or two tiers: skip the zero adds.
                for (counter, n) in self.handed_out.iter().zip(by_tier) {
                    if n > 0 {
                        counter.fetch_add(u64::from(n), Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Records the request totals for the "per second now" rates; call about once a second.
    pub fn tick(&self, now: Instant) {
        let (a, s) = (
            self.total(RequestKind::Announce),
            self.total(RequestKind::Scrape),
        );
        let mut samples = self.samples.lock();
        if samples.len() == RATE_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((now, a, s));
    }

    fn total(&self, kind: RequestKind) -> u64 {
        let r = &self.requests[kind as usize];
        r[0].load(Ordering::Relaxed) + r[1].load(Ordering::Relaxed)
    }

    /// Announces and scrapes per second between the oldest and newest samples (0 before two).
    fn rates(&self) -> (f64, f64) {
        let samples = self.samples.lock();
        match (samples.front(), samples.back()) {
            (Some(old), Some(new)) if new.0 > old.0 => {
                let secs = (new.0 - old.0).as_secs_f64();
                ((new.1 - old.1) as f64 / secs, (new.2 - old.2) as f64 / secs)
            }
            _ => (0.0, 0.0),
        }
    }

    /// Announces and scrapes answered so far (ok and failed), for per-interval rates.
    pub fn request_totals(&self) -> (u64, u64) {
        (
            self.total(RequestKind::Announce),
            self.total(RequestKind::Scrape),
        )
    }

    /// The values now.
    pub fn counters(&self) -> Counters {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let req = |k: RequestKind, i: usize| load(&self.requests[k as usize][i]);
        let mut cumulative = 0;
        let latency_buckets = self
            .latency
            .iter()
            .enumerate()
            .map(|(i, n)| {
                cumulative += load(n);
                let le = LATENCY_BOUNDS_US
                    .get(i)
                    .map_or(f64::INFINITY, |&us| us as f64 / 1e6);
                (le, cumulative)
            })
            .collect();
        let (announces_per_sec, scrapes_per_sec) = self.rates();
        Counters {
            uptime_secs: self.started.elapsed().as_secs(),
            started_unix: self.started_unix,
            announces_ok: req(RequestKind::Announce, 0),
            announces_failed: req(RequestKind::Announce, 1),
            scrapes_ok: req(RequestKind::Scrape, 0),
            scrapes_failed: req(RequestKind::Scrape, 1),
            failures: Failure::ALL
                .iter()
                .map(|&f| (f, load(&self.failures[f as usize])))
                .collect(),
            latency_buckets,
            latency_sum_secs: load(&self.latency_sum_us) as f64 / 1e6,
            logins_ok: load(&self.logins[0]),
            logins_failed: load(&self.logins[1]),
            connections_opened: load(&self.connections[ConnEvent::Opened as usize]),
            // Closed is read first: a close counted between the two loads cannot make this negative.
            connections_open: {
                let closed = load(&self.connections[ConnEvent::Closed as usize]);
                load(&self.connections[ConnEvent::Opened as usize]).saturating_sub(closed)
            },
            connections_evicted: load(&self.connections[ConnEvent::Evicted as usize]),
            handed_out: [
                load(&self.handed_out[Tier::Network as usize]),
                load(&self.handed_out[Tier::Operator as usize]),
                load(&self.handed_out[Tier::Outside as usize]),
            ],
            announces_per_sec,
            scrapes_per_sec,
        }
    }
}

/// One history point: the state of the tracker at a moment, as stored every snapshot interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Unix seconds.
    pub at: u32,
    /// Swarms in memory.
    pub torrents: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
    /// Peers with an IPv4 address.
    pub ipv4_peers: u64,
    /// Peers with an IPv6 address.
    pub ipv6_peers: u64,
    /// Distinct peer addresses.
    pub unique_addrs: u64,
    /// Announces per second since the previous snapshot.
    pub announces_per_sec: f64,
    /// Scrapes per second since the previous snapshot.
    pub scrapes_per_sec: f64,
    /// Completed downloads counted, all time.
    pub completed: u64,
    /// What locality kept near since the previous snapshot: the share (0 to 1) of the peers
    /// handed out that were in the requester's own network; `None` when none were handed out.
    pub kept_network: Option<f64>,
    /// The same for the requester's own or the operator's other networks.
    pub kept_near: Option<f64>,
}

impl Snapshot {
    /// The two kept-local shares of the peers handed out between two readings of the
    /// counters `[network, operator, outside]` (see [`Counters::handed_out`]).
    pub fn kept_shares(before: [u64; 3], after: [u64; 3]) -> (Option<f64>, Option<f64>) {
        let d = |i: usize| after[i].saturating_sub(before[i]);
        let total = d(0) + d(1) + d(2);
        let share = |n: u64| (total > 0).then(|| n as f64 / total as f64);
        (share(d(0)), share(d(0) + d(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce(us: u64, failure: Option<Failure>) -> Event {
        Event::Request {
            kind: RequestKind::Announce,
            failure,
            elapsed: Duration::from_micros(us),
        }
    }

    #[test]
    fn events_land_in_their_counters() {
        let s = Stats::new(1000);
        s.event(announce(40, None));
        s.event(announce(50, None));
        s.event(announce(51, Some(Failure::Blocked)));
        s.event(announce(5_000_000, Some(Failure::Malformed)));
        s.event(Event::Request {
            kind: RequestKind::Scrape,
            failure: Some(Failure::FullScrapeDisabled),
            elapsed: Duration::from_micros(10),
        });
        s.event(Event::Login { ok: false });
        let c = s.counters();
        assert_eq!((c.announces_ok, c.announces_failed), (2, 2));
        assert_eq!((c.scrapes_ok, c.scrapes_failed), (0, 1));
        assert_eq!((c.logins_ok, c.logins_failed), (0, 1));
        let failed: Vec<_> = c.failures.iter().filter(|f| f.1 > 0).collect();
        assert_eq!(
            failed,
            [
                &(Failure::Malformed, 1),
                &(Failure::Blocked, 1),
                &(Failure::FullScrapeDisabled, 1)
            ]
        );
        assert_eq!(c.latency_buckets[0], (0.00005, 2), "le is inclusive");
        assert_eq!(c.latency_buckets[1], (0.0001, 3));
        assert_eq!(c.latency_buckets.len(), LATENCY_BOUNDS_US.len() + 1);
        assert_eq!(*c.latency_buckets.last().unwrap(), (f64::INFINITY, 4));
        assert!((c.latency_sum_secs - 5.000141).abs() < 1e-9);
        assert_eq!(c.started_unix, 1000);
    }

    #[test]
    fn peers_handed_out_add_up_by_tier() {
        let s = Stats::new(0);
        s.event(Event::HandedOut([3, 0, 1]));
        s.event(Event::HandedOut([0, 5, 2]));
        assert_eq!(s.counters().handed_out, [3, 5, 3]);
        assert_eq!(
            Tier::ALL.map(|t| t as usize),
            [0, 1, 2],
            "Tier::ALL order is the array order"
        );
    }

    #[test]
    fn rates_come_from_the_sampled_window() {
        let s = Stats::new(0);
        let t0 = Instant::now();
        s.tick(t0);
        assert_eq!(s.counters().announces_per_sec, 0.0);
        for _ in 0..30 {
            s.event(announce(1, None));
        }
        s.tick(t0 + Duration::from_secs(2));
        let c = s.counters();
        assert_eq!((c.announces_per_sec, c.scrapes_per_sec), (15.0, 0.0));
        for i in 3..40 {
            s.tick(t0 + Duration::from_secs(i));
        }
        assert_eq!(s.counters().announces_per_sec, 0.0, "old traffic ages out");
    }
}
