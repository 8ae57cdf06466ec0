//! Every reason a tracker request is refused, mapped to its `failure reason` in one place.

use crate::blocklist::Blocked;
use crate::policy::AddressError;
use crate::protocol::ProtocolError;
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
            RequestError::Swarm(SwarmError::PeerIdTaken) => Failure::PeerIdTaken,
            RequestError::FullScrapeDisabled => Failure::FullScrapeDisabled,
            RequestError::CleanupNotAllowed => Failure::CleanupNotAllowed,
        }
    }
}
