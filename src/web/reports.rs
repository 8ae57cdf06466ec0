//! `/reports`: the tracker checks the server recorded (`crate::checks`: from `[CHECKS]
//! watch_file`, and checks asked for from the web UI), and their downloads
//! `/export/checks.csv` and `/export/checks.json`.
//!
//! `GET /reports` lists the checks newest first, [`PAGE_SIZE`] a page (`per=` changes it, up to
//! [`MAX_PER_PAGE`]; `page=` picks one), filtered by `tracker=` (the URL exactly as the check
//! used it) and `hash=` (40 hex digits). A bad filter value re-shows the form with the message
//! and status 400, and no list (a list that ignored the filter would look like an answer).
//!
//! Charts of seeders and leechers over time: with both `tracker=` and `hash=` set, the one pair
//! they pick; otherwise the distinct (tracker, hash) pairs of the rows on the page, newest
//! first, at most [`MAX_CHARTS`] (the page says how many were left out), so a chart is always
//! of rows the operator is looking at and the page stays small. Each chart covers the pair's
//! checks of the last [`CHART_DAYS`] days, from its first one to now, averaged into at most
//! [`CHART_POINTS`] points when there are more.
//!
//! The exports take the same `tracker=` and `hash=` and hold every matching check, oldest
//! first, in the format of `retracker report --format csv|json` (the same columns and
//! serialisation), so a download can be fed back to `retracker report` or to whatever reads its
//! output. The database is read on the blocking pool ([`Web::db`]), never on an async worker.

use super::chart::{self, Chart, Series};
use super::error::WebError;
use super::{format, peers, reply, Layout, Req, Web, Who};
use crate::hex;
use crate::storage::checks::{CheckFilter, CheckPage, RecordedCheck, SeriesPoint};
use crate::storage::Storage;
use askama::Template;
use http::{Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;

/// Rows per page unless `per=` says otherwise.
pub const PAGE_SIZE: u64 = 50;
/// Most rows `per=` may ask for.
pub const MAX_PER_PAGE: u64 = 200;
/// Most charts on a page without a full filter.
pub const MAX_CHARTS: usize = 6;
/// Days of checks a chart covers at most.
pub const CHART_DAYS: u32 = 7;
/// Most points of one line of a chart; more checks than this are averaged.
pub const CHART_POINTS: usize = 360;

/// Which checks: the filter of the page and of the exports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this tracker URL.
    pub tracker: Option<String>,
    /// Only this info hash, 40 hex digits in lower case.
    pub hash: Option<String>,
}

impl Filter {
    /// Reads `tracker=` and `hash=` from query fields (empty = no filter); the message says
    /// which value is wrong and what is expected.
    pub fn parse(q: &HashMap<String, String>) -> Result<Filter, String> {
        let field = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let tracker = field("tracker").map(str::to_owned);
        if let Some(t) = &tracker {
            if let Some(c) = t.chars().find(|c| c.is_control() || c.is_whitespace()) {
                return Err(format!(
                    "tracker={t:?} is not a tracker URL: it contains U+{:04X} (a URL like http://tracker.example/announce expected)",
                    u32::from(c)
                ));
            }
        }
        let hash = field("hash")
            .map(|h| peers::parse_hash(h).map(|h| hex::encode(&h)))
            .transpose()?;
        Ok(Filter { tracker, hash })
    }

    /// `tracker=...&hash=...` for links (only the filters set); empty for none.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.tracker {
            parts.push(format!("tracker={}", reply::url_encode(t)));
        }
        if let Some(h) = &self.hash {
            parts.push(format!("hash={h}"));
        }
        parts.join("&")
    }

    /// The one (tracker, hash) pair it picks, when both are set.
    fn pair(&self) -> Option<(String, String)> {
        Some((self.tracker.clone()?, self.hash.clone()?))
    }
}

/// What `GET /reports` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Which checks.
    pub filter: Filter,
    /// Page number, from 1.
    pub page: u64,
    /// Rows per page, 1 to [`MAX_PER_PAGE`].
    pub per: u64,
}

impl Params {
    /// Reads `tracker=`, `hash=`, `page=` and `per=`; the message names a bad value.
    pub fn parse(q: &HashMap<String, String>) -> Result<Params, String> {
        let field = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let number = |k: &str, default: u64, max: u64| match field(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{k}={v:?} is not a whole number from 1 to {max}")),
        };
        Ok(Params {
            filter: Filter::parse(q)?,
            page: number("page", 1, u64::from(u32::MAX))?,
            per: number("per", PAGE_SIZE, MAX_PER_PAGE)?,
        })
    }

