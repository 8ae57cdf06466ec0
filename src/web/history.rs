//! History: a snapshot of the tracker every `[STATS] snapshot_interval` seconds, stored in
//! SQLite (so it survives restarts) and kept `[STATS] history_days`, and `GET /history`, which
//! charts the last hour, day and kept days as inline SVG.

use super::chart::{self, Chart, Series};
use super::error::WebError;
use super::metrics::completed_total;
use super::{format, reply, Layout, Web, Who};
use crate::stats::census::{self, Census};
use crate::stats::Snapshot;
use askama::Template;
use http::Response;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Least time between two prunes of old snapshots.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const DAY: u32 = 86_400;

/// Takes a snapshot every `web.snapshot_interval` seconds until `stop` changes, and prunes
/// snapshots older than `web.history_days` at start and then at most once an hour.
///
/// A failing database is logged when it starts failing and when it recovers, never per
/// snapshot, and never stops the loop (the next snapshot tries again).
pub async fn snapshot_loop(web: Arc<Web>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(u64::from(web.snapshot_interval.max(1)));
    let mut health = DbHealth::default();
    let mut last_prune = Instant::now();
    // Taken before the first prune, which waits on the database: requests answered meanwhile
    // belong to the first snapshot's rates.
    let mut prev = (Instant::now(), web.stats.request_totals());
    let mut prev_handed = web.stats.counters().handed_out;
    health.record("pruning old history", prune(&web).await);
    // The tracker's clock, so that a test with a manual clock takes a snapshot when it moves
    // the clock on, instead of sleeping through the interval.
    let clock = web.tracker.clock.clone();
    loop {
        tokio::select! {
            () = clock.sleep(every) => {}
            _ = stop.changed() => return,
        }
        let (now, totals) = (Instant::now(), web.stats.request_totals());
        let secs = now.duration_since(prev.0).as_secs_f64();
        let announces = per_sec(prev.1 .0, totals.0, secs);
        let scrapes = per_sec(prev.1 .1, totals.1, secs);
        prev = (now, totals);
        let handed = web.stats.counters().handed_out;
        let kept = Snapshot::kept_shares(prev_handed, handed);
        prev_handed = handed;
        let w = Arc::clone(&web);
        let stored = crate::blocking::try_run(move || {
            let census = census::take(&*w.store);
            let completed = completed_total(w.storage.completed_total(), census.completed);
            let mut snap = snapshot(w.now(), &census, completed, announces, scrapes);
            (snap.kept_network, snap.kept_near) = kept;
            w.storage.insert_snapshot(&snap).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        health.record("storing a history snapshot", stored);
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            health.record("pruning old history", prune(&web).await);
        }
    }
}

/// Deletes snapshots older than `history_days`.
async fn prune(web: &Arc<Web>) -> Result<(), String> {
    let before = web
        .now()
        .saturating_sub(web.history_days.saturating_mul(DAY));
    let storage = Arc::clone(&web.storage);
    let removed = tokio::task::spawn_blocking(move || storage.prune_snapshots(before))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if removed > 0 {
        tracing::debug!(
            "history: {removed} snapshots older than {} days removed",
            web.history_days
        );
    }
    Ok(())
}

/// Whether history writes are failing, so that an outage is logged once, not per snapshot.
#[derive(Debug, Default)]
struct DbHealth {
    failing: bool,
}

impl DbHealth {
    /// Notes the result of a write; logs only a change between working and failing.
    fn record(&mut self, what: &str, result: Result<(), String>) {
        match result {
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::error!(
                    "{what} failed: {e}; history is not being stored until the database works again (logged once)"
                );
            }
            Err(_) => {}
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::warn!("history is being stored again");
            }
            Ok(()) => {}
        }
    }
}

/// Requests per second between two totals `secs` apart (0 for no time).
fn per_sec(before: u64, after: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        after.saturating_sub(before) as f64 / secs
    } else {
        0.0
    }
}

/// The snapshot of `census` at `at`.
pub fn snapshot(
    at: u32,
    census: &Census,
    completed: u64,
    announces_per_sec: f64,
    scrapes_per_sec: f64,
) -> Snapshot {
    Snapshot {
        at,
        torrents: census.torrents,
        seeders: census.seeders(),
        leechers: census.leechers(),
        ipv4_peers: census.ipv4(),
        ipv6_peers: census.ipv6(),
        unique_addrs: census.unique_addrs,
        announces_per_sec,
        scrapes_per_sec,
        completed,
        kept_network: None,
        kept_near: None,
    }
}

