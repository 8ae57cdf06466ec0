//! Every number of the dashboard, computed in one place ([`compute`]) and used by both the page
//! (`/`, `/stat`) and `/api/stats`, so the two cannot disagree.
//!
//! One walk over the peers ([`SwarmStore::for_each_peer`], one shard locked at a time) fills a
//! [`Tally`]: the census (families, roles, distinct addresses), peers per torrent, per network
//! and per client software. The walk runs on a blocking thread (tens of milliseconds per million
//! peers). The database is read afterwards, also on a blocking thread, for the all-time completed
//! count, its size and the names of the top torrents; a failed read does not take the dashboard
//! down, it is shown as an alert beside the numbers that memory alone can give.
//!
//! Completed downloads (`completed`):
//! - `[DB] type = sqlite`: the larger of the database's all-time sum over every torrent ever
//!   stored and the sum over the swarms in memory. The database holds the counts of torrents no
//!   longer in memory; memory holds, for live swarms, the stored count plus deltas not yet
//!   written (at most one flush interval old). Adding the two would count live swarms twice, so
//!   the larger is shown: never double counted, at worst short by the unwritten deltas of live
//!   swarms until the next flush (`completed_source = "database"`).
//! - `[DB] type = memory`: nothing is stored, so the sum over the swarms in memory; counts of
//!   swarms dropped by cleanup are forgotten (`completed_source = "memory"`).

use super::error::WebError;
use super::geography::{Geography, GEOGRAPHY_ROWS};
use super::{format, Web};
use crate::hex;
use crate::netlist::Networks;
use crate::protocol::peer_id::client_software;
use crate::protocol::{InfoHash, PeerId};
use crate::storage::Storage;
use crate::swarm::PeerRecord;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Rows of the top torrents table.
pub const TOP_TORRENTS: usize = 20;
/// Rows of the peers by network table.
pub const NETWORK_ROWS: usize = 50;
/// Rows of the clients table.
pub const CLIENT_ROWS: usize = 50;
/// Versions listed per client software.
pub const TOP_VERSIONS: usize = 3;

/// Peers counted by role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// Seeders and leechers.
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
}

impl Roles {
    /// Counts one peer.
    pub fn add(&mut self, seeder: bool) {
        self.peers += 1;
        if seeder {
            self.seeders += 1;
        } else {
            self.leechers += 1;
        }
    }
}

/// A row of the top torrents table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TorrentRow {
    /// Lower-case hex.
    pub info_hash: String,
    /// Display name from the torrent's metadata; empty when unknown.
    pub name: String,
    /// Seeders and leechers.
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
    /// Completed downloads of the swarm in memory.
    pub completed: u64,
}

/// A row of the peers by network table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkRow {
    /// `10.1.2.0/24`, `2001:db8::/48`, a configured network, or `other` (outside every
    /// configured network).
    pub network: String,
    /// False for the `other` row (there is no single network to filter the peers by).
    pub is_network: bool,
    /// Seeders and leechers.
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
}

/// How many peers run one version of a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionCount {
    /// As the client writes it; empty when unknown.
    pub version: String,
    /// Peers.
    pub peers: u64,
}

/// A row of the clients table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientRow {
    /// Program name (`Unknown` when not recognised).
    pub name: String,
    /// Seeders and leechers.
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
    /// The most common versions, most peers first (at most [`TOP_VERSIONS`]).
    pub versions: Vec<VersionCount>,
}