    /// The link to page `page` of this view, the filter and page size kept.
    pub fn href(&self, filter: &Filter, page: u64) -> String {
        let mut parts = Vec::new();
        let f = filter.query();
        if !f.is_empty() {
            parts.push(f);
        }
        if self.per != PAGE_SIZE {
            parts.push(format!("per={}", self.per));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/reports".to_owned()
        } else {
            format!("/reports?{}", parts.join("&"))
        }
    }
}

/// A recorded check, formatted.
struct RowView {
    at: String,
    tracker: String,
    /// The page filtered by this tracker.
    tracker_href: String,
    request: String,
    hash: String,
    /// The page filtered by this hash (and the tracker filter kept).
    hash_href: String,
    status: String,
    /// `ok` or `error`, for the colour.
    status_class: &'static str,
    seeders: String,
    leechers: String,
    downloaded: String,
    peers: usize,
    time_ms: i64,
    /// The error and the warnings, in words.
    words: String,
    source: &'static str,
}

/// A count that may be missing (no answer): empty then.
fn opt(n: Option<i64>) -> String {
    n.map_or_else(String::new, |n| n.to_string())
}

impl RowView {
    fn new(r: &RecordedCheck, p: &Params) -> RowView {
        let hash = r.info_hash.clone().unwrap_or_default();
        let tracker_href = p.href(
            &Filter {
                tracker: Some(r.url.clone()),
                hash: p.filter.hash.clone(),
            },
            1,
        );
        let hash_href = p.href(
            &Filter {
                tracker: p.filter.tracker.clone(),
                hash: r.info_hash.clone(),
            },
            1,
        );
        RowView {
            at: format::utc(r.at),
            tracker: r.url.clone(),
            tracker_href,
            request: r.request.clone(),
            hash,
            hash_href,
            status: r.status.clone(),
            status_class: if r.status == "ok" { "ok" } else { "error" },
            seeders: opt(r.seeders),
            leechers: opt(r.leechers),
            downloaded: opt(r.downloaded),
            peers: r.peers.len(),
            time_ms: r.time_ms,
            words: r
                .error
                .iter()
                .chain(&r.warnings)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            source: r.source.as_str(),
        }
    }
}

/// The reports page.
#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage<'a> {
    layout: Layout<'a>,
    /// Why the filter was refused; empty for none (then nothing is listed).
    error: &'a str,
    /// The filter as typed back into the form.
    tracker: &'a str,
    hash: &'a str,
    /// `per=` to keep in the form; empty for the default.
    per: String,
    filtered: bool,
    /// "1,234 checks".
    total: String,
    /// "showing 51–100"; empty when nothing matches.
    showing: String,
    newer: String,
    older: String,
    /// Query of the filter, for the export links (empty for none).
    filters: String,
    rows: Vec<RowView>,
    /// One `<svg>` per charted pair.
    charts: Vec<String>,
    /// Pairs on the page left without a chart ([`MAX_CHARTS`]).
    uncharted: usize,
}

/// `GET /reports`.
pub async fn page(web: &Arc<Web>, req: &Req, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let q = reply::form(req.query.as_bytes());
    let typed = |k: &str| q.get(k).map_or("", String::as_str);
    let p = match Params::parse(&q) {
        Ok(p) => p,
        Err(message) => {
            let page = ReportsPage {
                layout: Layout::new(who, "reports"),
                error: &message,
                tracker: typed("tracker"),
                hash: typed("hash"),
                // Not kept: it may be the value refused.
                per: String::new(),
                filtered: true,
                total: String::new(),
                showing: String::new(),
                newer: String::new(),
                older: String::new(),
                filters: String::new(),
                rows: Vec::new(),
                charts: Vec::new(),
                uncharted: 0,
            };
            let mut resp = reply::page(&page);
            if resp.status() == StatusCode::OK {
                *resp.status_mut() = StatusCode::BAD_REQUEST;
            }
            return Ok(resp);
        }
    };
    let now = crate::tracker::unix_now();
    let params = p.clone();
    let (page_no, list, charts, uncharted) = web
        .db(move |s| {
            let (page_no, list) = read_page(s, &params)?;
            let pairs = pairs(&params.filter, &list.rows);
            let uncharted = pairs.len().saturating_sub(MAX_CHARTS);
            let mut charts = Vec::new();
            for (url, hash) in pairs.into_iter().take(MAX_CHARTS) {
                let since = now.saturating_sub(CHART_DAYS * 86_400);
                let series = s.check_series(&url, &hash, since)?;
                charts.push(pair_chart(&url, &hash, &series, now));
            }
            Ok((page_no, list, charts, uncharted))
        })
        .await?;
    let start = (page_no - 1) * p.per;
    let shown = list.rows.len() as u64;
    let view = ReportsPage {
        layout: Layout::new(who, "reports"),
        error: "",
        tracker: p.filter.tracker.as_deref().unwrap_or(""),
        hash: p.filter.hash.as_deref().unwrap_or(""),
        per: if p.per == PAGE_SIZE {
            String::new()
        } else {
            p.per.to_string()
        },
        filtered: p.filter != Filter::default(),
        total: match list.total {
            1 => "1 check".to_owned(),
            n => format!("{} checks", format::count(n)),
        },
        showing: if shown == 0 {
            String::new()
        } else {
            format!(
                "showing {}–{}",
                format::count(start + 1),
                format::count(start + shown)
            )
        },
        newer: if page_no > 1 {
            p.href(&p.filter, page_no - 1)
        } else {
            String::new()
        },
        older: if start + shown < list.total {
            p.href(&p.filter, page_no + 1)
        } else {
            String::new()
        },
        filters: p.filter.query(),
        rows: list.rows.iter().map(|r| RowView::new(r, &p)).collect(),
        charts,
        uncharted,
    };
    Ok(reply::page(&view))
}