/// A line of a chart: label, colour, and its value in a snapshot.
type Line = (&'static str, &'static str, fn(&Snapshot) -> f64);

/// One chart: a title and its lines.
struct ChartSpec {
    title: &'static str,
    lines: &'static [Line],
}

/// The charts of every section.
const CHARTS: [ChartSpec; 5] = [
    ChartSpec {
        title: "Peers",
        lines: &[
            ("Seeders", "#1a7f37", |s| s.seeders as f64),
            ("Leechers", "#2b6cb0", |s| s.leechers as f64),
        ],
    },
    ChartSpec {
        title: "Torrents",
        lines: &[("Torrents", "#6f42c1", |s| s.torrents as f64)],
    },
    ChartSpec {
        title: "Requests per second",
        lines: &[
            ("Announces/s", "#2b6cb0", |s| s.announces_per_sec),
            ("Scrapes/s", "#d97706", |s| s.scrapes_per_sec),
        ],
    },
    ChartSpec {
        title: "Peers by address family",
        lines: &[
            ("IPv4", "#0f766e", |s| s.ipv4_peers as f64),
            ("IPv6", "#b42318", |s| s.ipv6_peers as f64),
        ],
    },
    // Percent of the peers handed out in each interval; an interval that handed out none has
    // no point (NaN, left out below), so the line breaks instead of dropping to zero.
    ChartSpec {
        title: "Peers handed out kept local (%)",
        lines: &[
            ("Own network", "#1a7f37", |s| {
                s.kept_network.map_or(f64::NAN, |x| x * 100.0)
            }),
            ("Own or operator's networks", "#0f766e", |s| {
                s.kept_near.map_or(f64::NAN, |x| x * 100.0)
            }),
        ],
    },
];

/// A section of the page: a time window and its charts (SVG).
pub struct Section {
    /// "Last hour", ...
    pub title: String,
    /// One `<svg>` per chart.
    pub charts: Vec<String>,
}

/// The three sections for `snaps` (oldest first) at `now`: the last hour point by point, the
/// last day in 5-minute averages, the kept `days` in 360 averages.
pub fn sections(snaps: &[Snapshot], now: u32, interval: u32, days: u32) -> Vec<Section> {
    let interval = interval.max(1);
    let span = days.max(1).saturating_mul(DAY);
    let kept = if days <= 1 {
        "All kept history (1 day)".to_owned()
    } else {
        format!("Last {days} days")
    };
    [
        ("Last hour".to_owned(), 3600, None),
        ("Last 24 hours".to_owned(), DAY, Some(288)),
        (kept, span, Some(360)),
    ]
    .into_iter()
    .map(|(title, span, buckets)| {
        let from = now.saturating_sub(span);
        // A gap of more than two steps breaks a line; a bucket is never shorter than a snapshot
        // interval, or every point of a sparse history would stand alone.
        let step = buckets.map_or(interval, |b: u32| (span / b).max(interval));
        let charts = CHARTS
            .iter()
            .map(|spec| {
                let points: Vec<Vec<(u32, f64)>> = spec
                    .lines
                    .iter()
                    .map(|(_, _, value)| {
                        let raw: Vec<(u32, f64)> = snaps
                            .iter()
                            .filter(|s| (from..=now).contains(&s.at))
                            .map(|s| (s.at, value(s)))
                            .filter(|(_, v)| v.is_finite())
                            .collect();
                        match buckets {
                            // The window is inclusive of `now`, downsample's end is not.
                            Some(b) => chart::downsample(&raw, from, now + 1, b as usize),
                            None => raw,
                        }
                    })
                    .collect();
                let title = format!("{}, {}", spec.title, title.to_lowercase());
                chart::render_svg(&Chart {
                    title: &title,
                    from,
                    to: now,
                    step,
                    series: spec
                        .lines
                        .iter()
                        .zip(&points)
                        .map(|((label, color, _), points)| Series {
                            label,
                            color,
                            points,
                        })
                        .collect(),
                })
            })
            .collect();
        Section { title, charts }
    })
    .collect()
}

/// The history page.
#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage<'a> {
    layout: Layout<'a>,
    /// Snapshots stored, formatted.
    count: String,
    /// When the oldest was taken; `None` before the first.
    oldest: Option<String>,
    /// Seconds between snapshots.
    interval: u32,
    /// Days kept.
    days: u32,
    sections: Vec<Section>,
}

