//! `/announce` over HTTP (BEP 3, 7, 23, 24): decode the query, resolve the client's address,
//! call the core ([`crate::tracker::announce`]), encode the bencoded answer. Also the
//! `?<run_gc_key>` cleanup request of the Python retracker.

use super::{answer, reply, resolve_client, Answer};
use crate::policy;
use crate::protocol::announce::{encode_announce, parse_announce, AnnounceResponse};
use crate::protocol::query::query_has_key;
use crate::stats::RequestKind;
use crate::tracker::announce::{cleanup_expired, process};
use crate::tracker::{joined_warnings, Refusal, Settings, Tracker};
use http::{HeaderMap, StatusCode};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// Answers one announce request.
pub fn handle(t: &Arc<Tracker>, socket: IpAddr, headers: &HeaderMap, query: &[u8]) -> Answer {
    let started = Instant::now();
    let s = t.settings();
    // info_hash first: clients send it first, so an announce is told from a cleanup request
    // without scanning its whole query for the key.
    if !s.run_gc_key.is_empty()
        && !query_has_key(query, b"info_hash")
        && query_has_key(query, &s.run_gc_key)
    {
        return cleanup(t, &s, socket, headers);
    }
    let result = announce(t, &s, socket, headers, query);
    Answer::Ready(answer(t, RequestKind::Announce, started, result))
}

fn announce(
    t: &Tracker,
    s: &Settings,
    socket: IpAddr,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<Vec<u8>, Refusal> {
    let req = parse_announce(query)?;
    let resolved = resolve_client(s, socket, headers, req.ip.as_deref())?;
    let answered = process(t, s, &req, &resolved, None)?;
    let outcome = &answered.outcome;
    let warning = joined_warnings(&answered.warnings);
    let mut body = Vec::with_capacity(128 + outcome.peers.len() * if req.compact { 6 } else { 64 });
    encode_announce(
        &AnnounceResponse {
            interval: answered.interval,
            min_interval: answered.min_interval,
            complete: outcome.complete,
            incomplete: outcome.incomplete,
            downloaded: outcome.downloaded,
            peers: &outcome.peers,
            external_ip: Some(resolved.client),
            warning: warning.as_deref(),
            tracker_id: s.tracker_id.as_deref(),
            compact: req.compact,
            no_peer_id: req.no_peer_id,
            // The requester, not the socket: behind a proxy the client's own family counts. An
            // IPv4-mapped address is an IPv4 client on a dual-stack socket.
            peers6_key: resolved.client.to_canonical().is_ipv6(),
        },
        &mut body,
    );
    Ok(body)
}

/// `?<run_gc_key>`: drops expired peers now, for loopback and trusted proxies only.
fn cleanup(t: &Arc<Tracker>, s: &Settings, socket: IpAddr, headers: &HeaderMap) -> Answer {
    // Through a trusted proxy the socket is always trusted, so the client behind it must be too:
    // otherwise every subscriber behind nginx could trigger it.
    let client = resolve_client(s, socket, headers, None).map(|r| r.client);
    let allowed = policy::may_trigger_cleanup(&s.policy, socket)
        && client.is_ok_and(|c| policy::may_trigger_cleanup(&s.policy, c));
    if !allowed {
        let refused = Err(Refusal::CleanupNotAllowed);
        return Answer::Ready(answer(t, RequestKind::Announce, Instant::now(), refused));
    }
    let t = Arc::clone(t);
    Answer::Pending(Box::pin(async move {
        let (report, _) = cleanup_expired(&t).await;
        tracing::info!(
            "cleanup requested by {socket}: {} expired peers and {} empty torrents removed",
            report.peers_removed,
            report.torrents_removed
        );
        reply::text(
            StatusCode::OK,
            format!(
                "cleanup done: {} expired peers and {} empty torrents removed\n",
                report.peers_removed, report.torrents_removed
            ),
        )
    }))
}
