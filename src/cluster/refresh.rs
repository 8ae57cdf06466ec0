//! The view task: reads the swarms requests asked about (one script call per swarm, pipelined)
//! into their views, and every few seconds the nodes' reports (`rt:nodes`) for the operator.

use super::keys;
use super::redis::{cmd, pipe, Redis, Reply, READ};
use super::status::NodeReport;
use super::view::{View, ViewPeer, SAMPLE};
use super::Cluster;
use crate::protocol::InfoHash;
use crate::tracker::Tracker;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Swarms read per round trip.
const PER_ROUND: usize = 256;

/// How often the nodes' reports are read.
const NODES_EVERY: Duration = Duration::from_secs(2);

/// A view no request used for this long is dropped.
const IDLE: Duration = Duration::from_secs(120);

/// A node whose last push is older than this is dropped from `rt:nodes`.
const FORGET_NODE_MS: u64 = 24 * 3600 * 1000;

/// The view loop; returns when `stop` changes.
pub async fn run(
    c: Arc<Cluster>,
    t: Arc<Tracker>,
    mut redis: Redis,
    mut stop: watch::Receiver<bool>,
) {
    let mut nodes_at = Instant::now() - NODES_EVERY;
    let mut forget_at = Instant::now();
    loop {
        tokio::select! {
            _ = c.views.wake.notified() => {}
            _ = tokio::time::sleep(NODES_EVERY) => {}
            _ = stop.changed() => break,
        }
        let wanted = c.views.take_wanted();
        for chunk in wanted.chunks(PER_ROUND) {
            read_views(&c, &t, &mut redis, chunk).await;
        }
        if nodes_at.elapsed() >= NODES_EVERY {
            nodes_at = Instant::now();
            read_nodes(&c, &mut redis).await;
        }
        if forget_at.elapsed() >= IDLE {
            forget_at = Instant::now();
            let c2 = Arc::clone(&c);
            let left = crate::blocking::run(move || c2.views.forget_idle(IDLE)).await;
            c.status.views.store(left as u64, Ordering::Relaxed);
        }
    }
}

async fn read_views(c: &Cluster, t: &Tracker, redis: &mut Redis, swarms: &[InfoHash]) {
    let now_ms = u64::from(t.clock.now()) * 1000;
    let pipes = swarms
        .iter()
        .map(|h| {
            let mut p = pipe();
            let mut eval = cmd("EVAL");
            eval.arg(READ).arg(5);
            for k in keys::all_peers(h) {
                eval.arg(k);
            }
            eval.arg(keys::done(h)).arg(now_ms).arg(SAMPLE);
            p.add_command(eval);
            p
        })
        .collect();
    match redis.run(pipes, &c.status).await {
        Ok(replies) => {
            if c.status.back() {
                tracing::info!("cluster: Redis answers; reading the other nodes' peers");
            }
            let map = t.network_map();
            for (h, reply) in swarms.iter().zip(replies) {
                let view = reply
                    .first()
                    .and_then(|r| parse(r, h, c, t, &mut |ip| map.net_id(ip)))
                    .unwrap_or_default();
                c.views.put(h, view);
            }
            c.status
                .view_refreshes
                .fetch_add(swarms.len() as u64, Ordering::Relaxed);
        }
        Err(why) => {
            // The swarms are asked again by a request once `view_max_age_ms` has passed, not at
            // once: a Redis that refuses connections must not make this loop spin.
            if c.status.down(why.clone()) {
                tracing::warn!("cluster: Redis does not answer ({why}); serving the last view");
            }
        }
    }
}

/// A `READ` reply as a view: the other nodes' peers (this node's own listings left out) and
/// their counts, estimated from the sample when a set is larger than it.
fn parse(
    reply: &Reply,
    h: &InfoHash,
    c: &Cluster,
    t: &Tracker,
    net_of: &mut dyn FnMut(std::net::IpAddr) -> crate::locality::NetId,
) -> Option<View> {
    let Reply::Array(parts) = reply else {
        return None;
    };
    let mut view = View::default();
    let mut own = Vec::new();
    for (i, &(_, seeder)) in keys::ROLES.iter().enumerate() {
        let total = as_int(parts.get(2 * i)?)?;
        let Reply::Array(members) = parts.get(2 * i + 1)? else {
            return None;
        };
        let sample: Vec<_> = members
            .iter()
            .filter_map(|m| match m {
                Reply::BulkString(b) => keys::parse_member(b),
                _ => None,
            })
            .collect();
        t.store.has_peers(h, &sample, &mut own);
        let others = own.iter().filter(|o| !**o).count();
        // The sample is every member when the set is no larger: then the count is exact.
        let estimate = if sample.len() as u64 >= total {
            others as u64
        } else {
            (total as f64 * others as f64 / sample.len().max(1) as f64).round() as u64
        };
        let estimate = u32::try_from(estimate).unwrap_or(u32::MAX);
        if seeder {
            view.seeders = view.seeders.saturating_add(estimate);
        } else {
            view.leechers = view.leechers.saturating_add(estimate);
        }
        for ((ip, port, peer_id), mine) in sample.into_iter().zip(&own) {
            if !mine {
                view.peers.push(ViewPeer {
                    ip,
                    port,
                    peer_id,
                    seeder,
                    net: net_of(ip),
                });
            }
        }
    }
    if let Some(Reply::Array(fields)) = parts.get(8) {
        for pair in fields.chunks(2) {
            let (Some(Reply::BulkString(node)), Some(n)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let n = as_int(n).unwrap_or(0);
            if node.as_slice() == c.node.as_bytes() {
                view.own_completed = n;
            } else {
                view.completed += n;
            }
        }
    }
    Some(view.finished())
}

fn as_int(v: &Reply) -> Option<u64> {
    match v {
        Reply::Int(n) => u64::try_from(*n).ok(),
        Reply::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

async fn read_nodes(c: &Cluster, redis: &mut Redis) {
    let mut p = pipe();
    p.cmd("HGETALL").arg(keys::NODES);
    let Ok(replies) = redis.run(vec![p], &c.status).await else {
        // The push task logs and counts Redis being down.
        return;
    };
    let Some(Reply::Array(fields)) = replies.first().and_then(|r| r.first()) else {
        return;
    };
    let now = super::unix_ms();
    let mut nodes = Vec::new();
    let mut stale = Vec::new();
    for pair in fields.chunks(2) {
        let (Some(Reply::BulkString(id)), Some(Reply::BulkString(json))) =
            (pair.first(), pair.get(1))
        else {
            continue;
        };
        let id = String::from_utf8_lossy(id).into_owned();
        let Ok(mut report) = serde_json::from_slice::<NodeReport>(json) else {
            continue;
        };
        report.node = id;
        if now.saturating_sub(report.pushed_at_ms) > FORGET_NODE_MS {
            stale.push(report.node);
        } else {
            nodes.push(report);
        }
    }
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    *c.status.nodes.lock() = nodes;
    if !stale.is_empty() {
        let mut p = pipe();
        p.cmd("HDEL").arg(keys::NODES).arg(stale);
        let _ = redis.run(vec![p], &c.status).await;
    }
}
