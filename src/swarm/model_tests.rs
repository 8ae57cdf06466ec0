//! The store against a plain reference model: random announces, stops, cleanups, removals and
//! drains, from both address families. After each step the counts, the peers and the peers
//! handed out must match the model; after each complete drain, the changes applied to a map
//! standing for the database must give exactly the live peers and every completed download.
//! And the totals the shards keep for `counts` must equal a recount by walking, after any
//! sequence of changes, restores from storage included.
//!
//! The database may lag by the renew window (see `renew`): a peer re-announcing with nothing
//! changed is written once a window, so after a drain its stored `last_seen` is in the same
//! window as the live one, and an expired peer's row may linger until its window has passed.
//!
//! Announces come from a few networks (named, an AS, unknown) in every locality mode, and
//! relabelling moves the stored peers between networks: the peers handed out must follow the
//! rules of `tiers` against the model's networks.

use super::*;
use crate::locality::{Mode, Tier};
use crate::protocol::announce::Event;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
enum Op {
    Announce {
        hash: u8,
        peer: u8,
        ip: u8,
        key: Option<u8>,
        left: bool,
        event: u8,
        numwant: usize,
        net: u8,
        mode: u8,
        share: u8,
    },
    Cleanup(u32),
    /// Every peer's network set from its address (see [`relabel_of`]).
    Relabel(u8),
    RemovePort(u16),
    Drain(usize),
    Tick(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let announce = (
        0u8..3,
        0u8..8,
        0u8..3,
        prop::option::of(0u8..2),
        any::<bool>(),
        0u8..4,
        0usize..6,
        (0u8..4, 0u8..3, 0u8..3),
    )
        .prop_map(
            |(hash, peer, ip, key, left, event, numwant, (net, mode, share))| Op::Announce {
                hash,
                peer,
                ip,
                key,
                left,
                event,
                numwant,
                net,
                mode,
                share,
            },
        );
    prop_oneof![
        12 => announce,
        1 => (0u8..4).prop_map(Op::Relabel),
        1 => (0u32..6).prop_map(Op::Cleanup),
        1 => (1u16..4).prop_map(Op::RemovePort),
        2 => (1usize..6).prop_map(Op::Drain),
        2 => (0u32..3).prop_map(Op::Tick),
    ]
}

/// The announce an [`Op::Announce`] stands for.
fn announce_of(op: &Op) -> Option<Announce> {
    let &Op::Announce {
        hash,
        peer,
        ip,
        key,
        left,
        event,
        numwant,
        net,
        mode,
        share,
    } = op
    else {
        return None;
    };
    Some(Announce {
        info_hash: [hash; 20],
        peer_id: [peer; 20],
        ip: ip_of(ip),
        port: 1 + u16::from(peer % 3),
        left: if left { 100 } else { 0 },
        event: [
            Event::None,
            Event::Started,
            Event::Completed,
            Event::Stopped,
        ][usize::from(event)],
        key: key.map(u64::from),
        numwant,
        family: None,
        renew: RENEW,
        locality: Locality {
            mode: [Mode::Off, Mode::Prefer, Mode::Strict][usize::from(mode)],
            requester: nets()[usize::from(net)],
            outside_share: [0.0, 0.5, 1.0][usize::from(share)],
        },
    })
}

/// The networks announces come from: unknown, two of the operator's, and an AS.
fn nets() -> [NetId; 4] {
    [
        NetId::UNKNOWN,
        NetId::named(0),
        NetId::named(1),
        NetId::asn(64512),
    ]
}

/// The network map of [`Op::Relabel`]: a function of the address and the map's version.
fn relabel_of(version: u8, ip: IpAddr) -> NetId {
    let last = match ip {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(v6) => v6.octets()[15],
    };
    nets()[usize::from(last.wrapping_add(version)) % 4]
}

fn ip_of(n: u8) -> IpAddr {
    match n {
        0 => IpAddr::from([10, 0, 0, 1]),
        1 => IpAddr::from([10, 0, 0, 2]),
        _ => "fd00::1".parse().unwrap(),
    }
}

type Key = (InfoHash, PeerId);

/// Short windows, so that the ticks of a run cross several.
const RENEW: Renew = Renew::every(4);

/// Checks the database after a complete drain against the live peers: every live peer stored
/// with its state, its stored `last_seen` no later than the live one and in the same renew
/// window; any other row one of `lingering` (expired in memory, not yet in storage).
fn check_db(
    db: &BTreeMap<Key, PeerRecord>,
    live: &BTreeMap<Key, PeerRecord>,
    lingering: &std::collections::BTreeSet<Key>,
) -> Result<(), TestCaseError> {
    for (k, p) in live {
        let Some(stored) = db.get(k) else {
            return Err(TestCaseError::fail(format!("live peer {k:?} not stored")));
        };
        prop_assert_eq!(
            &PeerRecord {
                last_seen: p.last_seen,
                net: p.net, // not persisted: a new network alone writes nothing
                ..stored.clone()
            },
            p,
            "stored state"
        );
        prop_assert!(stored.last_seen <= p.last_seen);
        prop_assert!(
            !RENEW.due(stored.last_seen, p.last_seen),
            "stored a window late"
        );
    }
    for k in db.keys().filter(|k| !live.contains_key(k)) {
        prop_assert!(
            lingering.contains(k),
            "row {:?} neither live nor expired",
            k
        );
    }
    Ok(())
}

/// What the store should hold: the swarms with their peers and completed counts.
#[derive(Default)]
struct Model {
    swarms: BTreeMap<InfoHash, (u64, BTreeMap<PeerId, PeerRecord>)>,
    /// Completed downloads ever counted per torrent (across re-created swarms).
    ever: HashMap<InfoHash, u64>,
}

impl Model {
    fn announce(&mut self, a: &Announce, now: u32) -> Result<(), SwarmError> {
        if a.event == Event::Stopped {
            let Some((completed, peers)) = self.swarms.get_mut(&a.info_hash) else {
                return Ok(());
            };
            if let Some(known) = peers.get(&a.peer_id) {
                identity(known, a)?;
                let newly = a.left == 0 && known.seen_leeching && !known.counted;
                peers.remove(&a.peer_id);
                *completed += u64::from(newly);
                *self.ever.entry(a.info_hash).or_default() += u64::from(newly);
            }
            return Ok(());
        }
        let (completed, peers) = self.swarms.entry(a.info_hash).or_default();
        let seeder = a.left == 0;
        let mut p = match peers.get(&a.peer_id) {
            Some(known) => {
                identity(known, a)?;
                PeerRecord {
                    key: known.key.or(a.key),
                    ..known.clone()
                }
            }
            None => PeerRecord {
                ip: a.ip,
                port: a.port,
                key: a.key,
                last_seen: now,
                seeder,
                seen_leeching: false,
                counted: false,
                net: a.locality.requester,
            },
        };
        p.ip = a.ip;
        p.net = a.locality.requester;
        p.port = a.port;
        p.last_seen = now;
        p.seeder = seeder;
        let newly = (a.event == Event::Completed || (seeder && p.seen_leeching)) && !p.counted;
        if newly {
            p.counted = true;
            *completed += 1;
            *self.ever.entry(a.info_hash).or_default() += 1;
        }
        p.seen_leeching |= !seeder;
        peers.insert(a.peer_id, p);
        Ok(())
    }

