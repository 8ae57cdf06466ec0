//! `/scrape` (BEP 48): counts for the hashes asked, keyed by their 20 raw bytes.

use super::announce::{proxy_headers, warn_no_proxy_header};
use super::error::RequestError;
use super::{reply, Tracker};
use crate::policy::{self, AddressError};
use crate::protocol::scrape::{encode_scrape, parse_scrape};
use http::{HeaderMap, Response};
use std::net::IpAddr;

/// Answers one scrape request.
pub fn handle(t: &Tracker, socket: IpAddr, headers: &HeaderMap, query: &[u8]) -> Response<Vec<u8>> {
    match scrape(t, socket, headers, query) {
        Ok(body) => reply::bencoded(body),
        Err(e) => reply::failure(&e.to_string()),
    }
}

fn scrape(
    t: &Tracker,
    socket: IpAddr,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<Vec<u8>, RequestError> {
    let hashes = parse_scrape(query, t.max_scrape_hashes)?;
    // The same networks that may announce may scrape.
    policy::resolve(&t.policy, socket, &proxy_headers(t, headers), None).inspect_err(|e| {
        if *e == AddressError::NoProxyHeader {
            warn_no_proxy_header(socket);
        }
    })?;
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
