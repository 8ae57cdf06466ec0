//! Tracker checks made by the server (issue 19): announce to or scrape any tracker with the
//! query tools' [`Client`], and watch trackers on a schedule, recording every answer.
//!
//! - [`Checks::run`]: one check, as the web UI asks for it (`Err` when it was not made at all:
//!   a bad URL, an unknown client, a denied address, the limits);
//! - [`Checks::states`]: each watch's last answer, for the dashboard and `/metrics`;
//! - [`Checks::add_watch`] / [`Checks::remove_watch`] / [`Checks::page_watches`]: watches
//!   kept in the database; the others come from `[CHECKS] watch_file` ([`watchfile`]);
//! - the recorded checks are read through `crate::storage::checks` (list, series, export).
//!
//! Safety: every address a tracker's name resolves to (also after an HTTP redirect) is judged
//! against `[CHECKS] deny_networks` before anything is sent ([`crate::client::AddressGuard`]);
//! at most `max_concurrent` checks run at once and `max_per_minute` start in any minute
//! ([`limits`]); answers are read up to [`MAX_BODY`] bytes.
//!
//! Inside: [`watchfile`] parses the file, [`limits`] holds the limits, [`outcome`] turns an
//! answer into a [`CheckResult`] with words, [`schedule`] runs the watches.

pub mod limits;
pub mod outcome;
pub mod schedule;
pub mod watchfile;

use crate::client::{profiles, AddressGuard, AnnounceParams, Client, Event, Options, TrackerUrl};
use crate::config::Config;
use crate::netlist::Networks;
use crate::protocol::InfoHash;
use crate::storage::checks::{PageWatch, RecordedCheck, Source};
use crate::storage::Storage;
pub use schedule::WatchState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use watchfile::{WatchEntry, WatchFileError};

/// Largest answer body a check reads (a tracker's answer is a few kilobytes).
pub const MAX_BODY: usize = 1 << 20;
/// Time limit of one attempt unless the request says otherwise (as `retracker query`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time limit a request may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Announce or scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Announce `started` (then `stopped`, so no phantom peer stays behind, as `retracker
    /// query` does).
    Announce,
    /// Scrape the one hash (BEP 48 scrape URL over HTTP).
    Scrape,
}

/// What to check.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    /// Tracker URL (`http://`, `https://`, `udp://`).
    pub url: String,
    /// Torrent.
    pub info_hash: InfoHash,
    /// Announce or scrape.
    pub kind: Kind,
    /// Pose as this client (a `retracker query --client` name: `qbittorrent`, `transmission`,
    /// ...); `None`: retracker's own peer id and `User-Agent`.
    pub client: Option<String>,
    /// Time limit of one attempt; `None`: [`DEFAULT_TIMEOUT`]; at most [`MAX_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Attempts after the first one on network errors and timeouts (at most 3).
    pub retries: u32,
    /// The port announced (0 is sent as 6881, `retracker query`'s default).
    pub port: u16,
    /// Peers asked for; `None`: the client profile's figure, or the tracker's default.
    pub numwant: Option<u32>,
    /// Ask an HTTP tracker for the peers with their peer ids (`compact=0`), so the answer
    /// names their clients; false: `compact=1`, as clients send.
    pub peer_ids: bool,
    /// Where it comes from (recorded).
    pub source: Source,
}

/// A check made: the recorded row (status, words, counts, peers with client names, warnings,
/// time taken); `id` is 0 when it could not be recorded (logged).
pub type CheckResult = RecordedCheck;

/// Why a check was not made; nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The URL cannot be used.
    #[error("{0}")]
    BadUrl(String),
    /// No such `--client` profile.
    #[error("unknown client {0:?} (expected one of {1})")]
    UnknownClient(String, String),
    /// The tracker's address is in `[CHECKS] deny_networks`, or the name resolves to nothing.
    #[error("{0}")]
    Denied(String),
    /// `max_concurrent` or `max_per_minute` is reached.
    #[error("{0}")]
    Limited(String),
}

/// The service: owned by the server, shared with the web UI.
pub struct Checks {
    db: Arc<Storage>,
    deny: Arc<parking_lot::RwLock<Networks>>,
    limits: limits::Limits,
    keep_days: u32,
    file: parking_lot::RwLock<Vec<WatchEntry>>,
    page: parking_lot::RwLock<Vec<PageWatch>>,
    states: parking_lot::Mutex<std::collections::BTreeMap<(String, String), WatchState>>,
    /// Woken when the watches change.
    changed: tokio::sync::Notify,
}

