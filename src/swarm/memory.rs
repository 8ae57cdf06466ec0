//! The in-memory swarm store: shards of swarms, each behind its own mutex.
//!
//! A request locks only the shard of its info hash, so announces for different torrents proceed
//! in parallel (no global lock). Swarms are packed for memory (see `torrent` and `peers`), and
//! the changes to persist are flags on the changed peers and swarms (see `pending`), so the
//! write-behind backlog is bounded by the number of peers, however fast they announce, and costs
//! next to nothing while it waits.
//!
//! Each shard also keeps the totals of its swarms (seeders, leechers, changes to write), moved
//! under the lock by every change to a swarm, so that [`SwarmStore::counts`] sums 64 small
//! structs instead of walking every swarm: the stats, the logs and `/metrics` read it often, on
//! async workers. The other walks of the whole store check in debug builds that they run on the
//! blocking pool (see `crate::blocking`).

use super::outbox::Outbox;
use super::pending::Pending;
use super::torrent::{Swarm, Wanted};
use super::*;
use crate::protocol::announce::Event;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Most peers drained per hold of a shard's lock (see `drain_changes_into`).
const LOCK_SLICE: usize = 1024;

/// Number of shards; a power of two comfortably above the core count.
const SHARDS: usize = 64;

#[derive(Default)]
struct Shard {
    swarms: HashMap<InfoHash, Swarm>,
    pending: Pending,
    /// The sum of [`Tally::of`] over `swarms`.
    totals: Tally,
    /// Changes for the other nodes of a cluster (none queued outside one).
    outbox: Outbox,
}

/// What swarms add to [`StoreCounts`] (the torrents are the map's length, the pending changes
/// outside the swarms `Pending::len`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    seeders: u64,
    leechers: u64,
    /// Peers with a change to write, and swarms listed with one.
    pending: u64,
}

impl Tally {
    /// One swarm's share: a few fields the swarm keeps anyway, no walk of its peers.
    fn of(swarm: &Swarm) -> Tally {
        Tally {
            seeders: u64::from(swarm.seeders()),
            leechers: u64::from(swarm.leechers()),
            pending: (swarm.dirty_peers() + usize::from(swarm.is_dirty())) as u64,
        }
    }

    /// Replaces one swarm's share `before` by `after` (adding first: the totals include
    /// `before`, so nothing goes below zero).
    fn shift(&mut self, before: Tally, after: Tally) {
        self.seeders = self.seeders + after.seeders - before.seeders;
        self.leechers = self.leechers + after.leechers - before.leechers;
        self.pending = self.pending + after.pending - before.pending;
    }
}

/// Runs `f` on `swarm` and moves `totals` by the change in the swarm's share. Every change to a
/// swarm goes through here (or drops it in `drop_empty`, or drains it in `drain_changes_into`),
/// including the ones that end in an error, so the totals cannot drift.
fn tracked<R>(totals: &mut Tally, swarm: &mut Swarm, f: impl FnOnce(&mut Swarm) -> R) -> R {
    let before = Tally::of(swarm);
    let out = f(swarm);
    totals.shift(before, Tally::of(swarm));
    out
}

impl Shard {
    /// Drops the swarms left without peers, keeping their pending counts, and gives back memory.
    fn drop_empty(&mut self) -> u64 {
        let Shard {
            swarms,
            pending,
            totals,
            ..
        } = self;
        let before = swarms.len();
        swarms.retain(|h, swarm| {
            if swarm.is_empty() {
                pending.dropped(h, swarm);
                // No peers left, but it may still be listed as a change to write (an orphan
                // in `pending` from now on).
                totals.shift(Tally::of(swarm), Tally::default());
                false
            } else {
                swarm.shrink();
                true
            }
        });
        if swarms.capacity() > 2 * swarms.len() + 64 {
            swarms.shrink_to_fit();
        }
        (before - swarms.len()) as u64
    }
}

