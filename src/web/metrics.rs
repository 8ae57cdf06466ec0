//! `GET /metrics`: Prometheus metrics.
//!
//! Served without login to clients in `[METRICS] allowed_networks` (loopback by default, so a
//! Prometheus on the same host needs no credentials), also while the web UI is disabled. Anyone
//! else needs a session or HTTP basic auth with the web UI account; with no account configured
//! they are refused (403) with the setting that would let them in.

use super::error::WebError;
use super::{reply, Access, Req, Web};
use crate::stats::census;
use crate::stats::prometheus::{self, MetricsInput};
use http::{Response, StatusCode};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `GET /metrics`.
pub async fn metrics(web: &Arc<Web>, req: &Req) -> Result<Response<Vec<u8>>, WebError> {
    if !web.metrics_networks.contains(&req.client) {
        if web.auth.is_none() {
            return Err(WebError::Forbidden(format!(
                "/metrics is served without login only to [METRICS] allowed_networks, and {} is \
                 not in them; add its network there (or set [STATS] access_password to allow \
                 HTTP basic auth)",
                req.client
            )));
        }
        web.guard(req, Access::Api).await?;
    }
    let input = gather(web).await?;
    Ok(reply::with_type(
        StatusCode::OK,
        prometheus::CONTENT_TYPE,
        prometheus::render(&input).into_bytes(),
    ))
}

/// Reads every number; the peer walk and the database run on a blocking thread.
async fn gather(web: &Arc<Web>) -> Result<MetricsInput, WebError> {
    let counters = web.stats.counters();
    let counts = web.store.counts();
    let writer = &web.writer;
    let store = Arc::clone(&web.store);
    let (census, completed_total, database_bytes) = web
        .db(move |s| {
            let census = census::take(&*store);
            let completed = completed_total(s.completed_total(), census.completed);
            Ok((census, completed, s.size_bytes()))
        })
        .await?;
    Ok(MetricsInput {
        counters,
        census,
        completed_total,
        persistence_backlog: counts.pending_changes + writer.held_rows.load(Ordering::Relaxed),
        persistence_batches: writer.batches.load(Ordering::Relaxed),
        persistence_rows: writer.rows.load(Ordering::Relaxed),
        persistence_failures: writer.failures.load(Ordering::Relaxed),
        persistence_failing: writer.last_error.lock().is_some(),
        database_bytes,
        blocklist_entries: web.blocklist.entries().len() as u64,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        cluster: web
            .tracker
            .cluster
            .as_ref()
            .map(|c| c.status.figures(&c.node)),
        checks: web.checks.metrics(),
    })
}

/// Completed downloads, all time: the database's total, which counts torrents no longer in
/// memory; the swarms' own count when the database cannot say (it fails, is a step behind
/// the write-behind, or is a private in-memory one with `[DB] type = memory`).
pub fn completed_total<E>(stored: Result<u64, E>, in_memory: u64) -> u64 {
    stored.map_or(in_memory, |n| n.max(in_memory))
}

#[cfg(test)]
mod tests {
    #[test]
    fn completed_prefers_the_database_unless_it_is_behind() {
        assert_eq!(super::completed_total::<()>(Ok(10), 4), 10);
        assert_eq!(super::completed_total::<()>(Ok(0), 4), 4);
        assert_eq!(super::completed_total(Err(()), 4), 4);
    }
}
