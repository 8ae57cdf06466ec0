//! `/scrape` (BEP 48): counts for the hashes asked, keyed by their 20 raw bytes.

use super::error::RequestError;
use super::{answer, resolve_client, Tracker};
use crate::protocol::scrape::{encode_scrape, parse_scrape};
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
    let hashes = parse_scrape(query, t.max_scrape_hashes)?;
    // The same networks that may announce may scrape.
    resolve_client(t, socket, headers, None)?;
    let mut entries = Vec::with_capacity(hashes.len());
    if hashes.is_empty() {
        if !t.full_scrape {
            return Err(RequestError::FullScrapeDisabled);
        }
        t.store.scrape_all(&mut entries);
    } else {
        t.store.scrape(&hashes, &mut entries);
    }
    let mut body = Vec::with_capacity(16 + entries.len() * 80);
    encode_scrape(&entries, &mut body);
    Ok(body)
}
