//! One line of `retracker query` output: a request's answer (or why there was none), flattened
//! for the renderers and the recordings.

use crate::client::{ClientError, Outcome};
use crate::hex;
use crate::protocol::answer::{AnnounceAnswer, Answer, ScrapeAnswer};
use crate::protocol::{InfoHash, RetryIn};
use serde::Serialize;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Answered.
    Ok,
    /// The tracker refused (`failure reason`).
    Failure,
    /// No usable answer (unreachable, timeout, malformed).
    Error,
}

impl Status {
    /// `ok`, `failure`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failure => "failure",
            Status::Error => "error",
        }
    }
}

/// A peer as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerRow {
    /// `ip:port` (`[ip]:port` for IPv6).
    pub address: String,
    /// Reverse DNS name, with `--rdns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One request's result.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The tracker URL as given.
    pub url: String,
    /// `announce`, `scrape` or `full scrape`.
    pub request: &'static str,
    /// Hex info hash (each torrent of a full scrape has its row).
    pub info_hash: Option<String>,
    /// The torrent's name (`--torrent`, or `name` in a scrape answer).
    pub name: Option<String>,
    /// How it ended.
    pub status: Status,
    /// The `failure reason`, or what went wrong.
    pub error: Option<String>,
    /// BEP 31 `retry in` of a failure: minutes or `never`.
    pub retry_in: Option<String>,
    /// `interval`.
    pub interval: Option<i64>,
    /// `min interval` (announce) or `min_request_interval` (scrape).
    pub min_interval: Option<i64>,
    /// Seeders.
    pub seeders: Option<i64>,
    /// Leechers.
    pub leechers: Option<i64>,
    /// Completed downloads.
    pub downloaded: Option<i64>,
    /// Peers (announce only).
    pub peers: Vec<PeerRow>,
    /// BEP 24 `external ip`.
    pub external_ip: Option<String>,
    /// `warning message`.
    pub warning: Option<String>,
    /// Reached over IPv6, yet IPv4 peers and no `peers6` key: see [`super::bep7`].
    pub ipv6_without_peers6: bool,
    /// Milliseconds from the first attempt to the answer.
    pub time_ms: u64,
    /// Attempts made.
    pub attempts: u32,
}

impl Row {
    fn base<T>(url: &str, request: &'static str, hash: Option<&InfoHash>, o: &Outcome<T>) -> Row {
        Row {
            url: url.to_owned(),
            request,
            info_hash: hash.map(|h| hex::encode(h)),
            name: None,
            status: Status::Ok,
            error: None,
            retry_in: None,
            interval: None,
            min_interval: None,
            seeders: None,
            leechers: None,
            downloaded: None,
            peers: Vec::new(),
            external_ip: None,
            warning: None,
            ipv6_without_peers6: false,
            time_ms: u64::try_from(o.elapsed.as_millis()).unwrap_or(u64::MAX),
            attempts: o.attempts,
        }
    }

    /// Fills status and error for anything but a success; true when it was a success.
    fn settle<T>(&mut self, result: &Result<Answer<T>, ClientError>) -> bool {
        match result {
            Ok(Answer::Success(_)) => return true,
            Ok(Answer::Failure(f)) => {
                self.status = Status::Failure;
                self.error = Some(f.reason.clone());
                self.retry_in = f.retry_in.map(|r| match r {
                    RetryIn::Never => "never".to_owned(),
                    RetryIn::Minutes(m) => m.to_string(),
                });
            }
            Err(e) => {
                self.status = Status::Error;
                self.error = Some(e.to_string());
            }
        }
        false
    }

    /// The row of an announce.
    pub fn announce(url: &str, hash: &InfoHash, o: &Outcome<AnnounceAnswer>) -> Row {
        let mut row = Row::base(url, "announce", Some(hash), o);
        if row.settle(&o.result) {
            let Ok(Answer::Success(a)) = &o.result else {
                unreachable!("settled as a success")
            };
            row.interval = Some(a.interval);
            row.min_interval = a.min_interval;
            row.seeders = a.complete;
            row.leechers = a.incomplete;
            row.downloaded = a.downloaded;
            row.peers = a
                .peers
                .iter()
                .map(|p| PeerRow {
                    address: std::net::SocketAddr::new(p.ip, p.port).to_string(),
                    host: None,
                })
                .collect();
            row.external_ip = a.external_ip.map(|ip| ip.to_string());
            row.warning = a.warning.clone();
            row.ipv6_without_peers6 = super::bep7::no_peers6(o.answered_by, a);
        }
        row
    }

    /// The rows of a scrape: one per torrent answered (one row for a failure or error; for a
    /// scrape of one hash, one row even when the tracker does not know it).
    pub fn scrape(url: &str, hash: Option<&InfoHash>, o: &Outcome<ScrapeAnswer>) -> Vec<Row> {
        let request = if hash.is_some() {
            "scrape"
        } else {
            "full scrape"
        };
        let mut row = Row::base(url, request, hash, o);
        if !row.settle(&o.result) {
            return vec![row];
        }
        let Ok(Answer::Success(s)) = &o.result else {
            unreachable!("settled as a success")
        };
        row.min_interval = s.min_request_interval;
        let fill = |row: &mut Row, f: &crate::protocol::answer::ScrapeFile| {
            row.seeders = f.complete;
            row.leechers = f.incomplete;
            row.downloaded = f.downloaded;
            row.name = f.name.clone();
        };
        match hash {
            Some(h) => {
                // A tracker that does not know the torrent may leave it out: zero peers.
                match s.files.iter().find(|f| f.info_hash == *h) {
                    Some(f) => fill(&mut row, f),
                    None => {
                        row.seeders = Some(0);
                        row.leechers = Some(0);
                        row.downloaded = Some(0);
                    }
                }
                vec![row]
            }
            None if s.files.is_empty() => vec![row],
            None => s
                .files
                .iter()
                .map(|f| {
                    let mut r = row.clone();
                    r.info_hash = Some(hex::encode(&f.info_hash));
                    fill(&mut r, f);
                    r
                })
                .collect(),
        }
    }
}
