//! The parts of retracker the fuzz targets exercise, compiled from retracker's own source files.
//!
//! `src/protocol/` and `src/config/` are pure (text or bytes in, values out) and need only a
//! few small crates, while the `retracker` library as a whole pulls in tokio, warp, hyper,
//! rustls/ring and SQLite (bundled C). Building all of that with libFuzzer's coverage
//! instrumentation would take minutes of CI time for code the targets never run, so the modules
//! are included by path instead: the same files, the same module tree (`crate::netlist` and
//! `crate::config` resolve as in retracker). A module that starts using another part of the
//! crate shows up here as a build error of `fuzz/run`; add that module below.
#![allow(dead_code, unused_imports)]

#[path = "../../src/config/mod.rs"]
pub mod config;
#[path = "../../src/hex.rs"]
pub mod hex;
/// Only what the configuration uses of `src/locality/` (the mode and the rule for network
/// names); the network map needs maxminddb and is not fuzzed here.
pub mod locality {
    pub use super::locality_mode::Mode;
    pub use super::locality_name::valid_name;
}
// At the crate root: a `#[path]` inside an inline module would resolve through the missing
// folder src/locality/ of this crate.
#[path = "../../src/locality/mode.rs"]
mod locality_mode;
#[path = "../../src/locality/name.rs"]
mod locality_name;
#[path = "../../src/netlist.rs"]
pub mod netlist;
#[path = "../../src/protocol/mod.rs"]
pub mod protocol;
#[path = "../../src/text.rs"]
pub mod text;
