//! The peers of one address family in one swarm, packed for memory.
//!
//! One `Vec` holds the seeders first and the leechers after them, so each role is a contiguous
//! range that random selection can index directly. An IPv4 peer takes 44 bytes (an IPv6 one 56):
//! peer_id, address, port, last announce, network, key and a byte of flags, among them the
//! write-behind's dirty bit, so a change waiting to be written costs no extra memory.
//!
//! A peer is found by its peer_id with a scan while the list is short (a few cache lines) and
//! through an index of positions once it is long; the index is built at [`INDEX_FROM`] peers and
//! dropped below [`INDEX_UNTIL`], so a list that hovers around one size does not rebuild it on
//! every announce. Every move of a peer inside the `Vec` (role change, removal) updates the index.
//! Longer lists also keep their peers' positions by network (see `nets`), for selection by
//! locality; it lives in the same box, so a short list pays one pointer for both.

use super::nets::{NetIndex, NETS_FROM, NETS_UNTIL};
use super::PeerRecord;
use crate::locality::NetId;
use crate::protocol::PeerId;
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::LazyLock;

/// A list gets an index when it reaches this many peers.
pub(super) const INDEX_FROM: usize = 64;
/// A list with an index drops it when it falls below this many peers.
pub(super) const INDEX_UNTIL: usize = 32;

/// An address as stored: the bytes of one family.
pub(super) trait Addr: Copy + Eq + std::fmt::Debug {
    /// The address as the rest of the tracker sees it.
    fn ip(self) -> IpAddr;
}

/// IPv4 address bytes.
pub(super) type V4 = [u8; 4];
/// IPv6 address bytes.
pub(super) type V6 = [u8; 16];

impl Addr for V4 {
    fn ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
}

impl Addr for V6 {
    fn ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
}

const SEEN_LEECHING: u8 = 1;
const COUNTED: u8 = 2;
const HAS_KEY: u8 = 4;
const DIRTY: u8 = 8;

/// One peer. Its role is given by its position in the [`PeerList`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Peer<A> {
    pub id: PeerId,
    pub addr: A,
    pub port: u16,
    flags: u8,
    /// Last announce, Unix seconds.
    pub last_seen: u32,
    /// Its network (see `crate::locality`). Change it through [`PeerList::update`], which
    /// keeps the network index in step.
    pub net: NetId,
    /// The key hash as two halves: 4-byte alignment keeps the IPv4 peer at 44 bytes.
    key: [u32; 2],
}

const _: () = assert!(std::mem::size_of::<Peer<V4>>() == 44);
const _: () = assert!(std::mem::size_of::<Peer<V6>>() == 56);

impl<A: Addr> Peer<A> {
    /// A peer never seen before (not dirty).
    pub fn new(id: PeerId, addr: A, port: u16, key: Option<u64>, last_seen: u32) -> Self {
        let mut p = Peer {
            id,
            addr,
            port,
            flags: 0,
            last_seen,
            net: NetId::UNKNOWN,
            key: [0; 2],
        };
        p.set_key(key);
        p
    }

    /// A peer as stored (not dirty: it is what storage already has).
    pub fn from_record(id: PeerId, addr: A, r: &PeerRecord) -> Self {
        let mut p = Peer::new(id, addr, r.port, r.key, r.last_seen);
        p.net = r.net;
        p.set_flag(SEEN_LEECHING, r.seen_leeching);
        p.set_flag(COUNTED, r.counted);
        p
    }

    pub fn record(&self, seeder: bool) -> PeerRecord {
        PeerRecord {
            ip: self.addr.ip(),
            port: self.port,
            key: self.key(),
            last_seen: self.last_seen,
            seeder,
            seen_leeching: self.seen_leeching(),
            counted: self.counted(),
            net: self.net,
        }
    }

    pub fn key(&self) -> Option<u64> {
        (self.flags & HAS_KEY != 0).then(|| u64::from(self.key[0]) << 32 | u64::from(self.key[1]))
    }

    pub fn set_key(&mut self, key: Option<u64>) {
        let k = key.unwrap_or(0);
        self.key = [(k >> 32) as u32, k as u32];
        self.set_flag(HAS_KEY, key.is_some());
    }

    pub fn seen_leeching(&self) -> bool {
        self.flags & SEEN_LEECHING != 0
    }

    pub fn set_seen_leeching(&mut self, on: bool) {
        self.set_flag(SEEN_LEECHING, on);
    }

