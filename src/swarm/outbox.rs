//! What this node tells the other nodes of a cluster (see `crate::cluster`): its peer changes
//! and the completions to claim, queued by the store under the shard lock and taken by the
//! cluster's sync task every `sync_interval_ms`.
//!
//! The queue is bounded: when the sync task cannot keep up (Redis down or slow), a full shard
//! stops queueing peer changes and says so (`overflowed`), and the sync task pushes every peer
//! again once Redis answers (a full resync). A completion that finds no room counts on this node
//! at once, without a claim, so that no download is ever lost (it may then count twice across
//! the cluster, which is logged).

use super::PeerRecord;
use crate::protocol::{InfoHash, PeerId};
use std::net::IpAddr;

/// Where a peer is listed for the other nodes: its address makes the member, its role and family
/// the key (see `crate::cluster::keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Seeder (listed among the seeders).
    pub seeder: bool,
}

impl Listed {
    /// Where `r` is listed.
    pub fn of(r: &PeerRecord) -> Listed {
        Listed {
            ip: r.ip,
            port: r.port,
            seeder: r.seeder,
        }
    }
}

/// One change for the other nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterChange {
    /// A peer to list or to list again: new, changed, or past a renew boundary.
    Peer {
        /// Swarm.
        info_hash: InfoHash,
        /// Peer.
        peer_id: PeerId,
        /// Where it is listed now.
        now: Listed,
        /// Where it was listed before, when that differs (it moved, or turned seeder).
        before: Option<Listed>,
        /// Its announce, Unix seconds (its listing expires a peer expiry after the end of this
        /// renew window, as a restored peer does).
        last_seen: u32,
    },
    /// A peer that left (stopped, port 0, blocked).
    Gone {
        /// Swarm.
        info_hash: InfoHash,
        /// Peer.
        peer_id: PeerId,
        /// Where it was listed.
        was: Listed,
    },
    /// A finished download, to count once across the cluster.
    Completed {
        /// Swarm.
        info_hash: InfoHash,
        /// Peer that finished.
        peer_id: PeerId,
    },
}

/// One shard's queue.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Most changes held; 0 = not in a cluster (nothing is queued).
    cap: usize,
    list: Vec<ClusterChange>,
    /// Peer changes were dropped since the last take.
    overflowed: bool,
}

impl Outbox {
    /// A queue of at most `cap` changes; 0 for a node outside a cluster.
    pub fn new(cap: usize) -> Outbox {
        Outbox {
            cap,
            ..Outbox::default()
        }
    }

    /// Queues a peer change, or notes that one was dropped.
    pub fn push(&mut self, change: ClusterChange) {
        if self.cap == 0 {
            return;
        }
        if self.list.len() < self.cap {
            self.list.push(change);
        } else {
            self.overflowed = true;
        }
    }

    /// Queues a completion to claim; false when it must count here and now (no cluster, or no
    /// room).
    pub fn claim(&mut self, info_hash: &InfoHash, peer_id: &PeerId) -> bool {
        // Completions get room beyond the cap for peer changes: they are rare and must not be
        // lost, and peer changes can be rebuilt by a resync.
        if self.cap == 0 || self.list.len() >= self.cap.saturating_mul(2) {
            return false;
        }
        self.list.push(ClusterChange::Completed {
            info_hash: *info_hash,
            peer_id: *peer_id,
        });
        true
    }

    /// Moves the queue into `out`; returns whether peer changes were dropped since the last take.
    pub fn take(&mut self, out: &mut Vec<ClusterChange>) -> bool {
        out.append(&mut self.list);
        if self.list.capacity() > 4096 {
            self.list = Vec::new();
        }
        std::mem::take(&mut self.overflowed)
    }
}
