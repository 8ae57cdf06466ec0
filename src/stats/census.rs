//! A count of the swarms' peers by address family and role, and of distinct addresses.
//!
//! Not kept as counters because a peer's family and role change inside the swarm store; a walk
//! over every peer (one shard locked at a time) costs tens of milliseconds per million peers,
//! which the dashboard, `/metrics` and the minute snapshot can afford.

use crate::swarm::SwarmStore;
use std::collections::HashSet;
use std::net::IpAddr;

/// Peers counted by family and role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Swarms with at least one peer.
    pub torrents: u64,
    /// IPv4 seeders.
    pub v4_seeders: u64,
    /// IPv4 leechers.
    pub v4_leechers: u64,
    /// IPv6 seeders.
    pub v6_seeders: u64,
    /// IPv6 leechers.
    pub v6_leechers: u64,
    /// Distinct peer addresses.
    pub unique_addrs: u64,
    /// Completed downloads of the swarms in memory.
    pub completed: u64,
}

impl Census {
    /// All seeders.
    pub fn seeders(&self) -> u64 {
        self.v4_seeders + self.v6_seeders
    }

    /// All leechers.
    pub fn leechers(&self) -> u64 {
        self.v4_leechers + self.v6_leechers
    }

    /// All peers.
    pub fn peers(&self) -> u64 {
        self.seeders() + self.leechers()
    }

    /// IPv4 peers.
    pub fn ipv4(&self) -> u64 {
        self.v4_seeders + self.v4_leechers
    }

    /// IPv6 peers.
    pub fn ipv6(&self) -> u64 {
        self.v6_seeders + self.v6_leechers
    }
}

/// Counts every peer in `store`: a walk, so callers on the runtime go through
/// `crate::blocking::run` (the store checks it in debug builds).
pub fn take(store: &dyn SwarmStore) -> Census {
    let mut c = Census::default();
    let mut addrs: HashSet<IpAddr> = HashSet::new();
    store.for_each_peer(&mut |_, _, p| {
        let slot = match (p.ip.to_canonical().is_ipv4(), p.seeder) {
            (true, true) => &mut c.v4_seeders,
            (true, false) => &mut c.v4_leechers,
            (false, true) => &mut c.v6_seeders,
            (false, false) => &mut c.v6_leechers,
        };
        *slot += 1;
        addrs.insert(p.ip);
    });
    c.unique_addrs = addrs.len() as u64;
    let mut torrents = Vec::new();
    store.scrape_all(&mut torrents);
    c.torrents = torrents.len() as u64;
    c.completed = torrents.iter().map(|t| t.downloaded).sum();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::announce::Event;
    use crate::swarm::{Announce, AnnounceOutcome, MemoryStore};

    #[test]
    fn counts_families_roles_and_distinct_addresses() {
        let s = MemoryStore::new();
        let mut out = AnnounceOutcome::default();
        let mut go = |h: u8, n: u8, ip: &str, left: u64| {
            let a = Announce {
                info_hash: [h; 20],
                peer_id: [n; 20],
                ip: ip.parse().unwrap(),
                port: 1,
                left,
                event: Event::Started,
                key: None,
                numwant: 0,
                family: None,
                renew: crate::swarm::Renew::of_expiry(3600),
                locality: Default::default(),
            };
            s.announce(&a, 100, &mut out).unwrap();
        };
        go(1, 1, "10.0.0.1", 0);
        go(1, 2, "10.0.0.2", 5);
        go(2, 3, "10.0.0.1", 5);
        go(2, 4, "2001:db8::1", 0);
        go(3, 5, "2001:db8::2", 5);
        let c = take(&s);
        assert_eq!(
            c,
            Census {
                torrents: 3,
                v4_seeders: 1,
                v4_leechers: 2,
                v6_seeders: 1,
                v6_leechers: 1,
                unique_addrs: 4,
                completed: 0,
            }
        );
        assert_eq!((c.peers(), c.ipv4(), c.ipv6()), (5, 3, 2));
    }
}
