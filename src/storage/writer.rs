//! The write-behind task: drains the swarm store's changes and writes them, one transaction per
//! batch of at most [`BATCH_PEERS`] peers, at least every `flush_interval_ms` and batch after
//! batch while a backlog lasts, on a blocking thread so no announce waits for SQLite.
//!
//! A failed batch is kept and merged with the next one (newest peer state wins, completed counts
//! add up), so nothing is lost while the disk is full or read-only; the error is logged once
//! when it starts and once when writes recover, never per batch. A stop while writes fail
//! loses that backlog, and says so in the log.

use super::Storage;
use crate::protocol::{InfoHash, PeerId};
use crate::swarm::{Changes, PeerChange, SwarmStore};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the writer has done, for stats pages and metrics.
///
/// The write backlog is the store's pending changes plus [`WriterStatus::held_rows`].
#[derive(Debug, Default)]
pub struct WriterStatus {
    /// Batches written.
    pub batches: AtomicU64,
    /// Rows (peers and torrents) written.
    pub rows: AtomicU64,
    /// Batches that failed.
    pub failures: AtomicU64,
    /// Rows drained from the store but not yet committed: the batch being written, or a failed
    /// one held for the next attempt (part of the backlog, so a backlog of 0 means written).
    pub held_rows: AtomicU64,
    /// The error of the last failed batch while writes are failing; `None` when healthy.
    pub last_error: Mutex<Option<String>>,
}

/// Most peer changes written in one transaction. A backlog of any size is written batch after
/// batch, so the writer's buffer stays small (about 1.5 MB at 96 bytes a change) and is reused.
pub const BATCH_PEERS: usize = 16_384;

/// Drains the store into the database.
pub struct Writer {
    store: Arc<dyn SwarmStore>,
    storage: Option<Arc<Storage>>,
    status: Arc<WriterStatus>,
    retry: Option<Changes>,
    /// The last batch's buffer, reused for the next one.
    buffer: Changes,
}

impl Writer {
    /// A writer for `store`; with no `storage` ([DB] type = memory) changes are drained and dropped.
    pub fn new(
        store: Arc<dyn SwarmStore>,
        storage: Option<Arc<Storage>>,
        status: Arc<WriterStatus>,
    ) -> Self {
        Writer {
            store,
            storage,
            status,
            retry: None,
            buffer: Changes::default(),
        }
    }

    /// Flushes every `every` until `shutdown` turns true, then flushes once more.
    pub async fn run(mut self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Batch after batch while a backlog lasts, looking for shutdown in between.
                _ = tick.tick() => while self.write_batch().await && !*shutdown.borrow() {},
                _ = shutdown.changed() => break,
            }
        }
        self.flush().await;
        if let Some(lost) = &self.retry {
            let error = self.status.last_error.lock().clone().unwrap_or_default();
            tracing::error!(
                "stopping with {} peer and torrent changes that could not be written to the database, which are lost: {error}",
                lost.peers.len() + lost.torrents.len()
            );
        }
    }

    /// Writes what changed since the last flush (and any batch that failed before), in batches
    /// of at most [`BATCH_PEERS`] peers; stops early while writes fail.
    pub async fn flush(&mut self) {
        while self.write_batch().await {}
    }

    /// Writes one batch; returns true when more changes wait and writing works.
    async fn write_batch(&mut self) -> bool {
        let (store, storage, status) = (
            Arc::clone(&self.store),
            self.storage.clone(),
            Arc::clone(&self.status),
        );
        let mut changes = std::mem::take(&mut self.buffer);
        let retry = self.retry.take();
        // The drain walks up to BATCH_PEERS peers: it runs on the blocking thread with the write,
        // so that no async worker, and none of the connections it serves, waits for it (on an
        // async worker it put milliseconds into the announce latency tail). `try_run` marks the
        // thread for the store's check, and hands a panic back as an error like spawn_blocking.
        let joined = crate::blocking::try_run(move || {
            let more = store.drain_changes_into(&mut changes, BATCH_PEERS);
            if let Some(older) = retry {
                changes = older.merged_with(changes);
            }
            let Some(storage) = storage.filter(|_| !changes.is_empty()) else {
                return (None, changes, more);
            };
            let rows = (changes.peers.len() + changes.torrents.len()) as u64;
            status.held_rows.store(rows, Ordering::Relaxed);
            in_key_order(&mut changes);
            let result = storage.write(&changes);
            (Some(result), changes, more)
        })
        .await;
        let (result, changes, more) = match joined {
            Ok(done) => done,
            Err(e) => {
                tracing::error!("storage writer thread failed: {e}");
                self.status.held_rows.store(0, Ordering::Relaxed); // the batch is gone
                return false;
            }
        };
        let Some(result) = result else {
            // Nothing to write, or [DB] type = memory (changes are drained and dropped).
            self.reuse(changes);
            return more;
        };
        let rows = (changes.peers.len() + changes.torrents.len()) as u64;
        match result {
            Ok(stored) => {
                for s in stored {
                    self.store
                        .apply_stored_completed(&s.info_hash, s.generation, s.completed);
                }
                self.status.batches.fetch_add(1, Ordering::Relaxed);
                self.status.rows.fetch_add(rows, Ordering::Relaxed);
                self.status.held_rows.store(0, Ordering::Relaxed);
                if self.status.last_error.lock().take().is_some() {
                    tracing::warn!("storage writes recovered; the backlog has been written");
                }
                self.reuse(changes);
                more
            }
            Err(e) => {
                self.status.failures.fetch_add(1, Ordering::Relaxed);
                let mut last = self.status.last_error.lock();
                if last.is_none() {
                    tracing::error!(
                        "storage write failed, announces are served from memory and writes will be retried: {e}"
                    );
                }
                *last = Some(e.to_string());
                self.status.held_rows.store(rows, Ordering::Relaxed);
                self.retry = Some(changes);
                false
            }
        }
    }

    /// Keeps a written batch's buffer for the next one, unless a merge made it large.
    fn reuse(&mut self, mut changes: Changes) {
        changes.peers.clear();
        changes.torrents.clear();
        if changes.peers.capacity() <= 2 * BATCH_PEERS {
            self.buffer = changes;
        }
    }
}

/// Sorts a batch by primary key, so SQLite walks its B-trees in order instead of jumping.
/// A batch holds at most one change per peer and per torrent, so the order among them is free.
fn in_key_order(changes: &mut Changes) {
    changes.peers.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    changes.torrents.sort_unstable_by_key(|t| t.info_hash);
}

fn key(c: &PeerChange) -> (&InfoHash, &PeerId) {
    match c {
        PeerChange::Upsert(h, id, _) | PeerChange::Delete(h, id) => (h, id),
    }
}
