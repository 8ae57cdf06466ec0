//! Every reason the tracker refuses an announce or a scrape, whatever the transport, mapped to
//! its `failure reason` (HTTP's bencoded text and UDP's error packet), its statistics label and
//! its BEP 31 `retry in` in one place.

use crate::access::AccessDenied;
use crate::blocklist::Blocked;
use crate::policy::AddressError;
use crate::protocol::{ProtocolError, RetryIn};
use crate::stats::Failure;
use crate::swarm::SwarmError;

/// A refused tracker request. `Display` is the `failure reason` the client reads.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The query is malformed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The client's address is refused, or a proxy sent nothing usable.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The operator's blocklist refuses the torrent or the address.
    #[error(transparent)]
    Blocked(#[from] Blocked),
    /// The info-hash access list refuses the torrent.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// The swarm refused the announce.
    #[error(transparent)]
    Swarm(#[from] SwarmError),
    /// A scrape without `info_hash` while `full_scrape` is off.
    #[error("full scrape is disabled on this tracker; pass one or more info_hash")]
    FullScrapeDisabled,
    /// The cleanup key from someone who may not trigger it.
    #[error("cleanup may only be triggered from loopback or a trusted proxy")]
    CleanupNotAllowed,
}

impl Refusal {
    /// The refusal's label in the statistics.
    pub fn failure(&self) -> Failure {
        match self {
            Refusal::Protocol(_) => Failure::Malformed,
            Refusal::Address(AddressError::NoProxyHeader) => Failure::NoProxyHeader,
            Refusal::Address(_) => Failure::AddressRefused,
            Refusal::Blocked(_) => Failure::Blocked,
            Refusal::Access(_) => Failure::AccessList,
            Refusal::Swarm(SwarmError::PeerIdTaken) => Failure::PeerIdTaken,
            Refusal::FullScrapeDisabled => Failure::FullScrapeDisabled,
            Refusal::CleanupNotAllowed => Failure::CleanupNotAllowed,
        }
    }

    /// BEP 31 `retry in` for the client: `never` for refusals that announcing again cannot
    /// change (the operator refuses this address or this torrent); `None` for the rest, which
    /// the client or a proxy can fix, or which pass by themselves.
    pub fn retry_in(&self) -> Option<RetryIn> {
        match self {
            Refusal::Address(AddressError::Ignored(_) | AddressError::NotAllowed(_))
            | Refusal::Blocked(_)
            | Refusal::Access(_) => Some(RetryIn::Never),
            Refusal::Address(AddressError::NoProxyHeader)
            | Refusal::Protocol(_)
            | Refusal::Swarm(_)
            | Refusal::FullScrapeDisabled
            | Refusal::CleanupNotAllowed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_in_never_only_for_lasting_refusals() {
        let ip = "192.0.2.1".parse().unwrap();
        let never: [Refusal; 5] = [
            AddressError::Ignored(ip).into(),
            AddressError::NotAllowed(ip).into(),
            Blocked::Torrent("DMCA".into()).into(),
            AccessDenied::NotAllowed.into(),
            AccessDenied::Denied.into(),
        ];
        for e in never {
            assert_eq!(e.retry_in(), Some(RetryIn::Never), "{e}");
        }
        let again: [Refusal; 5] = [
            AddressError::NoProxyHeader.into(),
            ProtocolError::Missing("info_hash").into(),
            SwarmError::PeerIdTaken.into(),
            Refusal::FullScrapeDisabled,
            Refusal::CleanupNotAllowed,
        ];
        for e in again {
            assert_eq!(e.retry_in(), None, "{e}");
        }
    }
}
