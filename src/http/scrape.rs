//! `/scrape` (BEP 48): counts for the hashes asked, keyed by their 20 raw bytes.

use super::error::RequestError;
use super::{answer, resolve_client, Tracker};
use crate::protocol::scrape::{encode_scrape, parse_scrape, ScrapeEntry};
use crate::protocol::InfoHash;
use crate::stats::RequestKind;
use http::{HeaderMap, Response};
use std::net::IpAddr;
use std::time::Instant;

/// Answers one scrape request.
pub fn handle(t: &Tracker, socket: IpAddr, headers: &HeaderMap, query: &[u8]) -> Response<Vec<u8>> {
    let started = Instant::now();
    let result = scrape(t, socket, headers, query);
    answer(t, RequestKind::Scrape, started, result)
}

fn scrape(
    t: &Tracker,
    socket: IpAddr,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<Vec<u8>, RequestError> {
    let s = t.settings();
    let hashes = parse_scrape(query, s.max_scrape_hashes)?;
    // The same networks that may announce may scrape.
    resolve_client(&s, socket, headers, None)?;
    let mut entries = Vec::with_capacity(hashes.len());
    counts(t, &hashes, &mut entries)?;
    let mut body = Vec::with_capacity(16 + entries.len() * 80);
    encode_scrape(&entries, &mut body);
    Ok(body)
}

/// The transport-neutral part of a scrape, once the client may scrape: the counts of `hashes`
/// in their order, or of every torrent when `hashes` is empty and full scrape is on.
///
/// A torrent the access list refuses is counted as zeros, like a torrent the tracker has never
/// seen, and left out of a full scrape: the answer never tells whether it has a swarm here.
pub fn counts(
    t: &Tracker,
    hashes: &[InfoHash],
    out: &mut Vec<ScrapeEntry>,
) -> Result<(), RequestError> {
    if hashes.is_empty() {
        if !t.settings().full_scrape {
            return Err(RequestError::FullScrapeDisabled);
        }
        t.store.scrape_all(out);
        out.retain(|e| t.access.permits(&e.info_hash));
    } else {
        t.store.scrape(hashes, out);
        for e in out.iter_mut().filter(|e| !t.access.permits(&e.info_hash)) {
            *e = ScrapeEntry {
                info_hash: e.info_hash,
                complete: 0,
                incomplete: 0,
                downloaded: 0,
            };
        }
    }
    Ok(())
}