impl Checks {
    /// The service for `config`, reading `[CHECKS] watch_file` and the page watches (blocking
    /// I/O: call it on the blocking pool).
    pub fn new(config: &Config, db: Arc<Storage>) -> Result<Checks, WatchFileError> {
        let file = match &config.checks.watch_file {
            Some(path) => watchfile::load(path)?,
            None => Vec::new(),
        };
        let page = db.page_watches().unwrap_or_else(|e| {
            tracing::error!("tracker checks: cannot read the page watches: {e}");
            Vec::new()
        });
        Ok(Checks {
            db,
            deny: Arc::new(parking_lot::RwLock::new(
                config.checks.deny_networks.clone(),
            )),
            limits: limits::Limits::new(config.checks.max_concurrent, config.checks.max_per_minute),
            keep_days: config.checks.keep_days,
            file: parking_lot::RwLock::new(file),
            page: parking_lot::RwLock::new(page),
            states: Default::default(),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// Applies a reload: the deny list, and the watch file re-read (a file that does not load
    /// keeps the running watches, and the error is logged). Blocking I/O.
    pub fn reload(&self, config: &Config) {
        *self.deny.write() = config.checks.deny_networks.clone();
        let file = match &config.checks.watch_file {
            Some(path) => watchfile::load(path),
            None => Ok(Vec::new()),
        };
        match file {
            Ok(entries) => {
                tracing::info!(
                    "reload: tracker checks: {} watches from the file",
                    entries.len()
                );
                *self.file.write() = entries;
                self.changed.notify_one();
            }
            Err(e) => tracing::error!("reload: the watches are kept as they were: {e}"),
        }
    }

    /// Runs one check now and records it. `Err` when it was not made (nothing was sent);
    /// otherwise the result says how it went, in words when it went wrong.
    pub async fn run(&self, request: &CheckRequest) -> Result<CheckResult, CheckError> {
        let (url, profile) = self.prepare(request)?;
        let _permit = self
            .limits
            .try_start(Instant::now())
            .map_err(CheckError::Limited)?;
        self.screen(&url).await?;
        Ok(self.perform(request, &url, profile).await)
    }

    /// The URL and profile of `request`, checked.
    fn prepare(
        &self,
        request: &CheckRequest,
    ) -> Result<(TrackerUrl, Option<&'static profiles::Profile>), CheckError> {
        let url = TrackerUrl::parse(&request.url)
            .map_err(|e| CheckError::BadUrl(format!("{}: {e}", request.url.trim())))?;
        if request.kind == Kind::Scrape {
            url.scrape_url()
                .map_err(|e| CheckError::BadUrl(format!("{}: {e}", request.url.trim())))?;
        }
        let profile = match request.client.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("random") => Some(profiles::random()),
            Some(name) => Some(
                profiles::by_name(&name.to_ascii_lowercase()).ok_or_else(|| {
                    let names: Vec<_> = profiles::PROFILES.iter().map(|p| p.name).collect();
                    CheckError::UnknownClient(name.to_owned(), names.join(", "))
                })?,
            ),
        };
        Ok((url, profile))
    }

    /// Resolves the host and refuses it when an address is denied or there is none.
    async fn screen(&self, url: &TrackerUrl) -> Result<(), CheckError> {
        let addrs = crate::client::resolve(&url.host, url.port, false)
            .await
            .map_err(|e| CheckError::Denied(format!("not checked: {e}")))?;
        judge(&self.deny.read(), &addrs)
            .map_err(|why| CheckError::Denied(format!("not checked: {}: {why}", url.host)))
    }

    /// Makes the request (the limits are already taken) and records the result.
    async fn perform(
        &self,
        request: &CheckRequest,
        url: &TrackerUrl,
        profile: Option<&'static profiles::Profile>,
    ) -> CheckResult {
        let deny = Arc::clone(&self.deny);
        let client = Client::new(
            Options {
                timeout: request
                    .timeout
                    .unwrap_or(DEFAULT_TIMEOUT)
                    .clamp(Duration::from_millis(100), MAX_TIMEOUT),
                retries: request.retries.min(3),
                ipv6_only: false,
                user_agent: profile.map(|p| p.user_agent),
                max_body: MAX_BODY,
                guard: Some(AddressGuard(Arc::new(move |addrs: &[SocketAddr]| {
                    judge(&deny.read(), addrs)
                }))),
            },
            crate::client::tls::TlsSettings::new(None, false)
                .expect("no CA file to read, so nothing can fail"),
        );
        let at = now();
        let hash = &request.info_hash;
        let mut result = match request.kind {
            Kind::Announce => {
                let mut p = AnnounceParams {
                    info_hash: *hash,
                    peer_id: profile.map_or_else(AnnounceParams::random_peer_id, |p| p.peer_id()),
                    key: rand::random(),
                    key_format: profile.map(|p| p.key).unwrap_or_default(),
                    port: if request.port == 0 {
                        6881
                    } else {
                        request.port
                    },
                    uploaded: 0,
                    downloaded: 0,
                    left: 1,
                    event: Event::Started,
                    numwant: request.numwant.or(profile.map(|p| p.numwant)),
                    compact: !request.peer_ids,
                };
                let o = client.announce(url, &p).await;
                if matches!(o.result, Ok(crate::protocol::answer::Answer::Success(_))) {
                    // Leave the swarm again, as `retracker query` does.
                    p.event = Event::Stopped;
                    p.numwant = Some(0);
                    let _ = client.announce(url, &p).await;
                }
                outcome::announce(&request.url, hash, &o)
            }
            Kind::Scrape => {
                let scrape = url.scrape_url().expect("checked by prepare");
                let o = client.scrape(&scrape, std::slice::from_ref(hash)).await;
                outcome::scrape(&request.url, hash, &o)
            }
        };
        result.at = at;
        result.source = request.source;
        let db = Arc::clone(&self.db);
        let row = result.clone();
        match crate::blocking::run(move || db.record_check(&row)).await {
            Ok(id) => result.id = id,
            Err(e) => tracing::error!(
                "tracker checks: cannot record a check of {}: {e}",
                result.url
            ),
        }
        result
    }

    /// Every watch's state, watch file first then page watches, in their order.
    pub fn states(&self) -> Vec<WatchState> {
        let states = self.states.lock();
        self.watches()
            .into_iter()
            .map(|w| {
                states
                    .get(&schedule::key(&w))
                    .cloned()
                    .unwrap_or_else(|| WatchState::new(&w))
            })
            .collect()
    }

    /// The union of the watch file's entries and the page watches (a page watch of the same
    /// tracker and hash as a file entry is left out).
    pub fn watches(&self) -> Vec<schedule::Watch> {
        let mut out: Vec<schedule::Watch> = self
            .file
            .read()
            .iter()
            .map(|e| schedule::Watch {
                url: e.url.clone(),
                info_hash: e.info_hash,
                seconds: e.seconds,
                from_file: true,
            })
            .collect();
        for p in self.page.read().iter() {
            let Some(h) = crate::hex::decode_array(&p.info_hash) else {
                continue;
            };
            if !out.iter().any(|w| w.url == p.url && w.info_hash == h) {
                out.push(schedule::Watch {
                    url: p.url.clone(),
                    info_hash: h,
                    seconds: p.seconds,
                    from_file: false,
                });
            }
        }
        out
    }

    /// Adds a watch from the web UI (kept in the database); returns its id. Blocking I/O.
    pub fn add_watch(&self, url: &str, info_hash: &InfoHash, seconds: u32) -> Result<i64, String> {
        TrackerUrl::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let id = self
            .db
            .add_watch(
                url.trim(),
                &crate::hex::encode(info_hash),
                seconds.max(1),
                now(),
            )
            .map_err(|e| e.to_string())?;
        self.refresh_page_watches();
        Ok(id)
    }

    /// Removes page watch `id`; false when there was none. Blocking I/O.
    pub fn remove_watch(&self, id: i64) -> Result<bool, String> {
        let removed = self.db.remove_watch(id).map_err(|e| e.to_string())?;
        self.refresh_page_watches();
        Ok(removed)
    }

    /// The page watches, with their ids.
    pub fn page_watches(&self) -> Vec<PageWatch> {
        self.page.read().clone()
    }

    fn refresh_page_watches(&self) {
        match self.db.page_watches() {
            Ok(p) => *self.page.write() = p,
            Err(e) => tracing::error!("tracker checks: cannot read the page watches: {e}"),
        }
        self.changed.notify_one();
    }

    /// Deletes the checks older than `[CHECKS] keep_days`. Blocking I/O.
    pub fn cleanup(&self) -> usize {
        let before = now().saturating_sub(self.keep_days.saturating_mul(86_400));
        self.db.delete_checks_before(before).unwrap_or_else(|e| {
            tracing::error!("tracker checks: cleanup failed: {e}");
            0
        })
    }

    /// The `/metrics` lines of the watches that have answered or failed at least once.
    pub fn metrics(&self) -> Vec<crate::stats::prometheus::CheckMetric> {
        self.states()
            .into_iter()
            .filter_map(|s| {
                s.last_status.as_ref()?;
                Some(crate::stats::prometheus::CheckMetric {
                    tracker: s.url.clone(),
                    info_hash: s.info_hash.clone(),
                    up: s.last_status.as_deref() == Some("ok"),
                    latency_seconds: s.last_latency_ms.map(|ms| ms as f64 / 1000.0),
                })
            })
            .collect()
    }
}

/// `Err(why)` when any of `addrs` is in `deny`.
fn judge(deny: &Networks, addrs: &[SocketAddr]) -> Result<(), String> {
    match addrs.iter().find(|a| deny.contains(&a.ip().to_canonical())) {
        Some(a) => Err(format!(
            "address {} is in [CHECKS] deny_networks, so it is never contacted",
            a.ip()
        )),
        None => Ok(()),
    }
}

/// Unix seconds now.
fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}