    pub fn counted(&self) -> bool {
        self.flags & COUNTED != 0
    }

    pub fn set_counted(&mut self, on: bool) {
        self.set_flag(COUNTED, on);
    }

    pub fn dirty(&self) -> bool {
        self.flags & DIRTY != 0
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }
}

/// Hashes peer_ids for the index (and networks for `nets`); keyed per process, as clients
/// choose their peer_ids.
pub(super) static HASHER: LazyLock<RandomState> = LazyLock::new(RandomState::new);

fn hash(id: &PeerId) -> u64 {
    HASHER.hash_one(id)
}

/// A position that no peer has, used while two index entries trade places.
const MOVING: u32 = u32::MAX;

/// The peers of one family in one swarm: seeders in `0..seeders`, leechers after them.
#[derive(Debug, Default)]
pub(super) struct PeerList<A> {
    peers: Vec<Peer<A>>,
    seeders: u32,
    /// Peers with the dirty flag, so a drain stops scanning once it has seen them all.
    dirty: u32,
    /// Positions by peer_id (and by network), only for long lists (see the module doc).
    index: Option<Box<Index>>,
}

/// What a long list keeps besides its peers.
#[derive(Debug)]
struct Index {
    /// Positions by peer_id.
    ids: HashTable<u32>,
    /// Positions by network, from [`NETS_FROM`] peers.
    nets: Option<NetIndex>,
}

impl<A: Addr> PeerList<A> {
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    pub fn seeders(&self) -> usize {
        self.seeders as usize
    }

    pub fn leechers(&self) -> usize {
        self.len() - self.seeders()
    }

    /// Peers with a change not yet drained.
    pub fn dirty(&self) -> usize {
        self.dirty as usize
    }

    /// Positions of the leechers.
    pub fn leecher_range(&self) -> Range<usize> {
        self.seeders()..self.len()
    }

    pub fn is_seeder(&self, pos: usize) -> bool {
        pos < self.seeders()
    }

    pub fn get(&self, pos: usize) -> &Peer<A> {
        &self.peers[pos]
    }

    /// Every peer with its role.
    pub fn iter(&self) -> impl Iterator<Item = (&Peer<A>, bool)> {
        let seeders = self.seeders();
        self.peers
            .iter()
            .enumerate()
            .map(move |(i, p)| (p, i < seeders))
    }

