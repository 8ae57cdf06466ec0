//! `/metrics` in the Prometheus text exposition format 0.0.4: a pure function of a plain
//! [`MetricsInput`], so every line can be checked without a running tracker.
//!
//! Every metric family has `# HELP` and `# TYPE`; every label combination is written even when
//! its value is zero (a series that appears only after its first event breaks `rate()`).

use super::census::Census;
use super::{Counters, RequestKind};
use std::fmt::Write as _;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything `/metrics` reports, gathered by the caller.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsInput {
    /// The request counters.
    pub counters: Counters,
    /// Peers by family and role, swarms, distinct addresses.
    pub census: Census,
    /// Completed downloads, all time.
    pub completed_total: u64,
    /// Changes not yet written to the database.
    pub persistence_backlog: u64,
    /// Batches the write-behind task wrote.
    pub persistence_batches: u64,
    /// Rows the write-behind task wrote.
    pub persistence_rows: u64,
    /// Batches that failed.
    pub persistence_failures: u64,
    /// Writes are failing now.
    pub persistence_failing: bool,
    /// Bytes the database takes on disk.
    pub database_bytes: u64,
    /// Blocklist entries.
    pub blocklist_entries: u64,
    /// retracker's version.
    pub version: String,
    /// This node's cluster figures; `None` for a single node (no cluster families then).
    pub cluster: Option<crate::cluster::status::Figures>,
    /// The watched trackers' last answers (`[CHECKS]`); empty: no check families.
    pub checks: Vec<CheckMetric>,
}

/// One watched tracker and torrent, for `retracker_check_up` and
/// `retracker_check_latency_seconds`.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckMetric {
    /// Tracker URL (label `tracker`).
    pub tracker: String,
    /// Hex info hash (label `info_hash`).
    pub info_hash: String,
    /// The last poll was answered (not refused, not failed).
    pub up: bool,
    /// Seconds the last poll took; `None`: it got no answer.
    pub latency_seconds: Option<f64>,
}

