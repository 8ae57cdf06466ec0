//! The write-behind bookkeeping of one shard: what changed since the last drain.
//!
//! Changes live where the data is: a changed peer carries a dirty flag, a changed swarm a dirty
//! flag and its pending completed count. The shard only lists the swarms to visit, the peers
//! removed (tombstones, as the peer itself is gone) and the pending counts of swarms dropped
//! before a drain. So the backlog costs a bit per peer instead of a map entry per peer, a drain
//! visits only the swarms that changed, and its output holds at most one change per peer: its
//! latest state.

use super::torrent::Swarm;
use super::{Changes, PeerChange, TorrentChange};
use crate::protocol::{InfoHash, PeerId};
use std::collections::HashMap;

/// Lists longer than this are freed after a drain rather than kept for reuse, so one burst does
/// not pin its memory.
const KEEP_CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Swarms with changes, and when the first of them was made.
    dirty: Vec<(InfoHash, u32)>,
    /// Peers removed (stopped or blocked) since the last drain.
    removed: Vec<(InfoHash, PeerId)>,
    /// Torrent changes of swarms dropped before they were drained.
    orphans: Vec<TorrentChange>,
}

impl Pending {
    /// Records an announce on `swarm` at `now`; `newly` when it counted a completed download,
    /// `changed` when it left a peer change to write. The swarm is listed for the next drain
    /// only then: its stored `last_seen` goes along with its peers' writes, so it is at most a
    /// renew window old, like theirs (see `renew`).
    pub fn touch(
        &mut self,
        info_hash: &InfoHash,
        swarm: &mut Swarm,
        now: u32,
        newly: bool,
        changed: bool,
    ) {
        swarm.last_seen = now;
        swarm.completed_delta = swarm.completed_delta.saturating_add(u32::from(newly));
        if (newly || changed) && !swarm.is_dirty() {
            swarm.set_dirty(true);
            self.dirty.push((*info_hash, now));
        }
    }

    /// Records that a peer left the swarm, to delete it from storage.
    pub fn removed(&mut self, info_hash: &InfoHash, peer_id: &PeerId) {
        self.removed.push((*info_hash, *peer_id));
    }

    /// Keeps the pending counts of a swarm that is about to be dropped.
    pub fn dropped(&mut self, info_hash: &InfoHash, swarm: &Swarm) {
        if swarm.is_dirty() {
            self.orphans.push(TorrentChange {
                info_hash: *info_hash,
                completed_delta: u64::from(swarm.completed_delta),
                // When its first change was made is in `dirty`; a scan for it is not worth it for
                // a value storage only uses for a torrent it never saw.
                first_seen: swarm.last_seen,
                last_seen: swarm.last_seen,
                // The swarm is gone: nobody is left to take the stored count.
                needs_stored_count: None,
            });
        }
    }

    /// Changes listed here that `swarms` does not count (removed peers, dropped swarms' counts,
    /// and the dirty swarm list itself).
    pub fn len(&self) -> usize {
        self.removed.len() + self.orphans.len()
    }

    /// Moves changes into `out`, at most `budget` peer changes (the budget is spent by what
    /// was moved), and clears their flags, taking each flag cleared (on a peer or a swarm) off
    /// `flagged`, the shard's count of them. Returns true when changes are left.
    pub fn drain(
        &mut self,
        swarms: &mut HashMap<InfoHash, Swarm>,
        out: &mut Changes,
        budget: &mut usize,
        flagged: &mut u64,
    ) -> bool {
        while let Some(&(h, first_seen)) = self.dirty.last() {
            // A dropped swarm, or one listed twice (dropped and created again): skip.
            let Some(swarm) = swarms.get_mut(&h).filter(|s| s.is_dirty()) else {
                self.dirty.pop();
                continue;
            };
            if *budget == 0 && swarm.dirty_peers() > 0 {
                return true;
            }
            out.torrents.push(TorrentChange {
                info_hash: h,
                completed_delta: u64::from(std::mem::take(&mut swarm.completed_delta)),
                first_seen,
                last_seen: swarm.last_seen,
                needs_stored_count: (!swarm.has_stored_count()).then_some(swarm.generation),
            });
            let drained = swarm.drain_dirty(*budget, |id, r| {
                out.peers.push(PeerChange::Upsert(h, *id, r));
            });
            *budget -= drained;
            *flagged -= drained as u64;
            if swarm.dirty_peers() > 0 {
                // The budget ran out inside this swarm: it stays listed for the rest.
                return true;
            }
            swarm.set_dirty(false);
            *flagged -= 1;
            self.dirty.pop();
        }
        out.torrents.append(&mut self.orphans);
        // One deletion per peer in a batch (a peer may have left, come back and left again).
        self.removed.sort_unstable();
        self.removed.dedup();
        while *budget > 0 {
            let Some((h, id)) = self.removed.pop() else {
                break;
            };
            // Removed, then back: its upsert is its latest state.
            let back = swarms.get(&h).is_some_and(|s| s.find(&id).is_some());
            if !back {
                out.peers.push(PeerChange::Delete(h, id));
                *budget -= 1;
            }
        }
        if !self.removed.is_empty() {
            return true;
        }
        release(&mut self.dirty);
        release(&mut self.removed);
        release(&mut self.orphans);
        false
    }
}

/// Frees a drained list's buffer when a burst made it large.
fn release<T>(list: &mut Vec<T>) {
    if list.capacity() > KEEP_CAPACITY {
        *list = Vec::new();
    }
}
