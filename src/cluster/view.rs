//! A node's view of the other nodes' peers, per swarm, and how answers merge it with the
//! node's own (pure: no I/O; `refresh` fills the views from Redis).
//!
//! A view is read lazily: the first announce or scrape of a swarm, or the first one after the
//! view got older than `view_max_age_ms`, asks for it, and the answer goes out with what the
//! view held (nothing the first time). So the request path never waits for Redis; a swarm
//! nobody asks about costs nothing; a view is a bounded random sample (`SAMPLE` peers per
//! family and role) plus the counts.
//!
//! Merging follows the locality rules of `crate::swarm::tiers` over the union of the node's
//! own picks and the view's candidates: `outside_share` of the answer drawn from everything,
//! the rest by tier (own network, operator's networks, outside), `strict` never across the
//! operator's border. The draw is weighted so that every peer of the cluster is about equally
//! likely, however the swarm is split between the nodes.

use crate::locality::{Locality, Mode, NetId, Tier};
use crate::protocol::announce::ResponsePeer;
use crate::protocol::scrape::ScrapeEntry;
use crate::protocol::{InfoHash, PeerId};
use crate::swarm::{AnnounceOutcome, Family};
use parking_lot::Mutex;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Peers read per family and role at each refresh.
pub const SAMPLE: usize = 50;

/// Most swarms waiting for a refresh; beyond it a swarm is asked again by a later request.
const MAX_WANTED: usize = 100_000;

/// Shards of the view map (requests for different swarms rarely share a lock).
const SHARDS: usize = 64;

/// One of the other nodes' peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewPeer {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Peer id (for non-compact answers).
    pub peer_id: PeerId,
    /// Seeder.
    pub seeder: bool,
    /// Its network in this node's map.
    pub net: NetId,
}

/// What the other nodes hold of one swarm.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Their seeders (estimated from the sample when the swarm is larger than it).
    pub seeders: u32,
    /// Their leechers (likewise).
    pub leechers: u32,
    /// Downloads the other nodes counted.
    pub completed: u64,
    /// Downloads counted under this node's id in Redis (may be ahead of the local count after a
    /// crash: the higher of the two is this node's share).
    pub own_completed: u64,
    /// A random sample of their peers, seeders first (see [`View::finished`]).
    pub peers: Vec<ViewPeer>,
    /// How many of `peers` are seeders (they come first).
    n_seeders: usize,
    /// The network of every peer of the sample, when they share one (then every candidate is
    /// in one tier for any requester: the merge takes one uniform draw).
    single_net: Option<NetId>,
}

impl View {
    /// The view with its peers ordered, seeders first, and what the merge needs to know of them
    /// worked out once here instead of at every announce.
    pub fn finished(mut self) -> View {
        // Four sets of at most SAMPLE each: what a merge's bitset of seen peers holds.
        self.peers.truncate(4 * SAMPLE);
        // Random order within each role, so that a merge may take a run of neighbours.
        self.peers.shuffle(&mut crate::rng::Fast);
        self.peers.sort_by_key(|p| !p.seeder);
        self.n_seeders = self.peers.iter().take_while(|p| p.seeder).count();
        let first = self.peers.first().map(|p| p.net);
        self.single_net = first.filter(|n| self.peers.iter().all(|p| p.net == *n));
        self
    }
}

struct Slot {
    view: Arc<View>,
    /// When the view was read; `None` before the first read.
    read_at: Option<Instant>,
    /// When a request last asked for a refresh.
    asked_at: Option<Instant>,
    /// When a request last used the view.
    used_at: Instant,
}

/// The views of every swarm this node serves, and the swarms waiting for a refresh.
pub struct Views {
    shards: Box<[Mutex<HashMap<InfoHash, Slot>>]>,
    wanted: Mutex<Vec<InfoHash>>,
    /// Wakes the refresh task.
    pub wake: tokio::sync::Notify,
    max_age: Duration,
}

impl Views {
    /// Empty views that are read again when older than `max_age`.
    pub fn new(max_age: Duration) -> Views {
        Views {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            wanted: Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            max_age,
        }
    }

