//! The tables of the server's tracker checks (`crate::checks`): every check recorded with its
//! peers (`checks`, `check_peers`), and the watches added from the web UI (`check_watches`).
//!
//! For the web pages: [`Storage::list_checks`] (filtered, paginated, with the total),
//! [`Storage::check_series`] (seeders and leechers over time, for a chart),
//! [`Storage::export_checks`] (the rows of `retracker report`: write them with
//! `crate::query::watch::csv_rows`, or as JSON), and the page watches. Times are Unix seconds.

use super::record::Poll;
use super::{Storage, StorageError};
use rusqlite::{params, Row};

/// Where a check came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Asked for from the web UI.
    Page,
    /// A watch (the watch file's or a page watch).
    Watch,
}

impl Source {
    /// `page`, `watch`: the stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Page => "page",
            Source::Watch => "watch",
        }
    }
}

/// A peer of a recorded announce.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckPeer {
    /// `ip:port` (`[ip]:port` for IPv6).
    pub address: String,
    /// The client named by its peer id (`qBittorrent 4.5.2`), or the peer id in hex when no
    /// client is known; `None` when the tracker sent no peer id (compact answers).
    pub client: Option<String>,
}

/// One recorded check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecordedCheck {
    /// Row id (0 before it is recorded).
    pub id: i64,
    /// When the check started.
    pub at: u32,
    /// Tracker URL.
    pub url: String,
    /// `announce` or `scrape`.
    pub request: String,
    /// Hex info hash.
    pub info_hash: Option<String>,
    /// `ok`, `failure` (the tracker refused) or `error` (no usable answer).
    pub status: String,
    /// The failure reason, or why there was no answer, in words.
    pub error: Option<String>,
    /// Seeders.
    pub seeders: Option<i64>,
    /// Leechers.
    pub leechers: Option<i64>,
    /// Completed downloads.
    pub downloaded: Option<i64>,
    /// Announce interval.
    pub interval: Option<i64>,
    /// Milliseconds from the first attempt to the answer.
    pub time_ms: i64,
    /// Attempts made.
    pub attempts: i64,
    /// BEP 24 `external ip`.
    pub external_ip: Option<String>,
    /// Warnings (the tracker's `warning message`, the BEP 7 check).
    pub warnings: Vec<String>,
    /// Where it came from.
    pub source: Source,
    /// Peers handed out.
    pub peers: Vec<CheckPeer>,
}

/// Which checks [`Storage::list_checks`] returns, newest first.
#[derive(Clone, Debug, Default)]
pub struct CheckFilter {
    /// Only this tracker URL.
    pub url: Option<String>,
    /// Only this hex info hash (compared in lower case).
    pub info_hash: Option<String>,
    /// Rows skipped.
    pub offset: u64,
    /// Most rows returned.
    pub limit: u64,
}

/// A page of checks.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckPage {
    /// Rows matching the filter, all pages together.
    pub total: u64,
    /// This page, newest first.
    pub rows: Vec<RecordedCheck>,
}

/// One point of [`Storage::check_series`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SeriesPoint {
    /// When.
    pub at: u32,
    /// Seeders (`None`: no answer then).
    pub seeders: Option<i64>,
    /// Leechers.
    pub leechers: Option<i64>,
}

/// A watch added from the web UI.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PageWatch {
    /// Row id, for removing it.
    pub id: i64,
    /// Tracker URL.
    pub url: String,
    /// Hex info hash, lower case.
    pub info_hash: String,
    /// Seconds between two polls.
    pub seconds: u32,
    /// When it was added.
    pub created: u32,
}

const COLUMNS: &str = "id, at, url, request, info_hash, status, error, seeders, leechers, \
    downloaded, interval, time_ms, attempts, external_ip, warnings, source";

fn check_row(r: &Row) -> rusqlite::Result<RecordedCheck> {
    let warnings: Option<String> = r.get(14)?;
    let source: String = r.get(15)?;
    Ok(RecordedCheck {
        id: r.get(0)?,
        at: r.get(1)?,
        url: r.get(2)?,
        request: r.get(3)?,
        info_hash: r.get(4)?,
        status: r.get(5)?,
        error: r.get(6)?,
        seeders: r.get(7)?,
        leechers: r.get(8)?,
        downloaded: r.get(9)?,
        interval: r.get(10)?,
        time_ms: r.get(11)?,
        attempts: r.get(12)?,
        external_ip: r.get(13)?,
        warnings: warnings
            .map(|w| w.split('\n').map(str::to_owned).collect())
            .unwrap_or_default(),
        source: if source == "page" {
            Source::Page
        } else {
            Source::Watch
        },
        peers: Vec::new(),
    })
}

