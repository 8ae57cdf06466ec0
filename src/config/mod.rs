//! Configuration: one INI file, compatible with the Python retracker's `config.ini`.
//!
//! [`keys`] is the single registry of every key: section, name, default, one doc line and the
//! expected form. [`load`] reads an INI file (rust-ini), applies `RETRACKER_<SECTION>_<KEY>`
//! environment overrides, validates every value and returns a [`Config`] plus warnings about
//! unknown sections and keys. Errors are [`ConfigError`]: they name the file (or environment
//! variable), section, key, value and what is expected; the binary exits with status 2 on them.
//! [`render`] prints the effective settings for `--check-config`; [`example_ini`] is the text of
//! the committed `config/config.ini`, [`packaged_ini`] that of the Debian package
//! (`packaging/config.ini`, installed as `/etc/retracker/config.ini`).
//!
//! Inside: `syntax` turns text into sections of pairs, `value` parses one value per form,
//! `build` assembles and cross-checks the [`Config`], `suggest` finds "did you mean" names,
//! `error` holds [`ConfigError`], which both `load` and `build` return.

mod build;
mod error;
pub mod keys;
pub mod load;
pub mod render;
mod suggest;
mod syntax;
mod value;

pub use error::ConfigError;
pub use load::{env_warnings, load_file, load_str, load_with_env, Loaded};
pub use render::{changed_keys, example_ini, packaged_ini, reload_changes, render};

use crate::netlist::Networks;
use std::net::IpAddr;
use std::path::PathBuf;

/// The whole effective configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `[FLASK]`: kept for the web UI's session signing (Python retracker name).
    pub flask: FlaskConfig,
    /// `[LOGGING]`: where and how much to log.
    pub logging: LoggingConfig,
    /// `[TRACKER]`: listener, client-address policy and announce behaviour.
    pub tracker: TrackerConfig,
    /// `[ACCESS]`: the info-hash allow or deny list.
    pub access: AccessConfig,
    /// `[CACHE]`: accepted for compatibility; swarms always live in memory.
    pub cache: CacheConfig,
    /// `[DB]`: persistence.
    pub db: DbConfig,
    /// `[STATS]`: the web UI account, sessions, history and dashboard grouping.
    pub stats: StatsConfig,
    /// `[WEB]`: where the web UI is served.
    pub web: WebConfig,
    /// `[METRICS]`: where Prometheus metrics are served and who may read them.
    pub metrics: MetricsConfig,
    /// `[TLS]`: HTTPS.
    pub tls: TlsConfig,
    /// `[NETWORKS]` and `[LOCALITY]`: the operator's networks and how peers are chosen by them.
    pub locality: LocalityConfig,
    /// `[CLUSTER]`: the Redis shared by several nodes.
    pub cluster: ClusterConfig,
    /// `[CHECKS]`: tracker checks made by the server (see `crate::checks`).
    pub checks: ChecksConfig,
}

/// `[CHECKS]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct ChecksConfig {
    /// Days recorded checks are kept.
    pub keep_days: u32,
    /// The watch file (`URL INFO_HASH_HEX SECONDS` a line); `None` = no watches from a file.
    pub watch_file: Option<PathBuf>,
    /// Addresses a check never contacts.
    pub deny_networks: Networks,
    /// Most checks in flight at once.
    pub max_concurrent: u32,
    /// Most checks started in any 60 seconds.
    pub max_per_minute: u32,
}

/// `[FLASK]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct FlaskConfig {
    /// Secret that signs web sessions; empty means "generate one and keep it in the database".
    pub secret_key: String,
}

/// `[LOGGING]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggingConfig {
    /// Log file path; `None` (empty value) logs to no file.
    pub log_file: Option<PathBuf>,
    /// Most verbose level written.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
    /// Also log to standard error.
    pub console_output: bool,
    /// Rotate the file when it would grow past this many bytes; 0 never rotates.
    pub max_bytes: u64,
    /// Rotated files kept (`.1` .. `.N`); 0 never rotates (as Python's RotatingFileHandler).
    pub backup_count: u32,
    /// Truncate the log file at start.
    pub clear_on_start: bool,
}

/// Log verbosity, accepting Python's names (`WARNING`, `CRITICAL`) too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including per-request lines.
    Trace,
    /// Per-request diagnostics.
    Debug,
    /// Start-up, shutdown and periodic summaries.
    Info,
    /// Things an operator should look at.
    Warn,
    /// Failures (Python `ERROR` and `CRITICAL`).
    Error,
}

