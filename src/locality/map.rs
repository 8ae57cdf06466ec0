//! The operator's network map: which network an address is in (issue 16).
//!
//! A requester's network is the most specific of the operator's named networks holding its
//! address (`[NETWORKS]`, the `[LOCALITY] networks_file`, and each CIDR of `[STATS]
//! peer_networks` not named otherwise, under its own text); outside them, its autonomous system
//! when `[LOCALITY] asn_db` is set; else its /24 (IPv4) or /48 (IPv6) block. The operator's
//! networks are all the named ones together.
//!
//! [`NetworkMap::net_id`] is what an announce calls, once per announce: a binary search over the
//! flattened named networks (see `table`), then one ASN look-up when a database is set; no
//! allocation, no lock. [`NetworkMap::locate`] tells everything known about an address (for
//! `retracker locate` and the web UI). [`NetworkMap::load`] builds the map from a [`Config`];
//! it reads files, so async callers run it on the blocking pool, at start and on every reload.

use super::file::{self, canonical};
use super::geo::{AsnDb, CountryDb};
use super::table::Table;
use super::{Asn, Country, LocalityError, NetId};
use crate::config::Config;
use ipnet::IpNet;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// One of the operator's named networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedNetwork {
    /// Its name: a `[NETWORKS]` key or a networks file name as first written, or the CIDR text
    /// of a `[STATS] peer_networks` entry.
    pub name: String,
    /// Its networks, canonical, in the order given.
    pub cidrs: Vec<IpNet>,
}

/// The named network an address is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inside {
    /// The network's name.
    pub name: String,
    /// The most specific of its CIDRs holding the address.
    pub cidr: IpNet,
}

/// Everything the map knows about one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The address, canonical (an IPv4-mapped IPv6 address as IPv4).
    pub ip: IpAddr,
    /// Its network, as [`NetworkMap::net_id`] gives it.
    pub id: NetId,
    /// The operator's named network it is in; `None` outside them.
    pub inside: Option<Inside>,
    /// Its autonomous system, when the ASN database has it.
    pub asn: Option<Asn>,
    /// Its country, when the country database has it.
    pub country: Option<Country>,
    /// Its /24 (IPv4) or /48 (IPv6) block.
    pub block: IpNet,
}

impl Location {
    /// True inside the operator's networks.
    pub fn is_operator(&self) -> bool {
        self.inside.is_some()
    }
}

/// The operator's network map, built by [`NetworkMap::load`]; the default map has no network
/// and no database, so every address is its own block's.
#[derive(Default)]
pub struct NetworkMap {
    /// The named networks; a [`NetId::named`] index is a position here.
    networks: Vec<NamedNetwork>,
    /// The named networks flattened for [`NetworkMap::net_id`].
    table: Table,
    /// `[LOCALITY] asn_db`.
    asn: Option<AsnDb>,
    /// `[LOCALITY] country_db`.
    country: Option<CountryDb>,
}

impl fmt::Debug for NetworkMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkMap")
            .field("networks", &self.networks.len())
            .field("asn_db", &self.asn.as_ref().map(AsnDb::kind))
            .field("country_db", &self.country.as_ref().map(CountryDb::kind))
            .finish()
    }
}

impl NetworkMap {
    /// Builds the map of `config`: `[NETWORKS]`, then the networks file, then `[STATS]
    /// peer_networks`, and the MaxMind databases. Reads files: blocking.
    pub fn load(config: &Config) -> Result<NetworkMap, LocalityError> {
        let l = &config.locality;
        let mut b = Builder::default();
        for (name, nets) in &l.networks {
            b.index_of(name);
            for net in &nets.0 {
                b.add(name, *net, Place::Config)?;
            }
        }
        if let Some(path) = &l.networks_file {
            let text = std::fs::read_to_string(path).map_err(|source| LocalityError::Read {
                path: path.clone(),
                source,
            })?;
            b.file = path.clone();
            for e in file::parse(&text, path)? {
                b.add(&e.name, e.net, Place::File(e.line))?;
            }
        }
        for net in &config.stats.peer_networks.0 {
            b.add_unnamed(*net);
        }
        let asn = l.asn_db.as_deref().map(AsnDb::open).transpose()?;
        let country = l.country_db.as_deref().map(CountryDb::open).transpose()?;
        Ok(b.finish(asn, country))
    }

