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
#[path = "../../src/netlist.rs"]
pub mod netlist;
#[path = "../../src/protocol/mod.rs"]
pub mod protocol;
#[path = "../../src/text.rs"]
pub mod text;
