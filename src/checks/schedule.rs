//! The watches: each polled on its own interval (from the start of one poll to the start of
//! the next), never more than `max_concurrent` checks at once, each answer recorded with
//! source `watch` and kept as the watch's [`WatchState`]. Also the `keep_days` cleanup, once an
//! hour. Stops with the server's stop signal.

use super::{CheckRequest, Checks, Kind};
use crate::protocol::InfoHash;
use crate::storage::checks::Source;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// One watched tracker and torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// Tracker URL.
    pub url: String,
    /// Torrent.
    pub info_hash: InfoHash,
    /// Seconds between polls.
    pub seconds: u32,
    /// From `[CHECKS] watch_file` (else added from the web UI).
    pub from_file: bool,
}

/// What the dashboard shows of a watch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WatchState {
    /// Tracker URL.
    pub url: String,
    /// Hex info hash.
    pub info_hash: String,
    /// Seconds between polls.
    pub seconds: u32,
    /// From the watch file (else a page watch).
    pub from_file: bool,
    /// When it was last polled (Unix seconds); `None`: not yet.
    pub last_at: Option<u32>,
    /// `ok`, `failure`, `error` of the last poll.
    pub last_status: Option<String>,
    /// Why the last poll failed, in words.
    pub last_words: Option<String>,
    /// Polls in a row that were not `ok`.
    pub failures_in_row: u32,
    /// Milliseconds the last poll took.
    pub last_latency_ms: Option<u64>,
}

impl WatchState {
    /// Not polled yet.
    pub fn new(w: &Watch) -> WatchState {
        WatchState {
            url: w.url.clone(),
            info_hash: crate::hex::encode(&w.info_hash),
            seconds: w.seconds,
            from_file: w.from_file,
            last_at: None,
            last_status: None,
            last_words: None,
            failures_in_row: 0,
            last_latency_ms: None,
        }
    }
}

/// The key of a watch's state.
pub fn key(w: &Watch) -> (String, String) {
    (w.url.clone(), crate::hex::encode(&w.info_hash))
}

/// How often the scheduler looks for due watches.
const TICK: Duration = Duration::from_millis(200);
/// Between two cleanups of old checks.
const CLEANUP_EVERY: Duration = Duration::from_secs(3600);

/// Runs the watches until `stop` changes.
pub async fn run(checks: Arc<Checks>, mut stop: watch::Receiver<bool>) {
    let mut due: HashMap<(String, String), Instant> = HashMap::new();
    let in_flight = Arc::new(parking_lot::Mutex::new(HashSet::new()));
    let mut next_cleanup = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let now = Instant::now();
        if now >= next_cleanup {
            next_cleanup = now + CLEANUP_EVERY;
            let c = Arc::clone(&checks);
            let n = crate::blocking::run(move || c.cleanup()).await;
            if n > 0 {
                tracing::debug!("tracker checks: {n} old checks deleted");
            }
        }
        let watches = checks.watches();
        let keys: HashSet<_> = watches.iter().map(key).collect();
        due.retain(|k, _| keys.contains(k));
        checks.states.lock().retain(|k, _| keys.contains(k));
        for w in watches {
            let k = key(&w);
            let at = due.entry(k.clone()).or_insert(now);
            if *at > now || in_flight.lock().contains(&k) {
                continue;
            }
            *at = now + Duration::from_secs(u64::from(w.seconds));
            in_flight.lock().insert(k.clone());
            let (checks, in_flight) = (Arc::clone(&checks), Arc::clone(&in_flight));
            tasks.spawn(async move {
                poll(&checks, &w).await;
                in_flight.lock().remove(&k);
            });
        }
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = checks.changed.notified() => {}
            _ = stop.changed() => break,
        }
    }
    tasks.abort_all();
}

/// One poll of `w`, its state updated.
async fn poll(checks: &Checks, w: &Watch) {
    let request = CheckRequest {
        url: w.url.clone(),
        info_hash: w.info_hash,
        kind: Kind::Announce,
        client: None,
        timeout: None,
        retries: 0,
        port: 0,
        numwant: None,
        peer_ids: false,
        source: Source::Watch,
    };
    let outcome = match checks.prepare(&request) {
        Err(e) => Err(e.to_string()),
        Ok((url, profile)) => {
            let _permit = checks.limits.start_waiting().await;
            match checks.screen(&url).await {
                Err(e) => Err(e.to_string()),
                Ok(()) => Ok(checks.perform(&request, &url, profile).await),
            }
        }
    };
    let mut states = checks.states.lock();
    let s = states.entry(key(w)).or_insert_with(|| WatchState::new(w));
    s.seconds = w.seconds;
    match outcome {
        Ok(r) => {
            s.last_at = Some(r.at);
            s.last_latency_ms = Some(u64::try_from(r.time_ms).unwrap_or(0));
            s.failures_in_row = if r.status == "ok" {
                0
            } else {
                s.failures_in_row + 1
            };
            s.last_status = Some(r.status);
            s.last_words = r.error;
        }
        Err(words) => {
            s.last_at = Some(super::now());
            s.last_latency_ms = None;
            s.failures_in_row += 1;
            s.last_status = Some("error".into());
            s.last_words = Some(words);
        }
    }
}