    /// The map of these named networks alone (no networks file, no database), `(name, CIDRs)`
    /// as `[NETWORKS]` gives them; refuses a network under two names as [`NetworkMap::load`]
    /// does. For tests and benchmarks.
    pub fn from_networks<'a>(
        networks: impl IntoIterator<Item = (&'a str, &'a [IpNet])>,
    ) -> Result<NetworkMap, LocalityError> {
        let mut b = Builder::default();
        for (name, nets) in networks {
            b.index_of(name);
            for net in nets {
                b.add(name, *net, Place::Config)?;
            }
        }
        Ok(b.finish(None, None))
    }

    /// The network of `ip`: the most specific named network holding it, else its autonomous
    /// system (with an ASN database), else its /24 or /48 block. Called once per announce.
    #[inline]
    pub fn net_id(&self, ip: IpAddr) -> NetId {
        let ip = ip.to_canonical();
        if let Some(index) = self.table.find(ip) {
            return NetId::named(index);
        }
        if let Some(asn) = self.asn.as_ref().and_then(|db| db.number(ip)) {
            return NetId::asn(asn);
        }
        NetId::block(ip)
    }

    /// Everything known about `ip`: its network, AS, country and block.
    pub fn locate(&self, ip: IpAddr) -> Location {
        let ip = ip.to_canonical();
        let id = self.net_id(ip);
        let inside = id.named_index().and_then(|i| {
            let network = self.networks.get(i as usize)?;
            let cidr = network
                .cidrs
                .iter()
                .filter(|c| c.contains(&ip))
                .max_by_key(|c| c.prefix_len())?;
            Some(Inside {
                name: network.name.clone(),
                cidr: *cidr,
            })
        });
        Location {
            ip,
            id,
            inside,
            asn: self.asn.as_ref().and_then(|db| db.lookup(ip)),
            country: self.country.as_ref().and_then(|db| db.lookup(ip)),
            block: block_of(ip),
        }
    }

    /// The name of a named network's id; `None` for any other id.
    pub fn name(&self, id: NetId) -> Option<&str> {
        let index = id.named_index()?;
        self.networks.get(index as usize).map(|n| n.name.as_str())
    }

    /// The named networks, in id order: `[NETWORKS]` in file order, then the new names of the
    /// networks file as they first appear, then the unnamed `[STATS] peer_networks`.
    pub fn networks(&self) -> &[NamedNetwork] {
        &self.networks
    }

    /// The names of [`NetworkMap::networks`], in the same order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.networks.iter().map(|n| n.name.as_str())
    }

    /// True when the map knows no network and has no ASN database: every address then gets
    /// its block, and locality can only group peers by /24 and /48.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.asn.is_none()
    }

    /// True when an ASN database is loaded.
    pub fn has_asn_db(&self) -> bool {
        self.asn.is_some()
    }

    /// True when a country database is loaded.
    pub fn has_country_db(&self) -> bool {
        self.country.is_some()
    }
}

/// The /24 (IPv4) or /48 (IPv6) block of a canonical address.
fn block_of(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix)
        .expect("24 and 48 are valid prefixes")
        .trunc()
}

/// Where a network was named, for the message when a second name is given to it.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// `[NETWORKS]`.
    Config,
    /// This line of the networks file.
    File(usize),
    /// `[STATS] peer_networks` (never conflicts: it is skipped when named elsewhere).
    Stats,
}

/// Collects named networks, one name per network, names compared in any case.
#[derive(Default)]
struct Builder {
    networks: Vec<NamedNetwork>,
    /// Lower-case name to index.
    by_name: HashMap<String, u32>,
    /// Each network given so far, with its name's index and where it was given.
    owners: HashMap<IpNet, (u32, Place)>,
    /// The networks file, for messages.
    file: PathBuf,
}

impl Builder {
    /// The index of `name`, added at the end when new.
    fn index_of(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.by_name.get(&name.to_ascii_lowercase()) {
            return i;
        }
        let i = u32::try_from(self.networks.len()).expect("fewer than 2^32 names");
        self.by_name.insert(name.to_ascii_lowercase(), i);
        self.networks.push(NamedNetwork {
            name: name.to_owned(),
            cidrs: Vec::new(),
        });
        i
    }

    /// Adds `net` to the network `name`; refuses a network that already has another name.
    fn add(&mut self, name: &str, net: IpNet, place: Place) -> Result<(), LocalityError> {
        let net = canonical(net);
        let index = self.index_of(name);
        match self.owners.get(&net) {
            // The same network under the same name again: nothing new.
            Some(&(owner, _)) if owner == index => Ok(()),
            Some(&(owner, first)) => Err(self.conflict(net, index, owner, first, place)),
            None => {
                self.owners.insert(net, (index, place));
                self.networks[index as usize].cidrs.push(net);
                Ok(())
            }
        }
    }

    /// Adds a `[STATS] peer_networks` entry under its CIDR text, unless it is named already.
    fn add_unnamed(&mut self, net: IpNet) {
        let net = canonical(net);
        if !self.owners.contains_key(&net) {
            let name = net.to_string();
            // A CIDR text holds `/`, which no configured name may: it cannot take one's place.
            let _ = self.add(&name, net, Place::Stats);
        }
    }

    /// The error for `net`, given at `place` as `index` but first given at `first` as `owner`.
    fn conflict(
        &self,
        net: IpNet,
        index: u32,
        owner: u32,
        first: Place,
        place: Place,
    ) -> LocalityError {
        let name = &self.networks[index as usize].name;
        let other = &self.networks[owner as usize].name;
        let there = match first {
            Place::Config => format!("[NETWORKS] {other}"),
            Place::File(line) => format!("{other} on line {line}"),
            Place::Stats => format!("{other} ([STATS] peer_networks)"),
        };
        let message =
            format!("{net} is named {name} here but is already {there}; a network has one name");
        match place {
            Place::File(line) => LocalityError::Line {
                path: self.file.clone(),
                line,
                message,
            },
            Place::Config | Place::Stats => LocalityError::Network {
                name: name.clone(),
                message,
            },
        }
    }

    /// The map of what was added.
    fn finish(self, asn: Option<AsnDb>, country: Option<CountryDb>) -> NetworkMap {
        let entries: Vec<(IpNet, u32)> = self
            .owners
            .iter()
            .map(|(net, (index, _))| (*net, *index))
            .collect();
        NetworkMap {
            table: Table::new(&entries),
            networks: self.networks,
            asn,
            country,
        }
    }
}

#[cfg(test)]
mod tests;
