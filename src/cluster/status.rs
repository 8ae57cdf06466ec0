//! What the cluster tasks report: counters for `/metrics`, the state for the dashboard and
//! `/api/stats`, and what each node publishes about itself in `rt:nodes`.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

// `Status::state` is 0 before the first exchange with Redis.
/// Redis answered the last exchange.
const UP: u8 = 1;
/// The last exchange failed.
const DOWN: u8 = 2;

/// What a node publishes about itself at every push (field `node` of `rt:nodes`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Its id.
    #[serde(default)]
    pub node: String,
    /// Unix milliseconds of its last successful push.
    pub pushed_at_ms: u64,
    /// Its own peers.
    pub peers: u64,
    /// Age of the oldest change it pushed in that batch, milliseconds.
    pub lag_ms: u64,
    /// Its retracker version.
    pub version: String,
    /// A random number the process drew at start: two processes reporting one node id with
    /// different instances are two nodes sharing an id (their completions would be counted
    /// as one node's).
    #[serde(default)]
    pub instance: u64,
}

/// Counters and state of this node's cluster tasks.
#[derive(Debug, Default)]
pub struct Status {
    /// Whether Redis answered the last exchange: 0 before the first exchange, [`UP`] or [`DOWN`].
    state: AtomicU8,
    /// Pushes of changes that succeeded.
    pub push_batches: AtomicU64,
    /// Redis commands sent (each command of a pipeline, each script call).
    pub commands: AtomicU64,
    /// Redis errors and timeouts.
    pub errors: AtomicU64,
    /// Swarm views read from Redis.
    pub view_refreshes: AtomicU64,
    /// Full resyncs started (start, Redis restarted empty, queue overflow).
    pub resyncs: AtomicU64,
    /// Completions this node won the claim for.
    pub claims_won: AtomicU64,
    /// Completions another node (or an earlier attempt of this one) had claimed.
    pub claims_lost: AtomicU64,
    /// Changes waiting to be pushed.
    pub queued: AtomicU64,
    /// Peers of a resync still to push.
    pub resync_left: AtomicU64,
    /// Age in milliseconds of the oldest change of the last successful push.
    pub lag_ms: AtomicU64,
    /// Unix milliseconds of the last successful push.
    pub pushed_at_ms: AtomicU64,
    /// Views held.
    pub views: AtomicU64,
    /// The nodes, as read from `rt:nodes` (this one included).
    pub nodes: Mutex<Vec<NodeReport>>,
    /// Why Redis is down, when it is.
    pub last_error: Mutex<Option<String>>,
    /// Another process reports this node's id (logged once).
    pub id_clash: AtomicBool,
}

impl Status {
    /// Counts `n` commands sent.
    pub fn sent(&self, n: usize) {
        self.commands.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Records a failure; returns true when it is the first since start or since Redis last
    /// answered (log it once).
    pub fn down(&self, why: String) -> bool {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = Some(why);
        self.state.swap(DOWN, Ordering::Relaxed) != DOWN
    }

    /// Records a success; returns true when Redis did not answer until now (first contact
    /// included).
    pub fn back(&self) -> bool {
        let was = self.state.swap(UP, Ordering::Relaxed);
        if was != UP {
            *self.last_error.lock() = None;
        }
        was != UP
    }

    /// Logs once when the report found under this node's id (`json`, the field the last push
    /// replaced) is another live process's: two nodes share one id.
    pub fn check_clash(&self, node: &str, instance: u64, json: &[u8]) {
        let Ok(prev) = serde_json::from_slice::<NodeReport>(json) else {
            return;
        };
        let fresh = super::unix_ms().saturating_sub(prev.pushed_at_ms) < 10_000;
        if prev.instance != instance && fresh && !self.id_clash.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "cluster: another process reports node_id {node:?} too; give every node its own [CLUSTER] node_id, or their completions and views get mixed up"
            );
        }
    }

    /// Whether Redis answered the last exchange.
    pub fn is_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UP
    }

    /// The figures `/metrics` and the pages show.
    pub fn figures(&self, node: &str) -> Figures {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let nodes = self.nodes.lock().clone();
        let now = super::unix_ms();
        Figures {
            node: node.to_owned(),
            up: self.is_up(),
            push_batches: get(&self.push_batches),
            commands: get(&self.commands),
            errors: get(&self.errors),
            view_refreshes: get(&self.view_refreshes),
            resyncs: get(&self.resyncs),
            claims_won: get(&self.claims_won),
            claims_lost: get(&self.claims_lost),
            queued: get(&self.queued) + get(&self.resync_left),
            lag_ms: get(&self.lag_ms),
            pushed_at_ms: get(&self.pushed_at_ms),
            views: get(&self.views),
            nodes_live: nodes
                .iter()
                .filter(|n| now.saturating_sub(n.pushed_at_ms) < 60_000)
                .count() as u64,
            nodes,
            last_error: self.last_error.lock().clone(),
        }
    }
}

/// A copy of [`Status`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// This node's id.
    pub node: String,
    /// Redis answers.
    pub up: bool,
    /// See [`Status`].
    pub push_batches: u64,
    /// See [`Status`].
    pub commands: u64,
    /// See [`Status`].
    pub errors: u64,
    /// See [`Status`].
    pub view_refreshes: u64,
    /// See [`Status`].
    pub resyncs: u64,
    /// See [`Status`].
    pub claims_won: u64,
    /// See [`Status`].
    pub claims_lost: u64,
    /// Changes and resync peers waiting to be pushed.
    pub queued: u64,
    /// See [`Status`].
    pub lag_ms: u64,
    /// See [`Status`].
    pub pushed_at_ms: u64,
    /// See [`Status`].
    pub views: u64,
    /// See [`Status`].
    pub nodes: Vec<NodeReport>,
    /// Nodes that pushed within the last minute.
    pub nodes_live: u64,
    /// Why Redis is down.
    pub last_error: Option<String>,
}