/// Everything the dashboard shows. Its serde form is `/api/stats`: field names are part of the
/// API, numbers are JSON numbers.
#[derive(Clone, Debug, Serialize)]
pub struct Overview {
    /// When the tracker started, Unix seconds.
    pub started_unix: u32,
    /// The same, as UTC text.
    pub started_utc: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Swarms in memory.
    pub torrents: u64,
    /// Peers (seeders and leechers).
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
    /// Distinct peer addresses.
    pub unique_addrs: u64,
    /// IPv4 peers by role (IPv4-mapped IPv6 addresses count as IPv4).
    pub ipv4: Roles,
    /// IPv6 peers by role.
    pub ipv6: Roles,
    /// Announces per second over the last ~10 s.
    pub announces_per_sec: f64,
    /// Scrapes per second over the last ~10 s.
    pub scrapes_per_sec: f64,
    /// Announces answered since start without a failure.
    pub announces_ok: u64,
    /// Announces answered since start with a failure reason.
    pub announces_failed: u64,
    /// Scrapes answered since start without a failure.
    pub scrapes_ok: u64,
    /// Scrapes answered since start with a failure reason.
    pub scrapes_failed: u64,
    /// What locality kept near, since start.
    pub kept_local: KeptLocal,
    /// Completed downloads, all time (see the module documentation).
    pub completed: u64,
    /// Where `completed` comes from: `database` or `memory`.
    pub completed_source: &'static str,
    /// Swarms are persisted (`[DB] type = sqlite`).
    pub db_persistent: bool,
    /// Bytes of the database file and its write-ahead log (0 in memory).
    pub db_size_bytes: u64,
    /// Peer and torrent changes not yet written: recorded in memory
    /// (`SwarmStore::counts().pending_changes`) plus the rows of the batch being written, or of
    /// a failed batch held for the next try (`WriterStatus::held_rows`).
    pub backlog: u64,
    /// Write batches that failed since start.
    pub write_failures: u64,
    /// Why storage writes are failing now; `None` when they work.
    pub write_error: Option<String>,
    /// Why the dashboard's own database reads failed; `None` when they worked.
    pub read_error: Option<String>,
    /// Seconds after which a silent peer expires.
    pub peer_expiry_secs: u32,
    /// `configured` (`[STATS] peer_networks` or `[TRACKER] allowed_networks`) or `blocks`
    /// (/24 for IPv4, /48 for IPv6).
    pub network_grouping: &'static str,
    /// Groups found; `networks` lists at most [`NETWORK_ROWS`] of them.
    pub networks_total: u64,
    /// The most peers first, at most [`TOP_TORRENTS`].
    pub top_torrents: Vec<TorrentRow>,
    /// The most peers first, at most [`NETWORK_ROWS`].
    pub networks: Vec<NetworkRow>,
    /// Distinct client programs found; `clients` lists at most [`CLIENT_ROWS`] of them.
    pub clients_total: u64,
    /// The most peers first, at most [`CLIENT_ROWS`].
    pub clients: Vec<ClientRow>,
    /// Peers by the operator's named networks, by AS and by country.
    pub geography: Geography,
    /// The watched trackers (`[CHECKS] watch_file` and the watches added from the page) and
    /// how each answered lately.
    pub watches: Vec<crate::checks::WatchState>,
    /// The cluster (`[CLUSTER] redis_url`); absent for a single node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::cluster::ClusterOverview>,
}

/// Peers handed out in announce answers since start, by tier from the requester's point of
/// view, and the shares the "kept local" card shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct KeptLocal {
    /// Handed out from the requester's own network.
    pub network: u64,
    /// Handed out from another of the operator's networks.
    pub operator: u64,
    /// Handed out from outside both.
    pub outside: u64,
    /// `network` over all peers handed out, 0 to 1; `None` before the first.
    pub network_share: Option<f64>,
    /// `network + operator` over all peers handed out: what stayed in the requester's or the
    /// operator's networks; `None` before the first.
    pub near_share: Option<f64>,
}

impl KeptLocal {
    /// The figures of the counters `[network, operator, outside]`.
    pub fn new([network, operator, outside]: [u64; 3]) -> KeptLocal {
        let total = network + operator + outside;
        let share = |n: u64| (total > 0).then(|| n as f64 / total as f64);
        KeptLocal {
            network,
            operator,
            outside,
            network_share: share(network),
            near_share: share(network + operator),
        }
    }
}

/// A group of the peers by network table: `None` is "outside every configured network".
pub type NetKey = Option<IpNet>;

/// The /24 (IPv4) or /48 (IPv6) block of `ip`; IPv4-mapped IPv6 is taken as IPv4.
pub fn block_of(ip: IpAddr) -> IpNet {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::new(v4, 24).expect("24 is a valid prefix").trunc()),
        IpAddr::V6(v6) => IpNet::V6(Ipv6Net::new(v6, 48).expect("48 is a valid prefix").trunc()),
    }
}

/// The group of `ip`: its block when `nets` is empty, else the most specific network of `nets`
/// that holds it (so `10.0.0.0/8` and a `10.1.0.0/16` inside it can both be listed), or `None`.
pub fn network_of(ip: IpAddr, nets: &Networks) -> NetKey {
    if nets.is_empty() {
        return Some(block_of(ip));
    }
    let ip = ip.to_canonical();
    nets.0
        .iter()
        .filter(|n| n.contains(&ip))
        .max_by_key(|n| n.prefix_len())
        .copied()
}

