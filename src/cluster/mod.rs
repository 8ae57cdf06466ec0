//! Cluster mode: several nodes sharing their swarms through Redis (or Valkey), local first.
//!
//! Each node answers every announce and scrape from its own memory and never waits for Redis
//! on the request path. Its own peers stay authoritative in its store and its SQLite file. In
//! the background:
//! - `sync` pushes what changed every `sync_interval_ms` (new peers, renewals past a window,
//!   stops, role and address changes, completions to claim) in one batch, a pipeline per
//!   swarm; a full resync at start, after an overflow, and when Redis lost its data;
//! - `refresh` reads, for the swarms requests asked about, a bounded random sample of the
//!   other nodes' peers and the counts (`view`), which answers merge with the node's own.
//!
//! Completions count once across the cluster: a claim per (swarm, peer_id) in Redis decides
//! which node counts a download; each node keeps its own count in its SQLite file, and the
//! cluster-wide count is the sum of the nodes' counts. Keys and bytes are in `keys`; the
//! Redis client only in `redis`.

pub mod keys;
mod redis;
mod refresh;
pub mod status;
mod sync;
pub mod view;

use crate::config::ClusterConfig;
use crate::locality::NetworkMap;
use crate::protocol::scrape::ScrapeEntry;
use crate::swarm::{Announce, AnnounceOutcome};
use crate::tracker::Tracker;
use status::Status;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use view::{Requester, Views};

/// Most changes the store queues for the cluster between two pushes (see `swarm::outbox`).
pub const MAX_QUEUED: usize = 250_000;

/// This node's part in a cluster.
pub struct Cluster {
    /// This node's id (`[CLUSTER] node_id`, or the host name).
    pub node: String,
    /// The other nodes' peers of the swarms this node serves.
    pub views: Views,
    /// Counters and state for the operator.
    pub status: Status,
    /// This process's [`status::NodeReport::instance`].
    pub instance: u64,
    config: ClusterConfig,
}

impl Cluster {
    /// The cluster part of a node configured with `config` (which names a Redis).
    pub fn new(config: &ClusterConfig) -> Cluster {
        Cluster {
            node: node_id(config),
            views: Views::new(Duration::from_millis(u64::from(config.view_max_age_ms))),
            status: Status::default(),
            instance: rand::random::<u64>() | 1,
            config: config.clone(),
        }
    }

    /// Merges the other nodes' peers and counts into the answer the store gave `a`.
    pub fn merge_announce(&self, a: &Announce, map: &NetworkMap, out: &mut AnnounceOutcome) {
        let view = self.views.get(&a.info_hash);
        let seeder = a.left == 0;
        // The own picks were drawn from this many peers (the requester is not one of them).
        let own_eligible = if seeder {
            out.incomplete as usize
        } else {
            (out.complete + out.incomplete) as usize
        };
        let r = Requester {
            peer_id: a.peer_id,
            ip: a.ip,
            port: a.port,
            seeder,
            numwant: a.numwant,
            family: a.family,
            locality: a.locality,
        };
        view::merge_announce(
            &view,
            &r,
            own_eligible,
            &mut |ip| map.net_id(ip),
            &mut crate::rng::Fast,
            out,
        );
    }

    /// Adds the other nodes' counts to scrape entries.
    pub fn merge_scrape(&self, entries: &mut [ScrapeEntry]) {
        for e in entries {
            view::merge_scrape(&self.views.get(&e.info_hash), e);
        }
    }

    /// Adds the other nodes' counts to a full scrape's entries, from the views this node holds
    /// (a full scrape asks for no view: it would read every swarm from Redis).
    pub fn merge_full_scrape(&self, entries: &mut [ScrapeEntry]) {
        for e in entries {
            if let Some(view) = self.views.peek(&e.info_hash) {
                view::merge_scrape(&view, e);
            }
        }
    }

    /// Starts the push and view tasks; they stop when `stop` changes.
    pub fn start(
        self: &Arc<Self>,
        tracker: &Arc<Tracker>,
        stop: &watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let c = Arc::clone(self);
        let t = Arc::clone(tracker);
        let stop = stop.clone();
        // Connecting may need Redis to answer (a Redis Cluster's topology): it is retried in
        // the background, and the node serves meanwhile.
        let task = tokio::spawn(async move {
            let mut stop2 = stop.clone();
            let conn = loop {
                match self::redis::connect(&c.config).await {
                    Ok(conn) => break conn,
                    Err(why) => {
                        if c.status.down(why.clone()) {
                            tracing::warn!("cluster: cannot reach Redis ({why}); retrying");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = stop2.changed() => return,
                        }
                    }
                }
            };
            tracing::info!(
                "cluster: node {} on {} Redis URL(s), pushing every {} ms",
                c.node,
                c.config.redis_urls.len(),
                c.config.sync_interval_ms
            );
            let views = tokio::spawn(refresh::run(
                Arc::clone(&c),
                Arc::clone(&t),
                conn.clone(),
                stop.clone(),
            ));
            sync::run(c, t, conn, stop).await;
            let _ = views.await;
        });
        vec![task]
    }
}

/// `[CLUSTER] node_id`, or the host name (then `node`).
fn node_id(config: &ClusterConfig) -> String {
    if !config.node_id.is_empty() {
        return config.node_id.clone();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

/// Unix milliseconds by the system clock (the operator's view of pushes).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