    fn retain(&mut self, mut keep: impl FnMut(&PeerRecord) -> bool) {
        for (_, peers) in self.swarms.values_mut() {
            peers.retain(|_, p| keep(p));
        }
        self.swarms.retain(|_, (_, peers)| !peers.is_empty());
    }

    fn live(&self) -> BTreeMap<Key, PeerRecord> {
        let mut out = BTreeMap::new();
        for (h, (_, peers)) in &self.swarms {
            for (id, p) in peers {
                out.insert((*h, *id), p.clone());
            }
        }
        out
    }
}

fn identity(known: &PeerRecord, a: &Announce) -> Result<(), SwarmError> {
    if known.ip == a.ip || (known.key.is_some() && known.key == a.key) {
        Ok(())
    } else {
        Err(SwarmError::PeerIdTaken)
    }
}

/// The database as the writer would leave it.
#[derive(Default)]
struct Db {
    peers: BTreeMap<Key, PeerRecord>,
    completed: HashMap<InfoHash, u64>,
}

impl Db {
    /// Drains in batches of `max` peers until nothing is left, applying each batch in order.
    fn drain_all(&mut self, s: &MemoryStore, max: usize) {
        loop {
            let mut batch = Changes::default();
            let more = s.drain_changes_into(&mut batch, max);
            assert!(batch.peers.len() <= max, "batch over its size");
            let mut keys: Vec<Key> = batch
                .peers
                .iter()
                .map(|c| match c {
                    PeerChange::Upsert(h, id, _) | PeerChange::Delete(h, id) => (*h, *id),
                })
                .collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), n, "a batch holds one change per peer");
            for c in batch.peers {
                match c {
                    PeerChange::Upsert(h, id, r) => {
                        self.peers.insert((h, id), r);
                    }
                    PeerChange::Delete(h, id) => {
                        self.peers.remove(&(h, id));
                    }
                }
            }
            for t in batch.torrents {
                *self.completed.entry(t.info_hash).or_default() += t.completed_delta;
            }
            if !more {
                break;
            }
        }
    }
}

