//! retracker: a BitTorrent tracker for local networks.
//!
//! Layers, each with one job and one error type:
//! - [`protocol`]: pure parsing and encoding of tracker requests and responses (BEP 3, 7, 15, 23, 24,
//!   41, 48);
//! - [`config`]: the INI file (compatible with the Python retracker) and its validation;
//! - [`policy`]: which address a client announces from, and whether it may announce at all;
//! - [`swarm`]: the in-memory swarms behind a small store interface;
//! - [`storage`]: SQLite persistence (write-behind, restore at start); the only module with SQL;
//! - [`blocklist`]: the operator's blocked addresses, networks and torrents, checked per announce;
//! - [`access`]: the info-hash allow or deny list file, checked per announce and scrape;
//! - [`locality`]: the operator's network map (which network an address is in, looked up once
//!   per announce), `retracker locate`, and the vocabulary of peer selection by network;
//! - [`client`]: the tracker client of the query tools (HTTP, HTTPS, UDP announce and scrape);
//! - [`query`]: `retracker query` and `retracker report`, on top of [`client`];
//! - [`cli`]: the command line of the binary and the man page generated from it;
//! - [`stats`]: counters funnelled through one event function, and the census of peers;
//! - [`web`]: the operator web UI (login, dashboard, history, peers, blocklist, exports, metrics);
//! - [`http`]: the warp routes that tie the layers together and map every error to a `failure reason`;
//! - [`tls`]: the HTTPS certificate, loaded at start and swapped on reload;
//! - [`udp`]: the BEP 15 UDP tracker: stateless connection ids, then the same announce core as HTTP;
//! - [`server`]: `run(listeners, shutdown)`, the accept loop and the background tasks;
//! - [`torrent`]: the `.torrent` commands `torrent-info` and `add-torrent`;
//! - [`sdnotify`]: readiness, reload and stop notifications to systemd (`Type=notify`);
//! - [`hex`] and [`text`]: leaf helpers every layer may use (strict hex, printable text).

// No module needs it; keeping it out keeps memory safety a property the compiler checks.
#![forbid(unsafe_code)]

pub mod access;
pub mod blocking;
pub mod blocklist;
pub mod cli;
pub mod client;
pub mod config;
pub mod hex;
pub mod http;
pub mod locality;
pub mod logging;
pub mod netlist;
pub mod policy;
pub mod protocol;
pub mod query;
pub mod rng;
pub mod sdnotify;
pub mod server;
pub mod stats;
pub mod storage;
pub mod swarm;
pub mod text;
pub mod tls;
pub mod torrent;
pub mod tracker;
pub mod udp;
pub mod web;
