//! Swarms: which peers share which torrent, and the download counts.
//!
//! The tracker talks to swarms only through [`SwarmStore`], so that a shared store for several
//! tracker nodes can replace [`MemoryStore`] later. The store never reads the clock (callers pass
//! `now` as Unix seconds) and never touches disk: it records what changed in [`Changes`], which the
//! storage layer drains and writes behind (see `crate::storage`).
//!
//! Errors: [`SwarmError`], whose `Display` is the client's `failure reason`.

mod memory;
#[cfg(test)]
mod model_tests;
mod nets;
mod outbox;
mod peers;
mod pending;
mod renew;
mod select;
#[cfg(test)]
mod tests;
mod tiers;
#[cfg(test)]
mod tiers_tests;
mod torrent;

pub use memory::MemoryStore;
pub use outbox::{ClusterChange, Listed};
pub use renew::{Renew, Restore};

use crate::locality::{Locality, NetId};
use crate::protocol::announce::{Event, ResponsePeer};
use crate::protocol::scrape::ScrapeEntry;
pub use crate::protocol::udp::Family;
use crate::protocol::{InfoHash, PeerId};
use std::net::IpAddr;

/// One announce, after the policy decided the peer's address and numwant was capped.
#[derive(Clone, Debug)]
pub struct Announce {
    /// Swarm.
    pub info_hash: InfoHash,
    /// Peer.
    pub peer_id: PeerId,
    /// Address stored for the peer and given to others.
    pub ip: IpAddr,
    /// Port the peer listens on; 0 when it accepts no connections: it is answered (peers and
    /// counts) but neither stored nor handed out, and leaves the swarm if it was in it.
    pub port: u16,
    /// Bytes left; 0 makes the peer a seeder.
    pub left: u64,
    /// Event of the request.
    pub event: Event,
    /// Hash of the client's `key`, proof of identity when its address changes.
    pub key: Option<u64>,
    /// Peers to return (already capped); 0 returns none.
    pub numwant: usize,
    /// How to choose the peers, and the requester's network: `locality.requester` is also the
    /// network stored with the peer (a peer announcing from another network gets the new one).
    pub locality: Locality,
    /// Hand out peers of this address family only: a BEP 15 answer carries one address size,
    /// so UDP asks for its socket's family and gets numwant peers of it. `None` (HTTP): both.
    pub family: Option<Family>,
    /// When a peer that announces with nothing changed is written again (see [`Renew`]).
    pub renew: Renew,
}

/// What an announce answers, besides the interval settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnounceOutcome {
    /// Seeders in the swarm after the announce.
    pub complete: u32,
    /// Leechers in the swarm after the announce.
    pub incomplete: u32,
    /// Completed downloads ever counted for the torrent.
    pub downloaded: u64,
    /// Peers for the requester: random among the eligible (by network first, see
    /// `Locality`), never the requester, no seeders for a seeder.
    pub peers: Vec<ResponsePeer>,
    /// How many of `peers` were in each tier for the requester's network, in the order of
    /// `Tier::ALL` (own network, operator's other networks, outside); counted in every mode,
    /// `off` included, so that an operator can compare.
    pub handed_out: [u32; 3],
}

/// Why an announce is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwarmError {
    /// The peer_id is registered from another address and the request's `key` does not prove it
    /// is the same client.
    #[error(
        "peer_id is already in use from another address (send the same key to change address)"
    )]
    PeerIdTaken,
}

/// A peer as persisted and restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRecord {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Hash of the first `key` given.
    pub key: Option<u64>,
    /// Last announce, Unix seconds.
    pub last_seen: u32,
    /// Seeder (left = 0).
    pub seeder: bool,
    /// Announced with left > 0 at some point (a later left = 0 is a finished download).
    pub seen_leeching: bool,
    /// Its completed download has been counted.
    pub counted: bool,
    /// Its network, as of its last announce or relabelling. Not persisted: a restored peer has
    /// `NetId::UNKNOWN` until [`SwarmStore::relabel`].
    pub net: NetId,
}

/// A peer change waiting to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerChange {
    /// Insert or replace.
    Upsert(InfoHash, PeerId, PeerRecord),
    /// Remove (`event=stopped`).
    Delete(InfoHash, PeerId),
}

/// A torrent change waiting to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentChange {
    /// Torrent.
    pub info_hash: InfoHash,
    /// Completed downloads counted since the last write (added to the stored count).
    pub completed_delta: u64,
    /// First announce seen by this process for the swarm.
    pub first_seen: u32,
    /// Latest announce.
    pub last_seen: u32,
    /// Set when the in-memory swarm was created without the stored count: the writer reads the
    /// stored count before adding the delta and hands it back through
    /// [`SwarmStore::apply_stored_completed`] with this generation.
    pub needs_stored_count: Option<u32>,
}

/// Everything that changed since the last drain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Peer rows to write, at most one per peer.
    pub peers: Vec<PeerChange>,
    /// Torrent rows to write, at most one per torrent.
    pub torrents: Vec<TorrentChange>,
}

