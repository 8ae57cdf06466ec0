//! The BEP 7 check of `retracker query`: a tracker reached over IPv6 that answers with compact
//! IPv4 `peers` and no `peers6` key at all does not hand out IPv6 peers, so IPv6-only clients
//! of that tracker find nobody. Pure: the caller prints the warning.
//!
//! retracker's own compact answers pass: a requester that came over IPv6 always gets `peers6`,
//! empty when the swarm has no IPv6 peer ([`AnnounceResponse::peers6_key`]).
//!
//! [`AnnounceResponse::peers6_key`]: crate::protocol::announce::AnnounceResponse::peers6_key

use crate::protocol::answer::AnnounceAnswer;
use std::net::SocketAddr;

/// The warning, as printed.
pub const WARNING: &str =
    "reached over IPv6 but the answer has no peers6 (BEP 7): IPv6 peers are not handed out";

/// True when `answer` came from `answered_by`, an IPv6 address, with compact IPv4 peers and no
/// `peers6` key. An empty `peers6` is fine (no IPv6 peer to give), and so is an answer without
/// peers (nothing to judge) or in the dictionary form (which may carry IPv6 addresses).
pub fn no_peers6(answered_by: Option<SocketAddr>, answer: &AnnounceAnswer) -> bool {
    // An IPv4-mapped address is an IPv4 connection on a dual-stack socket.
    let over_ipv6 = answered_by.is_some_and(|a| a.ip().to_canonical().is_ipv6());
    over_ipv6 && answer.compact_peers > 0 && !answer.peers6_key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::answer::{decode_announce, Answer};

    fn answer(body: &[u8]) -> AnnounceAnswer {
        match decode_announce(body).unwrap() {
            Answer::Success(a) => a,
            Answer::Failure(f) => panic!("{f:?}"),
        }
    }

    const V6: &str = "[::1]:6969";
    const V4: &str = "127.0.0.1:6969";
    /// One IPv4 peer, no `peers6`.
    const ONLY_PEERS: &[u8] = b"d8:intervali60e5:peers6:\x7f\x00\x00\x02\x1a\xe1e";

    fn at(addr: &str) -> Option<SocketAddr> {
        Some(addr.parse().unwrap())
    }

    #[test]
    fn ipv4_peers_without_peers6_over_ipv6_are_flagged() {
        assert!(no_peers6(at(V6), &answer(ONLY_PEERS)));
    }

    #[test]
    fn over_ipv4_nothing_is_expected() {
        assert!(!no_peers6(at(V4), &answer(ONLY_PEERS)));
        assert!(!no_peers6(
            at("[::ffff:127.0.0.1]:6969"),
            &answer(ONLY_PEERS)
        ));
        assert!(!no_peers6(None, &answer(ONLY_PEERS)));
    }

    #[test]
    fn a_peers6_key_even_empty_is_compliance() {
        let empty6 = b"d8:intervali60e5:peers6:\x7f\x00\x00\x02\x1a\xe16:peers60:e";
        assert!(!no_peers6(at(V6), &answer(empty6)));
        let mut one6 = b"d8:intervali60e5:peers6:\x7f\x00\x00\x02\x1a\xe16:peers618:".to_vec();
        one6.extend_from_slice(&[0; 15]);
        one6.extend_from_slice(&[1, 0x1a, 0xe1, b'e']);
        assert!(!no_peers6(at(V6), &answer(&one6)));
    }

    #[test]
    fn no_peers_or_the_dictionary_form_is_not_judged() {
        assert!(!no_peers6(at(V6), &answer(b"d8:intervali60e5:peers0:e")));
        assert!(!no_peers6(at(V6), &answer(b"d8:intervali60ee")));
        let dicts = b"d8:intervali60e5:peersld2:ip9:127.0.0.24:porti6881eeee";
        let a = answer(dicts);
        assert_eq!(a.peers.len(), 1);
        assert!(!no_peers6(at(V6), &a));
    }
}
