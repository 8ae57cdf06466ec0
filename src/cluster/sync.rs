//! The push task: every `sync_interval_ms`, takes this node's changes from the store and sends
//! them to Redis in one batch (a pipeline per swarm), claims the completions, and publishes
//! the node's report. A full resync (every peer and count of the store, at a capped rate)
//! runs at start, after the queue overflowed, and when Redis lost its data.

use super::keys;
use super::redis::{cmd, pipe, Pipeline, Redis, Reply, CLAIM, RAISE};
use super::status::NodeReport;
use super::Cluster;
use crate::protocol::{InfoHash, PeerId};
use crate::swarm::{ClusterChange, Listed, Renew};
use crate::tracker::Tracker;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most peer changes held while Redis does not answer; beyond it they are dropped and a full
/// resync follows (about 100 bytes each: 25 MB).
const MAX_HELD: usize = 250_000;

/// Peers a resync pushes per interval: its rate is capped so that a node coming back does not
/// flood Redis (20,000 per 250 ms = 80,000 peers/s).
const RESYNC_CHUNK: usize = 20_000;

/// One peer of a resync.
type Snapshot = (InfoHash, PeerId, Listed, u32);

/// The push loop; returns when `stop` changes.
pub async fn run(
    c: Arc<Cluster>,
    t: Arc<Tracker>,
    mut redis: Redis,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_millis(u64::from(c.config.sync_interval_ms));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut held: Vec<ClusterChange> = Vec::new();
    // The oldest change held can have been made right after the take before the one that
    // found it: its age is counted from there (an upper bound, at most one interval more).
    let mut held_since: Option<Instant> = None;
    let mut last_take = Instant::now();
    let mut need_resync = true;
    let mut resync: VecDeque<Snapshot> = VecDeque::new();
    let mut counts: Vec<(InfoHash, u64)> = Vec::new();
    // Whether this node's field in `rt:nodes` was written since the last resync: if Redis then
    // says it is missing, Redis lost its data.
    let mut registered = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let before = held.len();
        if t.store.take_cluster_changes(&mut held) || held.len() > MAX_HELD {
            // Completions are kept whatever happens: a resync cannot rebuild them.
            held.retain(|c| matches!(c, ClusterChange::Completed { .. }));
            need_resync = true;
        }
        if held.len() > before && held_since.is_none() {
            held_since = Some(last_take);
        }
        last_take = Instant::now();
        c.status.queued.store(held.len() as u64, Ordering::Relaxed);
        if need_resync {
            let (peers, swarm_counts) = snapshot(&t).await;
            tracing::info!(
                "cluster: pushing every peer ({}) and count ({}) of this node to Redis",
                peers.len(),
                swarm_counts.len()
            );
            resync = peers.into();
            counts = swarm_counts;
            c.status.resyncs.fetch_add(1, Ordering::Relaxed);
            need_resync = false;
            registered = false;
        }
        let chunk: Vec<Snapshot> = resync.iter().take(RESYNC_CHUNK).cloned().collect();
        let raise: Vec<(InfoHash, u64)> = if resync.len() <= RESYNC_CHUNK {
            counts.clone()
        } else {
            Vec::new()
        };
        c.status
            .resync_left
            .store(resync.len() as u64, Ordering::Relaxed);

        let settings = t.settings();
        let now_s = t.clock.now();
        let batch = Batch::build(
            &held,
            &chunk,
            &raise,
            settings.renew(),
            settings.peer_expiry,
        );
        let report = NodeReport {
            node: String::new(),
            pushed_at_ms: super::unix_ms(),
            peers: {
                let n = t.store.counts();
                n.seeders + n.leechers
            },
            // The last push's lag (this one's is known once Redis confirms it).
            lag_ms: c.status.lag_ms.load(Ordering::Relaxed),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            instance: c.instance,
        };
        let mut pipes = batch.pipes(&c.node);
        let mut registry = pipe();
        registry
            // The previous report under this id: missing means Redis lost this node's data;
            // another process's instance means two nodes share one id. Read here, in the
            // push, because both processes write the field every interval: a separate
            // periodic read can stay in phase with its own push and never see the other.
            .cmd("HGET")
            .arg(keys::NODES)
            .arg(&c.node)
            .cmd("HSET")
            .arg(keys::NODES)
            .arg(&c.node)
            .arg(serde_json::to_string(&report).unwrap_or_default());
        pipes.push(registry);

        match redis.run(pipes, &c.status).await {
            Ok(replies) => {
                if c.status.back() {
                    tracing::info!("cluster: Redis answers; pushing this node's changes");
                }
                let (won, lost) = batch.settle(&replies, &t, now_s);
                c.status.claims_won.fetch_add(won, Ordering::Relaxed);
                c.status.claims_lost.fetch_add(lost, Ordering::Relaxed);
                let previous = replies.last().and_then(|r| r.first());
                let known = matches!(previous, Some(Reply::BulkString(_)));
                if let (true, Some(Reply::BulkString(json))) = (registered, previous) {
                    // Not on the first push: that finds the report of this node's previous
                    // run when it was restarted within seconds.
                    c.status.check_clash(&c.node, c.instance, json);
                }
                if registered && !known {
                    tracing::warn!(
                        "cluster: Redis lost this node's data (restarted empty?): resync"
                    );
                    need_resync = true;
                }
                registered = true;
                resync.drain(..chunk.len());
                if !raise.is_empty() {
                    counts.clear();
                }
                if !held.is_empty() || !chunk.is_empty() {
                    c.status.push_batches.fetch_add(1, Ordering::Relaxed);
                }
                // From the oldest change's earliest possible time to Redis's confirmation.
                let lag = held_since.map_or(0, |s| s.elapsed().as_millis() as u64);
                c.status.lag_ms.store(lag, Ordering::Relaxed);
                c.status
                    .pushed_at_ms
                    .store(super::unix_ms(), Ordering::Relaxed);
                held.clear();
                held_since = None;
                if held.capacity() > 4 * MAX_HELD / 100 {
                    held = Vec::new();
                }
                c.status.queued.store(0, Ordering::Relaxed);
            }
            Err(why) => {
                if c.status.down(why.clone()) {
                    tracing::warn!(
                        "cluster: Redis does not answer ({why}); serving this node's peers and the last view, holding changes"
                    );
                }
            }
        }
    }
}

