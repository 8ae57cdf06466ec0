//! The connection table: every open HTTP(S) connection over all listeners, the cap on how many
//! may be open at once (`[TRACKER] max_connections`), and closing them at shutdown.
//!
//! A file descriptor per idle connection is the cheapest thing for a client to take from a
//! server, so the cap is strict: a new connection is served only while fewer than the cap are
//! open. When a client connects to a full table, the least recently active connection is asked
//! to close, the way nginx reuses idle keep-alive connections when `worker_connections` run out,
//! and the new one is served as soon as it has gone (meanwhile the accept loop waits, so at most
//! one connection per listener is open beyond the cap, unserved). A connection told to close finishes the request it is answering first (hyper's
//! graceful shutdown), so no answer is cut off; an idle one closes at once. Clients that open
//! connections and send nothing (slowloris) are thus the first to go, and a new client is served
//! instead of waiting in the listen backlog until the header timeout frees a slot.

use crate::stats::{ConnEvent, Event, Stats};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// File descriptors kept free for everything but client connections: listeners, UDP sockets,
/// SQLite (database, WAL and shared-memory files per pooled connection), log files.
pub const RESERVED_FDS: u64 = 64;

/// The cap to enforce for `configured` connections: the soft open-file limit is raised towards
/// the hard one when it is too low for them (Debian's shells start with 1024); when even the hard
/// limit is too low, the cap is lowered to fit, with a warning, because a server out of file
/// descriptors can accept nobody, not even to say it is full.
pub fn effective_cap(configured: u32) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let want = u64::from(configured) + RESERVED_FDS;
    let mut limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= want {
        return configured as usize;
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    limit.current = Some(want.min(hard));
    // Refused under a seccomp filter such as the packaged unit's; it sets LimitNOFILE instead.
    let soft = match setrlimit(Resource::Nofile, limit) {
        Ok(()) => want.min(hard),
        Err(_) => soft,
    };
    if soft >= want {
        return configured as usize;
    }
    let cap = soft.saturating_sub(RESERVED_FDS).max(1);
    tracing::warn!(
        "[TRACKER] max_connections = {configured}, but the open-file limit is {soft}: \
         holding at most {cap} connections (raise LimitNOFILE or ulimit -n to {want})"
    );
    cap as usize
}

/// The open connections.
pub struct Conns {
    /// Most connections open at once.
    cap: usize,
    /// Open connections by id.
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    /// The id of the next connection.
    next_id: AtomicU64,
    /// Woken whenever a connection goes.
    gone: Notify,
    /// Zero point of [`Slot::last_active`].
    epoch: Instant,
    /// Where opened, closed and evicted connections are counted.
    stats: Arc<Stats>,
}

/// One open connection, as the table and the connection's own task see it.
pub struct Slot {
    /// Milliseconds after [`Conns::epoch`] of the latest request (or of the accept).
    last_active: AtomicU64,
    /// Set once the connection has been asked to close.
    closing: AtomicBool,
    /// Wakes the connection's task to close.
    close: Notify,
}

impl Slot {
    /// Notes a request, so that this connection is not the one closed for room.
    pub fn touch(&self, conns: &Conns) {
        self.last_active.store(conns.now_ms(), Ordering::Relaxed);
    }

    /// Resolves when the connection should close (cap or shutdown).
    pub async fn closed(&self) {
        self.close.notified().await;
    }
}

/// A connection's place in the table, given back when the connection's task ends.
pub struct Held {
    conns: Arc<Conns>,
    id: u64,
    /// The connection's slot.
    pub slot: Arc<Slot>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.conns.open.lock().remove(&self.id);
        self.conns.stats.event(Event::Connection(ConnEvent::Closed));
        self.conns.gone.notify_waiters();
    }
}

