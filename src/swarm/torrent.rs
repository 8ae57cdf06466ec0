//! One swarm: its IPv4 and IPv6 peers, its completed count and its write-behind state.
//!
//! The two families are kept in separate [`PeerList`]s so that an IPv4 peer stores 4 address
//! bytes, not 16; the IPv6 list is boxed and only exists once an IPv6 peer joins, so an
//! IPv4-only swarm pays 8 bytes for it. A peer is addressed by a [`Slot`]: its family and its
//! position in that family's list.

use super::peers::{Addr, Peer, PeerList, V4, V6};
use super::tiers::{self, Space};
use super::{AnnounceOutcome, Family, PeerRecord};
use crate::locality::{Locality, Mode, NetId};
use crate::protocol::PeerId;
use rand::Rng;
use std::net::IpAddr;

/// Where a peer is: its family's list and its position there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    V4(usize),
    V6(usize),
}

/// The stored completed count has been added (see `TorrentChange::needs_stored_count`).
const HAS_STORED_COUNT: u8 = 1;
/// Listed among the shard's swarms with changes to write.
const DIRTY: u8 = 2;

/// What an announce asks of [`Swarm::pick`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Wanted {
    /// Peers wanted (numwant, capped).
    pub n: usize,
    /// How to choose them, and the requester's network.
    pub locality: Locality,
    /// One address family only (UDP), or both.
    pub family: Option<Family>,
}

impl Wanted {
    /// What `a` asks for.
    pub fn of(a: &super::Announce) -> Wanted {
        Wanted {
            n: a.numwant,
            locality: a.locality,
            family: a.family,
        }
    }
}

#[derive(Debug)]
pub(super) struct Swarm {
    pub v4: PeerList<V4>,
    pub v6: Option<Box<PeerList<V6>>>,
    /// Completed downloads counted (stored count included once it is known).
    pub completed: u64,
    /// Tells a re-created swarm from the one a pending stored-count lookup was made for.
    pub generation: u32,
    /// Completed downloads counted since the last drain.
    pub completed_delta: u32,
    /// Latest announce, Unix seconds.
    pub last_seen: u32,
    flags: u8,
}

impl Swarm {
    pub fn new(generation: u32, has_stored_count: bool) -> Self {
        Swarm {
            v4: PeerList::default(),
            v6: None,
            completed: 0,
            generation,
            completed_delta: 0,
            last_seen: 0,
            flags: if has_stored_count {
                HAS_STORED_COUNT
            } else {
                0
            },
        }
    }

    pub fn seeders(&self) -> u32 {
        (self.v4.seeders() + self.v6.as_ref().map_or(0, |l| l.seeders())) as u32
    }

    pub fn leechers(&self) -> u32 {
        (self.v4.leechers() + self.v6.as_ref().map_or(0, |l| l.leechers())) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.as_ref().is_none_or(|l| l.is_empty())
    }

    /// Peers with a change not yet drained.
    pub fn dirty_peers(&self) -> usize {
        self.v4.dirty() + self.v6.as_ref().map_or(0, |l| l.dirty())
    }

    pub fn has_stored_count(&self) -> bool {
        self.flags & HAS_STORED_COUNT != 0
    }

    pub fn set_has_stored_count(&mut self) {
        self.flags |= HAS_STORED_COUNT;
    }

    /// Listed among the shard's swarms with changes to write.
    pub fn is_dirty(&self) -> bool {
        self.flags & DIRTY != 0
    }

    pub fn set_dirty(&mut self, on: bool) {
        if on {
            self.flags |= DIRTY;
        } else {
            self.flags &= !DIRTY;
        }
    }

    pub fn find(&self, id: &PeerId) -> Option<Slot> {
        if let Some(pos) = self.v4.position(id) {
            return Some(Slot::V4(pos));
        }
        self.v6.as_ref()?.position(id).map(Slot::V6)
    }

    /// The peer at `slot` as a record.
    pub fn record(&self, slot: Slot) -> PeerRecord {
        match slot {
            Slot::V4(pos) => self.v4.get(pos).record(self.v4.is_seeder(pos)),
            Slot::V6(pos) => {
                let l = self.v6.as_ref().expect("slot in the IPv6 list");
                l.get(pos).record(l.is_seeder(pos))
            }
        }
    }

    /// Records an announce of a peer that is at `prev` (if known), marking it as a change to
    /// write when `write` (a new peer always is). The peer keeps its place when its role and
    /// family are unchanged.
    pub fn put(&mut self, prev: Option<Slot>, id: PeerId, r: &PeerRecord, write: bool) -> Slot {
        match (prev, r.ip) {
            (Some(Slot::V4(pos)), IpAddr::V4(a)) => {
                self.v4.update(pos, write, |p| apply(p, a.octets(), r));
                Slot::V4(self.v4.set_role(pos, r.seeder))
            }
            (Some(Slot::V6(pos)), IpAddr::V6(a)) => {
                let l = self.v6.as_mut().expect("slot in the IPv6 list");
                l.update(pos, write, |p| apply(p, a.octets(), r));
                Slot::V6(l.set_role(pos, r.seeder))
            }
            (prev, _) => {
                // New, or moved to the other family.
                if let Some(slot) = prev {
                    self.remove(slot);
                }
                self.insert(id, r, true)
            }
        }
    }

