//! The tracker settings a request reads, taken from the configuration and replaced whole on
//! SIGHUP (see [`Tracker::set_settings`](super::Tracker::set_settings)).

use crate::config::Config;
use crate::locality::Mode;
use crate::policy::AddressPolicy;
use crate::swarm::Renew;

/// The live settings of the tracker core, shared by every transport and by the web UI.
#[derive(Debug)]
pub struct Settings {
    /// Client-address policy.
    pub policy: AddressPolicy,
    /// `interval` sent to clients, before jitter.
    pub interval: u32,
    /// Up to this many seconds added at random to each `interval` sent.
    pub interval_jitter: u32,
    /// `min interval` sent to clients.
    pub min_interval: u32,
    /// Peers returned when the client sends no numwant.
    pub numwant: u32,
    /// Upper bound on numwant.
    pub max_numwant: u32,
    /// Most hashes in one scrape.
    pub max_scrape_hashes: usize,
    /// Whether a scrape without info_hash lists every torrent.
    pub full_scrape: bool,
    /// Query key that triggers a cleanup; empty disables it.
    pub run_gc_key: Vec<u8>,
    /// Seconds after which a silent peer expires.
    pub peer_expiry: u32,
    /// Seconds between two cleanups of expired peers.
    pub cleanup_period: u32,
    /// `tracker id` sent in announce responses; `None` sends none.
    pub tracker_id: Option<Vec<u8>>,
    /// `[LOCALITY] mode`: how peers are chosen by network.
    pub locality_mode: Mode,
    /// `[LOCALITY] outside_share`: the part of each answer drawn from the whole swarm.
    pub outside_share: f32,
}

impl Settings {
    /// When an unchanged peer is written again: windows of a quarter of `peer_expiry` (see
    /// `crate::swarm::Renew`).
    pub fn renew(&self) -> Renew {
        Renew::of_expiry(self.peer_expiry)
    }

    /// Takes the tracker settings from `config`.
    pub fn from_config(config: &Config) -> Settings {
        let t = &config.tracker;
        Settings {
            policy: AddressPolicy::from_config(t),
            interval: t.announce_interval,
            interval_jitter: t.announce_interval_jitter,
            min_interval: config.min_interval_secs(),
            numwant: t.numwant,
            max_numwant: t.max_numwant,
            max_scrape_hashes: t.max_scrape_hashes as usize,
            full_scrape: t.full_scrape,
            run_gc_key: t.run_gc_key.as_bytes().to_vec(),
            peer_expiry: config.peer_expiry_secs(),
            cleanup_period: t.peer_cleanup_period,
            tracker_id: (!t.tracker_id.is_empty()).then(|| t.tracker_id.as_bytes().to_vec()),
            locality_mode: config.locality.mode,
            outside_share: config.locality.outside_share,
        }
    }
}
