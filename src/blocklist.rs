//! The operator's blocklist: addresses, networks and info hashes refused at announce time.
//!
//! Entries are stored in SQLite (`crate::storage`) and edited from the web UI; this module keeps
//! the in-memory copy the request path reads. The copy is swapped whole on every change, so an
//! announce takes one read lock and never waits for a writer; with no entries it takes no lock
//! at all. A refusal's `Display` is the client's `failure reason`, which includes the operator's
//! reason (the web form says so).

use crate::protocol::InfoHash;
use ipnet::IpNet;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What an entry blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockTarget {
    /// One address or a network (a single address is a /32 or /128).
    Net(IpNet),
    /// One torrent.
    Hash(InfoHash),
}

/// One blocklist entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// Row id in the database (used to unblock).
    pub id: i64,
    /// What is blocked.
    pub target: BlockTarget,
    /// Why, as the operator wrote it; sent to refused clients.
    pub reason: String,
    /// When it was added, Unix seconds.
    pub created: u32,
    /// Who added it (the web UI user name).
    pub created_by: String,
}

/// Why an announce is refused by the blocklist. `Display` is the `failure reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// The torrent is blocked.
    #[error("this torrent is blocked on this tracker: {0}")]
    Torrent(String),
    /// The client's (or the reported) address is in a blocked network.
    #[error("your address {0} is blocked on this tracker: {1}")]
    Address(IpAddr, String),
}

impl BlockTarget {
    /// Parses what an operator types: an address, a CIDR network, or a 40-digit hex info hash.
    pub fn parse(text: &str) -> Result<BlockTarget, String> {
        let t = text.trim();
        if let Some(h) = crate::hex::decode_array(t) {
            return Ok(BlockTarget::Hash(h));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(BlockTarget::Net(IpNet::from(ip.to_canonical())));
        }
        match t.parse::<IpNet>() {
            // `10.1.2.3/24` blocks 10.1.2.0/24: store what is enforced.
            Ok(net) => Ok(BlockTarget::Net(net.trunc())),
            Err(_) => Err(format!(
                "'{t}' is not an IP address, a CIDR network or a 40-digit hex info hash"
            )),
        }
    }
}

impl fmt::Display for BlockTarget {
    /// The text [`BlockTarget::parse`] reads back: a bare address for a single host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockTarget::Net(n) if n.prefix_len() == n.max_prefix_len() => {
                write!(f, "{}", n.addr())
            }
            BlockTarget::Net(n) => write!(f, "{n}"),
            BlockTarget::Hash(h) => f.write_str(&crate::hex::encode(h)),
        }
    }
}

/// The lookup structures built from the entries.
#[derive(Default)]
struct BlockSet {
    entries: Vec<BlockEntry>,
    hashes: HashMap<InfoHash, usize>,
    hosts: HashMap<IpAddr, usize>,
    nets: Vec<(IpNet, usize)>,
}

impl BlockSet {
    fn new(entries: Vec<BlockEntry>) -> BlockSet {
        let mut set = BlockSet::default();
        for (i, e) in entries.iter().enumerate() {
            match e.target {
                BlockTarget::Hash(h) => {
                    set.hashes.entry(h).or_insert(i);
                }
                BlockTarget::Net(n) if n.prefix_len() == n.max_prefix_len() => {
                    set.hosts.entry(n.addr()).or_insert(i);
                }
                BlockTarget::Net(n) => set.nets.push((n, i)),
            }
        }
        set.entries = entries;
        set
    }

    fn address(&self, ip: IpAddr) -> Option<&BlockEntry> {
        let ip = ip.to_canonical();
        let i = self.hosts.get(&ip).copied().or_else(|| {
            self.nets
                .iter()
                .find(|(n, _)| n.contains(&ip))
                .map(|(_, i)| *i)
        })?;
        Some(&self.entries[i])
    }
}

/// The blocklist as the request path sees it.
#[derive(Default)]
pub struct Blocklist {
    set: RwLock<Arc<BlockSet>>,
    /// Lets announces skip the lock while nothing is blocked (the common case).
    any: AtomicBool,
}