    /// Peers the list has room for (tests of growth and shrinking).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.peers.capacity()
    }

    #[cfg(test)]
    pub fn has_index(&self) -> bool {
        self.index.is_some()
    }

    /// The positions by network, for long lists.
    pub fn nets(&self) -> Option<&NetIndex> {
        self.index.as_ref()?.nets.as_ref()
    }

    fn nets_mut(&mut self) -> Option<&mut NetIndex> {
        self.index.as_mut()?.nets.as_mut()
    }

    /// The position of the peer with this id.
    pub fn position(&self, id: &PeerId) -> Option<usize> {
        match &self.index {
            Some(index) => index
                .ids
                .find(hash(id), |&pos| self.peers[pos as usize].id == *id)
                .map(|&pos| pos as usize),
            None => self.peers.iter().position(|p| p.id == *id),
        }
    }

    /// Adds a peer that is not in the list (the caller looked it up); returns its position.
    /// `dirty` marks it as a change to write.
    pub fn push(&mut self, mut peer: Peer<A>, seeder: bool, dirty: bool) -> usize {
        debug_assert!(self.position(&peer.id).is_none(), "peer already listed");
        peer.set_flag(DIRTY, dirty);
        self.dirty += u32::from(dirty);
        if self.peers.len() == self.peers.capacity() {
            // Grow by a quarter, not double, and from one peer: swarms are many and mostly small
            // (often a single peer), so the slack of doubling would cost more than the peers
            // themselves; still amortised O(1).
            self.peers.reserve_exact((self.peers.len() / 4).max(1));
        }
        let pos = self.peers.len();
        self.peers.push(peer);
        match &mut self.index {
            Some(index) => {
                let peers = &self.peers;
                index
                    .ids
                    .insert_unique(hash(&peer.id), pos as u32, |&p| hash(&peers[p as usize].id));
                match &mut index.nets {
                    Some(nets) => nets.push(peer.net, pos),
                    None if self.peers.len() >= NETS_FROM => self.build_index(),
                    None => {}
                }
            }
            None if self.peers.len() >= INDEX_FROM => self.build_index(),
            None => {}
        }
        if seeder {
            // The first leecher (if any) goes to the end, the new seeder takes its place.
            let at = self.seeders();
            self.swap(pos, at);
            self.seeders += 1;
            if let Some(nets) = self.nets_mut() {
                nets.role(peer.net, true);
            }
            at
        } else {
            pos
        }
    }

    /// Takes the peer at `pos` out of the list.
    pub fn remove(&mut self, pos: usize) -> Peer<A> {
        let mut pos = pos;
        if self.is_seeder(pos) {
            // Move it to the seeders' end, which then becomes the leechers' start.
            let last_seeder = self.seeders() - 1;
            self.swap(pos, last_seeder);
            self.seeders -= 1;
            pos = last_seeder;
            let net = self.peers[pos].net;
            if let Some(nets) = self.nets_mut() {
                nets.role(net, false);
            }
        }
        let peer = self.peers[pos];
        let last = self.peers.len() - 1;
        let last_net = self.peers[last].net;
        if let Some(index) = &mut self.index {
            if let Ok(entry) = index.ids.find_entry(hash(&peer.id), |&p| p as usize == pos) {
                entry.remove();
            }
            if let Some(nets) = &mut index.nets {
                nets.swap_remove(pos, peer.net, last_net);
            }
        }
        self.peers.swap_remove(pos);
        if pos != last {
            let moved = self.peers[pos].id;
            self.reindex(&moved, last, pos);
        }
        self.dirty -= u32::from(peer.dirty());
        if let Some(index) = &mut self.index {
            if self.peers.len() < INDEX_UNTIL {
                self.index = None;
            } else if self.peers.len() < NETS_UNTIL {
                index.nets = None;
            }
        }
        peer
    }

    /// Makes the peer at `pos` a seeder or a leecher; returns its new position.
    pub fn set_role(&mut self, pos: usize, seeder: bool) -> usize {
        match (self.is_seeder(pos), seeder) {
            (false, true) => {
                let first_leecher = self.seeders();
                self.swap(pos, first_leecher);
                self.seeders += 1;
                let net = self.peers[first_leecher].net;
                if let Some(nets) = self.nets_mut() {
                    nets.role(net, true);
                }
                first_leecher
            }
            (true, false) => {
                let last_seeder = self.seeders() - 1;
                self.swap(pos, last_seeder);
                self.seeders -= 1;
                let net = self.peers[last_seeder].net;
                if let Some(nets) = self.nets_mut() {
                    nets.role(net, false);
                }
                last_seeder
            }
            _ => pos,
        }
    }

    /// Changes the peer at `pos` (not its id) and, when `write`, marks it as a change to write
    /// (a mark already there stays: the change it stands for is not written yet).
    pub fn update(&mut self, pos: usize, write: bool, f: impl FnOnce(&mut Peer<A>)) {
        let seeder = self.is_seeder(pos);
        let peer = &mut self.peers[pos];
        let (id, net) = (peer.id, peer.net);
        f(peer);
        debug_assert_eq!(id, peer.id, "an update must not change the peer_id");
        let new_net = peer.net;
        if write && !peer.dirty() {
            peer.set_flag(DIRTY, true);
            self.dirty += 1;
        }
        if new_net != net {
            if let Some(nets) = self.nets_mut() {
                nets.rehome(pos, net, new_net, seeder);
            }
        }
    }

    /// Sets every peer's network to `net_of(its address)` without marking anything to write
    /// (networks are not persisted); returns how many changed.
    pub fn relabel(&mut self, net_of: &mut dyn FnMut(IpAddr) -> NetId) -> u64 {
        let mut changed = 0;
        for p in &mut self.peers {
            let net = net_of(p.addr.ip());
            changed += u64::from(net != p.net);
            p.net = net;
        }
        if changed > 0 && self.nets().is_some() {
            let nets = self.net_index();
            if let Some(index) = &mut self.index {
                index.nets = Some(nets);
            }
        }
        changed
    }

    /// Calls `f` with up to `max` dirty peers and their roles, and clears their flags; returns
    /// how many.
    pub fn drain_dirty(&mut self, max: usize, mut f: impl FnMut(&Peer<A>, bool)) -> usize {
        let seeders = self.seeders();
        let want = max.min(self.dirty as usize);
        let mut taken = 0;
        for (i, p) in self.peers.iter_mut().enumerate() {
            if taken == want {
                break;
            }
            if p.dirty() {
                p.set_flag(DIRTY, false);
                f(p, i < seeders);
                taken += 1;
            }
        }
        self.dirty -= taken as u32;
        taken
    }

    /// Keeps the peers for which `keep` is true; calls `removed` with each other one.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Peer<A>, bool) -> bool,
        mut removed: impl FnMut(&Peer<A>),
    ) {
        let seeders = self.seeders();
        let mut i = 0;
        let mut kept_seeders = 0;
        let mut dirty = 0;
        // `Vec::retain` keeps the order, so the seeders stay in front.
        self.peers.retain(|p| {
            let seeder = i < seeders;
            i += 1;
            let k = keep(p, seeder);
            if k {
                kept_seeders += u32::from(seeder);
                dirty += u32::from(p.dirty());
            } else {
                removed(p);
            }
            k
        });
        if self.peers.len() != i {
            self.seeders = kept_seeders;
            self.dirty = dirty;
            self.build_index();
        }
    }

    /// Gives back memory when the list has shrunk well below its allocation.
    pub fn shrink(&mut self) {
        let (len, cap) = (self.peers.len(), self.peers.capacity());
        if cap > len + len / 2 + 2 {
            self.peers.shrink_to(len + len / 8);
        }
        if let Some(index) = &mut self.index {
            let peers = &self.peers;
            index.ids.shrink_to_fit(|&p| hash(&peers[p as usize].id));
        }
    }

    /// (Re)builds the index from the positions, or drops it for a short list.
    fn build_index(&mut self) {
        if self.peers.len() < INDEX_UNTIL || (self.index.is_none() && self.len() < INDEX_FROM) {
            self.index = None;
            return;
        }
        let mut ids = HashTable::with_capacity(self.peers.len());
        for (i, p) in self.peers.iter().enumerate() {
            let peers = &self.peers;
            ids.insert_unique(hash(&p.id), i as u32, |&q| hash(&peers[q as usize].id));
        }
        // The same hysteresis as the peer_id index.
        let had_nets = self.nets().is_some();
        let nets = (self.len() >= NETS_FROM || (had_nets && self.len() >= NETS_UNTIL))
            .then(|| self.net_index());
        self.index = Some(Box::new(Index { ids, nets }));
    }

    fn net_index(&self) -> NetIndex {
        NetIndex::build(self.iter().map(|(p, seeder)| (p.net, seeder)))
    }

    /// Swaps two peers and their index entries.
    fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.peers.swap(a, b);
        if self.index.is_some() {
            let (at_a, at_b) = (self.peers[a].id, self.peers[b].id);
            // Positions are unique; parking one entry on MOVING keeps them unique meanwhile.
            self.reindex(&at_b, a, MOVING as usize);
            self.reindex(&at_a, b, a);
            self.reindex(&at_b, MOVING as usize, b);
            let (net_a, net_b) = (self.peers[a].net, self.peers[b].net);
            if let Some(nets) = self.nets_mut() {
                nets.swap(a, b, net_a, net_b);
            }
        }
    }

    /// The index entry of `id` that says `from` now says `to`.
    fn reindex(&mut self, id: &PeerId, from: usize, to: usize) {
        if let Some(index) = &mut self.index {
            if let Some(pos) = index.ids.find_mut(hash(id), |&p| p as usize == from) {
                *pos = to as u32;
            } else {
                debug_assert!(false, "index entry missing");
            }
        }
    }

    /// Makes room for `more` peers at once (restore knows how many are coming).
    pub fn reserve(&mut self, more: usize) {
        self.peers.reserve_exact(more);
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    pub fn check(&self) {
        assert!(self.seeders() <= self.len());
        assert_eq!(
            self.dirty as usize,
            self.peers.iter().filter(|p| p.dirty()).count()
        );
        let mut ids: Vec<_> = self.peers.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), self.len(), "duplicate peer_id");
        if let Some(index) = &self.index {
            assert_eq!(index.ids.len(), self.len());
            assert!(self.len() >= INDEX_UNTIL);
            match &index.nets {
                Some(nets) => {
                    assert!(self.len() >= NETS_UNTIL);
                    let of: Vec<NetId> = self.peers.iter().map(|p| p.net).collect();
                    nets.check(&of, self.seeders());
                }
                None => assert!(self.len() < NETS_FROM),
            }
        } else {
            assert!(self.len() < INDEX_FROM);
        }
        for (i, p) in self.peers.iter().enumerate() {
            assert_eq!(self.position(&p.id), Some(i));
        }
    }
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
