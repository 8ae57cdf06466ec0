//! Reverse DNS of the peers (`--rdns`): getnameinfo(3) through `dns-lookup`, on tokio's
//! blocking threads, [`LIMIT`] at most per address; an address without a name, or whose
//! lookup takes longer, is shown without one.

use super::row::Row;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Time allowed for one lookup.
pub const LIMIT: Duration = Duration::from_secs(2);
/// Lookups in flight at once.
const PARALLEL: usize = 16;

/// The name of `ip`, if it has one and the resolver answers within [`LIMIT`].
pub async fn name_of(ip: IpAddr) -> Option<String> {
    let lookup = tokio::task::spawn_blocking(move || dns_lookup::lookup_addr(&ip).ok());
    match tokio::time::timeout(LIMIT, lookup).await {
        Ok(Ok(Some(name))) if name.parse::<IpAddr>().is_err() => Some(name),
        _ => None,
    }
}

/// Fills [`super::row::PeerRow::host`] of every peer of `rows`.
pub async fn fill(rows: &mut [Row]) {
    let mut ips: Vec<IpAddr> = rows
        .iter()
        .flat_map(|r| &r.peers)
        .filter_map(|p| p.address.parse::<SocketAddr>().ok())
        .map(|a| a.ip())
        .collect();
    ips.sort_unstable();
    ips.dedup();
    let mut names = HashMap::new();
    for chunk in ips.chunks(PARALLEL) {
        let mut set = tokio::task::JoinSet::new();
        for &ip in chunk {
            set.spawn(async move { (ip, name_of(ip).await) });
        }
        while let Some(Ok((ip, name))) = set.join_next().await {
            names.insert(ip, name);
        }
    }
    for p in rows.iter_mut().flat_map(|r| &mut r.peers) {
        if let Ok(a) = p.address.parse::<SocketAddr>() {
            p.host = names.get(&a.ip()).cloned().flatten();
        }
    }
}