/// Log line layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Time, level, target and message (a Python `%(...)s` format string maps here).
    Full,
    /// Shorter lines without the target.
    Compact,
    /// One JSON object per line.
    Json,
}

/// How the client's address is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The socket's peer address.
    Direct,
    /// `X-Real-IP` / `X-Forwarded-For`, believed only from `trusted_proxies`.
    Proxy,
}

/// `[TRACKER]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerConfig {
    /// Addresses to listen on (one listener each).
    pub host: Vec<IpAddr>,
    /// HTTP port; 0 picks a free one (tests).
    pub port: u16,
    /// Where the UDP tracker listens, on every `host`.
    pub udp_port: UdpPort,
    /// Direct or behind a reverse proxy.
    pub mode: Mode,
    /// Proxies whose `X-Real-IP` / `X-Forwarded-For` are believed.
    pub trusted_proxies: Networks,
    /// In proxy mode, take `X-Real-IP` first.
    pub use_x_real_ip: bool,
    /// In proxy mode, take the right-most untrusted `X-Forwarded-For` entry.
    pub use_x_forwarded_for: bool,
    /// Seconds between announces asked of clients (`interval`).
    pub announce_interval: u32,
    /// `min interval`; 0 means half of `announce_interval`.
    pub min_interval: u32,
    /// A peer expires after `announce_interval × peer_expire_factor` seconds without announcing.
    pub peer_expire_factor: f64,
    /// Never use the `ip=` a client reports.
    pub ignore_reported_ip: bool,
    /// Use `ip=` only when it appears in the `X-Forwarded-For` chain of a trusted proxy.
    pub verify_reported_ip: bool,
    /// Accept an `ip=` inside `internal_networks`.
    pub allow_internal_ip: bool,
    /// Networks counted as internal for `allow_internal_ip`.
    pub internal_networks: Networks,
    /// Networks refused outright.
    pub ignore_ip: Networks,
    /// When not empty, only these networks may announce.
    pub allowed_networks: Networks,
    /// Peers returned when the client sends no `numwant`.
    pub numwant: u32,
    /// Upper bound on `numwant`.
    pub max_numwant: u32,
    /// Query key that triggers a peer cleanup (from loopback or a trusted proxy only); empty disables.
    pub run_gc_key: String,
    /// Seconds between cleanups of expired peers.
    pub peer_cleanup_period: u32,
    /// Most info hashes answered in one scrape.
    pub max_scrape_hashes: u32,
    /// Allow a scrape without `info_hash` (every torrent).
    pub full_scrape: bool,
    /// Up to this many seconds added at random to each `interval` sent; 0 = none.
    pub announce_interval_jitter: u32,
    /// Most HTTP(S) connections open at once over all listeners (also bounded by the open-file
    /// limit); at the cap the least recently active one is closed to make room.
    pub max_connections: u32,
    /// `tracker id` sent in announce responses; empty = not sent.
    pub tracker_id: String,
}

/// What the `[ACCESS]` list does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    /// No list: every torrent may be announced and scraped.
    Off,
    /// Only the listed info hashes.
    Allow,
    /// Every info hash but the listed ones.
    Deny,
}

/// `[ACCESS]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessConfig {
    /// Off, allow list or deny list.
    pub mode: AccessMode,
    /// The list file (see `crate::access`); `None` (empty value) only with mode off.
    pub file: Option<PathBuf>,
}

/// `[TRACKER] udp_port`: the UDP tracker's port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpPort {
    /// Empty: the port the HTTP listener got on the same host (picked when `port` is 0).
    SameAsHttp,
    /// `0`: no UDP tracker.
    Off,
    /// This port (BEP 15 trackers commonly use 6969).
    Port(u16),
}

/// `[CACHE]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// Python retracker cache backend name; accepted, swarms are always kept in memory.
    pub kind: String,
}

/// Where swarms are persisted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// SQLite file at `[DB] path`.
    Sqlite,
    /// No persistence: swarms are lost at restart.
    Memory,
}

/// `[DB]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct DbConfig {
    /// Backend.
    pub kind: DbKind,
    /// SQLite file; its folder is created.
    pub path: PathBuf,
    /// Most milliseconds between two write-behind flushes.
    pub flush_interval_ms: u64,
    /// SQLite connections in the r2d2 pool.
    pub pool_size: u32,
}

