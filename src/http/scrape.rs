//! `/scrape` over HTTP (BEP 48): decode the hashes, resolve the client's address, call the core
//! ([`crate::tracker::scrape`]), encode the counts keyed by their 20 raw bytes. A scrape
//! without `info_hash` is a full scrape, answered from the blocking pool.

use super::{answer, resolve_client, Answer};
use crate::protocol::scrape::{encode_scrape, parse_scrape, ScrapeEntry};
use crate::protocol::InfoHash;
use crate::stats::RequestKind;
use crate::tracker::{scrape, Refusal, Tracker};
use http::HeaderMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// Answers one scrape request.
pub fn handle(t: &Arc<Tracker>, socket: IpAddr, headers: &HeaderMap, query: &[u8]) -> Answer {
    let started = Instant::now();
    match hashes(t, socket, headers, query) {
        Ok(hashes) if hashes.is_empty() => {
            let t = Arc::clone(t);
            Answer::Pending(Box::pin(async move {
                let result = scrape::full(&t).await.map(|entries| encoded(&entries));
                answer(&t, RequestKind::Scrape, started, result)
            }))
        }
        result => {
            let result = result.map(|hashes| {
                let mut entries = Vec::with_capacity(hashes.len());
                scrape::counts(t, &hashes, &mut entries);
                encoded(&entries)
            });
            Answer::Ready(answer(t, RequestKind::Scrape, started, result))
        }
    }
}

/// The hashes asked for (empty: every torrent), once the client may scrape.
fn hashes(
    t: &Tracker,
    socket: IpAddr,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<Vec<InfoHash>, Refusal> {
    let s = t.settings();
    let hashes = parse_scrape(query, s.max_scrape_hashes)?;
    // The same networks that may announce may scrape.
    resolve_client(&s, socket, headers, None)?;
    if hashes.is_empty() && !s.full_scrape {
        return Err(Refusal::FullScrapeDisabled);
    }
    Ok(hashes)
}

fn encoded(entries: &[ScrapeEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + entries.len() * 80);
    encode_scrape(entries, &mut body);
    body
}