/// Every peer and every nonzero count of the store, read on the blocking pool.
async fn snapshot(t: &Arc<Tracker>) -> (Vec<Snapshot>, Vec<(InfoHash, u64)>) {
    let t = Arc::clone(t);
    crate::blocking::run(move || {
        let mut peers = Vec::new();
        t.store.for_each_peer(&mut |h, id, r| {
            peers.push((*h, *id, Listed::of(r), r.last_seen));
        });
        let mut all = Vec::new();
        t.store.scrape_all(&mut all);
        let counts = all
            .into_iter()
            .filter(|e| e.downloaded > 0)
            .map(|e| (e.info_hash, e.downloaded))
            .collect();
        (peers, counts)
    })
    .await
}

/// What one push sends, per swarm.
#[derive(Default)]
struct SwarmOps {
    /// Per peer set (`keys::ROLES` order): member → Some(expiry ms) to list, None to unlist.
    /// The latest change of a member in the batch wins.
    sets: [HashMap<Vec<u8>, Option<u64>>; 4],
    /// Completions to claim, in order.
    claims: Vec<PeerId>,
    /// This node's completed count to raise Redis's to.
    raise: Option<u64>,
}

/// Changes grouped by swarm, in the order the swarms first appear.
#[derive(Default)]
struct Grouped {
    index: HashMap<InfoHash, usize>,
    swarms: Vec<(InfoHash, SwarmOps)>,
}

impl Grouped {
    fn ops(&mut self, h: &InfoHash) -> &mut SwarmOps {
        let swarms = &mut self.swarms;
        let i = *self.index.entry(*h).or_insert_with(|| {
            swarms.push((*h, SwarmOps::default()));
            swarms.len() - 1
        });
        &mut self.swarms[i].1
    }

    /// Lists (`Some(expiry)`) or unlists (`None`) a peer; the latest call for a member wins.
    fn list(&mut self, h: &InfoHash, id: &PeerId, l: &Listed, expiry: Option<u64>) {
        self.ops(h).sets[set_index(l)].insert(keys::member(l.ip, l.port, id), expiry);
    }
}

/// One push, grouped by swarm.
struct Batch {
    swarms: Vec<(InfoHash, SwarmOps)>,
    /// Milliseconds a touched set lives after the push.
    ttl_ms: u64,
}

