//! Client-address policy: which address a request announces, and whether it may announce at all.
//!
//! [`resolve`] is one pure function (no I/O, no clock) covered by a table of cases. Order:
//! 1. the *client address*: the socket address in `direct` mode; in `proxy` mode, only when the
//!    socket address is a trusted proxy, `X-Real-IP` (if enabled) else the right-most
//!    `X-Forwarded-For` entry that is not itself a trusted proxy (if enabled). Headers from anyone
//!    else are ignored. IPv4-mapped IPv6 is normalised to IPv4.
//! 2. `ignore_ip` refuses, then `allowed_networks` (when not empty) must contain the client.
//! 3. the *peer address*: the client address, unless `ip=` is reported and believed
//!    (not `ignore_reported_ip`; with `verify_reported_ip` only if it is in the `X-Forwarded-For`
//!    chain of a trusted proxy; inside `internal_networks` only with `allow_internal_ip`; never in
//!    `ignore_ip` or outside `allowed_networks`). A reported address that is not believed is not
//!    an error: the client address is used and [`Resolved::reported_ip_rejected`] says why.

mod forwarded;

use crate::config::{Mode, TrackerConfig};
use crate::netlist::Networks;
use std::net::IpAddr;

/// The policy's settings, taken from `[TRACKER]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AddressPolicy {
    /// Direct or proxy.
    pub mode: Mode,
    /// Proxies whose headers are believed.
    pub trusted_proxies: Networks,
    /// Take `X-Real-IP` from a trusted proxy.
    pub use_x_real_ip: bool,
    /// Take `X-Forwarded-For` from a trusted proxy.
    pub use_x_forwarded_for: bool,
    /// Never believe `ip=`.
    pub ignore_reported_ip: bool,
    /// Believe `ip=` only if it is in the trusted `X-Forwarded-For` chain.
    pub verify_reported_ip: bool,
    /// Believe an `ip=` inside `internal_networks`.
    pub allow_internal_ip: bool,
    /// What counts as internal.
    pub internal_networks: Networks,
    /// Refused networks.
    pub ignore_ip: Networks,
    /// When not empty, the only networks that may announce.
    pub allowed_networks: Networks,
}

/// Proxy headers of one request, raw as received.
#[derive(Clone, Debug, Default)]
pub struct ProxyHeaders<'a> {
    /// The `X-Real-IP` header value, if any.
    pub x_real_ip: Option<&'a [u8]>,
    /// Every `X-Forwarded-For` header value, in the order received (each may hold a list).
    pub x_forwarded_for: Vec<&'a [u8]>,
}

/// The outcome of a successful resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Who sent the request (after proxy headers); used for refusals, `external ip` and logs.
    pub client: IpAddr,
    /// The address stored for the peer and handed to other peers.
    pub peer: IpAddr,
    /// Why a reported `ip=` was not used, when one was sent and not believed.
    pub reported_ip_rejected: Option<ReportedIpRejection>,
}

/// Why a reported `ip=` was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedIpRejection {
    /// `ignore_reported_ip` is set.
    Ignored,
    /// Not an IPv4 or IPv6 address (host names are not resolved).
    Invalid,
    /// `verify_reported_ip` and it is not in a trusted `X-Forwarded-For` chain.
    NotVerified,
    /// Inside `internal_networks` without `allow_internal_ip`.
    Internal,
    /// In `ignore_ip` or outside `allowed_networks`.
    NotAllowed,
}

/// Why a request is refused. `Display` is the client's `failure reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A trusted proxy sent no usable `X-Real-IP` / `X-Forwarded-For`.
    #[error("proxy sent no usable X-Real-IP or X-Forwarded-For header")]
    NoProxyHeader,
    /// The client address is in `ignore_ip`.
    #[error("your address {0} is blocked by this tracker")]
    Ignored(IpAddr),
    /// `allowed_networks` is set and does not contain the client address.
    #[error("your address {0} is not in a network allowed to use this tracker")]
    NotAllowed(IpAddr),
}

impl AddressPolicy {
    /// Takes the policy keys of `[TRACKER]`.
    pub fn from_config(t: &TrackerConfig) -> Self {
        AddressPolicy {
            mode: t.mode,
            trusted_proxies: t.trusted_proxies.clone(),
            use_x_real_ip: t.use_x_real_ip,
            use_x_forwarded_for: t.use_x_forwarded_for,
            ignore_reported_ip: t.ignore_reported_ip,
            verify_reported_ip: t.verify_reported_ip,
            allow_internal_ip: t.allow_internal_ip,
            internal_networks: t.internal_networks.clone(),
            ignore_ip: t.ignore_ip.clone(),
            allowed_networks: t.allowed_networks.clone(),
        }
    }
}
