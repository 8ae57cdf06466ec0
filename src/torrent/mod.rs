//! The `.torrent` commands of the binary: `retracker torrent-info` ([`info`]) prints what a
//! file holds, `retracker add-torrent` ([`add`]) stores its metadata in the tracker's database
//! (directly, or through `POST /api/torrents` of a running tracker).
//!
//! Both parse with [`crate::protocol::metainfo`]; errors go to stderr as one line
//! `retracker <command>: <file>: <message>`, the other files are still handled, and the exit
//! status is 0 (all done), 1 (a file failed) or 2 (usage: bad URL, unusable configuration).

pub mod add;
pub mod api;
pub mod info;

use crate::protocol::metainfo::{Metainfo, MetainfoError};
use std::path::Path;

/// Reads and parses one file; the message names neither the file nor the command.
pub fn load(path: &Path) -> Result<(Vec<u8>, Metainfo), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e: MetainfoError| e.to_string())?;
    Ok((bytes, meta))
}
