//! The in-memory swarm store: shards of swarms, each behind its own mutex.
//!
//! A request locks only the shard of its info hash, so announces for different torrents proceed
//! in parallel (no global lock). Each shard also keeps the changes to persist, coalesced per peer
//! and per torrent, so the write-behind backlog is bounded by the number of distinct peers that
//! announced since the last flush, however fast they announce.

use super::select::sample;
use super::*;
use crate::protocol::announce::{Event, ResponsePeer};
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

/// Number of shards; a power of two comfortably above the core count.
const SHARDS: usize = 64;

/// A peer in memory (seeder or leecher is given by the map it is in).
#[derive(Clone, Debug)]
struct Peer {
    ip: IpAddr,
    port: u16,
    key: Option<u64>,
    last_seen: u32,
    seen_leeching: bool,
    counted: bool,
}

impl Peer {
    fn record(&self, seeder: bool) -> PeerRecord {
        PeerRecord {
            ip: self.ip,
            port: self.port,
            key: self.key,
            last_seen: self.last_seen,
            seeder,
            seen_leeching: self.seen_leeching,
            counted: self.counted,
        }
    }
}

#[derive(Debug)]
struct Swarm {
    seeders: IndexMap<PeerId, Peer>,
    leechers: IndexMap<PeerId, Peer>,
    completed: u64,
    /// False until the stored completed count has been added (see `TorrentChange`).
    has_stored_count: bool,
    /// Tells a re-created swarm from the one a pending stored-count lookup was made for.
    generation: u32,
}

#[derive(Default)]
struct Shard {
    swarms: HashMap<InfoHash, Swarm>,
    pending_peers: HashMap<(InfoHash, PeerId), Option<PeerRecord>>,
    pending_torrents: HashMap<InfoHash, TorrentChange>,
}

impl Shard {
    fn touch_torrent(
        &mut self,
        info_hash: &InfoHash,
        now: u32,
        completed: u64,
        swarm_gen: Option<u32>,
    ) {
        let change = self
            .pending_torrents
            .entry(*info_hash)
            .or_insert(TorrentChange {
                info_hash: *info_hash,
                completed_delta: 0,
                first_seen: now,
                last_seen: now,
                needs_stored_count: None,
            });
        change.completed_delta += completed;
        change.last_seen = now;
        if swarm_gen.is_some() {
            change.needs_stored_count = swarm_gen;
        }
    }
}

/// Sharded in-memory [`SwarmStore`].
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    next_generation: AtomicU32,
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
        }
    }

    fn shard(&self, info_hash: &InfoHash) -> &Mutex<Shard> {
        // Hashes are SHA digests: any byte is as good as another to spread the load.
        &self.shards[usize::from(info_hash[0]) % SHARDS]
    }
}

fn counts_of(swarm: &Swarm, out: &mut AnnounceOutcome) {
    out.complete = swarm.seeders.len() as u32;
    out.incomplete = swarm.leechers.len() as u32;
    out.downloaded = swarm.completed;
}