/// The metric families of `input`, in the text format.
pub fn render(input: &MetricsInput) -> String {
    let c = &input.counters;
    let mut out = Exposition(String::with_capacity(4096));

    out.family(
        "retracker_requests_total",
        "Tracker requests answered, by kind and result.",
        "counter",
    );
    for kind in RequestKind::ALL {
        let (ok, failed) = match kind {
            RequestKind::Announce => (c.announces_ok, c.announces_failed),
            RequestKind::Scrape => (c.scrapes_ok, c.scrapes_failed),
        };
        for (result, n) in [("ok", ok), ("failed", failed)] {
            out.sample(
                "retracker_requests_total",
                &[("kind", kind.label()), ("result", result)],
                n,
            );
        }
    }

    out.family(
        "retracker_failures_total",
        "Tracker requests refused, by reason.",
        "counter",
    );
    for (failure, n) in &c.failures {
        out.sample(
            "retracker_failures_total",
            &[("reason", failure.label())],
            *n,
        );
    }

    let hist = "retracker_announce_duration_seconds";
    out.family(
        hist,
        "Time from a parsed announce to its encoded answer.",
        "histogram",
    );
    let mut count = 0;
    for &(le, n) in &c.latency_buckets {
        out.sample(&format!("{hist}_bucket"), &[("le", &float(le))], n);
        count = n;
    }
    if c.latency_buckets
        .last()
        .is_none_or(|b| b.0 != f64::INFINITY)
    {
        // The format requires a +Inf bucket; the counters always end with one.
        out.sample(&format!("{hist}_bucket"), &[("le", "+Inf")], count);
    }
    out.sample(&format!("{hist}_sum"), &[], Float(c.latency_sum_secs));
    out.sample(&format!("{hist}_count"), &[], count);

    let n = &input.census;
    out.gauge(
        "retracker_torrents",
        "Swarms with at least one peer.",
        n.torrents,
    );
    out.family(
        "retracker_peers",
        "Peers, by address family and role.",
        "gauge",
    );
    for (family, state, v) in [
        ("ipv4", "seeder", n.v4_seeders),
        ("ipv4", "leecher", n.v4_leechers),
        ("ipv6", "seeder", n.v6_seeders),
        ("ipv6", "leecher", n.v6_leechers),
    ] {
        out.sample(
            "retracker_peers",
            &[("family", family), ("state", state)],
            v,
        );
    }
    out.gauge(
        "retracker_unique_addresses",
        "Distinct peer addresses.",
        n.unique_addrs,
    );
    out.counter(
        "retracker_completed_total",
        "Completed downloads reported, all time.",
        input.completed_total,
    );

    out.gauge(
        "retracker_persistence_backlog",
        "Peer and torrent changes not yet written to the database.",
        input.persistence_backlog,
    );
    out.counter(
        "retracker_persistence_batches_total",
        "Batches written to the database.",
        input.persistence_batches,
    );
    out.counter(
        "retracker_persistence_rows_total",
        "Peer and torrent rows written to the database.",
        input.persistence_rows,
    );
    out.counter(
        "retracker_persistence_failures_total",
        "Database write batches that failed (and are retried).",
        input.persistence_failures,
    );
    out.gauge(
        "retracker_persistence_failing",
        "1 while database writes are failing, else 0.",
        u64::from(input.persistence_failing),
    );
    out.gauge(
        "retracker_database_bytes",
        "Size of the database and its write-ahead log on disk (0 in memory).",
        input.database_bytes,
    );
    out.gauge(
        "retracker_blocklist_entries",
        "Entries in the operator's blocklist.",
        input.blocklist_entries,
    );

    out.family(
        "retracker_logins_total",
        "Web UI logins (form and HTTP basic auth), by result.",
        "counter",
    );
    for (result, v) in [("ok", c.logins_ok), ("failed", c.logins_failed)] {
        out.sample("retracker_logins_total", &[("result", result)], v);
    }

    out.gauge(
        "retracker_http_connections",
        "HTTP(S) connections open now.",
        c.connections_open,
    );
    out.counter(
        "retracker_http_connections_total",
        "HTTP(S) connections accepted.",
        c.connections_opened,
    );
    out.counter(
        "retracker_http_connections_evicted_total",
        "Connections closed early to make room for a new client at max_connections.",
        c.connections_evicted,
    );

    out.family(
        "retracker_peers_handed_out_total",
        "Peers handed out in announce answers (HTTP and UDP), by tier from the requester's point of view: network = its own network, operator = another of the operator's networks, outside = the rest.",
        "counter",
    );
    for (tier, v) in crate::locality::Tier::ALL.iter().zip(c.handed_out) {
        out.sample(
            "retracker_peers_handed_out_total",
            &[("tier", tier.label())],
            v,
        );
    }

    out.gauge(
        "retracker_uptime_seconds",
        "Seconds since the tracker started.",
        c.uptime_secs,
    );
    out.gauge(
        "retracker_start_time_seconds",
        "When the tracker started, Unix seconds.",
        u64::from(c.started_unix),
    );
    out.family(
        "retracker_build_info",
        "retracker's version; the value is always 1.",
        "gauge",
    );
    out.sample("retracker_build_info", &[("version", &input.version)], 1u64);
    if let Some(c) = &input.cluster {
        cluster(&mut out, c);
    }
    checks(&mut out, &input.checks);
    out.0
}

/// The families of cluster mode.
fn cluster(out: &mut Exposition, c: &crate::cluster::status::Figures) {
    out.gauge(
        "retracker_cluster_up",
        "1 while Redis answers this node, 0 while it serves from memory alone.",
        u64::from(c.up),
    );
    out.counter(
        "retracker_cluster_push_batches_total",
        "Batches of peer changes and completions pushed to Redis.",
        c.push_batches,
    );
    out.counter(
        "retracker_cluster_commands_total",
        "Redis commands sent (each command of a pipeline, each script call).",
        c.commands,
    );
    out.counter(
        "retracker_cluster_errors_total",
        "Redis exchanges that failed or timed out.",
        c.errors,
    );
    out.counter(
        "retracker_cluster_view_refreshes_total",
        "Swarm views (the other nodes' peers and counts) read from Redis.",
        c.view_refreshes,
    );
    out.counter(
        "retracker_cluster_resyncs_total",
        "Full pushes of every peer and count (start, Redis restarted empty, queue overflow).",
        c.resyncs,
    );
    out.family(
        "retracker_cluster_claims_total",
        "Completed downloads claimed in Redis: won (counted by this node) or lost (counted by another, or already).",
        "counter",
    );
    out.sample(
        "retracker_cluster_claims_total",
        &[("result", "won")],
        c.claims_won,
    );
    out.sample(
        "retracker_cluster_claims_total",
        &[("result", "lost")],
        c.claims_lost,
    );
    out.gauge(
        "retracker_cluster_queued",
        "Changes and resync peers waiting to be pushed.",
        c.queued,
    );
    out.family(
        "retracker_cluster_sync_lag_seconds",
        "Age of the oldest change of the last push when Redis confirmed it (counted from the take before the one that found it: at most one sync interval too high).",
        "gauge",
    );
    out.sample(
        "retracker_cluster_sync_lag_seconds",
        &[],
        Float(c.lag_ms as f64 / 1000.0),
    );
    out.gauge(
        "retracker_cluster_nodes",
        "Nodes that pushed to Redis within the last minute, this one included.",
        c.nodes_live,
    );
    out.gauge(
        "retracker_cluster_views",
        "Swarm views this node holds.",
        c.views,
    );
}