/// Sharded in-memory [`SwarmStore`].
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    next_generation: AtomicU32,
    /// The shard the next drain starts with.
    drain_from: AtomicUsize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            next_generation: AtomicU32::new(1),
            drain_from: AtomicUsize::new(0),
        }
    }

    /// An empty store for a node of a cluster: it queues its changes for the other nodes, at
    /// most about `max_queued` of them (then it asks for a full resync, see `outbox`), and
    /// leaves completions to the cluster's claim.
    pub fn for_cluster(max_queued: usize) -> Self {
        let store = MemoryStore::new();
        let per_shard = max_queued.div_ceil(SHARDS).max(1);
        for shard in store.shards.iter() {
            shard.lock().outbox = Outbox::new(per_shard);
        }
        store
    }

    fn shard(&self, info_hash: &InfoHash) -> &Mutex<Shard> {
        // Hashes are SHA digests: any byte is as good as another to spread the load.
        &self.shards[usize::from(info_hash[0]) % SHARDS]
    }

    fn new_swarm(&self, has_stored_count: bool) -> Swarm {
        Swarm::new(
            self.next_generation.fetch_add(1, Ordering::Relaxed),
            has_stored_count,
        )
    }
}

fn counts_of(swarm: &Swarm, out: &mut AnnounceOutcome) {
    out.complete = swarm.seeders();
    out.incomplete = swarm.leechers();
    out.downloaded = swarm.completed;
}

fn scrape_entry(info_hash: &InfoHash, swarm: Option<&Swarm>) -> ScrapeEntry {
    ScrapeEntry {
        info_hash: *info_hash,
        complete: swarm.map_or(0, Swarm::seeders),
        incomplete: swarm.map_or(0, Swarm::leechers),
        downloaded: swarm.map_or(0, |s| s.completed),
    }
}

impl SwarmStore for MemoryStore {
    fn announce(
        &self,
        a: &Announce,
        now: u32,
        out: &mut AnnounceOutcome,
    ) -> Result<(), SwarmError> {
        out.peers.clear();
        out.handed_out = [0; 3];
        let mut guard = self.shard(&a.info_hash).lock();
        let Shard {
            swarms,
            pending,
            totals,
            outbox,
        } = &mut *guard;

        if a.event == Event::Stopped {
            *out = AnnounceOutcome {
                peers: std::mem::take(&mut out.peers),
                ..Default::default()
            };
            let Some(swarm) = swarms.get_mut(&a.info_hash) else {
                // A peer we never saw stopping (Transmission does this before its first start):
                // nothing to remove, and no swarm is created for it.
                return Ok(());
            };
            return tracked(totals, swarm, |swarm| {
                let mut newly_counted = false;
                let mut left = false;
                if let Some(slot) = swarm.find(&a.peer_id) {
                    let known = swarm.record(slot);
                    check_identity(&known, a)?;
                    // rtorrent and ctorrent stop right after finishing, with left=0 and no
                    // `completed`.
                    let finished = a.left == 0 && known.seen_leeching && !known.counted;
                    // In a cluster the claim decides whether it counts (see `outbox`).
                    newly_counted = finished && !outbox.claim(&a.info_hash, &a.peer_id);
                    swarm.remove(slot);
                    swarm.completed += u64::from(newly_counted);
                    pending.removed(&a.info_hash, &a.peer_id);
                    outbox.push(ClusterChange::Gone {
                        info_hash: a.info_hash,
                        peer_id: a.peer_id,
                        was: Listed::of(&known),
                    });
                    left = true;
                }
                counts_of(swarm, out);
                pending.touch(&a.info_hash, swarm, now, newly_counted, left);
                Ok(())
            });
        }

        if a.port == 0 {
            // A client that accepts no connections gets peers and counts, but is neither stored
            // nor handed out; if it listened before, it leaves the swarm.
            let Some(swarm) = swarms.get_mut(&a.info_hash) else {
                return Ok(());
            };
            return tracked(totals, swarm, |swarm| {
                let mut left = false;
                if let Some(slot) = swarm.find(&a.peer_id) {
                    let known = swarm.record(slot);
                    check_identity(&known, a)?;
                    swarm.remove(slot);
                    pending.removed(&a.info_hash, &a.peer_id);
                    outbox.push(ClusterChange::Gone {
                        info_hash: a.info_hash,
                        peer_id: a.peer_id,
                        was: Listed::of(&known),
                    });
                    left = true;
                }
                counts_of(swarm, out);
                if a.numwant > 0 {
                    let seeder = a.left == 0;
                    let rng = &mut crate::rng::Fast;
                    swarm.pick(rng, None, seeder, &Wanted::of(a), out);
                }
                pending.touch(&a.info_hash, swarm, now, false, left);
                Ok(())
            });
        }

        let swarm = match swarms.get_mut(&a.info_hash) {
            Some(swarm) => swarm,
            None => swarms
                .entry(a.info_hash)
                .or_insert_with(|| self.new_swarm(false)),
        };
        tracked(totals, swarm, |swarm| {
            announce_in(swarm, pending, outbox, a, now, out)
        })
    }

