//! The tracker core, transport-neutral: the shared state ([`Tracker`]), the live settings
//! ([`Settings`]), announce and scrape processing ([`announce`], [`scrape`]), the one refusal
//! type ([`Refusal`]), warnings as values ([`Warning`]) and the clock ([`Clock`]).
//!
//! Like opentracker's `trackerlogic.c` (called by `ot_http.c` and `ot_udp.c`) and Torrust's
//! `tracker-core`, this is the one place an announce happens; `crate::http` and `crate::udp`
//! are thin adapters around it: decode, resolve the client's address, call the core, encode.
//! Imports go one way: this module uses `protocol`, `policy`, `swarm`, `access`, `blocklist`,
//! `cluster` and `stats`, and never `http`, `udp`, `web` or `server` (docs/architecture.md).

pub mod announce;
pub mod clock;
mod refusal;
pub mod scrape;
mod settings;
mod warning;

pub use clock::{unix_now, Clock};
pub use refusal::Refusal;
pub use settings::Settings;
pub use warning::{joined as joined_warnings, Warning};

use crate::access::AccessList;
use crate::blocklist::Blocklist;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::locality::NetworkMap;
use crate::stats::Stats;
use crate::swarm::SwarmStore;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// Everything a tracker request needs, shared by every connection, socket and the web UI.
pub struct Tracker {
    /// The swarms.
    pub store: Arc<dyn SwarmStore>,
    /// Request counters.
    pub stats: Arc<Stats>,
    /// The operator's blocklist.
    pub blocklist: Arc<Blocklist>,
    /// The info-hash allow or deny list.
    pub access: Arc<AccessList>,
    /// The time every announce, expiry and record is stamped with.
    pub clock: Clock,
    /// This node's part in a cluster (`[CLUSTER] redis_url`): answers merge the other nodes'
    /// peers and counts from it. `None` for a single node.
    pub cluster: Option<Arc<Cluster>>,
    /// Swapped whole on reload, so that a request reads one consistent set of settings and
    /// requests in flight finish with the ones they started with; loading takes no lock.
    settings: ArcSwap<Settings>,
    /// The operator's networks (`[NETWORKS]`, `networks_file`, the MaxMind databases): read
    /// once per announce for the requester's network; swapped whole on reload like `settings`.
    network_map: ArcSwap<NetworkMap>,
}

impl Tracker {
    /// The core with the settings of `config`.
    pub fn new(
        config: &Config,
        store: Arc<dyn SwarmStore>,
        stats: Arc<Stats>,
        blocklist: Arc<Blocklist>,
        access: Arc<AccessList>,
        network_map: NetworkMap,
        clock: Clock,
    ) -> Tracker {
        Tracker {
            store,
            stats,
            blocklist,
            access,
            clock,
            cluster: config
                .cluster
                .enabled()
                .then(|| Arc::new(Cluster::new(&config.cluster))),
            settings: ArcSwap::from_pointee(Settings::from_config(config)),
            network_map: ArcSwap::from_pointee(network_map),
        }
    }

    /// The settings in force; load them once per request and use that copy throughout.
    pub fn settings(&self) -> arc_swap::Guard<Arc<Settings>> {
        self.settings.load()
    }

    /// Puts `settings` in force for the requests that start from now on.
    pub fn set_settings(&self, settings: Settings) {
        self.settings.store(Arc::new(settings));
    }

    /// The network map in force; load it once per request.
    pub fn network_map(&self) -> arc_swap::Guard<Arc<NetworkMap>> {
        self.network_map.load()
    }

    /// Puts `map` in force for the requests that start from now on.
    pub fn set_network_map(&self, map: NetworkMap) {
        self.network_map.store(Arc::new(map));
    }
}