fn response_peer(id: &PeerId, p: &Peer) -> ResponsePeer {
    ResponsePeer {
        ip: p.ip,
        port: p.port,
        peer_id: *id,
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
        let mut guard = self.shard(&a.info_hash).lock();
        let shard = &mut *guard;

        if a.event == Event::Stopped {
            *out = AnnounceOutcome {
                peers: std::mem::take(&mut out.peers),
                ..Default::default()
            };
            let Some(swarm) = shard.swarms.get_mut(&a.info_hash) else {
                // A peer we never saw stopping (Transmission does this before its first start):
                // nothing to remove, and no swarm is created for it.
                return Ok(());
            };
            let found = match swarm.seeders.get(&a.peer_id) {
                Some(p) => Some((p, true)),
                None => swarm.leechers.get(&a.peer_id).map(|p| (p, false)),
            };
            let mut newly_counted = false;
            if let Some((peer, seeder)) = found {
                check_identity(peer, a)?;
                // rtorrent and ctorrent stop right after finishing, with left=0 and no `completed`.
                newly_counted = a.left == 0 && peer.seen_leeching && !peer.counted;
                if seeder {
                    swarm.seeders.swap_remove(&a.peer_id);
                } else {
                    swarm.leechers.swap_remove(&a.peer_id);
                }
                swarm.completed += u64::from(newly_counted);
                shard.pending_peers.insert((a.info_hash, a.peer_id), None);
            }
            counts_of(swarm, out);
            let needs_count = (!swarm.has_stored_count).then_some(swarm.generation);
            shard.touch_torrent(&a.info_hash, now, u64::from(newly_counted), needs_count);
            return Ok(());
        }

        let swarm = shard.swarms.entry(a.info_hash).or_insert_with(|| {
            let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
            Swarm {
                seeders: IndexMap::new(),
                leechers: IndexMap::new(),
                completed: 0,
                has_stored_count: false,
                generation,
            }
        });

        let seeder = a.left == 0;
        let previous = match swarm.seeders.get(&a.peer_id) {
            Some(p) => Some((p, true)),
            None => swarm.leechers.get(&a.peer_id).map(|p| (p, false)),
        };
        let mut peer = match previous {
            Some((p, _)) => {
                check_identity(p, a)?;
                let mut p = p.clone();
                p.key = p.key.or(a.key);
                p
            }
            None => Peer {
                ip: a.ip,
                port: a.port,
                key: a.key,
                last_seen: now,
                seen_leeching: false,
                counted: false,
            },
        };
        peer.ip = a.ip;
        peer.port = a.port;
        peer.last_seen = now;
        // A download counts once per peer: on `completed`, or when a peer we saw leeching turns
        // up with nothing left (rtorrent, aria2 and ctorrent skip the event).
        let finished = a.event == Event::Completed || (seeder && peer.seen_leeching);
        let newly_counted = finished && !peer.counted;
        if newly_counted {
            peer.counted = true;
            swarm.completed += 1;
        }
        peer.seen_leeching |= !seeder;
        let record = peer.record(seeder);

        // Keep the peer's slot when its role is unchanged; move it when it turns seeder.
        match previous.map(|(_, was_seeder)| was_seeder) {
            Some(was) if was == seeder => {
                let map = if seeder {
                    &mut swarm.seeders
                } else {
                    &mut swarm.leechers
                };
                map.insert(a.peer_id, peer);
            }
            Some(was) => {
                let (from, to) = if was {
                    (&mut swarm.seeders, &mut swarm.leechers)
                } else {
                    (&mut swarm.leechers, &mut swarm.seeders)
                };
                from.swap_remove(&a.peer_id);
                to.insert(a.peer_id, peer);
            }
            None => {
                let map = if seeder {
                    &mut swarm.seeders
                } else {
                    &mut swarm.leechers
                };
                map.insert(a.peer_id, peer);
            }
        }

        counts_of(swarm, out);
        if a.numwant > 0 {
            let mut rng = crate::rng::Fast;
            if seeder {
                // A seeder gets no seeders: only leechers, and it is not among them.
                let leechers = &swarm.leechers;
                sample(&mut rng, leechers.len(), None, a.numwant, |i| {
                    let (id, p) = leechers.get_index(i).expect("index in range");
                    out.peers.push(response_peer(id, p));
                });
            } else {
                let (seeders, leechers) = (&swarm.seeders, &swarm.leechers);
                let me = leechers.get_index_of(&a.peer_id).map(|i| i + seeders.len());
                sample(
                    &mut rng,
                    seeders.len() + leechers.len(),
                    me,
                    a.numwant,
                    |i| {
                        let (id, p) = if i < seeders.len() {
                            seeders.get_index(i)
                        } else {
                            leechers.get_index(i - seeders.len())
                        }
                        .expect("index in range");
                        out.peers.push(response_peer(id, p));
                    },
                );
            }
        }

        let needs_count = (!swarm.has_stored_count).then_some(swarm.generation);
        shard
            .pending_peers
            .insert((a.info_hash, a.peer_id), Some(record));
        shard.touch_torrent(&a.info_hash, now, u64::from(newly_counted), needs_count);
        Ok(())
    }

    fn scrape(&self, hashes: &[InfoHash], out: &mut Vec<ScrapeEntry>) {
        out.clear();
        for h in hashes {
            let shard = self.shard(h).lock();
            let entry = match shard.swarms.get(h) {
                Some(s) => ScrapeEntry {
                    info_hash: *h,
                    complete: s.seeders.len() as u32,
                    incomplete: s.leechers.len() as u32,
                    downloaded: s.completed,
                },
                None => ScrapeEntry {
                    info_hash: *h,
                    complete: 0,
                    incomplete: 0,
                    downloaded: 0,
                },
            };
            out.push(entry);
        }
    }

    fn scrape_all(&self, out: &mut Vec<ScrapeEntry>) {
        out.clear();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            out.extend(shard.swarms.iter().map(|(h, s)| ScrapeEntry {
                info_hash: *h,
                complete: s.seeders.len() as u32,
                incomplete: s.leechers.len() as u32,
                downloaded: s.completed,
            }));
        }
    }

    fn for_each_peer(&self, f: &mut dyn FnMut(&InfoHash, &PeerId, &PeerRecord)) {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (h, swarm) in &shard.swarms {
                for (id, p) in &swarm.seeders {
                    f(h, id, &p.record(true));
                }
                for (id, p) in &swarm.leechers {
                    f(h, id, &p.record(false));
                }
            }
        }
    }

    fn remove_peers(&self, pred: &mut dyn FnMut(&InfoHash, &PeerRecord) -> bool) -> u64 {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut guard = shard.lock();
            let Shard {
                swarms,
                pending_peers,
                ..
            } = &mut *guard;
            swarms.retain(|h, swarm| {
                for (seeder, map) in [(true, &mut swarm.seeders), (false, &mut swarm.leechers)] {
                    map.retain(|id, p| {
                        let drop = pred(h, &p.record(seeder));
                        if drop {
                            pending_peers.insert((*h, *id), None);
                            removed += 1;
                        }
                        !drop
                    });
                }
                !(swarm.seeders.is_empty() && swarm.leechers.is_empty())
            });
        }
        removed
    }

    fn cleanup(&self, expire_before: u32) -> CleanupReport {
        let mut report = CleanupReport::default();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.swarms.retain(|_, swarm| {
                let before = swarm.seeders.len() + swarm.leechers.len();
                swarm.seeders.retain(|_, p| p.last_seen >= expire_before);
                swarm.leechers.retain(|_, p| p.last_seen >= expire_before);
                let after = swarm.seeders.len() + swarm.leechers.len();
                report.peers_removed += (before - after) as u64;
                let keep = after > 0;
                report.torrents_removed += u64::from(!keep);
                keep
            });
        }
        report
    }

    fn drain_changes(&self) -> Changes {
        let mut changes = Changes::default();
        for shard in self.shards.iter() {
            let (peers, torrents) = {
                let mut shard = shard.lock();
                (
                    std::mem::take(&mut shard.pending_peers),
                    std::mem::take(&mut shard.pending_torrents),
                )
            };
            changes
                .peers
                .extend(peers.into_iter().map(|((h, id), rec)| match rec {
                    Some(rec) => PeerChange::Upsert(h, id, rec),
                    None => PeerChange::Delete(h, id),
                }));
            changes.torrents.extend(torrents.into_values());
        }
        changes
    }

    fn apply_stored_completed(&self, info_hash: &InfoHash, generation: u32, stored: u64) {
        let mut shard = self.shard(info_hash).lock();
        if let Some(swarm) = shard.swarms.get_mut(info_hash) {
            if swarm.generation == generation && !swarm.has_stored_count {
                swarm.completed += stored;
                swarm.has_stored_count = true;
            }
        }
    }

    fn restore(&self, torrents: Vec<RestoredTorrent>) {
        for t in torrents {
            let mut shard = self.shard(&t.info_hash).lock();
            let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
            let swarm = shard.swarms.entry(t.info_hash).or_insert_with(|| Swarm {
                seeders: IndexMap::new(),
                leechers: IndexMap::new(),
                completed: 0,
                has_stored_count: true,
                generation,
            });
            swarm.completed = t.completed;
            for (id, r) in t.peers {
                let peer = Peer {
                    ip: r.ip,
                    port: r.port,
                    key: r.key,
                    last_seen: r.last_seen,
                    seen_leeching: r.seen_leeching,
                    counted: r.counted,
                };
                if r.seeder {
                    swarm.seeders.insert(id, peer);
                } else {
                    swarm.leechers.insert(id, peer);
                }
            }
        }
    }

    fn counts(&self) -> StoreCounts {
        let mut c = StoreCounts::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            c.torrents += shard.swarms.len() as u64;
            for s in shard.swarms.values() {
                c.seeders += s.seeders.len() as u64;
                c.leechers += s.leechers.len() as u64;
            }
            c.pending_changes += (shard.pending_peers.len() + shard.pending_torrents.len()) as u64;
        }
        c
    }
}

/// A known peer_id may announce from a new address only with the key it first gave.
fn check_identity(known: &Peer, a: &Announce) -> Result<(), SwarmError> {
    if known.ip == a.ip || (known.key.is_some() && known.key == a.key) {
        Ok(())
    } else {
        Err(SwarmError::PeerIdTaken)
    }
}