    fn scrape(&self, hashes: &[InfoHash], out: &mut Vec<ScrapeEntry>) {
        out.clear();
        for h in hashes {
            let shard = self.shard(h).lock();
            out.push(scrape_entry(h, shard.swarms.get(h)));
        }
    }

    fn scrape_all(&self, out: &mut Vec<ScrapeEntry>) {
        crate::blocking::debug_assert_may_walk();
        out.clear();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            out.extend(shard.swarms.iter().map(|(h, s)| scrape_entry(h, Some(s))));
        }
    }

    fn for_each_peer(&self, f: &mut dyn FnMut(&InfoHash, &PeerId, &PeerRecord)) {
        crate::blocking::debug_assert_may_walk();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (h, swarm) in &shard.swarms {
                swarm.for_each(|id, r| f(h, id, r));
            }
        }
    }

    fn remove_peers(&self, pred: &mut dyn FnMut(&InfoHash, &PeerRecord) -> bool) -> u64 {
        crate::blocking::debug_assert_may_walk();
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut guard = shard.lock();
            let Shard {
                swarms,
                pending,
                totals,
                outbox,
            } = &mut *guard;
            for (h, swarm) in swarms.iter_mut() {
                // `retain` asks about a peer, then reports its removal by id: the record of the
                // peer just refused is what the other nodes must unlist.
                let refused = std::cell::Cell::new(None);
                tracked(totals, swarm, |swarm| {
                    swarm.retain(
                        |r| {
                            let drop = pred(h, r);
                            refused.set(drop.then(|| Listed::of(r)));
                            !drop
                        },
                        |id| {
                            pending.removed(h, id);
                            if let Some(was) = refused.take() {
                                outbox.push(ClusterChange::Gone {
                                    info_hash: *h,
                                    peer_id: *id,
                                    was,
                                });
                            }
                            removed += 1;
                        },
                    )
                });
            }
            guard.drop_empty();
        }
        removed
    }

    fn relabel(&self, net_of: &mut dyn FnMut(IpAddr) -> NetId) -> u64 {
        crate::blocking::debug_assert_may_walk();
        let mut changed = 0;
        for shard in self.shards.iter() {
            // Networks are no part of the totals nor of the changes to write: nothing to track.
            let mut shard = shard.lock();
            for swarm in shard.swarms.values_mut() {
                changed += swarm.relabel(net_of);
            }
        }
        changed
    }

    fn cleanup(&self, expire_before: u32) -> CleanupReport {
        crate::blocking::debug_assert_may_walk();
        let mut report = CleanupReport::default();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let Shard { swarms, totals, .. } = &mut *shard;
            for swarm in swarms.values_mut() {
                // Expired peers are not written as deletions: storage drops its expired rows
                // itself (`Storage::delete_expired`).
                tracked(totals, swarm, |swarm| {
                    swarm.retain(
                        |r| r.last_seen >= expire_before,
                        |_| report.peers_removed += 1,
                    )
                });
            }
            report.torrents_removed += shard.drop_empty();
        }
        report
    }

    fn drain_changes_into(&self, out: &mut Changes, max_peers: usize) -> bool {
        // Bounded in peers, but it visits every shard and takes every changed swarm without
        // changed peers (and every dropped one) whatever the budget: a walk, however short
        // usually. The writer runs it with its database write on the blocking pool.
        crate::blocking::debug_assert_may_walk();
        // Start where the last batch stopped, so that under load no shard waits behind others.
        let start = self.drain_from.load(Ordering::Relaxed);
        let mut budget = max_peers;
        for k in 0..SHARDS {
            let i = (start + k) % SHARDS;
            loop {
                // At most LOCK_SLICE peers per hold of a shard's lock: announces to that shard
                // wait microseconds for the drain, not the milliseconds of a whole batch.
                let mut slice = budget.min(LOCK_SLICE);
                let before = slice;
                let more_here = {
                    let mut guard = self.shards[i].lock();
                    let Shard {
                        swarms,
                        pending,
                        totals,
                        ..
                    } = &mut *guard;
                    pending.drain(swarms, out, &mut slice, &mut totals.pending)
                };
                budget -= before - slice;
                if !more_here {
                    break;
                }
                if budget == 0 {
                    self.drain_from.store(i, Ordering::Relaxed);
                    return true;
                }
            }
        }
        false
    }

    fn apply_stored_completed(&self, info_hash: &InfoHash, generation: u32, stored: u64) {
        let mut shard = self.shard(info_hash).lock();
        if let Some(swarm) = shard.swarms.get_mut(info_hash) {
            if swarm.generation == generation && !swarm.has_stored_count() {
                swarm.completed += stored;
                swarm.set_has_stored_count();
            }
        }
    }

    fn restore(&self, torrents: Vec<RestoredTorrent>) {
        // A batch of the database's swarms at start: many batches, milliseconds each.
        crate::blocking::debug_assert_may_walk();
        for t in torrents {
            let mut guard = self.shard(&t.info_hash).lock();
            let Shard { swarms, totals, .. } = &mut *guard;
            let swarm = match swarms.get_mut(&t.info_hash) {
                Some(swarm) => swarm,
                None => {
                    let swarm = self.new_swarm(true);
                    swarms.entry(t.info_hash).or_insert(swarm)
                }
            };
            tracked(totals, swarm, |swarm| {
                swarm.completed = t.completed;
                swarm.last_seen = swarm.last_seen.max(t.last_seen);
                let v4 = t.peers.iter().filter(|(_, r)| r.ip.is_ipv4()).count();
                swarm.v4.reserve(v4);
                for (id, r) in &t.peers {
                    swarm.restore(*id, r);
                }
            });
        }
    }

    fn take_cluster_changes(&self, out: &mut Vec<ClusterChange>) -> bool {
        let mut overflowed = false;
        for shard in self.shards.iter() {
            overflowed |= shard.lock().outbox.take(out);
        }
        overflowed
    }

    fn add_completed(&self, info_hash: &InfoHash, n: u64, now: u32) {
        let mut guard = self.shard(info_hash).lock();
        let Shard {
            swarms,
            pending,
            totals,
            ..
        } = &mut *guard;
        // The swarm may be gone since (its last peer left while the claim was on its way): a
        // new, empty one carries the count to storage and is dropped by the next cleanup.
        let swarm = match swarms.get_mut(info_hash) {
            Some(swarm) => swarm,
            None => swarms
                .entry(*info_hash)
                .or_insert_with(|| self.new_swarm(false)),
        };
        tracked(totals, swarm, |swarm| {
            for _ in 0..n {
                swarm.completed += 1;
                pending.touch(info_hash, swarm, now.max(swarm.last_seen), true, false);
            }
        });
    }

    fn has_peers(
        &self,
        info_hash: &InfoHash,
        peers: &[(IpAddr, u16, PeerId)],
        out: &mut Vec<bool>,
    ) {
        out.clear();
        let shard = self.shard(info_hash).lock();
        let swarm = shard.swarms.get(info_hash);
        out.extend(peers.iter().map(|(ip, port, id)| {
            swarm
                .and_then(|s| s.find(id).map(|slot| s.record(slot)))
                .is_some_and(|r| r.ip == *ip && r.port == *port)
        }));
    }

    fn counts(&self) -> StoreCounts {
        // O(shards): no walk, so no `debug_assert_may_walk` either (called on async workers).
        let mut c = StoreCounts::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            c.torrents += shard.swarms.len() as u64;
            c.seeders += shard.totals.seeders;
            c.leechers += shard.totals.leechers;
            c.pending_changes += shard.totals.pending + shard.pending.len() as u64;
        }
        c
    }
}

