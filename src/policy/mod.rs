//! Client-address policy: which address a request announces, and whether it may announce at all.
//!
//! [`resolve`] is one pure function (no I/O, no clock) covered by a table of cases. Order:
//! 1. the *client address*: the socket address in `direct` mode; in `proxy` mode, only when the
//!    socket address is a trusted proxy, `X-Real-IP` (if enabled) else the right-most
//!    `X-Forwarded-For` entry that is not itself a trusted proxy (if enabled). Headers from anyone
//!    else are ignored. IPv4-mapped IPv6 is normalised to IPv4.
//! 2. `ignore_ip` refuses, then `allowed_networks` (when not empty) must contain the client.
//! 3. the *peer address*: the client address, unless `ip=` is reported and believed
//!    (not `ignore_reported_ip`; with `verify_reported_ip` only if a trusted proxy wrote it into
//!    `X-Forwarded-For`: the client or a trusted hop, never an entry the client added itself; inside `internal_networks` only with `allow_internal_ip`; never in
//!    `ignore_ip` or outside `allowed_networks`). A reported address that is not believed is not
//!    an error: the client address is used and [`Resolved::reported_ip_rejected`] says why.
//!
//! [`may_trigger_cleanup`] decides, from the socket address alone, who may ask for a cleanup.

mod forwarded;
#[cfg(test)]
mod tests;

use crate::config::{Mode, TrackerConfig};
use crate::netlist::Networks;
use forwarded::Entry;
use std::fmt;
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

impl<'a> ProxyHeaders<'a> {
    /// The proxy headers of an HTTP request (tracker or web UI), raw, for [`resolve`] and
    /// [`client_address`]; whether they are believed is decided there.
    pub fn from_headers(headers: &'a http::HeaderMap) -> ProxyHeaders<'a> {
        ProxyHeaders {
            x_real_ip: headers.get("x-real-ip").map(|v| v.as_bytes()),
            x_forwarded_for: headers
                .get_all("x-forwarded-for")
                .iter()
                .map(|v| v.as_bytes())
                .collect(),
        }
    }
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl ReportedIpRejection {
    /// A short text for a `warning message` the client may see; names no address, so it is safe
    /// to echo to anyone.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportedIpRejection::Ignored => "reported ip ignored: this tracker does not use ip=",
            ReportedIpRejection::Invalid => "reported ip ignored: not an IPv4 or IPv6 address",
            ReportedIpRejection::NotVerified => {
                "reported ip ignored: not verified by a trusted proxy"
            }
            ReportedIpRejection::Internal => "reported ip ignored: internal address",
            ReportedIpRejection::NotAllowed => "reported ip ignored: address not allowed",
        }
    }
}

impl fmt::Display for ReportedIpRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Finds the client and peer addresses of one request, or refuses it (see the module doc).
///
/// `socket` is the TCP peer address; `reported_ip` is the raw `ip=` query value. Pure and cheap:
/// it runs on every announce, and allocates nothing.
pub fn resolve(
    policy: &AddressPolicy,
    socket: IpAddr,
    headers: &ProxyHeaders<'_>,
    reported_ip: Option<&str>,
) -> Result<Resolved, AddressError> {
    resolve_inner(
        policy,
        socket,
        headers,
        reported_ip,
        policy.mode == Mode::Proxy,
    )
}

/// [`resolve`] for a transport no proxy stands in front of (UDP): the socket address is the
/// client whatever the mode, with every other rule unchanged.
pub fn resolve_direct(
    policy: &AddressPolicy,
    socket: IpAddr,
    reported_ip: Option<&str>,
) -> Result<Resolved, AddressError> {
    resolve_inner(policy, socket, &ProxyHeaders::default(), reported_ip, false)
}

fn resolve_inner(
    policy: &AddressPolicy,
    socket: IpAddr,
    headers: &ProxyHeaders<'_>,
    reported_ip: Option<&str>,
    proxy_mode: bool,
) -> Result<Resolved, AddressError> {
    let socket = socket.to_canonical();
    // Headers are believed only from a trusted proxy; anyone bypassing it is recorded (and
    // refused, if need be) by the address that really connected.
    let via_trusted_proxy = proxy_mode && policy.trusted_proxies.contains(&socket);
    let client = if via_trusted_proxy {
        client_from_headers(policy, headers).ok_or(AddressError::NoProxyHeader)?
    } else {
        socket
    };

    if policy.ignore_ip.contains(&client) {
        return Err(AddressError::Ignored(client));
    }
    if !is_allowed(policy, client) {
        return Err(AddressError::NotAllowed(client));
    }

    let verifying_chain: &[&[u8]] = if via_trusted_proxy {
        &headers.x_forwarded_for
    } else {
        &[]
    };
    let (peer, reported_ip_rejected) = match reported_ip {
        None => (client, None),
        Some(text) => match judge_reported(policy, text, verifying_chain) {
            Ok(ip) => (ip, None),
            Err(reason) => (client, Some(reason)),
        },
    };
    Ok(Resolved {
        client,
        peer,
        reported_ip_rejected,
    })
}