fn check_counts(s: &MemoryStore, m: &Model) {
    let hashes: Vec<InfoHash> = (0..3).map(|h| [h; 20]).collect();
    let mut got = Vec::new();
    s.scrape(&hashes, &mut got);
    for (h, e) in hashes.iter().zip(&got) {
        let want = m.swarms.get(h).map_or((0, 0, 0), |(c, peers)| {
            let seeders = peers.values().filter(|p| p.seeder).count() as u32;
            (seeders, peers.len() as u32 - seeders, *c)
        });
        assert_eq!((e.complete, e.incomplete, e.downloaded), want, "counts");
    }
    let mut seen = BTreeMap::new();
    s.for_each_peer(&mut |h, id, r| {
        assert!(
            seen.insert((*h, *id), r.clone()).is_none(),
            "peer listed twice"
        );
    });
    assert_eq!(seen, m.live(), "peers");
    let c = s.counts();
    assert_eq!(c.seeders + c.leechers, seen.len() as u64);
    assert_eq!(c, s.recount(), "counts kept by the shards");
}

/// Checks an answer against the model's swarm `peers` after the announce: the count, nothing
/// excluded, farther tiers only for what the random share explains, and the tally by tier.
fn check_answer(
    a: &Announce,
    peers: &BTreeMap<PeerId, PeerRecord>,
    out: &AnnounceOutcome,
) -> Result<(), TestCaseError> {
    let loc = &a.locality;
    let r = loc.requester;
    let tier = |p: &PeerRecord| p.net.tier_for(r);
    // The side of the operator's border: strict keeps the requester's.
    let on_side =
        |p: &PeerRecord| loc.mode != Mode::Strict || p.net.is_operator() == r.is_operator();
    let mut eligible = [0usize; 3];
    for (id, p) in peers {
        if *id != a.peer_id && !(a.left == 0 && p.seeder) && on_side(p) {
            eligible[tier(p) as usize] += 1;
        }
    }
    let n = a.numwant.min(eligible.iter().sum());
    prop_assert_eq!(out.peers.len(), n);
    let mut handed = [0u32; 3];
    for p in &out.peers {
        prop_assert!(p.peer_id != a.peer_id, "requester handed itself");
        let rec = &peers[&p.peer_id];
        prop_assert!(!(a.left == 0 && rec.seeder), "seeder handed a seeder");
        prop_assert!(on_side(rec), "strict handed a peer across the border");
        prop_assert_eq!((p.ip, p.port), (rec.ip, rec.port));
        handed[tier(rec) as usize] += 1;
    }
    prop_assert_eq!(out.handed_out, handed, "tally by tier");
    if loc.mode != Mode::Off {
        // At most the random share comes from beyond a tier that still had peers to give.
        let random = super::tiers::random_share(loc.outside_share, n) as u32;
        for t in Tier::ALL {
            let beyond: u32 = handed[t as usize + 1..].iter().sum();
            if (handed[t as usize] as usize) < eligible[t as usize] {
                prop_assert!(beyond <= random, "{:?} left out for farther peers", t);
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn store_matches_the_model(ops in prop::collection::vec(op(), 1..300)) {
        let s = MemoryStore::new();
        let mut m = Model::default();
        let mut db = Db::default();
        let mut lingering = std::collections::BTreeSet::new();
        let mut now = 100u32;
        let mut out = AnnounceOutcome::default();
        for op in ops {
            match op {
                Op::Announce { .. } => {
                    let a = announce_of(&op).unwrap();
                    let want = m.announce(&a, now);
                    let got = s.announce(&a, now, &mut out);
                    prop_assert_eq!(&got, &want);
                    if got.is_ok() && a.event != Event::Stopped && a.port != 0 {
                        lingering.remove(&(a.info_hash, a.peer_id));
                    }
                    if got.is_ok() && a.event != Event::Stopped {
                        check_answer(&a, &m.swarms[&a.info_hash].1, &out)?;
                    }
                }
                Op::Relabel(version) => {
                    let mut changed = 0;
                    for (_, peers) in m.swarms.values_mut() {
                        for p in peers.values_mut() {
                            let net = relabel_of(version, p.ip);
                            changed += u64::from(net != p.net);
                            p.net = net;
                        }
                    }
                    prop_assert_eq!(s.relabel(&mut |ip| relabel_of(version, ip)), changed);
                    // Networks are not persisted: the database (restored without them) sees no change.
                    for p in db.peers.values_mut() {
                        p.net = relabel_of(version, p.ip);
                    }
                }
                Op::Cleanup(age) => {
                    let before = now.saturating_sub(age);
                    s.cleanup(before);
                    let was = m.live();
                    m.retain(|p| p.last_seen >= before);
                    let live = m.live();
                    lingering.extend(was.keys().filter(|k| !live.contains_key(*k)));
                    // What the cleanup task does to the database right after.
                    let stored_before = RENEW.stored_before(before);
                    db.peers.retain(|_, p| p.last_seen >= stored_before);
                }
                Op::RemovePort(port) => {
                    s.remove_peers(&mut |_, r| r.port == port);
                    m.retain(|p| p.port != port);
                }
                Op::Drain(max) => {
                    db.drain_all(&s, max);
                    check_db(&db.peers, &m.live(), &lingering)?;
                    for (h, ever) in &m.ever {
                        prop_assert_eq!(db.completed.get(h).copied().unwrap_or(0), *ever);
                    }
                    prop_assert_eq!(s.counts().pending_changes, 0);
                }
                Op::Tick(d) => now += d,
            }
            check_counts(&s, &m);
        }
    }
}

/// A step of [`counts_equal_a_recount`]: the model's steps, plus what only storage does.
#[derive(Clone, Debug)]
enum CountOp {
    Store(Op),
    /// Peers read back at start: (peer, address, seeder, age), into a new or a live swarm.
    Restore(u8, Vec<(u8, u8, bool, u32)>),
    /// The stored completed count of a swarm arrives (for its current generation or not).
    StoredCount(u8, bool),
    /// A drain of everything at once (`drain_changes`).
    DrainAll,
}

fn count_op() -> impl Strategy<Value = CountOp> {
    let restore = (
        0u8..3,
        prop::collection::vec((0u8..8, 0u8..3, any::<bool>(), 0u32..6), 0..5),
    )
        .prop_map(|(h, peers)| CountOp::Restore(h, peers));
    prop_oneof![
        10 => op().prop_map(CountOp::Store),
        2 => restore,
        1 => (0u8..3, any::<bool>()).prop_map(|(h, current)| CountOp::StoredCount(h, current)),
        1 => Just(CountOp::DrainAll),
    ]
}

proptest! {
    #[test]
    fn counts_equal_a_recount(ops in prop::collection::vec(count_op(), 1..300)) {
        let s = MemoryStore::new();
        let mut now = 100u32;
        let mut out = AnnounceOutcome::default();
        let mut drained = Changes::default();
        for op in ops {
            match op {
                CountOp::Store(op @ Op::Announce { .. }) => {
                    // Refusals (PeerIdTaken) included: they must not move the totals either.
                    let _ = s.announce(&announce_of(&op).unwrap(), now, &mut out);
                }
                CountOp::Store(Op::Cleanup(age)) => {
                    s.cleanup(now.saturating_sub(age));
                }
                CountOp::Store(Op::RemovePort(port)) => {
                    s.remove_peers(&mut |_, r| r.port == port);
                }
                CountOp::Store(Op::Drain(max)) => {
                    drained = Changes::default();
                    s.drain_changes_into(&mut drained, max);
                }
                CountOp::Store(Op::Tick(d)) => now += d,
                CountOp::Store(Op::Relabel(version)) => {
                    s.relabel(&mut |ip| relabel_of(version, ip));
                }
                CountOp::Restore(h, peers) => {
                    let peers = peers
                        .into_iter()
                        .map(|(p, ip, seeder, age)| {
                            let r = PeerRecord {
                                ip: ip_of(ip),
                                port: 1 + u16::from(p % 3),
                                key: None,
                                last_seen: now.saturating_sub(age),
                                seeder,
                                seen_leeching: !seeder,
                                counted: false,
                                net: NetId::UNKNOWN,
                            };
                            ([p; 20], r)
                        })
                        .collect();
                    s.restore(vec![RestoredTorrent {
                        info_hash: [h; 20],
                        completed: 7,
                        first_seen: now,
                        last_seen: now,
                        peers,
                    }]);
                }
                CountOp::StoredCount(h, current) => {
                    // The generation the last drain asked for, if it saw this swarm.
                    let generation = drained
                        .torrents
                        .iter()
                        .find(|t| t.info_hash == [h; 20])
                        .and_then(|t| t.needs_stored_count)
                        .filter(|_| current)
                        .unwrap_or(0);
                    s.apply_stored_completed(&[h; 20], generation, 3);
                }
                CountOp::DrainAll => {
                    drained = s.drain_changes();
                    prop_assert_eq!(s.counts().pending_changes, 0);
                }
            }
            prop_assert_eq!(s.counts(), s.recount());
        }
    }
}
