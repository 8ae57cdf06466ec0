//! `/announce` (BEP 3, 7, 23, 24): parse, resolve the client's address, update the swarm, answer.

use super::error::RequestError;
use super::{answer, reply, resolve_client, unix_now, Settings, Tracker};
use crate::policy::{self, Resolved};
use crate::protocol::announce::{
    encode_announce, parse_announce, AnnounceRequest, AnnounceResponse,
};
use crate::protocol::query::query_has_key;
use crate::stats::RequestKind;
use crate::swarm::{Announce, AnnounceOutcome};
use http::{HeaderMap, Response, StatusCode};
use std::net::IpAddr;
use std::time::Instant;

/// Answers one announce request.
pub fn handle(t: &Tracker, socket: IpAddr, headers: &HeaderMap, query: &[u8]) -> Response<Vec<u8>> {
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
    answer(t, RequestKind::Announce, started, result)
}

/// What an announce answers, whatever the transport (HTTP here, UDP in `crate::udp`).
#[derive(Debug, Default)]
pub struct Answer {
    /// Counts and the peers chosen.
    pub outcome: AnnounceOutcome,
    /// A `warning message` for the client (reported ip not used, numwant capped, ...).
    pub warning: Option<String>,
    /// `interval` for this client: the configured one plus its share of jitter.
    pub interval: u32,
    /// `min interval`.
    pub min_interval: u32,
}

/// The transport-neutral part of an announce: the client address is already resolved; checks
/// the access list and the blocklist, caps numwant, updates the swarm, picks peers and the
/// interval to send, with the settings the request loaded once.
pub fn process(
    t: &Tracker,
    s: &Settings,
    req: &AnnounceRequest,
    resolved: &Resolved,
) -> Result<Answer, RequestError> {
    t.access.check(&req.info_hash)?;
    t.blocklist
        .check(&req.info_hash, &[resolved.client, resolved.peer])?;

    let wanted = req.numwant.unwrap_or(s.numwant);
    let numwant = wanted.min(s.max_numwant);
    let announce = Announce {
        info_hash: req.info_hash,
        peer_id: req.peer_id,
        ip: resolved.peer,
        port: req.port,
        left: req.left,
        event: req.event,
        key: req.key,
        numwant: numwant as usize,
    };
    let mut outcome = AnnounceOutcome::default();
    t.store.announce(&announce, unix_now(), &mut outcome)?;

    let capped = (wanted > numwant).then(|| format!("numwant capped at {numwant}"));
    let warning = match (
        resolved.reported_ip_rejected.as_ref().map(|r| r.as_str()),
        capped.as_deref(),
    ) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (Some(a), None) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    Ok(Answer {
        outcome,
        warning,
        interval: jittered(s.interval, s.interval_jitter, &mut crate::rng::Fast),
        min_interval: s.min_interval,
    })
}

/// `interval` plus a uniformly random 0..=`jitter` seconds, so that clients which started
/// together (after a tracker restart, a power cut in a building) drift apart.
pub fn jittered(interval: u32, jitter: u32, rng: &mut impl rand::Rng) -> u32 {
    if jitter == 0 {
        return interval;
    }
    interval.saturating_add(rng.random_range(0..=jitter))
}

fn announce(
    t: &Tracker,
    s: &Settings,
    socket: IpAddr,
    headers: &HeaderMap,
    query: &[u8],
) -> Result<Vec<u8>, RequestError> {
    let req = parse_announce(query)?;
    let resolved = resolve_client(s, socket, headers, req.ip.as_deref())?;
    let Answer {
        outcome,
        warning,
        interval,
        min_interval,
    } = process(t, s, &req, &resolved)?;
    let mut body = Vec::with_capacity(128 + outcome.peers.len() * if req.compact { 6 } else { 64 });
    encode_announce(
        &AnnounceResponse {
            interval,
            min_interval,
            complete: outcome.complete,
            incomplete: outcome.incomplete,
            downloaded: outcome.downloaded,
            peers: &outcome.peers,
            external_ip: Some(resolved.client),
            warning: warning.as_deref(),
            tracker_id: s.tracker_id.as_deref(),
            compact: req.compact,
            no_peer_id: req.no_peer_id,
        },
        &mut body,
    );
    Ok(body)
}

/// `?<run_gc_key>`: drops expired peers now, for loopback and trusted proxies only.
fn cleanup(t: &Tracker, s: &Settings, socket: IpAddr, headers: &HeaderMap) -> Response<Vec<u8>> {
    // Through a trusted proxy the socket is always trusted, so the client behind it must be too:
    // otherwise every subscriber behind nginx could trigger it.
    let client = resolve_client(s, socket, headers, None).map(|r| r.client);
    let allowed = policy::may_trigger_cleanup(&s.policy, socket)
        && client.is_ok_and(|c| policy::may_trigger_cleanup(&s.policy, c));
    if !allowed {
        let refused = Err(RequestError::CleanupNotAllowed);
        return answer(t, RequestKind::Announce, Instant::now(), refused);
    }
    let report = t.store.cleanup(unix_now().saturating_sub(s.peer_expiry));
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
}

#[cfg(test)]
mod tests {
    use super::jittered;
    use rand::SeedableRng;

    #[test]
    fn jitter_adds_zero_to_jitter_seconds() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        assert_eq!(jittered(1800, 0, &mut rng), 1800);
        let values: Vec<u32> = (0..2000).map(|_| jittered(1800, 10, &mut rng)).collect();
        assert!(values.iter().all(|v| (1800..=1810).contains(v)));
        for v in 1800..=1810 {
            assert!(values.contains(&v), "{v} never drawn");
        }
        for _ in 0..20 {
            assert!(
                jittered(u32::MAX - 1, 5, &mut rng) >= u32::MAX - 1,
                "saturates"
            );
        }
    }
}