/// `[STATS]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsConfig {
    /// Stats page user name.
    pub access_username: String,
    /// Stats page password (plain, or an argon2 PHC hash); empty disables the page.
    pub access_password: String,
    /// Hours a login lasts.
    pub session_hours: u32,
    /// Failed logins allowed per client address in 15 minutes.
    pub login_attempts: u32,
    /// Days of history snapshots kept.
    pub history_days: u32,
    /// Seconds between two history snapshots.
    pub snapshot_interval: u32,
    /// Networks the dashboard groups peers by (empty: allowed_networks, else /24 and /48).
    pub peer_networks: Networks,
}

/// `[WEB]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct WebConfig {
    /// Addresses of a separate web UI listener; empty = the tracker's `host`.
    pub host: Vec<IpAddr>,
    /// Port of a separate web UI listener; 0 = the web UI shares the tracker's listeners.
    pub port: u16,
}

/// `[METRICS]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    /// Addresses of a separate /metrics listener; empty = the tracker's `host`.
    pub host: Vec<IpAddr>,
    /// Port of a separate /metrics listener; 0 = /metrics is served beside the web UI.
    pub port: u16,
    /// Networks that may read /metrics without logging in.
    pub allowed_networks: Networks,
}

/// `[TLS]` section. The files are read by [`crate::tls`] at start and at every reload.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsConfig {
    /// PEM certificate chain; `None` (empty value) = no HTTPS. Set exactly when `key` is.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// HTTPS port, bound on `[TRACKER] host`; 0 picks a free one (tests).
    pub port: u16,
    /// Redirect web UI pages asked over plain HTTP to HTTPS (tracker requests never are).
    pub redirect_http: bool,
}

/// `[NETWORKS]` and `[LOCALITY]` sections: the operator's networks (read into a
/// [`NetworkMap`](crate::locality::NetworkMap) with the files named here) and the choice of
/// peers by network.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalityConfig {
    /// How peers are chosen.
    pub mode: crate::locality::Mode,
    /// The part of each answer drawn from the whole swarm (`prefer`), 0 to 1.
    pub outside_share: f32,
    /// `[NETWORKS]`: each name and its networks, in file order; names are unique in any case.
    pub networks: Vec<(String, Networks)>,
    /// More networks, one `CIDR name` a line; `None` (empty value) = none.
    pub networks_file: Option<PathBuf>,
    /// MaxMind GeoLite2-ASN or GeoIP2-ISP database; `None` = a network outside the named ones
    /// is the address's /24 or /48 block.
    pub asn_db: Option<PathBuf>,
    /// MaxMind GeoLite2-Country or -City database, for the country `locate` and the web UI
    /// show; `None` = none.
    pub country_db: Option<PathBuf>,
}

/// `[CLUSTER]` section: several nodes sharing swarms through Redis (see `crate::cluster`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterConfig {
    /// Redis URLs: none = one node; one = a standalone Redis (or Valkey); several = the seed
    /// nodes of one Redis Cluster.
    pub redis_urls: Vec<String>,
    /// AUTH password when the URLs carry none; empty = none.
    pub redis_password: String,
    /// This node's name; empty = the host name (see `crate::cluster::node_id`).
    pub node_id: String,
    /// Milliseconds between two pushes of this node's changes.
    pub sync_interval_ms: u32,
    /// Milliseconds after which a swarm's view of the other nodes is read again.
    pub view_max_age_ms: u32,
}

impl ClusterConfig {
    /// Whether this node is part of a cluster.
    pub fn enabled(&self) -> bool {
        !self.redis_urls.is_empty()
    }
}

impl TlsConfig {
    /// The certificate and key paths when HTTPS is on.
    pub fn files(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        Some((self.cert.as_deref()?, self.key.as_deref()?))
    }
}

impl Config {
    /// Seconds after which a silent peer is dropped.
    pub fn peer_expiry_secs(&self) -> u32 {
        let secs = f64::from(self.tracker.announce_interval) * self.tracker.peer_expire_factor;
        secs.clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// The effective `min interval`.
    pub fn min_interval_secs(&self) -> u32 {
        match self.tracker.min_interval {
            0 => (self.tracker.announce_interval / 2).max(1),
            n => n,
        }
    }
}

impl Default for Config {
    /// The built-in defaults: the same values as the committed `config/config.ini`.
    fn default() -> Self {
        load::load_str("", "<defaults>")
            .expect("built-in defaults are valid")
            .config
    }
}