/// Sorts groups by peers (then seeders) descending, then by network (`other` last), and keeps
/// the first `limit`.
pub fn network_rows(groups: HashMap<NetKey, Roles>, limit: usize) -> Vec<NetworkRow> {
    let mut groups: Vec<(NetKey, Roles)> = groups.into_iter().collect();
    groups.sort_by(|(ka, a), (kb, b)| {
        (b.peers, b.seeders)
            .cmp(&(a.peers, a.seeders))
            .then_with(|| match (ka, kb) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    groups
        .into_iter()
        .take(limit)
        .map(|(k, r)| NetworkRow {
            network: k.map_or_else(|| "other".to_owned(), |n| n.to_string()),
            is_network: k.is_some(),
            peers: r.peers,
            seeders: r.seeders,
            leechers: r.leechers,
        })
        .collect()
}

/// The torrents with the most peers (ties: lower hash first), at most `limit`.
pub fn top_torrents(
    per_torrent: &HashMap<InfoHash, Roles>,
    limit: usize,
) -> Vec<(InfoHash, Roles)> {
    let mut all: Vec<(InfoHash, Roles)> = per_torrent.iter().map(|(h, r)| (*h, *r)).collect();
    let by_peers = |a: &(InfoHash, Roles), b: &(InfoHash, Roles)| {
        (b.1.peers, b.1.seeders, a.0).cmp(&(a.1.peers, a.1.seeders, b.0))
    };
    if all.len() > limit {
        all.select_nth_unstable_by(limit, by_peers);
        all.truncate(limit);
    }
    all.sort_unstable_by(by_peers);
    all
}

/// Peers of one client program, by version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTally {
    /// All its peers.
    pub roles: Roles,
    /// Peers per version.
    pub versions: HashMap<String, u64>,
}

/// Sorts programs by peers descending (then name), keeps the first `limit`, each with its
/// `versions` most common versions (ties: version text order).
pub fn client_rows(
    clients: HashMap<&'static str, ClientTally>,
    limit: usize,
    versions: usize,
) -> Vec<ClientRow> {
    let mut all: Vec<(&'static str, ClientTally)> = clients.into_iter().collect();
    all.sort_by(|a, b| b.1.roles.peers.cmp(&a.1.roles.peers).then(a.0.cmp(b.0)));
    all.into_iter()
        .take(limit)
        .map(|(name, t)| {
            let mut vs: Vec<(String, u64)> = t.versions.into_iter().collect();
            vs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            ClientRow {
                name: name.to_owned(),
                peers: t.roles.peers,
                seeders: t.roles.seeders,
                leechers: t.roles.leechers,
                versions: vs
                    .into_iter()
                    .take(versions)
                    .map(|(version, peers)| VersionCount { version, peers })
                    .collect(),
            }
        })
        .collect()
}

/// What one walk over the peers counts.
#[derive(Debug, Default)]
pub struct Tally {
    /// IPv4 peers.
    pub ipv4: Roles,
    /// IPv6 peers.
    pub ipv6: Roles,
    /// Distinct addresses, with their peers' roles.
    pub addrs: HashMap<IpAddr, Roles>,
    /// Peers per torrent.
    pub torrents: HashMap<InfoHash, Roles>,
    /// Peers per network group.
    pub networks: HashMap<NetKey, Roles>,
    /// Peers per client program.
    pub clients: HashMap<&'static str, ClientTally>,
}

impl Tally {
    /// Counts one peer; `nets` are the configured networks (empty: blocks).
    pub fn add(&mut self, hash: &InfoHash, peer_id: &PeerId, p: &PeerRecord, nets: &Networks) {
        let family = if p.ip.to_canonical().is_ipv4() {
            &mut self.ipv4
        } else {
            &mut self.ipv6
        };
        family.add(p.seeder);
        // As the census counts them, so the dashboard agrees with /metrics and the history.
        self.addrs.entry(p.ip).or_default().add(p.seeder);
        self.torrents.entry(*hash).or_default().add(p.seeder);
        self.networks
            .entry(network_of(p.ip, nets))
            .or_default()
            .add(p.seeder);
        let sw = client_software(peer_id);
        let client = self.clients.entry(sw.name).or_default();
        client.roles.add(p.seeder);
        *client.versions.entry(sw.version).or_default() += 1;
    }
}

/// True when `storage` is the private in-memory database of `[DB] type = memory`.
pub fn is_memory_db(storage: &Storage) -> bool {
    storage.path().as_os_str() == ":memory:"
}

/// What the dashboard reads from the database.
struct DbFacts {
    names: HashMap<InfoHash, String>,
    stored_completed: Option<u64>,
    size: u64,
}

/// Computes every dashboard number now.
pub async fn compute(web: &Arc<Web>) -> Result<Overview, WebError> {
    let w = Arc::clone(web);
    let (tally, swarms, mem_completed, geography) = crate::blocking::try_run(move || {
        let mut tally = Tally::default();
        w.store
            .for_each_peer(&mut |h, id, p| tally.add(h, id, p, &w.peer_networks));
        let map = w.tracker.network_map();
        let geography = super::geography::tally(&tally.addrs, &map, GEOGRAPHY_ROWS);
        let mut swarms = Vec::new();
        w.store.scrape_all(&mut swarms);
        // This node's own counts for the total (the database's is too); each torrent's row
        // shows the cluster's count (`scrape::every`) in a cluster.
        let mem_completed = swarms.iter().map(|s| s.downloaded).sum::<u64>();
        if let Some(cluster) = &w.tracker.cluster {
            cluster.merge_full_scrape(&mut swarms);
        }
        let completed: HashMap<InfoHash, u64> =
            swarms.iter().map(|s| (s.info_hash, s.downloaded)).collect();
        (tally, completed, mem_completed, geography)
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;

    let top = top_torrents(&tally.torrents, TOP_TORRENTS);
    let persistent = !is_memory_db(&web.storage);
    let hashes: Vec<InfoHash> = top.iter().map(|(h, _)| *h).collect();
    let facts = web
        .db(move |s| {
            Ok(DbFacts {
                names: s.torrent_names(&hashes)?,
                stored_completed: if persistent {
                    Some(s.completed_total()?)
                } else {
                    None
                },
                size: s.size_bytes(),
            })
        })
        .await;
    let (facts, read_error) = match facts {
        Ok(f) => (f, None),
        Err(e) => {
            tracing::warn!("dashboard: {e}");
            let facts = DbFacts {
                names: HashMap::new(),
                stored_completed: None,
                size: web.storage.size_bytes(),
            };
            (facts, Some(e.to_string()))
        }
    };

    let counters = web.stats.counters();
    let counts = web.store.counts();
    let networks_total = tally.networks.len() as u64;
    let clients_total = tally.clients.len() as u64;
    let top_torrents = top
        .into_iter()
        .map(|(h, r)| TorrentRow {
            info_hash: hex::encode(&h),
            name: facts.names.get(&h).cloned().unwrap_or_default(),
            peers: r.peers,
            seeders: r.seeders,
            leechers: r.leechers,
            completed: swarms.get(&h).copied().unwrap_or(0),
        })
        .collect();
    let (ipv4, ipv6) = (tally.ipv4, tally.ipv6);
    Ok(Overview {
        started_unix: counters.started_unix,
        started_utc: format::utc(counters.started_unix),
        uptime_secs: counters.uptime_secs,
        torrents: swarms.len() as u64,
        peers: ipv4.peers + ipv6.peers,
        seeders: ipv4.seeders + ipv6.seeders,
        leechers: ipv4.leechers + ipv6.leechers,
        unique_addrs: tally.addrs.len() as u64,
        ipv4,
        ipv6,
        announces_per_sec: counters.announces_per_sec,
        scrapes_per_sec: counters.scrapes_per_sec,
        announces_ok: counters.announces_ok,
        announces_failed: counters.announces_failed,
        scrapes_ok: counters.scrapes_ok,
        scrapes_failed: counters.scrapes_failed,
        kept_local: KeptLocal::new(counters.handed_out),
        completed: facts.stored_completed.unwrap_or(0).max(mem_completed),
        completed_source: if persistent { "database" } else { "memory" },
        db_persistent: persistent,
        db_size_bytes: facts.size,
        backlog: counts.pending_changes
            + web
                .writer
                .held_rows
                .load(std::sync::atomic::Ordering::Relaxed),
        write_failures: web.writer.failures.load(Ordering::Relaxed),
        write_error: web.writer.last_error.lock().clone(),
        read_error,
        peer_expiry_secs: web.tracker.settings().peer_expiry,
        network_grouping: if web.peer_networks.is_empty() {
            "blocks"
        } else {
            "configured"
        },
        networks_total,
        top_torrents,
        networks: network_rows(tally.networks, NETWORK_ROWS),
        clients_total,
        clients: client_rows(tally.clients, CLIENT_ROWS, TOP_VERSIONS),
        geography,
        watches: web.checks.states(),
        cluster: web.tracker.cluster.as_ref().map(|c| {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            super::cluster::overview(
                &c.status.figures(&c.node),
                counts.seeders + counts.leechers,
                now_ms,
            )
        }),
    })
}

#[cfg(test)]
mod tests;