fn set_index(l: &Listed) -> usize {
    let v6 = keys::is_v6(l.ip);
    keys::ROLES
        .iter()
        .position(|&(six, seeder)| six == v6 && seeder == l.seeder)
        .expect("four roles")
}

impl Batch {
    fn build(
        held: &[ClusterChange],
        resync: &[Snapshot],
        raise: &[(InfoHash, u64)],
        renew: Renew,
        peer_expiry: u32,
    ) -> Batch {
        let expiry_ms = |last_seen: u32| {
            (u64::from(renew.latest(last_seen)) + 1 + u64::from(peer_expiry)) * 1000
        };
        let mut b = Grouped::default();
        for (h, id, l, seen) in resync {
            b.list(h, id, l, Some(expiry_ms(*seen)));
        }
        for change in held {
            match change {
                ClusterChange::Peer {
                    info_hash,
                    peer_id,
                    now,
                    before,
                    last_seen,
                } => {
                    if let Some(was) = before {
                        b.list(info_hash, peer_id, was, None);
                    }
                    b.list(info_hash, peer_id, now, Some(expiry_ms(*last_seen)));
                }
                ClusterChange::Gone {
                    info_hash,
                    peer_id,
                    was,
                } => b.list(info_hash, peer_id, was, None),
                ClusterChange::Completed { info_hash, peer_id } => {
                    b.ops(info_hash).claims.push(*peer_id);
                }
            }
        }
        for (h, n) in raise {
            b.ops(h).raise = Some(*n);
        }
        let swarms = b.swarms;
        Batch {
            swarms,
            ttl_ms: (u64::from(peer_expiry) + u64::from(renew.secs()) + 60) * 1000,
        }
    }

    /// One pipeline per swarm (one slot each).
    fn pipes(&self, node: &str) -> Vec<Pipeline> {
        self.swarms
            .iter()
            .map(|(h, ops)| {
                let mut p = pipe();
                let names = keys::all_peers(h);
                for (set, name) in ops.sets.iter().zip(&names) {
                    if set.is_empty() {
                        continue;
                    }
                    let gone: Vec<&Vec<u8>> = set
                        .iter()
                        .filter(|(_, v)| v.is_none())
                        .map(|(m, _)| m)
                        .collect();
                    if !gone.is_empty() {
                        p.cmd("ZREM").arg(name).arg(gone);
                    }
                    let listed: Vec<(u64, &Vec<u8>)> =
                        set.iter().filter_map(|(m, v)| v.map(|s| (s, m))).collect();
                    if !listed.is_empty() {
                        let mut zadd = cmd("ZADD");
                        zadd.arg(name).arg("GT");
                        for (score, m) in listed {
                            zadd.arg(score).arg(m);
                        }
                        p.add_command(zadd);
                        p.cmd("PEXPIRE").arg(name).arg(self.ttl_ms);
                    }
                }
                let done = keys::done(h);
                for id in &ops.claims {
                    p.cmd("EVAL")
                        .arg(CLAIM)
                        .arg(2)
                        .arg(keys::claim(h, id))
                        .arg(&done)
                        .arg(node)
                        .arg(keys::CLAIM_TTL_MS);
                }
                if let Some(n) = ops.raise {
                    p.cmd("EVAL").arg(RAISE).arg(1).arg(&done).arg(node).arg(n);
                }
                p
            })
            .collect()
    }

    /// Counts the claims this push won; returns (won, lost).
    fn settle(&self, replies: &[Vec<Reply>], t: &Tracker, now: u32) -> (u64, u64) {
        let (mut won, mut lost) = (0, 0);
        for ((h, ops), replies) in self.swarms.iter().zip(replies) {
            if ops.claims.is_empty() {
                continue;
            }
            // The claims are the last commands of the swarm's pipeline but for a raise.
            let end = replies.len() - usize::from(ops.raise.is_some());
            let claims = &replies[end - ops.claims.len()..end];
            let mine = claims
                .iter()
                .filter(|r| matches!(r, Reply::Int(1) | Reply::Int(2)))
                .count() as u64;
            if mine > 0 {
                t.store.add_completed(h, mine, now);
            }
            won += mine;
            lost += ops.claims.len() as u64 - mine;
        }
        (won, lost)
    }
}
