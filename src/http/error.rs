//! Every reason a tracker request is refused, mapped to its `failure reason`, its statistics
//! label and its BEP 31 `retry in` in one place.

use crate::access::AccessDenied;
use crate::blocklist::Blocked;
use crate::policy::AddressError;
use crate::protocol::{ProtocolError, RetryIn};
use crate::stats::Failure;
use crate::swarm::SwarmError;

/// A refused tracker request. `Display` is the bencoded `failure reason` the client reads.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
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

impl RequestError {
    /// The refusal's label in the statistics.
    pub fn failure(&self) -> Failure {
        match self {
            RequestError::Protocol(_) => Failure::Malformed,
            RequestError::Address(AddressError::NoProxyHeader) => Failure::NoProxyHeader,
            RequestError::Address(_) => Failure::AddressRefused,
            RequestError::Blocked(_) => Failure::Blocked,
            RequestError::Access(_) => Failure::AccessList,
            RequestError::Swarm(SwarmError::PeerIdTaken) => Failure::PeerIdTaken,
            RequestError::FullScrapeDisabled => Failure::FullScrapeDisabled,
            RequestError::CleanupNotAllowed => Failure::CleanupNotAllowed,
        }
    }

    /// BEP 31 `retry in` for the client: `never` for refusals that announcing again cannot
    /// change (the operator refuses this address or this torrent); `None` for the rest, which
    /// the client or a proxy can fix, or which pass by themselves.
    pub fn retry_in(&self) -> Option<RetryIn> {
        match self {
            RequestError::Address(AddressError::Ignored(_) | AddressError::NotAllowed(_))
            | RequestError::Blocked(_)
            | RequestError::Access(_) => Some(RetryIn::Never),
            RequestError::Address(AddressError::NoProxyHeader)
            | RequestError::Protocol(_)
            | RequestError::Swarm(_)
            | RequestError::FullScrapeDisabled
            | RequestError::CleanupNotAllowed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_in_never_only_for_lasting_refusals() {
        let ip = "192.0.2.1".parse().unwrap();
        let never: [RequestError; 5] = [
            AddressError::Ignored(ip).into(),
            AddressError::NotAllowed(ip).into(),
            Blocked::Torrent("DMCA".into()).into(),
            AccessDenied::NotAllowed.into(),
            AccessDenied::Denied.into(),
        ];
        for e in never {
            assert_eq!(e.retry_in(), Some(RetryIn::Never), "{e}");
        }
        let again: [RequestError; 5] = [
            AddressError::NoProxyHeader.into(),
            ProtocolError::Missing("info_hash").into(),
            SwarmError::PeerIdTaken.into(),
            RequestError::FullScrapeDisabled,
            RequestError::CleanupNotAllowed,
        ];
        for e in again {
            assert_eq!(e.retry_in(), None, "{e}");
        }
    }
}