/// The `[CHECKS]` families, when trackers are watched.
fn checks(out: &mut Exposition, checks: &[CheckMetric]) {
    if checks.is_empty() {
        return;
    }
    out.family(
        "retracker_check_up",
        "1 when the last poll of a watched tracker was answered, 0 when it was refused or failed.",
        "gauge",
    );
    for c in checks {
        let labels = [
            ("tracker", c.tracker.as_str()),
            ("info_hash", c.info_hash.as_str()),
        ];
        out.sample("retracker_check_up", &labels, u8::from(c.up));
    }
    out.family(
        "retracker_check_latency_seconds",
        "Seconds the last answered poll of a watched tracker took.",
        "gauge",
    );
    for c in checks {
        if let Some(s) = c.latency_seconds {
            let labels = [
                ("tracker", c.tracker.as_str()),
                ("info_hash", c.info_hash.as_str()),
            ];
            out.sample("retracker_check_latency_seconds", &labels, Float(s));
        }
    }
}

/// The text being written.
struct Exposition(String);

impl Exposition {
    /// `# HELP` and `# TYPE` of a family.
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        self.0.push_str("# HELP ");
        self.0.push_str(name);
        self.0.push(' ');
        for ch in help.chars() {
            match ch {
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                c => self.0.push(c),
            }
        }
        let _ = writeln!(self.0, "\n# TYPE {name} {kind}");
    }

    /// One sample line.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push_str("=\"");
                escape_label(v, &mut self.0);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family of one unlabelled gauge.
    fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, help, "gauge");
        self.sample(name, &[], value);
    }

    /// A family of one unlabelled counter.
    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, help, "counter");
        self.sample(name, &[], value);
    }
}

/// Appends a label value with `\`, `"` and line feeds escaped.
fn escape_label(v: &str, out: &mut String) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as the format writes it: `+Inf`, `-Inf`, `NaN`, else the shortest exact decimal.
fn float(v: f64) -> String {
    Float(v).to_string()
}

/// Displays a float the way [`float`] does.
struct Float(f64);

