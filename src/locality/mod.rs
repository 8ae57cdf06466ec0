//! Locality: which network a peer is in, so that peer selection can hand a requester the peers
//! of its own network first, then those of the operator's other networks, then the rest.
//!
//! [`NetId`] is what each stored peer keeps (four bytes); [`Tier`] is where a candidate stands
//! for a requester; [`Mode`] is the operator's choice (`[LOCALITY] mode`).
//!
//! [`NetworkMap`] is the operator's description of its networks (`[NETWORKS]`, `[LOCALITY]
//! networks_file`, the ASN and country databases) and gives each address its [`NetId`], once
//! per announce; [`locate`] is `retracker locate`, which shows an admin what the map makes of
//! an address.

mod error;
mod file;
mod geo;
mod id;
pub mod locate;
mod map;
mod mode;
mod name;
mod table;

pub use error::LocalityError;
pub use geo::{Asn, Country};
pub use id::{NetId, Tier};
pub use map::{Inside, Location, NamedNetwork, NetworkMap};
pub use mode::Mode;
pub use name::valid_name;

/// What selection needs to know about the requester and the operator's choice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Locality {
    /// The operator's choice.
    pub mode: Mode,
    /// The requester's network.
    pub requester: NetId,
    /// The part of each answer drawn from the whole swarm (`prefer`; in `strict` from the
    /// requester's side), 0 to 1.
    pub outside_share: f32,
}

impl Default for Locality {
    /// Uniform selection: what `off` does, and what callers that know no network get.
    fn default() -> Self {
        Locality {
            mode: Mode::Off,
            requester: NetId::UNKNOWN,
            outside_share: 0.0,
        }
    }
}
