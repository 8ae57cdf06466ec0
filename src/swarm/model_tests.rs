//! The store against a plain reference model: random announces, stops, cleanups, removals and
//! drains, from both address families. After each step the counts, the peers and the peers
//! handed out must match the model; after each complete drain, the changes applied to a map
//! standing for the database must give exactly the live peers and every completed download.

use super::*;
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
    },
    Cleanup(u32),
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
    )
        .prop_map(|(hash, peer, ip, key, left, event, numwant)| Op::Announce {
            hash,
            peer,
            ip,
            key,
            left,
            event,
            numwant,
        });
    prop_oneof![
        12 => announce,
        1 => (0u32..6).prop_map(Op::Cleanup),
        1 => (1u16..4).prop_map(Op::RemovePort),
        2 => (1usize..6).prop_map(Op::Drain),
        2 => (0u32..3).prop_map(Op::Tick),
    ]
}

fn ip_of(n: u8) -> IpAddr {
    match n {
        0 => IpAddr::from([10, 0, 0, 1]),
        1 => IpAddr::from([10, 0, 0, 2]),
        _ => "fd00::1".parse().unwrap(),
    }
}

type Key = (InfoHash, PeerId);

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
            },
        };
        p.ip = a.ip;
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
}

proptest! {
    #[test]
    fn store_matches_the_model(ops in prop::collection::vec(op(), 1..300)) {
        let s = MemoryStore::new();
        let mut m = Model::default();
        let mut db = Db::default();
        let mut now = 100u32;
        let mut out = AnnounceOutcome::default();
        for op in ops {
            match op {
                Op::Announce { hash, peer, ip, key, left, event, numwant } => {
                    let a = Announce {
                        info_hash: [hash; 20],
                        peer_id: [peer; 20],
                        ip: ip_of(ip),
                        port: 1 + u16::from(peer % 3),
                        left: if left { 100 } else { 0 },
                        event: [Event::None, Event::Started, Event::Completed, Event::Stopped]
                            [usize::from(event)],
                        key: key.map(u64::from),
                        numwant,
                    };
                    let want = m.announce(&a, now);
                    let got = s.announce(&a, now, &mut out);
                    prop_assert_eq!(&got, &want);
                    if got.is_ok() && a.event != Event::Stopped {
                        let (_, peers) = &m.swarms[&a.info_hash];
                        let eligible = peers
                            .iter()
                            .filter(|(id, p)| **id != a.peer_id && !(a.left == 0 && p.seeder))
                            .count();
                        prop_assert_eq!(out.peers.len(), numwant.min(eligible));
                        for p in &out.peers {
                            prop_assert!(p.peer_id != a.peer_id, "requester handed itself");
                            let r = &peers[&p.peer_id];
                            prop_assert!(!(a.left == 0 && r.seeder), "seeder handed a seeder");
                            prop_assert_eq!((p.ip, p.port), (r.ip, r.port));
                        }
                    }
                }
                Op::Cleanup(age) => {
                    let before = now.saturating_sub(age);
                    s.cleanup(before);
                    m.retain(|p| p.last_seen >= before);
                    // What the cleanup task does to the database right after.
                    db.peers.retain(|_, p| p.last_seen >= before);
                }
                Op::RemovePort(port) => {
                    s.remove_peers(&mut |_, r| r.port == port);
                    m.retain(|p| p.port != port);
                }
                Op::Drain(max) => {
                    db.drain_all(&s, max);
                    prop_assert_eq!(&db.peers, &m.live(), "database after a drain");
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