impl std::fmt::Display for Float {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Event, Failure, Stats, LATENCY_BOUNDS_US};
    use std::time::Duration;

    fn input() -> MetricsInput {
        let stats = Stats::new(1_700_000_000);
        for us in [40, 300, 2_000_000] {
            stats.event(Event::Request {
                kind: RequestKind::Announce,
                failure: None,
                elapsed: Duration::from_micros(us),
            });
        }
        stats.event(Event::Request {
            kind: RequestKind::Scrape,
            failure: Some(Failure::FullScrapeDisabled),
            elapsed: Duration::ZERO,
        });
        stats.event(Event::Login { ok: false });
        use crate::stats::ConnEvent::{Closed, Evicted, Opened};
        for e in [Opened, Opened, Opened, Evicted, Closed] {
            stats.event(Event::Connection(e));
        }
        MetricsInput {
            checks: Vec::new(),
            counters: stats.counters(),
            census: Census {
                torrents: 2,
                v4_seeders: 1,
                v4_leechers: 2,
                v6_seeders: 3,
                v6_leechers: 4,
                unique_addrs: 9,
                completed: 5,
            },
            completed_total: 7,
            persistence_backlog: 11,
            persistence_batches: 12,
            persistence_rows: 13,
            persistence_failures: 1,
            persistence_failing: true,
            database_bytes: 4096,
            blocklist_entries: 3,
            version: "1.2.3".into(),
            cluster: Some(crate::cluster::status::Figures {
                up: true,
                push_batches: 21,
                commands: 22,
                claims_won: 23,
                claims_lost: 24,
                lag_ms: 1500,
                nodes_live: 3,
                ..Default::default()
            }),
        }
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let text = render(&input());
        assert!(text.ends_with('\n'));
        let mut typed: Vec<String> = Vec::new();
        for line in lines(&text) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap().to_owned());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                typed.iter().any(|t| name == t
                    || ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name.strip_suffix(s) == Some(t.as_str()))),
                "{line} has no TYPE before it"
            );
        }
        let helps = text.matches("# HELP ").count();
        assert_eq!(helps, typed.len());
        // No family twice.
        let mut sorted = typed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), typed.len());
    }

    #[test]
    fn values_and_labels() {
        let text = render(&input());
        let l = lines(&text);
        for want in [
            "retracker_requests_total{kind=\"announce\",result=\"ok\"} 3",
            "retracker_requests_total{kind=\"announce\",result=\"failed\"} 0",
            "retracker_requests_total{kind=\"scrape\",result=\"ok\"} 0",
            "retracker_requests_total{kind=\"scrape\",result=\"failed\"} 1",
            "retracker_failures_total{reason=\"full_scrape_disabled\"} 1",
            "retracker_failures_total{reason=\"malformed\"} 0",
            "retracker_peers{family=\"ipv6\",state=\"leecher\"} 4",
            "retracker_peers{family=\"ipv4\",state=\"seeder\"} 1",
            "retracker_torrents 2",
            "retracker_unique_addresses 9",
            "retracker_completed_total 7",
            "retracker_persistence_backlog 11",
            "retracker_persistence_batches_total 12",
            "retracker_persistence_rows_total 13",
            "retracker_persistence_failures_total 1",
            "retracker_persistence_failing 1",
            "retracker_database_bytes 4096",
            "retracker_blocklist_entries 3",
            "retracker_logins_total{result=\"ok\"} 0",
            "retracker_logins_total{result=\"failed\"} 1",
            "retracker_start_time_seconds 1700000000",
            "retracker_http_connections 2",
            "retracker_http_connections_total 3",
            "retracker_http_connections_evicted_total 1",
            "retracker_build_info{version=\"1.2.3\"} 1",
            "# TYPE retracker_requests_total counter",
            "# TYPE retracker_peers gauge",
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{text}");
        }
        let reasons = l
            .iter()
            .filter(|s| s.starts_with("retracker_failures_total{"))
            .count();
        assert_eq!(reasons, Failure::ALL.len(), "every reason, zeros too");
        assert!(l.iter().any(|s| s.starts_with("retracker_uptime_seconds ")));
    }

    #[test]
    fn histogram_is_cumulative_and_ends_with_inf() {
        let text = render(&input());
        let buckets: Vec<(String, u64)> = lines(&text)
            .into_iter()
            .filter_map(|s| s.strip_prefix("retracker_announce_duration_seconds_bucket{le=\""))
            .map(|s| {
                let (le, n) = s.split_once("\"} ").unwrap();
                (le.to_owned(), n.parse().unwrap())
            })
            .collect();
        assert_eq!(buckets.len(), LATENCY_BOUNDS_US.len() + 1);
        assert_eq!(buckets[0], ("0.00005".to_owned(), 1));
        assert_eq!(buckets[3], ("0.0005".to_owned(), 2));
        assert_eq!(buckets.last().unwrap(), &("+Inf".to_owned(), 3));
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1));
        for le in &buckets[..buckets.len() - 1] {
            assert!(le.0.parse::<f64>().is_ok(), "{le:?}");
        }
        assert!(text.contains("\nretracker_announce_duration_seconds_count 3\n"));
        assert!(text.contains("\nretracker_announce_duration_seconds_sum 2.00034\n"));
        assert!(text.contains("# TYPE retracker_announce_duration_seconds histogram\n"));
    }

    #[test]
    fn empty_counters_still_have_an_inf_bucket() {
        let text = render(&MetricsInput::default());
        assert!(text.contains("retracker_announce_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
        assert!(text.contains("retracker_announce_duration_seconds_count 0\n"));
        assert!(text.contains("retracker_announce_duration_seconds_sum 0\n"));
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut i = input();
        i.version = "a\\b\"c\nd".into();
        let text = render(&i);
        assert!(
            text.contains("retracker_build_info{version=\"a\\\\b\\\"c\\nd\"} 1\n"),
            "{text}"
        );
        let mut out = Exposition(String::new());
        out.family("x", "back\\slash\nnew \"quoted\"", "gauge");
        assert_eq!(
            out.0,
            "# HELP x back\\\\slash\\nnew \"quoted\"\n# TYPE x gauge\n"
        );
    }

    #[test]
    fn floats() {
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1.0), "1");
    }
}
