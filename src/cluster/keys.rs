//! The cluster's data in Redis, as names and bytes (pure: no I/O).
//!
//! Per swarm, four sorted sets, one per address family and role, whose members are the peers
//! (port, address, peer_id as raw bytes) and whose scores are the times (Unix milliseconds) at
//! which each listing expires; a hash of per-node completed counts; one claim key per finished
//! download. Every key of a swarm carries the info hash as a hash tag (`{…}`), so one swarm
//! lives on one slot of a Redis Cluster and one pipeline or script can touch all its keys.
//! `rt:nodes` (one hash, a field per node) is touched once per push, never per announce.

use crate::protocol::{InfoHash, PeerId};
use crate::swarm::Listed;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The hash of the nodes: field = node id, value = [`crate::cluster::status::NodeReport`] as
/// JSON.
pub const NODES: &str = "rt:nodes";

/// How long a claim is remembered: a client replaying its `completed` (after a node's crash,
/// or to a second tracker) does so within hours, not months.
pub const CLAIM_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// The `{hex}` hash tag of a swarm.
fn tag(info_hash: &InfoHash) -> String {
    crate::hex::encode(info_hash)
}

/// The sorted set of a swarm's peers of one family and role.
pub fn peers(info_hash: &InfoHash, v6: bool, seeder: bool) -> String {
    let family = if v6 { '6' } else { '4' };
    let role = if seeder { 's' } else { 'l' };
    format!("rt:{{{}}}:{family}{role}", tag(info_hash))
}

/// The four peer sets of a swarm, in the order [`ROLES`] gives.
pub fn all_peers(info_hash: &InfoHash) -> [String; 4] {
    ROLES.map(|(v6, seeder)| peers(info_hash, v6, seeder))
}

/// (IPv6, seeder) of the four peer sets, in the order of [`all_peers`].
pub const ROLES: [(bool, bool); 4] = [(false, true), (false, false), (true, true), (true, false)];

/// The hash of a swarm's completed counts, one field per node.
pub fn done(info_hash: &InfoHash) -> String {
    format!("rt:{{{}}}:done", tag(info_hash))
}

/// The claim of one finished download.
pub fn claim(info_hash: &InfoHash, peer_id: &PeerId) -> String {
    format!(
        "rt:{{{}}}:c:{}",
        tag(info_hash),
        crate::hex::encode(peer_id)
    )
}

/// The peer set a listing belongs in.
pub fn set_of(info_hash: &InfoHash, l: &Listed) -> String {
    peers(info_hash, is_v6(l.ip), l.seeder)
}

/// Whether `ip` is listed as IPv6 (an IPv4-mapped address is IPv4).
pub fn is_v6(ip: IpAddr) -> bool {
    matches!(ip.to_canonical(), IpAddr::V6(_))
}

/// A peer as a set member: port (2 bytes, big-endian), address (4 or 16), peer_id (20). The
/// same peer announcing to two nodes is one member.
pub fn member(ip: IpAddr, port: u16, peer_id: &PeerId) -> Vec<u8> {
    let mut m = Vec::with_capacity(38);
    m.extend_from_slice(&port.to_be_bytes());
    match ip.to_canonical() {
        IpAddr::V4(a) => m.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => m.extend_from_slice(&a.octets()),
    }
    m.extend_from_slice(peer_id);
    m
}

/// A member read back; `None` for bytes that are not one (another program's key).
pub fn parse_member(m: &[u8]) -> Option<(IpAddr, u16, PeerId)> {
    let port = u16::from_be_bytes([*m.first()?, *m.get(1)?]);
    let (ip, rest) = match m.len() {
        26 => {
            let a: [u8; 4] = m[2..6].try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(a)), &m[6..])
        }
        38 => {
            let a: [u8; 16] = m[2..18].try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(a)), &m[18..])
        }
        _ => return None,
    };
    Some((ip, port, rest.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_key_of_a_swarm_has_the_same_hash_tag() {
        let h = [0xab; 20];
        let tag = format!("{{{}}}", "ab".repeat(20));
        let mut keys = all_peers(&h).to_vec();
        keys.push(done(&h));
        keys.push(claim(&h, &[1; 20]));
        for k in &keys {
            assert_eq!(k.matches('{').count(), 1, "{k}");
            assert!(k.contains(&tag), "{k}");
        }
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 6, "distinct keys");
        assert_eq!(peers(&h, true, false), format!("rt:{tag}:6l"));
    }

    #[test]
    fn a_mapped_address_is_listed_as_ipv4() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(!is_v6(mapped));
        assert_eq!(member(mapped, 1, &[2; 20]).len(), 26);
        assert_eq!(parse_member(&[0; 25]), None);
        assert_eq!(parse_member(&[]), None);
    }

    proptest! {
        #[test]
        fn members_read_back(v6 in any::<bool>(), a in any::<[u8; 16]>(), port in any::<u16>(), id in any::<[u8; 20]>()) {
            let ip = if v6 { IpAddr::V6(Ipv6Addr::from(a)) } else { IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])) };
            let ip = ip.to_canonical();
            prop_assert_eq!(parse_member(&member(ip, port, &id)), Some((ip, port, id)));
        }
    }
}
