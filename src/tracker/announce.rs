//! The announce core (BEP 3, 7, 23, 24), shared by HTTP and UDP: once a transport has decoded
//! the request and resolved the client's address, [`process`] checks the access list and the
//! blocklist, caps numwant, finds the requester's network (one look-up in the network map),
//! updates the swarm, picks the peers by locality, counts them by tier, and picks the interval
//! to send.

use super::{Refusal, Settings, Tracker, Warning};
use crate::locality::Locality;
use crate::policy::Resolved;
use crate::protocol::announce::AnnounceRequest;
use crate::stats::Event;
use crate::swarm::{Announce, AnnounceOutcome, CleanupReport, Family};

/// What an announce answers, whatever the transport.
#[derive(Debug, Default)]
pub struct Answer {
    /// Counts and the peers chosen.
    pub outcome: AnnounceOutcome,
    /// What the client should be told besides (reported ip not used, numwant capped).
    pub warnings: Vec<Warning>,
    /// `interval` for this client: the configured one plus its share of jitter.
    pub interval: u32,
    /// `min interval`.
    pub min_interval: u32,
}

/// The transport-neutral part of an announce, with the settings the request loaded once.
/// `family`: the one address family the transport can send (UDP), or `None` for both (HTTP).
pub fn process(
    t: &Tracker,
    s: &Settings,
    req: &AnnounceRequest,
    resolved: &Resolved,
    family: Option<Family>,
) -> Result<Answer, Refusal> {
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
        family,
        renew: s.renew(),
        locality: Locality {
            mode: s.locality_mode,
            requester: t.network_map().net_id(resolved.peer),
            outside_share: s.outside_share,
        },
    };
    // Room for the answer up front: grown peer by peer it was five reallocations an announce.
    let mut outcome = AnnounceOutcome {
        peers: Vec::with_capacity(announce.numwant),
        ..AnnounceOutcome::default()
    };
    t.store.announce(&announce, t.clock.now(), &mut outcome)?;
    if let Some(cluster) = &t.cluster {
        // The other nodes' peers and counts, from memory (never waits for Redis).
        cluster.merge_announce(&announce, &t.network_map(), &mut outcome);
    }
    if !outcome.peers.is_empty() {
        t.stats.event(Event::HandedOut(outcome.handed_out));
    }

    // No allocation unless there is something to say.
    let mut warnings = Vec::new();
    if let Some(why) = resolved.reported_ip_rejected {
        warnings.push(Warning::ReportedIp(why));
    }
    if wanted > numwant {
        warnings.push(Warning::NumwantCapped(numwant));
    }
    Ok(Answer {
        outcome,
        warnings,
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

/// Drops the peers silent for longer than `[TRACKER] peer_expiry` and the swarms left empty.
/// Walks every swarm, so it runs on the blocking pool ([`crate::blocking`]). Returns what it
/// removed and the expiry limit it used (peers last seen before it are gone).
pub async fn cleanup_expired(t: &std::sync::Arc<Tracker>) -> (CleanupReport, u32) {
    let expire_before = t.clock.now().saturating_sub(t.settings().peer_expiry);
    let t = std::sync::Arc::clone(t);
    let report = crate::blocking::run(move || t.store.cleanup(expire_before)).await;
    (report, expire_before)
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