/// `GET /history`.
pub async fn page(web: &Arc<Web>, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let now = web.now();
    let (interval, days) = (web.snapshot_interval.max(1), web.history_days.max(1));
    let (count, oldest, sections) = web
        .db(move |s| {
            let snaps = s.snapshots(0, u32::MAX)?;
            let oldest = snaps.first().map(|s| s.at);
            Ok((snaps.len(), oldest, sections(&snaps, now, interval, days)))
        })
        .await?;
    Ok(reply::page(&HistoryPage {
        layout: Layout::new(who, "history"),
        count: format::count(count as u64),
        oldest: oldest.map(format::utc),
        interval,
        days,
        sections,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at: u32, seeders: u64) -> Snapshot {
        Snapshot {
            at,
            seeders,
            leechers: 1,
            torrents: 2,
            ipv4_peers: seeders,
            ipv6_peers: 1,
            announces_per_sec: 0.5,
            // Every tenth interval handed out nothing: no point there.
            kept_network: (at % 600 != 0).then_some(0.5),
            kept_near: (at % 600 != 0).then_some(0.75),
            ..Snapshot::default()
        }
    }

    #[test]
    fn rates_over_the_interval() {
        assert_eq!(per_sec(10, 70, 60.0), 1.0);
        assert_eq!(per_sec(10, 10, 60.0), 0.0);
        assert_eq!(per_sec(10, 20, 0.0), 0.0);
        assert_eq!(per_sec(20, 10, 1.0), 0.0, "never negative");
    }

    #[test]
    fn snapshot_copies_the_census() {
        let c = Census {
            torrents: 3,
            v4_seeders: 1,
            v4_leechers: 2,
            v6_seeders: 3,
            v6_leechers: 4,
            unique_addrs: 8,
            completed: 1,
        };
        let s = snapshot(100, &c, 9, 1.5, 0.25);
        assert_eq!(
            s,
            Snapshot {
                at: 100,
                torrents: 3,
                seeders: 4,
                leechers: 6,
                ipv4_peers: 3,
                ipv6_peers: 7,
                unique_addrs: 8,
                announces_per_sec: 1.5,
                scrapes_per_sec: 0.25,
                completed: 9,
                kept_network: None,
                kept_near: None,
            }
        );
    }

    #[test]
    fn kept_shares_come_from_the_interval_only() {
        assert_eq!(Snapshot::kept_shares([0; 3], [0; 3]), (None, None));
        assert_eq!(
            Snapshot::kept_shares([10, 10, 10], [13, 14, 13]),
            (Some(0.3), Some(0.7)),
            "3 own, 4 operator, 3 outside in the interval"
        );
        assert_eq!(
            Snapshot::kept_shares([5, 0, 0], [5, 0, 4]),
            (Some(0.0), Some(0.0))
        );
    }

    #[test]
    fn three_sections_of_five_charts() {
        let now = 1_800_000_000;
        let snaps: Vec<Snapshot> = (0..300)
            .map(|i| snap(now - 18_000 + i * 60, u64::from(i)))
            .collect();
        let s = sections(&snaps, now, 60, 30);
        let titles: Vec<&str> = s.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Last hour", "Last 24 hours", "Last 30 days"]);
        for section in &s {
            assert_eq!(section.charts.len(), 5);
            for svg in &section.charts {
                assert!(svg.starts_with("<svg"));
                assert!(svg.contains("<polyline"), "{}: {svg}", section.title);
            }
        }
        assert!(s[0].charts[0].contains("<title>Peers, last hour</title>"));
        assert!(s[2].charts[3].contains("<title>Peers by address family, last 30 days</title>"));
        let kept = &s[0].charts[4];
        assert!(kept.contains("<title>Peers handed out kept local (%), last hour</title>"));
        assert!(
            !kept.contains("NaN"),
            "intervals without handouts leave no point: {kept}"
        );
        // The hour holds the last 60 points, one polyline per line drawn point by point.
        let hour = &s[0].charts[1];
        let points = hour
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 60);
    }

    #[test]
    fn an_empty_history_says_so() {
        let s = sections(&[], 1_800_000_000, 60, 1);
        assert_eq!(s[2].title, "All kept history (1 day)");
        assert!(s
            .iter()
            .flat_map(|s| &s.charts)
            .all(|c| c.contains("no data yet")));
    }

    #[test]
    fn health_logs_changes_only() {
        let mut h = DbHealth::default();
        h.record("x", Err("disk full".into()));
        assert!(h.failing);
        h.record("x", Err("disk full".into()));
        assert!(h.failing);
        h.record("x", Ok(()));
        assert!(!h.failing);
    }
}
