//! The dashboard's locality tables (issue "Locality"): the peers by the operator's named
//! networks (`[NETWORKS]`, `networks_file`, `[STATS] peer_networks`), and, when the MaxMind
//! databases are set (`[LOCALITY] asn_db`, `country_db`), by autonomous system and by country:
//! where the swarms' peers and seeds are.
//!
//! Computed from the distinct addresses of one walk over the peers (see `overview.rs`), each
//! looked up once in the network map, on the blocking pool.

use super::overview::Roles;
use crate::locality::NetworkMap;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// Rows of each table at most.
pub const GEOGRAPHY_ROWS: usize = 50;

/// One row: a named network, an autonomous system or a country, and its peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupRow {
    /// What groups them: the network's name, `AS64512`, an ISO country code; `outside` or
    /// `unknown` for the peers in none.
    pub key: String,
    /// The AS's organisation or the country's name; empty when unknown or for networks.
    pub name: String,
    /// Seeders and leechers.
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
}

/// The three tables; a table whose source is not configured is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Geography {
    /// Peers by the operator's named networks, most first, `outside` last.
    pub named_networks: Vec<GroupRow>,
    /// Peers by autonomous system (needs `asn_db`), most first.
    pub asns: Vec<GroupRow>,
    /// Peers by country (needs `country_db`), most first.
    pub countries: Vec<GroupRow>,
}

/// The tables for the peers of `per_ip` (roles counted per distinct address).
pub fn tally(per_ip: &HashMap<IpAddr, Roles>, map: &NetworkMap, limit: usize) -> Geography {
    crate::blocking::debug_assert_may_walk();
    let mut named: HashMap<Option<u32>, Roles> = HashMap::new();
    let mut asns: HashMap<Option<u32>, (String, Roles)> = HashMap::new();
    let mut countries: HashMap<Option<String>, (String, Roles)> = HashMap::new();
    let geo = map.has_asn_db() || map.has_country_db();
    for (ip, roles) in per_ip {
        if !geo {
            let slot = named.entry(map.net_id(*ip).named_index()).or_default();
            add(slot, roles);
            continue;
        }
        let at = map.locate(*ip);
        add(named.entry(at.id.named_index()).or_default(), roles);
        if map.has_asn_db() {
            let (number, org) = at.asn.map_or((None, String::new()), |a| {
                (Some(a.number), a.organization.unwrap_or_default())
            });
            add(
                &mut asns.entry(number).or_insert((org, Roles::default())).1,
                roles,
            );
        }
        if map.has_country_db() {
            let (code, name) = at.country.map_or((None, String::new()), |c| {
                (Some(c.iso_code), c.name.unwrap_or_default())
            });
            add(
                &mut countries.entry(code).or_insert((name, Roles::default())).1,
                roles,
            );
        }
    }
    let names: Vec<&str> = map.names().collect();
    let named_networks = if names.is_empty() {
        Vec::new()
    } else {
        rows(
            named.into_iter().map(|(i, r)| {
                let key = i
                    .and_then(|i| names.get(i as usize))
                    .map_or("outside", |n| n);
                ((i.is_none(), key.to_owned()), String::new(), r)
            }),
            limit,
        )
    };
    Geography {
        named_networks,
        asns: rows(
            asns.into_iter().map(|(n, (org, r))| {
                let key = n.map_or_else(|| "unknown".to_owned(), |n| format!("AS{n}"));
                ((n.is_none(), key), org, r)
            }),
            limit,
        ),
        countries: rows(
            countries.into_iter().map(|(c, (name, r))| {
                (
                    (c.is_none(), c.unwrap_or_else(|| "unknown".into())),
                    name,
                    r,
                )
            }),
            limit,
        ),
    }
}

fn add(into: &mut Roles, from: &Roles) {
    into.peers += from.peers;
    into.seeders += from.seeders;
    into.leechers += from.leechers;
}

/// Most peers first (then seeders), the catch-all row (`outside`, `unknown`) last among
/// equals, then by key; at most `limit`.
fn rows(
    groups: impl Iterator<Item = ((bool, String), String, Roles)>,
    limit: usize,
) -> Vec<GroupRow> {
    let mut all: Vec<((bool, String), String, Roles)> = groups.collect();
    all.sort_by(|(ka, _, a), (kb, _, b)| {
        (b.peers, b.seeders)
            .cmp(&(a.peers, a.seeders))
            .then_with(|| ka.cmp(kb))
    });
    all.into_iter()
        .take(limit)
        .map(|((_, key), name, r)| GroupRow {
            key,
            name,
            peers: r.peers,
            seeders: r.seeders,
            leechers: r.leechers,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;

    fn roles(seeders: u64, leechers: u64) -> Roles {
        Roles {
            peers: seeders + leechers,
            seeders,
            leechers,
        }
    }

    #[test]
    fn peers_by_named_network_with_outside_last_among_equals() {
        let north: Vec<IpNet> = vec!["10.1.0.0/16".parse().unwrap()];
        let south: Vec<IpNet> = vec!["10.2.0.0/16".parse().unwrap()];
        let map =
            NetworkMap::from_networks([("north", &north[..]), ("south", &south[..])]).unwrap();
        let per_ip: HashMap<IpAddr, Roles> = [
            ("10.1.0.1", roles(1, 0)),
            ("10.1.9.9", roles(0, 2)),
            ("10.2.0.1", roles(1, 0)),
            ("192.0.2.1", roles(1, 0)),
        ]
        .into_iter()
        .map(|(ip, r)| (ip.parse().unwrap(), r))
        .collect();
        let g = tally(&per_ip, &map, 10);
        let shown: Vec<(&str, u64, u64)> = g
            .named_networks
            .iter()
            .map(|r| (r.key.as_str(), r.seeders, r.leechers))
            .collect();
        assert_eq!(shown, [("north", 1, 2), ("south", 1, 0), ("outside", 1, 0)]);
        assert!(g.asns.is_empty() && g.countries.is_empty(), "no databases");
        assert!(tally(&per_ip, &NetworkMap::default(), 10)
            .named_networks
            .is_empty());
    }
}