/// The address a request comes from, for the web UI's rate limits and network checks: step 1
/// of [`resolve`] alone (no refusals), falling back to the socket address when a trusted proxy
/// sent no usable header.
pub fn client_address(
    policy: &AddressPolicy,
    socket: IpAddr,
    headers: &ProxyHeaders<'_>,
) -> IpAddr {
    let socket = socket.to_canonical();
    if policy.mode == Mode::Proxy && policy.trusted_proxies.contains(&socket) {
        client_from_headers(policy, headers).unwrap_or(socket)
    } else {
        socket
    }
}

/// True when the request may trigger a cleanup: its socket address is loopback or a trusted
/// proxy. Headers are never consulted: a forged `X-Forwarded-For: 127.0.0.1` must not count, and
/// the Python retracker's `?gc` from anyone must not come back.
pub fn may_trigger_cleanup(policy: &AddressPolicy, socket: IpAddr) -> bool {
    let socket = socket.to_canonical();
    socket.is_loopback() || policy.trusted_proxies.contains(&socket)
}

/// The client address a trusted proxy vouches for, if it sent a usable one.
fn client_from_headers(policy: &AddressPolicy, headers: &ProxyHeaders<'_>) -> Option<IpAddr> {
    if policy.use_x_real_ip {
        if let Some(Entry::Addr(ip)) = headers.x_real_ip.map(forwarded::parse_entry) {
            return Some(ip);
        }
    }
    if policy.use_x_forwarded_for {
        return walk_forwarded_for(&policy.trusted_proxies, &headers.x_forwarded_for);
    }
    None
}

/// The right-most `X-Forwarded-For` entry that is not a trusted proxy.
///
/// Only entries right of (and including) the first untrusted one were written by proxies we
/// trust; everything further left is whatever the client chose to send, which is why the
/// left-most entry (the Python retracker's choice) is spoofable.
fn walk_forwarded_for(trusted: &Networks, values: &[&[u8]]) -> Option<IpAddr> {
    let mut last_trusted = None;
    for raw in forwarded::entries_right_to_left(values) {
        match forwarded::parse_entry(raw) {
            Entry::Empty => {}
            Entry::Addr(ip) if !trusted.contains(&ip) => return Some(ip),
            Entry::Addr(ip) => last_trusted = Some(ip),
            // Junk left of a trusted hop was written by the client itself: nothing beyond it can
            // be believed, so the last hop we could vouch for is the best answer.
            Entry::Junk => break,
        }
    }
    last_trusted
}

/// The address to store for the peer when `ip=` is reported, or why it is not believed.
/// `chain` holds the `X-Forwarded-For` values of a trusted proxy, empty otherwise.
fn judge_reported(
    policy: &AddressPolicy,
    text: &str,
    chain: &[&[u8]],
) -> Result<IpAddr, ReportedIpRejection> {
    if policy.ignore_reported_ip {
        return Err(ReportedIpRejection::Ignored);
    }
    let ip = forwarded::parse_reported(text).ok_or(ReportedIpRejection::Invalid)?;
    if policy.verify_reported_ip && !in_chain(&policy.trusted_proxies, chain, ip) {
        return Err(ReportedIpRejection::NotVerified);
    }
    if policy.internal_networks.contains(&ip) && !policy.allow_internal_ip {
        return Err(ReportedIpRejection::Internal);
    }
    // Otherwise `ip=` would let a refused host announce through an allowed one.
    if policy.ignore_ip.contains(&ip) || !is_allowed(policy, ip) {
        return Err(ReportedIpRejection::NotAllowed);
    }
    Ok(ip)
}

/// True when `ip` is an entry that a trusted proxy wrote: walking from the right, every trusted
/// hop up to and including the first untrusted entry (the client). Entries further left are
/// whatever the client sent, so counting them would let a client vouch for its own forged
/// `ip=` by adding it to `X-Forwarded-For` (the spoofing this check exists to stop).
fn in_chain(trusted: &Networks, chain: &[&[u8]], ip: IpAddr) -> bool {
    for raw in forwarded::entries_right_to_left(chain) {
        match forwarded::parse_entry(raw) {
            Entry::Empty => {}
            Entry::Addr(a) if a == ip => return true,
            Entry::Addr(a) if trusted.contains(&a) => {}
            Entry::Addr(_) | Entry::Junk => return false,
        }
    }
    false
}

/// `allowed_networks` is a whitelist only when set.
fn is_allowed(policy: &AddressPolicy, ip: IpAddr) -> bool {
    policy.allowed_networks.is_empty() || policy.allowed_networks.contains(&ip)
}
