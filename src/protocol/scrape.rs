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
/// Stub.
pub fn parse_scrape(_q: &[u8], _m: usize) -> Result<Vec<InfoHash>, ProtocolError> {
    todo!()
}
/// Stub.
pub fn encode_scrape(_f: &[ScrapeEntry], _out: &mut Vec<u8>) {}
