//! The background tasks of a running server: the SQLite write-behind, the cleanup of expired
//! peers, the per-second request rates, the history snapshots, the reload loop and, in a
//! cluster, the push and view tasks (`crate::cluster`). Each stops
//! when the server's stop signal changes; [`Background::join`] waits for all of them (the
//! write-behind last flushes its backlog).

use super::reload::{reload_loop, Live};
use super::wiring::Services;
use crate::config::Config;
use crate::stats::Stats;
use crate::storage::writer::Writer;
use crate::storage::Storage;
use crate::tracker::announce::cleanup_expired;
use crate::tracker::Tracker;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running background tasks.
pub(super) struct Background {
    /// Every task but the writer.
    tasks: Vec<JoinHandle<()>>,
    /// The write-behind, joined last.
    writer: JoinHandle<()>,
}

impl Background {
    /// Waits for every task to stop, the write-behind last.
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = self.writer.await;
    }
}

/// Starts every background task.
pub(super) fn spawn(
    services: &Services,
    config: &Config,
    reloads: watch::Receiver<Arc<Config>>,
    reloaded: Option<Arc<dyn Fn() + Send + Sync>>,
    stop: &watch::Receiver<bool>,
) -> Background {
    let tracker = &services.tracker;
    let writer = Writer::new(
        Arc::clone(&tracker.store),
        services.swarm_db.clone(),
        Arc::clone(&services.writer_status),
    );
    let flush_every = Duration::from_millis(config.db.flush_interval_ms);
    let writer = tokio::spawn(writer.run(flush_every, stop.clone()));
    let live = Live {
        tracker: Arc::clone(tracker),
        db: Arc::clone(&services.db),
        certs: services.certs.clone(),
        checks: Arc::clone(&services.checks),
    };
    let mut tasks = vec![
        tokio::spawn(cleanup_loop(
            Arc::clone(tracker),
            services.swarm_db.clone(),
            stop.clone(),
        )),
        tokio::spawn(stats_loop(Arc::clone(&tracker.stats), stop.clone())),
        tokio::spawn(reload_loop(
            config.clone(),
            reloads,
            live,
            reloaded,
            stop.clone(),
        )),
        tokio::spawn(crate::web::history::snapshot_loop(
            Arc::clone(&services.web),
            stop.clone(),
        )),
    ];
    tasks.push(tokio::spawn(crate::checks::schedule::run(
        Arc::clone(&services.checks),
        stop.clone(),
    )));
    if let Some(cluster) = &tracker.cluster {
        tasks.extend(cluster.start(tracker, stop));
    }
    Background { tasks, writer }
}

/// Samples the request counters once a second for the "per second now" rates (real time:
/// they measure traffic, not the tracker's clock).
async fn stats_loop(stats: Arc<Stats>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            t = tick.tick() => stats.tick(t.into_std()),
            _ = stop.changed() => return,
        }
    }
}

/// Drops expired peers every `peer_cleanup_period` of the tracker's clock (read again after
/// each cleanup, so a reload changes it from the next wait on), from memory on the blocking
/// pool, then from the database.
async fn cleanup_loop(
    tracker: Arc<Tracker>,
    storage: Option<Arc<Storage>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let every = Duration::from_secs(u64::from(tracker.settings().cleanup_period));
        tokio::select! {
            () = tracker.clock.sleep(every) => {}
            _ = stop.changed() => return,
        }
        let (report, expire_before) = cleanup_expired(&tracker).await;
        if report.peers_removed > 0 || report.torrents_removed > 0 {
            tracing::debug!(
                "cleanup: {} expired peers and {} empty torrents removed",
                report.peers_removed,
                report.torrents_removed
            );
        }
        if let Some(storage) = storage.clone() {
            let renew = tracker.settings().renew();
            let _ =
                crate::blocking::run(move || storage.delete_expired(expire_before, renew)).await;
        }
    }
}