    fn shard(&self, h: &InfoHash) -> &Mutex<HashMap<InfoHash, Slot>> {
        &self.shards[usize::from(h[1]) % SHARDS]
    }

    /// The view of `h` as it is (empty before the first read), asking for a refresh when it
    /// is missing or old. Never waits for Redis.
    pub fn get(&self, h: &InfoHash) -> Arc<View> {
        let now = Instant::now();
        let mut shard = self.shard(h).lock();
        let slot = shard.entry(*h).or_insert_with(|| Slot {
            view: Arc::default(),
            read_at: None,
            asked_at: None,
            used_at: now,
        });
        slot.used_at = now;
        let stale = slot.read_at.is_none_or(|t| now - t >= self.max_age);
        let asked = slot.asked_at.is_some_and(|t| now - t < self.max_age);
        let view = Arc::clone(&slot.view);
        if stale && !asked {
            slot.asked_at = Some(now);
            drop(shard);
            let mut wanted = self.wanted.lock();
            if wanted.len() < MAX_WANTED {
                wanted.push(*h);
                drop(wanted);
                self.wake.notify_one();
            } else if let Some(slot) = self.shard(h).lock().get_mut(h) {
                slot.asked_at = None;
            }
        }
        view
    }

    /// Takes the swarms waiting for a refresh.
    pub fn take_wanted(&self) -> Vec<InfoHash> {
        std::mem::take(&mut *self.wanted.lock())
    }

    /// Stores a view just read.
    pub fn put(&self, h: &InfoHash, view: View) {
        if let Some(slot) = self.shard(h).lock().get_mut(h) {
            slot.view = Arc::new(view);
            slot.read_at = Some(Instant::now());
        }
    }

    /// The view of `h` if this node holds one, without asking for a refresh (a full scrape
    /// must not make the node read every swarm it has).
    pub fn peek(&self, h: &InfoHash) -> Option<Arc<View>> {
        self.shard(h).lock().get(h).map(|s| Arc::clone(&s.view))
    }

    /// Drops the views no request used for `idle`; returns how many are left. A walk of the
    /// views (not of the swarms), one shard at a time.
    pub fn forget_idle(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut left = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.retain(|_, s| now - s.used_at < idle);
            left += shard.len();
        }
        left
    }
}

/// The requester of an announce, as merging needs it.
#[derive(Clone, Copy, Debug)]
pub struct Requester {
    /// Its peer id.
    pub peer_id: PeerId,
    /// Its address.
    pub ip: IpAddr,
    /// Its port.
    pub port: u16,
    /// It seeds: it gets leechers only.
    pub seeder: bool,
    /// Peers it wants.
    pub numwant: usize,
    /// The one family the transport can send, or both.
    pub family: Option<Family>,
    /// Its network and the operator's choice.
    pub locality: Locality,
}

