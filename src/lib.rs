//! retracker: a BitTorrent tracker for local networks.
//!
//! Layers, each with one job and one error type, imports going down only (the map, with the way
//! of one HTTP and one UDP announce from the socket to SQLite, is `docs/architecture.md`):
//! - [`server`]: `run(config, listeners, shutdown)`: binds, wires the services, routes (tracker
//!   paths first, then the web UI), reloads on SIGHUP, runs the background tasks;
//! - [`http`] and [`udp`]: the transport adapters, siblings: decode, resolve the client, call
//!   the core, encode (HTTP's bencoded answers; BEP 15 with stateless connection ids);
//! - [`web`]: the operator web UI (login, dashboard, history, peers, blocklist, exports, metrics);
//! - [`tracker`]: the transport-neutral core: shared state, live settings, announce and scrape,
//!   the one refusal type mapped to `failure reason`, warnings as values, the clock;
//! - [`protocol`]: pure parsing and encoding of tracker requests and responses (BEP 3, 7, 15, 23,
//!   24, 41, 48) and `.torrent` files, no I/O;
//! - [`policy`]: which address a client announces from, and whether it may announce at all;
//! - [`swarm`]: the in-memory swarms behind a small store interface;
//! - [`locality`]: the operator's network map (which network an address is in, looked up once
//!   per announce), `retracker locate`, and the vocabulary of peer selection by network;
//! - [`access`] and [`blocklist`]: the info-hash access list file and the operator's blocklist,
//!   checked per announce;
//! - [`stats`]: counters funnelled through one event function, and the census of peers;
//! - [`storage`]: SQLite persistence (write-behind, restore at start); the only module with SQL;
//! - [`blocking`]: walks of the whole store on the blocking pool, never on an async worker;
//! - [`config`]: the INI file (compatible with the Python retracker) and its validation;
//! - [`tls`]: the HTTPS certificate, loaded at start and swapped on reload;
//! - [`client`] and [`query`]: the tracker client and `retracker query` / `report`;
//! - [`torrent`]: the `.torrent` commands `torrent-info` and `add-torrent`;
//! - [`cli`]: the command line of the binary and the man page generated from it;
//! - [`sdnotify`]: readiness, reload and stop notifications to systemd (`Type=notify`);
//! - [`hex`] and [`text`]: leaf helpers every layer may use (strict hex, printable text).

// No module needs it; keeping it out keeps memory safety a property the compiler checks.
#![forbid(unsafe_code)]

pub mod access;
pub mod blocking;
pub mod blocklist;
pub mod checks;
pub mod cli;
pub mod client;
pub mod cluster;
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
