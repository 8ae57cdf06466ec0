//! `PeerList` bookkeeping: roles stay partitioned, the index follows every move, dirty counts.

use super::*;
use proptest::prelude::*;

fn id(n: u32) -> PeerId {
    let mut id = [0u8; 20];
    id[16..].copy_from_slice(&n.to_be_bytes());
    id
}

fn peer(n: u32) -> Peer<V4> {
    Peer::new(id(n), [10, 0, 0, 1], 1 + n as u16, Some(u64::from(n)), n)
}

/// The roles of the listed peers, by number, as a sorted list (seeder flag included).
fn roles(l: &PeerList<V4>) -> Vec<(u32, bool)> {
    let mut v: Vec<_> = l
        .iter()
        .map(|(p, s)| (u32::from_be_bytes(p.id[16..].try_into().unwrap()), s))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn peer_fields_round_trip_through_the_packed_form() {
    let mut p = peer(7);
    assert_eq!(p.key(), Some(7));
    p.set_key(Some(u64::MAX - 1));
    assert_eq!(p.key(), Some(u64::MAX - 1));
    p.set_key(None);
    assert_eq!(p.key(), None);
    p.set_seen_leeching(true);
    p.set_counted(true);
    let r = p.record(true);
    assert!(r.seeder && r.seen_leeching && r.counted);
    assert_eq!(r.ip, IpAddr::from([10, 0, 0, 1]));
    assert_eq!(Peer::from_record(p.id, p.addr, &r), p);
}

#[test]
fn index_is_built_at_the_threshold_and_dropped_below_the_lower_one() {
    let mut l = PeerList::default();
    for n in 0..INDEX_FROM as u32 - 1 {
        l.push(peer(n), n % 3 == 0, false);
    }
    assert!(!l.has_index());
    l.push(peer(1000), true, false);
    assert!(l.has_index(), "built on reaching {INDEX_FROM}");
    l.check();
    // Between the thresholds it stays: no rebuild for a list hovering around one size.
    while l.len() > INDEX_UNTIL {
        let pos = l.position(&l.get(l.len() / 2).id).unwrap();
        l.remove(pos);
        l.check();
        assert!(l.has_index());
    }
    l.remove(0);
    assert!(!l.has_index(), "dropped below {INDEX_UNTIL}");
    l.check();
    // And back up.
    for n in 2000..2000 + INDEX_FROM as u32 {
        l.push(peer(n), false, false);
        l.check();
    }
    assert!(l.has_index());
}

#[test]
fn role_changes_and_removals_keep_seeders_in_front_and_positions_right() {
    for size in [5u32, 100] {
        let mut l = PeerList::default();
        for n in 0..size {
            l.push(peer(n), n % 2 == 0, false);
        }
        l.check();
        assert_eq!(
            (l.seeders(), l.leechers()),
            (size.div_ceil(2) as usize, (size / 2) as usize)
        );
        for n in 0..size {
            let pos = l.position(&id(n)).unwrap();
            let new = l.set_role(pos, n % 2 == 1);
            assert_eq!(l.position(&id(n)), Some(new));
            assert_eq!(l.is_seeder(new), n % 2 == 1);
            l.check();
        }
        for n in (0..size).step_by(3) {
            let pos = l.position(&id(n)).unwrap();
            assert_eq!(l.remove(pos).id, id(n));
            assert_eq!(l.position(&id(n)), None);
            l.check();
        }
        let want: Vec<_> = (0..size)
            .filter(|n| n % 3 != 0)
            .map(|n| (n, n % 2 == 1))
            .collect();
        assert_eq!(roles(&l), want);
    }
}

#[test]
fn drain_yields_exactly_the_dirty_peers_once() {
    let mut l = PeerList::default();
    for n in 0..10 {
        l.push(peer(n), n < 4, n % 2 == 0);
    }
    l.update(l.position(&id(1)).unwrap(), true, |p| p.last_seen = 99);
    l.update(l.position(&id(2)).unwrap(), true, |p| p.last_seen = 98); // already dirty
    assert_eq!(l.dirty(), 6);
    l.remove(l.position(&id(4)).unwrap()); // a dirty peer leaves
    assert_eq!(l.dirty(), 5);
    l.check();
    let mut got = Vec::new();
    assert_eq!(
        l.drain_dirty(2, |p, s| got.push((p.id[19], s, p.last_seen))),
        2
    );
    assert_eq!(l.dirty(), 3);
    l.check();
    assert_eq!(
        l.drain_dirty(9, |p, s| got.push((p.id[19], s, p.last_seen))),
        3
    );
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            (0, true, 0),
            (1, true, 99),
            (2, true, 98),
            (6, false, 6),
            (8, false, 8)
        ]
    );
    assert_eq!(l.dirty(), 0);
    l.check();
    assert_eq!(l.drain_dirty(9, |_, _| panic!("nothing is dirty")), 0);
}

#[test]
fn retain_keeps_roles_and_rebuilds_the_index() {
    let mut l = PeerList::default();
    for n in 0..200 {
        l.push(peer(n), n % 4 == 0, n % 5 == 0);
    }
    let mut gone = Vec::new();
    l.retain(|p, _| p.last_seen >= 150, |p| gone.push(p.last_seen));
    assert_eq!(gone.len(), 150);
    assert_eq!(l.len(), 50);
    assert_eq!(l.seeders(), (150..200).filter(|n| n % 4 == 0).count());
    l.check();
    l.retain(|p, _| p.last_seen >= 190, |_| {});
    assert!(!l.has_index());
    l.check();
}