    /// Adds a peer that is not in the swarm.
    pub fn insert(&mut self, id: PeerId, r: &PeerRecord, dirty: bool) -> Slot {
        match r.ip {
            IpAddr::V4(a) => Slot::V4(self.v4.push(
                Peer::from_record(id, a.octets(), r),
                r.seeder,
                dirty,
            )),
            IpAddr::V6(a) => Slot::V6(self.v6.get_or_insert_default().push(
                Peer::from_record(id, a.octets(), r),
                r.seeder,
                dirty,
            )),
        }
    }

    /// Takes the peer at `slot` out; returns whether it had a change not yet drained.
    pub fn remove(&mut self, slot: Slot) -> bool {
        match slot {
            Slot::V4(pos) => self.v4.remove(pos).dirty(),
            Slot::V6(pos) => {
                let l = self.v6.as_mut().expect("slot in the IPv6 list");
                l.remove(pos).dirty()
            }
        }
    }

    /// Restores a stored peer (replacing one with the same id).
    pub fn restore(&mut self, id: PeerId, r: &PeerRecord) {
        if let Some(slot) = self.find(&id) {
            self.remove(slot);
        }
        self.insert(id, r, false);
    }

    /// Picks up to `w.n` peers for the peer at `me` into `out.peers`, counting them by tier
    /// into `out.handed_out`: never itself, and only leechers for a seeder; uniformly at random
    /// with `Mode::Off`, by network first otherwise (see `tiers`). Both families (or the one of
    /// `w.family`) are one range of candidates, so the choice stays uniform across them.
    pub fn pick<R: Rng>(
        &self,
        rng: &mut R,
        me: Option<Slot>,
        seeder: bool,
        w: &Wanted,
        out: &mut AnnounceOutcome,
    ) {
        let (want, loc, family) = (w.n, &w.locality, w.family);
        let (empty4, empty6) = (PeerList::default(), PeerList::default());
        // A family left out is an empty list: the requester in it is not a candidate anyway.
        let v4 = if family == Some(Family::V6) {
            &empty4
        } else {
            &self.v4
        };
        let v6 = match (family, self.v6.as_deref()) {
            (Some(Family::V4), _) | (_, None) => &empty6,
            (_, Some(l)) => l,
        };
        let space = Space {
            v4,
            v6,
            me: me.and_then(|slot| match slot {
                Slot::V4(p) => (family != Some(Family::V6)).then_some(p),
                Slot::V6(p) => (family != Some(Family::V4)).then_some(v4.len() + p),
            }),
            leechers_only: seeder,
        };
        let (peers, handed) = (&mut out.peers, &mut out.handed_out);
        if loc.mode == Mode::Off {
            tiers::pick_uniform(rng, &space, loc.requester, want, peers, handed);
        } else {
            tiers::pick(rng, &space, loc, want, peers, handed);
        }
    }

    /// Sets every peer's network to `net_of(its address)`; returns how many changed.
    pub fn relabel(&mut self, net_of: &mut dyn FnMut(IpAddr) -> NetId) -> u64 {
        self.v4.relabel(net_of) + self.v6.as_mut().map_or(0, |l| l.relabel(net_of))
    }

    /// Calls `f` with every peer.
    pub fn for_each(&self, mut f: impl FnMut(&PeerId, &PeerRecord)) {
        for (p, seeder) in self.v4.iter() {
            f(&p.id, &p.record(seeder));
        }
        if let Some(l) = &self.v6 {
            for (p, seeder) in l.iter() {
                f(&p.id, &p.record(seeder));
            }
        }
    }

    /// Keeps the peers for which `keep` is true; calls `removed` with the id of each other one.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&PeerRecord) -> bool,
        mut removed: impl FnMut(&PeerId),
    ) {
        self.v4
            .retain(|p, seeder| keep(&p.record(seeder)), |p| removed(&p.id));
        if let Some(l) = &mut self.v6 {
            l.retain(|p, seeder| keep(&p.record(seeder)), |p| removed(&p.id));
        }
    }

    /// Calls `f` with up to `max` peers that changed since the last drain, and clears their
    /// flags; returns how many.
    pub fn drain_dirty(&mut self, max: usize, mut f: impl FnMut(&PeerId, PeerRecord)) -> usize {
        let mut n = self
            .v4
            .drain_dirty(max, |p, seeder| f(&p.id, p.record(seeder)));
        if let Some(l) = &mut self.v6 {
            n += l.drain_dirty(max - n, |p, seeder| f(&p.id, p.record(seeder)));
        }
        n
    }

    /// Gives back memory the swarm no longer needs.
    pub fn shrink(&mut self) {
        self.v4.shrink();
        if self.v6.as_ref().is_some_and(|l| l.is_empty()) {
            self.v6 = None;
        }
        if let Some(l) = &mut self.v6 {
            l.shrink();
        }
    }
}

/// Writes an announce's state into a known peer (its id and role are the caller's business).
fn apply<A: Addr>(p: &mut Peer<A>, addr: A, r: &PeerRecord) {
    p.addr = addr;
    p.port = r.port;
    p.last_seen = r.last_seen;
    p.set_key(r.key);
    p.set_seen_leeching(r.seen_leeching);
    p.set_counted(r.counted);
    p.net = r.net;
}

// A swarm is one map entry per torrent: keep it small (IPv4 list 40, IPv6 box 8, counts 21).
const _: () = assert!(std::mem::size_of::<Swarm>() == 72);
