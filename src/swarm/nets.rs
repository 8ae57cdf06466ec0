//! The positions of a long peer list's peers by network, so that selection by locality can draw
//! from the requester's own network without scanning the list.
//!
//! Only lists of at least [`NETS_FROM`] peers have one (dropped below [`NETS_UNTIL`]): below
//! that, a scan of the list is cheaper than keeping this up to date, and the swarms that make
//! up most of a tracker's memory (a few to a hundred peers) pay nothing for it. It costs 8
//! bytes per peer (its position in its network's group and the way back) and one small entry
//! per network present.
//!
//! The index does not see the peers: [`PeerList`](super::peers::PeerList) tells it every move
//! (push, swap, removal, role change, change of network), with the networks involved.

use super::peers::HASHER;
use crate::locality::NetId;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A list gets a network index when it reaches this many peers.
pub(super) const NETS_FROM: usize = 512;
/// A list with a network index drops it when it falls below this many peers.
pub(super) const NETS_UNTIL: usize = 256;

/// The peers of one network in one list.
#[derive(Debug)]
pub(super) struct Group {
    pub net: NetId,
    /// Seeders among `pos`.
    pub seeders: u32,
    /// Positions in the list, in no particular order.
    pub pos: Vec<u32>,
}

/// Groups by network, with the counts selection needs in O(1).
#[derive(Debug, Default)]
pub(super) struct NetIndex {
    groups: HashTable<Group>,
    /// For each position of the list, the index of its entry in its group's `pos`.
    slot: Vec<u32>,
    /// Peers of the operator's named networks, and seeders among them.
    named: u32,
    named_seeders: u32,
}

fn hash(net: &NetId) -> u64 {
    HASHER.hash_one(net)
}

impl NetIndex {
    /// The index of a list whose peers have these networks and roles, in position order.
    pub fn build(peers: impl Iterator<Item = (NetId, bool)>) -> NetIndex {
        let mut ix = NetIndex::default();
        for (pos, (net, seeder)) in peers.enumerate() {
            ix.push(net, pos);
            if seeder {
                ix.role(net, true);
            }
        }
        ix
    }

    /// The group of `net`, if any peer of the list is in it.
    pub fn group(&self, net: NetId) -> Option<&Group> {
        self.groups.find(hash(&net), |g| g.net == net)
    }

    /// Every group (enumerating a tier).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter()
    }

    /// Peers of the operator's named networks: (all, seeders).
    pub fn named(&self) -> (usize, usize) {
        (self.named as usize, self.named_seeders as usize)
    }

    fn group_mut(&mut self, net: NetId) -> &mut Group {
        self.groups
            .find_mut(hash(&net), |g| g.net == net)
            .expect("every listed network has a group")
    }

    /// A peer of `net` appended at `pos` (the end of the list), as a leecher.
    pub fn push(&mut self, net: NetId, pos: usize) {
        debug_assert_eq!(pos, self.slot.len());
        let entry = self
            .groups
            .entry(hash(&net), |g| g.net == net, |g| hash(&g.net));
        let group = entry
            .or_insert_with(|| Group {
                net,
                seeders: 0,
                pos: Vec::new(),
            })
            .into_mut();
        self.slot.push(group.pos.len() as u32);
        group.pos.push(pos as u32);
        self.named += u32::from(net.is_operator());
    }

    /// The peer of `net` became a seeder (`true`) or a leecher.
    pub fn role(&mut self, net: NetId, seeder: bool) {
        let named = net.is_operator();
        let g = self.group_mut(net);
        if seeder {
            g.seeders += 1;
        } else {
            g.seeders -= 1;
        }
        if named {
            if seeder {
                self.named_seeders += 1;
            } else {
                self.named_seeders -= 1;
            }
        }
    }

    /// The list swapped the peers at `a` and `b`; `at_a` and `at_b` are the networks of the
    /// peers now there.
    pub fn swap(&mut self, a: usize, b: usize, at_a: NetId, at_b: NetId) {
        let (sa, sb) = (self.slot[a], self.slot[b]);
        // The peer now at `a` came from `b`: its entry is the one `b`'s slot named.
        self.group_mut(at_a).pos[sb as usize] = a as u32;
        self.group_mut(at_b).pos[sa as usize] = b as u32;
        self.slot.swap(a, b);
    }

    /// The list took out the (leecher) peer of `net` at `pos` by moving its last peer, of
    /// network `last_net`, into its place (`Vec::swap_remove`).
    pub fn swap_remove(&mut self, pos: usize, net: NetId, last_net: NetId) {
        self.leave(pos, net);
        let last = self.slot.len() - 1;
        if pos != last {
            let j = self.slot[last];
            self.group_mut(last_net).pos[j as usize] = pos as u32;
            self.slot[pos] = j;
        }
        self.slot.pop();
    }

    /// The peer at `pos` moved from network `from` to `to`.
    pub fn rehome(&mut self, pos: usize, from: NetId, to: NetId, seeder: bool) {
        if seeder {
            self.role(from, false);
        }
        self.leave(pos, from);
        let entry = self
            .groups
            .entry(hash(&to), |g| g.net == to, |g| hash(&g.net));
        let group = entry
            .or_insert_with(|| Group {
                net: to,
                seeders: 0,
                pos: Vec::new(),
            })
            .into_mut();
        self.slot[pos] = group.pos.len() as u32;
        group.pos.push(pos as u32);
        self.named += u32::from(to.is_operator());
        if seeder {
            self.role(to, true);
        }
    }

    /// Takes the entry of the peer at `pos` (of `net`) out of its group (not out of `slot`),
    /// dropping the group when it empties.
    fn leave(&mut self, pos: usize, net: NetId) {
        let i = self.slot[pos] as usize;
        let Ok(mut entry) = self.groups.find_entry(hash(&net), |g| g.net == net) else {
            unreachable!("every listed network has a group");
        };
        let g = entry.get_mut();
        debug_assert_eq!(g.pos[i] as usize, pos, "index entry of another position");
        g.pos.swap_remove(i);
        if let Some(&moved) = g.pos.get(i) {
            self.slot[moved as usize] = i as u32;
        }
        if g.pos.is_empty() {
            entry.remove();
        } else if g.pos.capacity() > 2 * g.pos.len() + 8 {
            // A group that shrank a lot (its network's peers left) gives its room back.
            g.pos.shrink_to(g.pos.len() + g.pos.len() / 4);
        }
        self.named -= u32::from(net.is_operator());
    }

    /// Checks the index against the list's networks and seeder count (tests).
    #[cfg(test)]
    pub fn check(&self, nets: &[NetId], seeders: usize) {
        assert_eq!(self.slot.len(), nets.len());
        let mut named = (0, 0);
        let mut total = 0;
        for g in self.groups.iter() {
            assert!(!g.pos.is_empty(), "empty group kept");
            let mut s = 0;
            for (i, &p) in g.pos.iter().enumerate() {
                assert_eq!(nets[p as usize], g.net, "position in the wrong group");
                assert_eq!(self.slot[p as usize] as usize, i, "slot out of date");
                s += usize::from((p as usize) < seeders);
            }
            assert_eq!(s, g.seeders as usize, "seeders of {:?}", g.net);
            if g.net.is_operator() {
                named.0 += g.pos.len();
                named.1 += s;
            }
            total += g.pos.len();
        }
        assert_eq!(total, nets.len());
        assert_eq!(self.named(), named);
    }
}