impl Changes {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty() && self.torrents.is_empty()
    }

    /// Changes not yet written (`self`, e.g. a failed batch) followed by `newer` ones: the newer
    /// peer state wins, completed deltas add up. Keeps one entry per peer and per torrent.
    pub fn merged_with(self, newer: Changes) -> Changes {
        use std::collections::HashMap;
        let key = |c: &PeerChange| match c {
            PeerChange::Upsert(h, id, _) | PeerChange::Delete(h, id) => (*h, *id),
        };
        let mut peers: HashMap<(InfoHash, PeerId), PeerChange> =
            self.peers.into_iter().map(|c| (key(&c), c)).collect();
        peers.extend(newer.peers.into_iter().map(|c| (key(&c), c)));
        let mut torrents: HashMap<InfoHash, TorrentChange> = self
            .torrents
            .into_iter()
            .map(|t| (t.info_hash, t))
            .collect();
        for t in newer.torrents {
            match torrents.get_mut(&t.info_hash) {
                Some(old) => {
                    old.completed_delta += t.completed_delta;
                    old.last_seen = old.last_seen.max(t.last_seen);
                    old.needs_stored_count = t.needs_stored_count.or(old.needs_stored_count);
                }
                None => {
                    torrents.insert(t.info_hash, t);
                }
            }
        }
        Changes {
            peers: peers.into_values().collect(),
            torrents: torrents.into_values().collect(),
        }
    }
}

/// A torrent read back from storage at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredTorrent {
    /// Torrent.
    pub info_hash: InfoHash,
    /// Stored completed count.
    pub completed: u64,
    /// First seen, Unix seconds.
    pub first_seen: u32,
    /// Last seen, Unix seconds.
    pub last_seen: u32,
    /// Its live peers.
    pub peers: Vec<(PeerId, PeerRecord)>,
}

/// Totals over every swarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// Swarms in memory.
    pub torrents: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
    /// Peer and torrent changes not yet written (the write-behind backlog).
    pub pending_changes: u64,
}

/// What a cleanup removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Expired peers dropped.
    pub peers_removed: u64,
    /// Empty swarms dropped.
    pub torrents_removed: u64,
}

/// The swarm store interface the HTTP layer and the background tasks use.
pub trait SwarmStore: Send + Sync + 'static {
    /// Records an announce and picks peers for the answer, writing them into `out.peers`
    /// (cleared first, so a caller can reuse its buffer).
    fn announce(&self, a: &Announce, now: u32, out: &mut AnnounceOutcome)
        -> Result<(), SwarmError>;

    /// Counts for each hash, in the order given; unknown hashes get zeros.
    fn scrape(&self, hashes: &[InfoHash], out: &mut Vec<ScrapeEntry>);

    /// Counts for every swarm (full scrape).
    fn scrape_all(&self, out: &mut Vec<ScrapeEntry>);

    /// Drops peers last seen before `expire_before` and swarms left empty.
    fn cleanup(&self, expire_before: u32) -> CleanupReport;

    /// Takes every change recorded since the last drain.
    fn drain_changes(&self) -> Changes {
        let mut out = Changes::default();
        while self.drain_changes_into(&mut out, usize::MAX) {}
        out
    }

    /// Moves changes recorded since the last drain into `out` (appending): at most `max_peers`
    /// peer changes, with the torrent changes of the swarms they belong to. Returns true when
    /// changes are left for another call. The writer drains in batches like this so that a large
    /// backlog never needs one large buffer; each batch holds at most one change per peer.
    fn drain_changes_into(&self, out: &mut Changes, max_peers: usize) -> bool;

    /// Adds the stored completed count to a swarm created before it was known; ignored when the
    /// swarm has since been replaced (another `generation`) or already has it.
    fn apply_stored_completed(&self, info_hash: &InfoHash, generation: u32, stored: u64);

    /// Loads swarms read from storage at start (their counts are complete).
    fn restore(&self, torrents: Vec<RestoredTorrent>);

    /// Totals for stats and logs.
    fn counts(&self) -> StoreCounts;

    /// Calls `f` for every peer of every swarm (for the web UI, metrics and history). Locks one
    /// shard at a time, so announces for other shards go on meanwhile; `f` must be quick.
    fn for_each_peer(&self, f: &mut dyn FnMut(&InfoHash, &PeerId, &PeerRecord));

    /// Removes every peer for which `pred` is true (blocked addresses or torrents), records the
    /// removals for storage, and drops swarms left empty. Returns the number of peers removed.
    fn remove_peers(&self, pred: &mut dyn FnMut(&InfoHash, &PeerRecord) -> bool) -> u64;

    /// Sets every stored peer's network to `net_of(its address)`: after a restore (peers come
    /// back without one) and after the network map changed. A walk of the whole store, one
    /// shard locked at a time; `net_of` runs under the lock and must be quick. Returns the
    /// number of peers whose network changed. Nothing is written: networks are not persisted.
    fn relabel(&self, net_of: &mut dyn FnMut(IpAddr) -> NetId) -> u64;

    /// Cluster mode (`crate::cluster`): moves the queued changes for the other nodes into `out`
    /// (one shard lock at a time, no walk of the swarms). Returns true when peer changes were
    /// dropped for want of room since the last call: the caller must push every peer again.
    fn take_cluster_changes(&self, _out: &mut Vec<ClusterChange>) -> bool {
        false
    }

    /// Cluster mode: adds `n` completed downloads that this node won the claim for (see
    /// `ClusterChange::Completed`) to the swarm's count, to be written like any other.
    fn add_completed(&self, _info_hash: &InfoHash, _n: u64, _now: u32) {}

    /// Cluster mode: for each `(ip, port, peer_id)` of `peers`, whether this node has that peer
    /// in the swarm (one shard lock): the other nodes' listing holds this node's peers too.
    fn has_peers(
        &self,
        _info_hash: &InfoHash,
        peers: &[(IpAddr, u16, PeerId)],
        out: &mut Vec<bool>,
    ) {
        out.clear();
        out.resize(peers.len(), false);
    }
}