#[test]
fn shrink_gives_back_what_a_burst_took() {
    let mut l = PeerList::default();
    for n in 0..1000 {
        l.push(peer(n), false, false);
    }
    let cap = l.capacity();
    assert!(
        (1000..1300).contains(&cap),
        "grows by a quarter: capacity {cap}"
    );
    l.retain(|p, _| p.last_seen < 10, |_| {});
    l.shrink();
    assert!(l.capacity() < 20, "capacity {} for 10 peers", l.capacity());
    l.check();
    let before = l.capacity();
    l.shrink();
    assert_eq!(l.capacity(), before, "a second shrink changes nothing");
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, bool),
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..120, any::<bool>()).prop_map(|(n, s)| Op::Put(n, s)),
        1 => (0u8..120).prop_map(Op::Remove),
    ]
}

proptest! {
    /// Random inserts, role changes and removals against a map of id -> role; the list's
    /// invariants (partition, index, dirty count) hold after each step.
    #[test]
    fn list_matches_a_model(ops in proptest::collection::vec(op(), 1..400)) {
        let mut l = PeerList::default();
        let mut model = std::collections::BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(n, seeder) => {
                    let n = u32::from(n);
                    match l.position(&id(n)) {
                        Some(pos) => {
                            l.update(pos, true, |p| p.last_seen += 1);
                            l.set_role(pos, seeder);
                        }
                        None => {
                            l.push(peer(n), seeder, true);
                        }
                    }
                    model.insert(n, seeder);
                }
                Op::Remove(n) => {
                    let n = u32::from(n);
                    if let Some(pos) = l.position(&id(n)) {
                        l.remove(pos);
                    }
                    model.remove(&n);
                }
            }
            l.check();
        }
        prop_assert_eq!(roles(&l), model.into_iter().collect::<Vec<_>>());
    }
}

/// One of a few networks, named and not, by number.
fn net(n: u8) -> NetId {
    match n % 4 {
        0 => NetId::UNKNOWN,
        1 => NetId::named(u32::from(n)),
        2 => NetId::asn(u32::from(n)),
        _ => NetId::block(IpAddr::from([10, n, 0, 1])),
    }
}

#[derive(Clone, Debug)]
enum NetOp {
    /// Announce of peer n as a seeder or not from network m (moving it there).
    Put(u16, bool, u8),
    Remove(u16),
    Relabel(u8),
}

fn net_op() -> impl Strategy<Value = NetOp> {
    prop_oneof![
        4 => (0u16..700, any::<bool>(), 0u8..12).prop_map(|(n, s, m)| NetOp::Put(n, s, m)),
        3 => (0u16..700).prop_map(NetOp::Remove),
        1 => (0u8..12).prop_map(NetOp::Relabel),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// A list around the network index's thresholds: every move, role change, change of
    /// network and relabelling leaves each position in its network's group with the right
    /// counts (`check`), and the index is built and dropped with the list's length.
    #[test]
    fn network_index_follows_every_move(
        start in 240u16..600,
        ops in proptest::collection::vec(net_op(), 1..300),
    ) {
        let mut l = PeerList::default();
        let mut model = std::collections::BTreeMap::new();
        for n in 0..start {
            let mut p = peer(u32::from(n));
            p.net = net(n as u8);
            l.push(p, n % 3 == 0, false);
            model.insert(u32::from(n), (n % 3 == 0, net(n as u8)));
        }
        l.check();
        prop_assert_eq!(l.nets().is_some(), usize::from(start) >= NETS_FROM);
        for op in ops {
            match op {
                NetOp::Put(n, seeder, m) => {
                    let n = u32::from(n);
                    match l.position(&id(n)) {
                        Some(pos) => {
                            l.update(pos, true, |p| p.net = net(m));
                            l.set_role(pos, seeder);
                        }
                        None => {
                            let mut p = peer(n);
                            p.net = net(m);
                            l.push(p, seeder, true);
                        }
                    }
                    model.insert(n, (seeder, net(m)));
                }
                NetOp::Remove(n) => {
                    if let Some(pos) = l.position(&id(u32::from(n))) {
                        l.remove(pos);
                    }
                    model.remove(&u32::from(n));
                }
                NetOp::Relabel(m) => {
                    // Every peer of this test has the same address: one network for all.
                    let changed = model.values().filter(|(_, was)| *was != net(m)).count();
                    prop_assert_eq!(l.relabel(&mut |_| net(m)), changed as u64);
                    model.values_mut().for_each(|(_, was)| *was = net(m));
                }
            }
            l.check();
            if l.len() >= NETS_FROM {
                prop_assert!(l.nets().is_some(), "no index at {} peers", l.len());
            }
        }
        let got: Vec<_> = l
            .iter()
            .map(|(p, s)| (u32::from_be_bytes(p.id[16..].try_into().unwrap()), (s, p.net)))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        prop_assert_eq!(got, model.into_iter().collect::<Vec<_>>());
    }
}