/// The page `p` asks for, or the last one when it asks past the end; its number and rows.
fn read_page(s: &Storage, p: &Params) -> Result<(u64, CheckPage), crate::storage::StorageError> {
    let filter = |page: u64| CheckFilter {
        url: p.filter.tracker.clone(),
        info_hash: p.filter.hash.clone(),
        offset: (page - 1).saturating_mul(p.per),
        limit: p.per,
    };
    let list = s.list_checks(&filter(p.page))?;
    let last = list.total.div_ceil(p.per).max(1);
    if list.rows.is_empty() && p.page > last {
        return Ok((last, s.list_checks(&filter(last))?));
    }
    Ok((p.page, list))
}

/// The (tracker, hash) pairs to chart: the filter's one, else those of `rows` in order, once.
fn pairs(filter: &Filter, rows: &[RecordedCheck]) -> Vec<(String, String)> {
    if let Some(pair) = filter.pair() {
        return vec![pair];
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for r in rows {
        if let Some(h) = &r.info_hash {
            if !out.iter().any(|(u, x)| u == &r.url && x == h) {
                out.push((r.url.clone(), h.clone()));
            }
        }
    }
    out
}

/// The median gap between consecutive times (0 for fewer than two): how far apart a pair's
/// checks usually are, so a longer pause breaks the line.
fn typical_gap(times: &[u32]) -> u32 {
    let mut gaps: Vec<u32> = times
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect();
    if gaps.is_empty() {
        return 0;
    }
    gaps.sort_unstable();
    gaps[gaps.len() / 2]
}

/// The seeders and leechers chart of one pair, from its first check in `series` to `now`.
fn pair_chart(url: &str, hash: &str, series: &[SeriesPoint], now: u32) -> String {
    let to = series.last().map_or(now, |p| p.at.max(now));
    // At least a minute wide, so a first check is not drawn on the axis.
    let from = series
        .first()
        .map_or(to, |p| p.at)
        .min(to.saturating_sub(60));
    let line = |value: fn(&SeriesPoint) -> Option<i64>| -> Vec<(u32, f64)> {
        let raw: Vec<(u32, f64)> = series
            .iter()
            .filter_map(|p| value(p).map(|v| (p.at, v as f64)))
            .collect();
        if raw.len() > CHART_POINTS {
            chart::downsample(&raw, from, to + 1, CHART_POINTS)
        } else {
            raw
        }
    };
    let seeders = line(|p| p.seeders);
    let leechers = line(|p| p.leechers);
    let times: Vec<u32> = series.iter().map(|p| p.at).collect();
    let mut step = typical_gap(&times);
    if series.len() > CHART_POINTS {
        step = step.max((to - from) / CHART_POINTS as u32 + 1);
    }
    let title = format!("{url} · {hash}");
    chart::render_svg(&Chart {
        title: &title,
        from,
        to,
        step,
        series: vec![
            Series {
                label: "Seeders",
                color: "#1a7f37",
                points: &seeders,
            },
            Series {
                label: "Leechers",
                color: "#2b6cb0",
                points: &leechers,
            },
        ],
    })
}

/// `GET /export/checks.csv` and `/export/checks.json`: the checks `tracker=` and `hash=` pick,
/// oldest first, as `retracker report --format csv|json` writes them.
pub async fn export(
    web: &Arc<Web>,
    req: &Req,
    as_json: bool,
) -> Result<Response<Vec<u8>>, WebError> {
    let filter = Filter::parse(&reply::form(req.query.as_bytes())).map_err(WebError::BadRequest)?;
    let polls = web
        .db(move |s| s.export_checks(filter.tracker.as_deref(), filter.hash.as_deref()))
        .await?;
    if as_json {
        // The polls themselves, not a `serde_json::Value`, so the keys keep the order
        // `retracker report` prints them in.
        let mut body =
            serde_json::to_vec_pretty(&polls).map_err(|e| WebError::Internal(e.to_string()))?;
        body.push(b'\n');
        return Ok(reply::download("application/json", "checks.json", body));
    }
    Ok(reply::download(
        "text/csv; charset=utf-8",
        "checks.csv",
        crate::query::watch::csv_rows(&polls).into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> HashMap<String, String> {
        reply::form(text.as_bytes())
    }

    #[test]
    fn filters_are_checked_and_kept_in_links() {
        let p = Params::parse(&q(
            "tracker=http%3A%2F%2Ft.lan%2Fannounce&hash=ABABABABABABABABABABABABABABABABABABABAB&per=2",
        ))
        .unwrap();
        assert_eq!(p.filter.hash.as_deref(), Some("ab".repeat(20).as_str()));
        assert_eq!(
            p.href(&p.filter, 3),
            format!(
                "/reports?tracker=http%3A//t.lan/announce&hash={}&per=2&page=3",
                "ab".repeat(20)
            )
        );
        let p = Params::parse(&q("tracker=&hash=")).unwrap();
        assert_eq!(p.filter, Filter::default());
        assert_eq!(p.href(&p.filter, 1), "/reports");
        let err = Params::parse(&q("hash=abc")).unwrap_err();
        assert!(err.contains("40 hex digits"), "{err}");
        let err = Params::parse(&q("per=500")).unwrap_err();
        assert!(err.contains("from 1 to 200"), "{err}");
        assert!(Params::parse(&q("page=0")).is_err());
        assert!(Params::parse(&q("tracker=a%0Ab"))
            .unwrap_err()
            .contains("U+000A"));
    }

    #[test]
    fn the_pairs_of_the_page_are_charted_once_each() {
        let row = |url: &str, hash: Option<&str>| RecordedCheck {
            id: 0,
            at: 0,
            url: url.into(),
            request: "announce".into(),
            info_hash: hash.map(str::to_owned),
            status: "ok".into(),
            error: None,
            seeders: None,
            leechers: None,
            downloaded: None,
            interval: None,
            time_ms: 0,
            attempts: 1,
            external_ip: None,
            warnings: Vec::new(),
            source: crate::storage::checks::Source::Watch,
            peers: Vec::new(),
        };
        let rows = [
            row("a", Some("1")),
            row("b", Some("1")),
            row("a", Some("1")),
            row("a", None),
            row("a", Some("2")),
        ];
        let got = pairs(&Filter::default(), &rows);
        let want: Vec<(String, String)> = [("a", "1"), ("b", "1"), ("a", "2")]
            .iter()
            .map(|(u, h)| (u.to_string(), h.to_string()))
            .collect();
        assert_eq!(got, want);
        let only = Filter {
            tracker: Some("x".into()),
            hash: Some("9".into()),
        };
        assert_eq!(pairs(&only, &rows), [("x".to_owned(), "9".to_owned())]);
    }

    #[test]
    fn a_chart_has_both_lines_and_breaks_at_pauses() {
        assert_eq!(typical_gap(&[]), 0);
        assert_eq!(typical_gap(&[10, 11, 12, 100]), 1);
        let series: Vec<SeriesPoint> = (0..5)
            .map(|i| SeriesPoint {
                at: 1_000 + i,
                seeders: Some(2),
                leechers: (i != 2).then_some(1),
            })
            .collect();
        let svg = pair_chart("http://t/announce", &"ab".repeat(20), &series, 1_010);
        assert!(svg.contains("<title>http://t/announce · abab"), "{svg}");
        assert!(svg.contains("Seeders") && svg.contains("Leechers"), "{svg}");
        assert!(svg.contains("<polyline"), "{svg}");
        let empty = pair_chart("u", "h", &[], 1_000);
        assert!(empty.contains("no data yet"), "{empty}");
    }
}