impl Conns {
    /// An empty table holding at most `cap` connections (at least 1).
    pub fn new(cap: usize, stats: Arc<Stats>) -> Arc<Conns> {
        Arc::new(Conns {
            cap: cap.max(1),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            gone: Notify::new(),
            epoch: Instant::now(),
            stats,
        })
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.open.lock().len()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Waits until one more connection may be held, asking the least recently active
    /// connection to close while the table is full. Call with a client waiting, not before:
    /// a connection is closed for room only when someone needs it.
    pub async fn room(&self) {
        loop {
            let gone = self.gone.notified();
            tokio::pin!(gone);
            // Registered before the check, so a connection that goes in between still wakes us.
            gone.as_mut().enable();
            if !self.full_after_evicting() {
                return;
            }
            gone.await;
        }
    }

    /// True when the table is full; then makes sure one connection is on its way out.
    fn full_after_evicting(&self) -> bool {
        let open = self.open.lock();
        if open.len() < self.cap {
            return false;
        }
        // One connection closing is enough: each that goes makes room for one accept.
        if open.values().any(|s| s.closing.load(Ordering::Relaxed)) {
            return true;
        }
        // Ties (the same millisecond) go to the earlier accepted.
        let oldest = open
            .iter()
            .min_by_key(|(id, s)| (s.last_active.load(Ordering::Relaxed), **id));
        if let Some((_, slot)) = oldest {
            slot.closing.store(true, Ordering::Relaxed);
            slot.close.notify_one();
            self.stats.event(Event::Connection(ConnEvent::Evicted));
        }
        true
    }

    /// Enters an accepted connection; call after [`Conns::room`].
    pub fn hold(self: &Arc<Conns>) -> Held {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            last_active: AtomicU64::new(self.now_ms()),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        self.open.lock().insert(id, Arc::clone(&slot));
        self.stats.event(Event::Connection(ConnEvent::Opened));
        Held {
            conns: Arc::clone(self),
            id,
            slot,
        }
    }

    /// Asks every open connection to close after the request it is answering, and waits up
    /// to `within` for them to go; returns how many were still open then.
    pub async fn close_all(&self, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let gone = self.gone.notified();
            tokio::pin!(gone);
            gone.as_mut().enable();
            {
                let open = self.open.lock();
                if open.is_empty() {
                    return 0;
                }
                for slot in open.values() {
                    if !slot.closing.swap(true, Ordering::Relaxed) {
                        slot.close.notify_one();
                    }
                }
            }
            if tokio::time::timeout_at(deadline, gone).await.is_err() {
                return self.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cap: usize) -> Arc<Conns> {
        Conns::new(cap, Arc::new(Stats::new(0)))
    }

    #[tokio::test]
    async fn below_the_cap_there_is_room_at_once() {
        let t = table(2);
        t.room().await;
        let _a = t.hold();
        t.room().await;
        let _b = t.hold();
        assert_eq!(t.len(), 2);
    }

    #[tokio::test]
    async fn at_the_cap_the_least_recently_active_is_asked_to_close() {
        let t = table(2);
        let a = t.hold();
        let b = t.hold();
        // a answered a request after b was accepted.
        a.slot
            .last_active
            .store(t.now_ms() + 1000, Ordering::Relaxed);
        let waiting = {
            let t = Arc::clone(&t);
            tokio::spawn(async move { t.room().await })
        };
        // b is told to close, a is not.
        tokio::time::timeout(Duration::from_secs(5), b.slot.closed())
            .await
            .expect("the least recently active connection is asked to close");
        assert!(!a.slot.closing.load(Ordering::Relaxed));
        assert!(!waiting.is_finished());
        drop(b);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("room once it has gone")
            .unwrap();
        assert_eq!(t.stats.counters().connections_evicted, 1);
    }

    #[tokio::test]
    async fn close_all_asks_every_connection_and_waits_for_them() {
        let t = table(8);
        let held: Vec<_> = (0..3).map(|_| t.hold()).collect();
        let closer = {
            let t = Arc::clone(&t);
            tokio::spawn(async move { t.close_all(Duration::from_secs(5)).await })
        };
        for h in held {
            tokio::time::timeout(Duration::from_secs(5), h.slot.closed())
                .await
                .expect("every connection is asked to close");
        }
        assert_eq!(closer.await.unwrap(), 0);
        let c = t.stats.counters();
        assert_eq!((c.connections_opened, c.connections_open), (3, 0));
    }
}