/// Adds the view's counts to an announce's and merges its peers into the answer. `own_eligible`
/// is how many of the node's own peers the own picks were drawn from; `net_of` gives an own
/// pick's network when the answer is not in tier order (`off`; `prefer` and `strict` answers
/// list the nearest tier first, `handed_out` says how many of each).
///
/// Every peer handed out stands for `eligible / sampled` peers of its side (own or other
/// nodes'), and each slot of the answer is drawn from one side with that weight, so every peer
/// of the cluster is about equally likely. `outside_share` of the answer is drawn from both
/// sides whatever the tier, the rest nearest tier first, as `swarm::tiers` does.
pub fn merge_announce(
    view: &View,
    r: &Requester,
    own_eligible: usize,
    net_of: &mut dyn FnMut(IpAddr) -> NetId,
    rng: &mut impl Rng,
    out: &mut AnnounceOutcome,
) {
    out.complete = out.complete.saturating_add(view.seeders);
    out.incomplete = out.incomplete.saturating_add(view.leechers);
    out.downloaded = out.downloaded.max(view.own_completed) + view.completed;
    if r.numwant == 0 || view.peers.is_empty() {
        return;
    }
    let req = r.locality.requester;
    let allowed = allowed(r.locality);
    let other_eligible = f64::from(if r.seeder {
        view.leechers
    } else {
        view.seeders.saturating_add(view.leechers)
    });
    if let Some(t) = single_tier(view, r, out) {
        if allowed[t as usize] {
            merge_one_tier(view, r, t, own_eligible, other_eligible, rng, out);
        }
        return;
    }
    let mut others: Vec<(Tier, ResponsePeer)> = view
        .peers
        .iter()
        .filter(|p| {
            p.peer_id != r.peer_id
                && !(p.port == r.port && p.ip == r.ip)
                && !(r.seeder && p.seeder)
                && r.family.is_none_or(|f| family_of(p.ip) == f)
        })
        .map(|p| (p.net.tier_for(req), p))
        .filter(|(t, _)| allowed[*t as usize])
        .map(|(t, p)| {
            let peer = ResponsePeer {
                ip: p.ip,
                port: p.port,
                peer_id: p.peer_id,
            };
            (t, peer)
        })
        .collect();
    if others.is_empty() {
        return;
    }
    let mut own: Vec<(Tier, ResponsePeer)> = if r.locality.mode == Mode::Off {
        out.peers
            .drain(..)
            .map(|p| (net_of(p.ip).tier_for(req), p))
            .collect()
    } else {
        let mut tiers = Tier::ALL
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, out.handed_out[t as usize] as usize));
        out.peers
            .drain(..)
            .map(|p| (tiers.next().unwrap_or(Tier::Outside), p))
            .collect()
    };
    let w_own = (own_eligible as f64 / own.len().max(1) as f64).max(1.0);
    let w_other = (other_eligible / others.len() as f64).max(1.0);
    let n = r.numwant.min(own.len() + others.len());
    let mut chosen = Vec::with_capacity(n);
    let random = if r.locality.mode == Mode::Off {
        n
    } else {
        ((f64::from(r.locality.outside_share) * n as f64 * (1.0 + 1e-6)).floor() as usize).min(n)
    };
    take_mixed(
        rng,
        &mut own,
        &mut others,
        random,
        (w_own, w_other),
        &mut chosen,
    );
    for t in Tier::ALL {
        let left = n - chosen.len();
        if left == 0 {
            break;
        }
        let mut own_t = split_tier(&mut own, t);
        let mut others_t = split_tier(&mut others, t);
        take_mixed(
            rng,
            &mut own_t,
            &mut others_t,
            left,
            (w_own, w_other),
            &mut chosen,
        );
    }
    // Nearest first, as the store lists them.
    chosen.sort_by_key(|(t, _)| *t);
    out.handed_out = [0; 3];
    for (t, p) in chosen {
        // The same peer listed by this node and in the view (it moved between nodes since the
        // view was read) goes out once.
        if !out.peers.iter().any(|o| o.port == p.port && o.ip == p.ip) {
            out.handed_out[t as usize] += 1;
            out.peers.push(p);
        }
    }
}

/// The one tier every candidate is in for this requester, if there is one: the view's peers
/// share a network and the own picks are all in that tier (the store counted them by tier).
fn single_tier(view: &View, r: &Requester, out: &AnnounceOutcome) -> Option<Tier> {
    let t = view.single_net?.tier_for(r.locality.requester);
    let own: u32 = out.handed_out.iter().sum();
    (out.handed_out[t as usize] == own).then_some(t)
}

