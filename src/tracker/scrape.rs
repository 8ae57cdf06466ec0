//! The scrape core (BEP 48, BEP 15 scrape), shared by HTTP and UDP: the counts of the hashes
//! asked, or of every torrent (full scrape, HTTP only).
//!
//! A torrent the access list refuses is counted as zeros, like a torrent the tracker has never
//! seen, and left out of a full scrape: the answer never tells whether it has a swarm here.

use super::{Refusal, Tracker};
use crate::protocol::scrape::ScrapeEntry;
use crate::protocol::InfoHash;
use std::sync::Arc;

/// The counts of `hashes` (not empty) in their order, into `out`.
pub fn counts(t: &Tracker, hashes: &[InfoHash], out: &mut Vec<ScrapeEntry>) {
    t.store.scrape(hashes, out);
    if let Some(cluster) = &t.cluster {
        cluster.merge_scrape(out);
    }
    for e in out.iter_mut().filter(|e| !t.access.permits(&e.info_hash)) {
        *e = ScrapeEntry {
            info_hash: e.info_hash,
            complete: 0,
            incomplete: 0,
            downloaded: 0,
        };
    }
}

/// The counts of every swarm in memory, the cluster's where this node holds a view of it (for
/// the web UI's tables and exports; no access filter). A walk: call it on the blocking pool.
pub fn every(t: &Tracker, out: &mut Vec<ScrapeEntry>) {
    t.store.scrape_all(out);
    if let Some(cluster) = &t.cluster {
        cluster.merge_full_scrape(out);
    }
}

/// The counts of every torrent the access list permits, when `[TRACKER] full_scrape` is on.
/// Walks every swarm, so it runs on the blocking pool ([`crate::blocking`]).
pub async fn full(t: &Arc<Tracker>) -> Result<Vec<ScrapeEntry>, Refusal> {
    if !t.settings().full_scrape {
        return Err(Refusal::FullScrapeDisabled);
    }
    let t = Arc::clone(t);
    Ok(crate::blocking::run(move || {
        let mut out = Vec::new();
        every(&t, &mut out);
        out.retain(|e| t.access.permits(&e.info_hash));
        out
    })
    .await)
}
