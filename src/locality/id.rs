//! The network of a peer, in four bytes: what each stored peer keeps so that peer selection can
//! tell, without a look-up per peer handed out, whether a candidate is in the requester's own
//! network, in another of the operator's networks, or outside them.
//!
//! The look-up from an address to a [`NetId`] is done once per announce (see the network map);
//! comparing two ids is one integer comparison.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// The kind of network, in the two high bits of a [`NetId`].
const KIND_SHIFT: u32 = 30;
const VALUE_MASK: u32 = (1 << KIND_SHIFT) - 1;
const NAMED: u32 = 1;
const ASN: u32 = 2;
const BLOCK: u32 = 3;
/// Inside a block id: set for an IPv6 /48, clear for an IPv4 /24, so the two never meet.
const BLOCK_V6: u32 = 1 << 29;

/// A peer's network: one of the operator's named networks (an index into the network map), an
/// autonomous system, or the address block (/24 for IPv4, /48 for IPv6) when neither is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetId(u32);

/// Where a candidate peer stands from the requester's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// In the requester's own network.
    Network,
    /// In another of the operator's networks.
    Operator,
    /// Everywhere else.
    Outside,
}

impl Tier {
    /// Every tier, nearest first.
    pub const ALL: [Tier; 3] = [Tier::Network, Tier::Operator, Tier::Outside];

    /// The label of the tier in metrics and pages.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Network => "network",
            Tier::Operator => "operator",
            Tier::Outside => "outside",
        }
    }
}

impl NetId {
    /// Unknown (a peer restored from storage before its network was known, or a test's).
    pub const UNKNOWN: NetId = NetId(0);

    /// The operator's named network number `index` (its position in the network map).
    pub fn named(index: u32) -> NetId {
        debug_assert!(index <= VALUE_MASK, "more named networks than ids");
        NetId(NAMED << KIND_SHIFT | (index & VALUE_MASK))
    }

    /// Autonomous system `asn`. ASNs above 2^30 (none is allocated; 4.2e9 and up are private)
    /// fold onto lower ones, which only makes two such systems look alike.
    pub fn asn(asn: u32) -> NetId {
        NetId(ASN << KIND_SHIFT | (asn & VALUE_MASK))
    }

    /// The /24 (IPv4) or /48 (IPv6) block of `ip`. An IPv4 /24 is kept exactly; a /48 is
    /// hashed to 29 bits, so two blocks may share an id once in 500 million pairs.
    pub fn block(ip: IpAddr) -> NetId {
        match ip.to_canonical() {
            IpAddr::V4(v4) => NetId(BLOCK << KIND_SHIFT | (u32::from(v4) >> 8)),
            IpAddr::V6(v6) => {
                let prefix = u64::from_be_bytes(v6.octets()[..8].try_into().expect("8 bytes"));
                let mut h = std::hash::DefaultHasher::new();
                (prefix >> 16).hash(&mut h);
                let folded = (h.finish() as u32) & (BLOCK_V6 - 1);
                NetId(BLOCK << KIND_SHIFT | BLOCK_V6 | folded)
            }
        }
    }

    /// Whether this is one of the operator's named networks.
    pub fn is_operator(self) -> bool {
        self.0 >> KIND_SHIFT == NAMED
    }

    /// The index of a named network, or `None`.
    pub fn named_index(self) -> Option<u32> {
        self.is_operator().then_some(self.0 & VALUE_MASK)
    }

    /// Where a peer of this network stands for a requester of network `requester`.
    #[inline]
    pub fn tier_for(self, requester: NetId) -> Tier {
        if self == requester && self != NetId::UNKNOWN {
            Tier::Network
        } else if self.is_operator() {
            Tier::Operator
        } else {
            Tier::Outside
        }
    }

    /// The raw four bytes, for storage.
    pub fn to_bits(self) -> u32 {
        self.0
    }

    /// An id read back from [`NetId::to_bits`].
    pub fn from_bits(bits: u32) -> NetId {
        NetId(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_never_meet_and_tiers_follow() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let north = NetId::named(0);
        let south = NetId::named(1);
        let asn = NetId::asn(0);
        let block = NetId::block(ip("0.0.0.1"));
        let block6 = NetId::block(ip("::1"));
        let all = [north, south, asn, block, block6, NetId::UNKNOWN];
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert_eq!(i == j, a == b, "{a:?} {b:?}");
            }
        }
        assert_eq!(north.tier_for(north), Tier::Network);
        assert_eq!(south.tier_for(north), Tier::Operator);
        assert_eq!(asn.tier_for(north), Tier::Outside);
        assert_eq!(block.tier_for(block), Tier::Network);
        assert_eq!(north.tier_for(block), Tier::Operator);
        assert_eq!(
            NetId::UNKNOWN.tier_for(NetId::UNKNOWN),
            Tier::Outside,
            "unknown is nobody's own network"
        );
        assert_eq!(south.named_index(), Some(1));
        assert_eq!(asn.named_index(), None);
        assert_eq!(NetId::from_bits(south.to_bits()), south);
    }

    #[test]
    fn blocks_are_slash_24_and_slash_48() {
        let b = |s: &str| NetId::block(s.parse().unwrap());
        assert_eq!(b("10.1.2.3"), b("10.1.2.250"));
        assert_ne!(b("10.1.2.3"), b("10.1.3.3"));
        assert_eq!(b("::ffff:10.1.2.3"), b("10.1.2.9"), "mapped IPv4 is IPv4");
        assert_eq!(b("2001:db8:1::1"), b("2001:db8:1:ffff::2"));
        assert_ne!(b("2001:db8:1::1"), b("2001:db8:2::1"));
    }
}