impl Blocklist {
    /// A blocklist holding `entries`.
    pub fn new(entries: Vec<BlockEntry>) -> Blocklist {
        let b = Blocklist::default();
        b.replace(entries);
        b
    }

    /// Replaces every entry (after the database changed).
    pub fn replace(&self, entries: Vec<BlockEntry>) {
        let any = !entries.is_empty();
        *self.set.write() = Arc::new(BlockSet::new(entries));
        self.any.store(any, Ordering::Release);
    }

    /// The entries, newest first as stored.
    pub fn entries(&self) -> Vec<BlockEntry> {
        self.set.read().entries.clone()
    }

    /// Refuses an announce for `info_hash` from `addrs` (client and peer address) if any is blocked.
    pub fn check(&self, info_hash: &InfoHash, addrs: &[IpAddr]) -> Result<(), Blocked> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let set = Arc::clone(&self.set.read());
        if let Some(&i) = set.hashes.get(info_hash) {
            return Err(Blocked::Torrent(set.entries[i].reason.clone()));
        }
        for ip in addrs {
            if let Some(e) = set.address(*ip) {
                return Err(Blocked::Address(ip.to_canonical(), e.reason.clone()));
            }
        }
        Ok(())
    }

    /// True when a peer at `ip` in swarm `info_hash` is blocked (to drop it from the swarms).
    pub fn blocks_peer(&self, info_hash: &InfoHash, ip: IpAddr) -> bool {
        self.check(info_hash, &[ip]).is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, target: &str, reason: &str) -> BlockEntry {
        BlockEntry {
            id,
            target: BlockTarget::parse(target).unwrap(),
            reason: reason.into(),
            created: 1,
            created_by: "admin".into(),
        }
    }

    #[test]
    fn parse_and_display_round_trip() {
        for (text, shown) in [
            ("10.1.2.3", "10.1.2.3"),
            (" 10.1.2.3/24 ", "10.1.2.0/24"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:db8::1", "2001:db8::1"),
            (
                "466D846E88635A7AA032CA8CBE2D810495DEA262",
                "466d846e88635a7aa032ca8cbe2d810495dea262",
            ),
        ] {
            let t = BlockTarget::parse(text).unwrap();
            assert_eq!(t.to_string(), shown, "{text}");
            assert_eq!(BlockTarget::parse(shown).unwrap(), t);
        }
        for bad in [
            "",
            "10.0.0.256",
            "10.0.0.0/33",
            "466d84",
            "example.com",
            "+a6d846e88635a7aa032ca8cbe2d810495dea262",
            "-a6d846e88635a7aa032ca8cbe2d810495dea262",
            "é6d846e88635a7aa032ca8cbe2d810495dea262",
        ] {
            let err = BlockTarget::parse(bad).unwrap_err();
            assert!(err.contains("not an IP address"), "{bad}: {err}");
        }
    }

    #[test]
    fn check_refuses_hashes_hosts_and_networks_with_the_reason() {
        let b = Blocklist::default();
        let h = [0x46; 20];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(b.check(&h, &[ip("10.0.0.1")]), Ok(()));
        b.replace(vec![
            entry(1, "4646464646464646464646464646464646464646", "DMCA"),
            entry(2, "10.0.0.1", "abuse"),
            entry(3, "10.2.0.0/16", "flat 12"),
        ]);
        assert_eq!(
            b.check(&h, &[ip("192.0.2.1")]).unwrap_err().to_string(),
            "this torrent is blocked on this tracker: DMCA"
        );
        let other = [1; 20];
        assert_eq!(
            b.check(&other, &[ip("::ffff:10.0.0.1")]),
            Err(Blocked::Address(ip("10.0.0.1"), "abuse".into()))
        );
        assert_eq!(
            b.check(&other, &[ip("192.0.2.1"), ip("10.2.9.9")])
                .unwrap_err()
                .to_string(),
            "your address 10.2.9.9 is blocked on this tracker: flat 12"
        );
        assert_eq!(b.check(&other, &[ip("10.0.0.2"), ip("10.3.0.1")]), Ok(()));
        assert!(b.blocks_peer(&other, ip("10.2.0.1")));
        b.replace(Vec::new());
        assert_eq!(b.check(&h, &[ip("10.0.0.1")]), Ok(()));
    }
}