#[cfg(test)]
impl MemoryStore {
    /// [`SwarmStore::counts`] by walking every swarm, to check the shards' totals against.
    pub(super) fn recount(&self) -> StoreCounts {
        let mut c = StoreCounts::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            c.torrents += shard.swarms.len() as u64;
            for s in shard.swarms.values() {
                c.seeders += u64::from(s.seeders());
                c.leechers += u64::from(s.leechers());
                c.pending_changes += (s.dirty_peers() + usize::from(s.is_dirty())) as u64;
            }
            c.pending_changes += shard.pending.len() as u64;
        }
        c
    }
}

/// An announce of a peer that listens (not `stopped`, port not 0) on its swarm.
fn announce_in(
    swarm: &mut Swarm,
    pending: &mut Pending,
    outbox: &mut Outbox,
    a: &Announce,
    now: u32,
    out: &mut AnnounceOutcome,
) -> Result<(), SwarmError> {
    let seeder = a.left == 0;
    let previous = swarm.find(&a.peer_id);
    let known = previous.map(|slot| swarm.record(slot));
    let mut peer = match &known {
        Some(known) => {
            check_identity(known, a)?;
            PeerRecord {
                key: known.key.or(a.key),
                ..known.clone()
            }
        }
        None => PeerRecord {
            ip: a.ip,
            port: a.port,
            key: a.key,
            last_seen: now,
            seeder,
            seen_leeching: false,
            counted: false,
            net: a.locality.requester,
        },
    };
    peer.ip = a.ip;
    peer.net = a.locality.requester;
    peer.port = a.port;
    peer.last_seen = now;
    peer.seeder = seeder;
    // A download counts once per peer: on `completed`, or when a peer we saw leeching turns
    // up with nothing left (rtorrent, aria2 and ctorrent skip the event).
    let finished = a.event == Event::Completed || (seeder && peer.seen_leeching);
    let mut newly_counted = finished && !peer.counted;
    if newly_counted {
        peer.counted = true;
        // In a cluster the claim decides whether it counts (see `outbox`).
        newly_counted = !outbox.claim(&a.info_hash, &a.peer_id);
        swarm.completed += u64::from(newly_counted);
    }
    peer.seen_leeching |= !seeder;
    // Written when something stored changed, or once per renew window (see `renew`): a peer
    // re-announcing with nothing new rewrites nothing. Networks are not stored.
    let write = match &known {
        None => true,
        Some(k) => !same_stored_state(k, &peer) || a.renew.due(k.last_seen, now),
    };
    let me = swarm.put(previous, a.peer_id, &peer, write);
    if write {
        let now_listed = Listed::of(&peer);
        outbox.push(ClusterChange::Peer {
            info_hash: a.info_hash,
            peer_id: a.peer_id,
            now: now_listed,
            before: known
                .as_ref()
                .map(Listed::of)
                .filter(|was| *was != now_listed),
            last_seen: now,
        });
    }

    counts_of(swarm, out);
    if a.numwant > 0 {
        swarm.pick(&mut crate::rng::Fast, Some(me), seeder, &Wanted::of(a), out);
    }
    pending.touch(&a.info_hash, swarm, now, newly_counted, write);
    Ok(())
}

/// Whether `a` and `b` store the same row, apart from `last_seen` (see `renew`).
fn same_stored_state(a: &PeerRecord, b: &PeerRecord) -> bool {
    a.ip == b.ip
        && a.port == b.port
        && a.key == b.key
        && a.seeder == b.seeder
        && a.seen_leeching == b.seen_leeching
        && a.counted == b.counted
}

/// A known peer_id may announce from a new address only with the key it first gave.
fn check_identity(known: &PeerRecord, a: &Announce) -> Result<(), SwarmError> {
    if known.ip == a.ip || (known.key.is_some() && known.key == a.key) {
        Ok(())
    } else {
        Err(SwarmError::PeerIdTaken)
    }
}