/// The merge when every candidate is in tier `t` (a swarm inside one network, as most are at an
/// ISP's city, or in a benchmark on 127.0.0.1): the tiers order nothing, so this is one draw
/// of the answer's slots between the own picks and the view, weighted by the peers each side
/// stands for, then uniform picks within each side; no list is built.
fn merge_one_tier(
    view: &View,
    r: &Requester,
    t: Tier,
    own_eligible: usize,
    other_eligible: f64,
    rng: &mut impl Rng,
    out: &mut AnnounceOutcome,
) {
    let start = if r.seeder { view.n_seeders } else { 0 };
    let avail = view.peers.len() - start;
    let own = out.peers.len();
    let w_own = (own_eligible as f64 / own.max(1) as f64).max(1.0);
    let w_other = (other_eligible / avail.max(1) as f64).max(1.0);
    let n = r.numwant.min(own + avail);
    let (mut a, mut b, mut from_view) = (own, avail, 0);
    for _ in 0..n {
        let (ma, mb) = (w_own * a as f64, w_other * b as f64);
        if rng.random::<f64>() * (ma + mb) < ma {
            a -= 1;
        } else {
            b -= 1;
            from_view += 1;
        }
    }
    while out.peers.len() > n - from_view {
        let i = rng.random_range(0..out.peers.len());
        out.peers.swap_remove(i);
    }
    let kept = out.peers.len();
    // (Ports are compared before addresses everywhere here: they differ almost always, and an
    // IpAddr comparison is the dearer one.)
    // The view is a random sample in random order (shuffled when it was read), so a run of
    // neighbours from a random start is a uniform choice of each peer, and reads memory in
    // order: drawn at random positions, each view peer was a cache miss, and they were half of
    // a merge's time (bench/cluster.sh, perf). A candidate that may not go out (the requester,
    // another family, a peer the own picks hold) is skipped.
    let offset = rng.random_range(0..avail.max(1));
    let mut got = 0;
    for j in 0..avail {
        if got == from_view {
            break;
        }
        let p = &view.peers[start + (offset + j) % avail];
        let ok = p.peer_id != r.peer_id
            && !(p.port == r.port && p.ip == r.ip)
            && r.family.is_none_or(|f| family_of(p.ip) == f)
            && !out.peers[..kept]
                .iter()
                .any(|o| o.port == p.port && o.ip == p.ip);
        if ok {
            out.peers.push(ResponsePeer {
                ip: p.ip,
                port: p.port,
                peer_id: p.peer_id,
            });
            got += 1;
        }
    }
    out.handed_out = [0; 3];
    out.handed_out[t as usize] = out.peers.len() as u32;
}

/// Takes the entries of tier `t` out of `v`.
fn split_tier(v: &mut Vec<(Tier, ResponsePeer)>, t: Tier) -> Vec<(Tier, ResponsePeer)> {
    let (of_t, rest): (Vec<_>, Vec<_>) = v.drain(..).partition(|(tier, _)| *tier == t);
    *v = rest;
    of_t
}

/// Moves up to `k` entries of `a` and `b` into `out`, slot by slot, each slot from `a` or `b`
/// in proportion to the peers they stand for (`weights` per entry times what is left of each),
/// the entry uniformly within it.
fn take_mixed<T>(
    rng: &mut impl Rng,
    a: &mut Vec<T>,
    b: &mut Vec<T>,
    k: usize,
    (wa, wb): (f64, f64),
    out: &mut Vec<T>,
) {
    for _ in 0..k.min(a.len() + b.len()) {
        let (ma, mb) = (wa * a.len() as f64, wb * b.len() as f64);
        let from = if rng.random::<f64>() * (ma + mb) < ma {
            &mut *a
        } else {
            &mut *b
        };
        let i = rng.random_range(0..from.len());
        out.push(from.swap_remove(i));
    }
}

/// Adds the view's counts to a scrape entry.
pub fn merge_scrape(view: &View, e: &mut ScrapeEntry) {
    e.complete = e.complete.saturating_add(view.seeders);
    e.incomplete = e.incomplete.saturating_add(view.leechers);
    e.downloaded = e.downloaded.max(view.own_completed) + view.completed;
}

/// Which tiers may be handed out (by `Tier as usize`), as in `swarm::tiers`.
fn allowed(loc: Locality) -> [bool; 3] {
    match loc.mode {
        Mode::Strict if loc.requester.is_operator() => [true, true, false],
        Mode::Strict => [true, false, true],
        _ => [true; 3],
    }
}

fn family_of(ip: IpAddr) -> Family {
    match ip.to_canonical() {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