/// The checks `tail` (`WHERE ... ORDER BY ... LIMIT ...`) picks, with their peers, each with its
/// time in RFC 3339 UTC (the `time` of `retracker report`).
fn select(
    conn: &rusqlite::Connection,
    tail: &str,
    values: &[String],
) -> rusqlite::Result<Vec<(RecordedCheck, String)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS}, strftime('%Y-%m-%dT%H:%M:%SZ', at, 'unixepoch') FROM checks {tail}"
    ))?;
    let mut rows = stmt
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok((check_row(r)?, r.get(16)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut peers = conn.prepare_cached(
        "SELECT address, client FROM check_peers WHERE check_id = ?1 ORDER BY rowid",
    )?;
    for (check, _) in &mut rows {
        check.peers = peers
            .query_map([check.id], |r| {
                Ok(CheckPeer {
                    address: r.get(0)?,
                    client: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(rows)
}

/// The `WHERE` of a filter and its parameters.
fn condition(url: Option<&str>, hash: Option<&str>) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if let Some(u) = url {
        values.push(u.to_owned());
        clauses.push(format!("url = ?{}", values.len()));
    }
    if let Some(h) = hash {
        values.push(h.to_ascii_lowercase());
        clauses.push(format!("info_hash = ?{}", values.len()));
    }
    if clauses.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), values)
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Storage {
    /// Records `check` and its peers in one transaction; returns its row id.
    pub fn record_check(&self, check: &RecordedCheck) -> Result<i64, StorageError> {
        let mut conn = self.conn()?;
        let run = |conn: &mut rusqlite::Connection| -> rusqlite::Result<i64> {
            let tx = conn.transaction()?;
            let warnings = (!check.warnings.is_empty()).then(|| check.warnings.join("\n"));
            tx.execute(
                "INSERT INTO checks (at, url, request, info_hash, status, error, seeders, \
                 leechers, downloaded, interval, time_ms, attempts, external_ip, warnings, source) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    check.at,
                    check.url,
                    check.request,
                    check.info_hash.as_deref().map(str::to_ascii_lowercase),
                    check.status,
                    check.error,
                    check.seeders,
                    check.leechers,
                    check.downloaded,
                    check.interval,
                    check.time_ms,
                    check.attempts,
                    check.external_ip,
                    warnings,
                    check.source.as_str()
                ],
            )?;
            let id = tx.last_insert_rowid();
            {
                let mut peer = tx.prepare_cached(
                    "INSERT INTO check_peers (check_id, address, client) VALUES (?1, ?2, ?3)",
                )?;
                for p in &check.peers {
                    peer.execute(params![id, p.address, p.client])?;
                }
            }
            tx.commit()?;
            Ok(id)
        };
        run(&mut conn).map_err(|e| self.sqlite(e))
    }

    /// The checks `filter` selects, newest first, with their peers and the total count.
    pub fn list_checks(&self, filter: &CheckFilter) -> Result<CheckPage, StorageError> {
        let conn = self.conn()?;
        let (cond, values) = condition(filter.url.as_deref(), filter.info_hash.as_deref());
        let run = || -> rusqlite::Result<CheckPage> {
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM checks {cond}"),
                rusqlite::params_from_iter(&values),
                |r| r.get(0),
            )?;
            let rows = select(
                &conn,
                &format!(
                    "{cond} ORDER BY at DESC, id DESC LIMIT {} OFFSET {}",
                    clamp(filter.limit),
                    clamp(filter.offset)
                ),
                &values,
            )?
            .into_iter()
            .map(|(check, _)| check)
            .collect();
            Ok(CheckPage {
                total: u64::try_from(total).unwrap_or(0),
                rows,
            })
        };
        run().map_err(|e| self.sqlite(e))
    }

    /// Seeders and leechers of the announces and scrapes of `info_hash` on `url` since
    /// `since`, oldest first (for a chart; answers without counts give `None`).
    pub fn check_series(
        &self,
        url: &str,
        info_hash: &str,
        since: u32,
    ) -> Result<Vec<SeriesPoint>, StorageError> {
        let conn = self.conn()?;
        let run = || -> rusqlite::Result<Vec<SeriesPoint>> {
            let mut stmt = conn.prepare_cached(
                "SELECT at, seeders, leechers FROM checks \
                 WHERE url = ?1 AND info_hash = ?2 AND at >= ?3 ORDER BY at, id",
            )?;
            let points = stmt
                .query_map(params![url, info_hash.to_ascii_lowercase(), since], |r| {
                    Ok(SeriesPoint {
                        at: r.get(0)?,
                        seeders: r.get(1)?,
                        leechers: r.get(2)?,
                    })
                })?
                .collect();
            points
        };
        run().map_err(|e| self.sqlite(e))
    }

    /// The checks of `url` and `info_hash` (each `None`: any) as the rows of `retracker
    /// report`, oldest first: `time` in RFC 3339 UTC, peers as addresses.
    pub fn export_checks(
        &self,
        url: Option<&str>,
        info_hash: Option<&str>,
    ) -> Result<Vec<Poll>, StorageError> {
        let conn = self.conn()?;
        let (cond, values) = condition(url, info_hash);
        let run = || -> rusqlite::Result<Vec<Poll>> {
            let rows = select(&conn, &format!("{cond} ORDER BY at, id"), &values)?;
            Ok(rows
                .into_iter()
                .map(|(c, time)| Poll {
                    time,
                    url: c.url,
                    request: c.request,
                    info_hash: c.info_hash,
                    status: c.status,
                    error: c.error,
                    seeders: c.seeders,
                    leechers: c.leechers,
                    downloaded: c.downloaded,
                    interval: c.interval,
                    time_ms: c.time_ms,
                    attempts: c.attempts,
                    peers: c.peers.into_iter().map(|p| p.address).collect(),
                })
                .collect())
        };
        run().map_err(|e| self.sqlite(e))
    }

    /// Deletes the checks (and their peers) recorded before `before`; returns how many.
    pub fn delete_checks_before(&self, before: u32) -> Result<usize, StorageError> {
        let mut conn = self.conn()?;
        let run = |conn: &mut rusqlite::Connection| -> rusqlite::Result<usize> {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM check_peers WHERE check_id IN (SELECT id FROM checks WHERE at < ?1)",
                [before],
            )?;
            let n = tx.execute("DELETE FROM checks WHERE at < ?1", [before])?;
            tx.commit()?;
            Ok(n)
        };
        run(&mut conn).map_err(|e| self.sqlite(e))
    }

    /// Adds a page watch (or changes the seconds of the one on the same tracker and hash);
    /// returns its id.
    pub fn add_watch(
        &self,
        url: &str,
        info_hash: &str,
        seconds: u32,
        created: u32,
    ) -> Result<i64, StorageError> {
        let conn = self.conn()?;
        conn.query_row(
            "INSERT INTO check_watches (url, info_hash, seconds, created) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (url, info_hash) DO UPDATE SET seconds = excluded.seconds \
             RETURNING id",
            params![url, info_hash.to_ascii_lowercase(), seconds.max(1), created],
            |r| r.get(0),
        )
        .map_err(|e| self.sqlite(e))
    }

    /// Removes page watch `id`; false when there was none.
    pub fn remove_watch(&self, id: i64) -> Result<bool, StorageError> {
        self.conn()?
            .execute("DELETE FROM check_watches WHERE id = ?1", [id])
            .map(|n| n > 0)
            .map_err(|e| self.sqlite(e))
    }

    /// Every page watch, oldest first.
    pub fn page_watches(&self) -> Result<Vec<PageWatch>, StorageError> {
        let conn = self.conn()?;
        let run = || -> rusqlite::Result<Vec<PageWatch>> {
            let mut stmt = conn.prepare_cached(
                "SELECT id, url, info_hash, seconds, created FROM check_watches ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(PageWatch {
                        id: r.get(0)?,
                        url: r.get(1)?,
                        info_hash: r.get(2)?,
                        seconds: r.get(3)?,
                        created: r.get(4)?,
                    })
                })?
                .collect();
            rows
        };
        run().map_err(|e| self.sqlite(e))
    }
}
