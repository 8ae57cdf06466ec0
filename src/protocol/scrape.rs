//! BEP 48 scrape: request parsing and the `files` response.
use super::{InfoHash, ProtocolError};

/// One torrent's counts in a scrape response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeEntry {
    /// Torrent.
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: u32,
    /// Leechers.
    pub incomplete: u32,
    /// Completed downloads.
    pub downloaded: u64,
}
