//! The swarm rules, checked on the store directly, and the debug check that keeps the walks of
//! the whole store off async worker threads.

use super::*;
use crate::protocol::announce::Event;
use std::collections::HashSet;

const H: InfoHash = [7; 20];

fn id(n: u8) -> PeerId {
    [n; 20]
}

fn ann(n: u8, left: u64, event: Event) -> Announce {
    Announce {
        info_hash: H,
        peer_id: id(n),
        ip: IpAddr::from([10, 0, 0, n]),
        port: 6881 + u16::from(n),
        left,
        event,
        key: Some(u64::from(n)),
        numwant: 50,
        family: None,
        renew: Renew::of_expiry(3600),
        locality: Default::default(),
    }
}

fn go(s: &MemoryStore, a: &Announce) -> AnnounceOutcome {
    let mut out = AnnounceOutcome::default();
    s.announce(a, 1000, &mut out).expect("accepted");
    out
}

fn scrape(s: &MemoryStore) -> (u32, u32, u64) {
    let mut v = Vec::new();
    s.scrape(&[H], &mut v);
    (v[0].complete, v[0].incomplete, v[0].downloaded)
}

#[test]
fn requester_is_never_in_its_own_list_and_seeders_get_no_seeders() {
    let s = MemoryStore::new();
    for n in 1..=5 {
        go(&s, &ann(n, 0, Event::Started)); // seeders 1..5
    }
    for n in 6..=9 {
        go(&s, &ann(n, 100, Event::Started)); // leechers 6..9
    }
    for _ in 0..50 {
        let out = go(&s, &ann(6, 100, Event::None));
        assert_eq!(out.peers.len(), 8);
        assert!(out.peers.iter().all(|p| p.peer_id != id(6)));
        let out = go(&s, &ann(1, 0, Event::None));
        let ids: HashSet<_> = out.peers.iter().map(|p| p.peer_id[0]).collect();
        assert_eq!(ids, (6..=9).collect(), "a seeder gets exactly the leechers");
    }
}

#[test]
fn numwant_limits_and_zero_gives_none_and_choice_is_random() {
    let s = MemoryStore::new();
    for n in 1..=30 {
        go(&s, &ann(n, 100, Event::Started));
    }
    let mut a = ann(1, 100, Event::None);
    a.numwant = 0;
    assert!(go(&s, &a).peers.is_empty());
    a.numwant = 5;
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let out = go(&s, &a);
        assert_eq!(out.peers.len(), 5);
        seen.extend(out.peers.iter().map(|p| p.peer_id[0]));
    }
    // 40 random draws of 5 among 29 reach nearly everyone; a fixed window would give 5.
    assert!(seen.len() > 20, "only {} distinct peers seen", seen.len());
}

#[test]
fn completed_counts_once_per_peer_including_silent_finishers() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 100, Event::Started));
    go(&s, &ann(1, 0, Event::Completed));
    go(&s, &ann(1, 0, Event::Completed)); // repeated event: still one
    go(&s, &ann(1, 0, Event::None));
    assert_eq!(scrape(&s), (1, 0, 1));
    // rtorrent/aria2: leeching, then left=0 without the event.
    go(&s, &ann(2, 100, Event::Started));
    go(&s, &ann(2, 0, Event::None));
    assert_eq!(scrape(&s), (2, 0, 2));
    // ctorrent: leeching, then stopped with left=0.
    go(&s, &ann(3, 100, Event::Started));
    go(&s, &ann(3, 0, Event::Stopped));
    assert_eq!(scrape(&s), (2, 0, 3));
    // A peer first seen seeding did not download here.
    go(&s, &ann(4, 0, Event::Started));
    go(&s, &ann(4, 0, Event::Stopped));
    assert_eq!(scrape(&s), (2, 0, 3));
    // A leecher that stops early did not finish.
    go(&s, &ann(5, 100, Event::Started));
    go(&s, &ann(5, 50, Event::Stopped));
    assert_eq!(scrape(&s), (2, 0, 3));
}

#[test]
fn stopped_removes_and_unknown_stopped_creates_nothing() {
    let s = MemoryStore::new();
    let mut out = AnnounceOutcome::default();
    s.announce(&ann(1, 0, Event::Stopped), 1000, &mut out)
        .unwrap();
    assert_eq!(
        s.counts().torrents,
        0,
        "stopped before started must not create a swarm"
    );
    go(&s, &ann(1, 100, Event::Started));
    go(&s, &ann(2, 100, Event::Started));
    let out = go(&s, &ann(1, 100, Event::Stopped));
    assert_eq!((out.complete, out.incomplete), (0, 1));
    assert!(out.peers.is_empty());
    let out = go(&s, &ann(2, 100, Event::None));
    assert!(out.peers.is_empty(), "stopped peer still handed out");
}

#[test]
fn port_zero_gets_peers_but_is_never_stored_or_handed_out() {
    let s = MemoryStore::new();
    let silent = |n, left| Announce {
        port: 0,
        ..ann(n, left, Event::Started)
    };
    let mut out = AnnounceOutcome::default();
    s.announce(&silent(1, 100), 1000, &mut out).unwrap();
    assert_eq!(s.counts().torrents, 0, "no swarm is created for it");
    go(&s, &ann(2, 0, Event::Started));
    go(&s, &ann(3, 100, Event::Started));
    // It gets the peers and the counts of the others...
    let out = go(&s, &silent(1, 100));
    assert_eq!((out.complete, out.incomplete), (1, 1));
    let ids: HashSet<_> = out.peers.iter().map(|p| p.peer_id[0]).collect();
    assert_eq!(ids, HashSet::from([2, 3]));
    // ...and no one gets it.
    assert_eq!(scrape(&s), (1, 1, 0));
    let out = go(&s, &ann(3, 100, Event::None));
    assert!(out.peers.iter().all(|p| p.peer_id != id(1) && p.port != 0));
    // A peer that stops listening leaves the swarm, and its row is deleted.
    s.drain_changes();
    let out = go(&s, &silent(3, 100));
    assert_eq!((out.complete, out.incomplete), (1, 0));
    assert!(s
        .drain_changes()
        .peers
        .contains(&PeerChange::Delete(H, id(3))));
}

#[test]
fn address_change_needs_the_first_key() {
    let s = MemoryStore::new();
    let first = ann(1, 100, Event::Started);
    go(&s, &first);
    let mut moved = first.clone();
    moved.ip = IpAddr::from([10, 9, 9, 9]);
    moved.key = Some(999);
    let mut out = AnnounceOutcome::default();
    assert_eq!(
        s.announce(&moved, 1000, &mut out),
        Err(SwarmError::PeerIdTaken)
    );
    moved.key = None;
    assert_eq!(
        s.announce(&moved, 1000, &mut out),
        Err(SwarmError::PeerIdTaken)
    );
    moved.event = Event::Stopped;
    assert_eq!(
        s.announce(&moved, 1000, &mut out),
        Err(SwarmError::PeerIdTaken),
        "a forged stop"
    );
    moved.event = Event::None;
    moved.key = first.key;
    s.announce(&moved, 1000, &mut out)
        .expect("same key moves the peer");
    go(&s, &ann(2, 100, Event::Started));
    let out = go(&s, &ann(2, 100, Event::None));
    assert_eq!(out.peers[0].ip, IpAddr::from([10, 9, 9, 9]));
    // Without any key, the same address may still re-announce (and change port).
    let mut nokey = ann(3, 100, Event::Started);
    nokey.key = None;
    go(&s, &nokey);
    nokey.port = 1;
    go(&s, &nokey);
}

#[test]
fn cleanup_drops_expired_peers_and_empty_swarms() {
    let s = MemoryStore::new();
    let mut out = AnnounceOutcome::default();
    s.announce(&ann(1, 100, Event::Started), 100, &mut out)
        .unwrap();
    s.announce(&ann(2, 100, Event::Started), 200, &mut out)
        .unwrap();
    let r = s.cleanup(150);
    assert_eq!((r.peers_removed, r.torrents_removed), (1, 0));
    let r = s.cleanup(250);
    assert_eq!((r.peers_removed, r.torrents_removed), (1, 1));
    assert_eq!(s.counts().torrents, 0);
}

#[test]
fn changes_coalesce_per_peer_and_carry_completed_deltas() {
    let s = MemoryStore::new();
    for _ in 0..10 {
        go(&s, &ann(1, 100, Event::None));
    }
    go(&s, &ann(1, 0, Event::Completed));
    go(&s, &ann(2, 100, Event::Started));
    go(&s, &ann(2, 100, Event::Stopped));
    assert_eq!(s.counts().pending_changes, 3); // two peers, one torrent
    let c = s.drain_changes();
    assert_eq!(c.peers.len(), 2);
    assert!(c.peers.contains(&PeerChange::Delete(H, id(2))));
    assert!(c
        .peers
        .iter()
        .any(|p| matches!(p, PeerChange::Upsert(_, i, r) if *i == id(1) && r.seeder && r.counted)));
    assert_eq!(c.torrents.len(), 1);
    assert_eq!(c.torrents[0].completed_delta, 1);
    assert!(c.torrents[0].needs_stored_count.is_some());
    assert!(s.drain_changes().is_empty());
}

#[test]
fn stored_count_is_added_once_and_only_to_the_same_generation() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 100, Event::Started));
    go(&s, &ann(1, 0, Event::Completed));
    let gen = s.drain_changes().torrents[0].needs_stored_count.unwrap();
    s.apply_stored_completed(&H, gen + 1, 100); // another generation: ignored
    assert_eq!(scrape(&s).2, 1);
    s.apply_stored_completed(&H, gen, 41);
    s.apply_stored_completed(&H, gen, 41); // twice: ignored
    assert_eq!(scrape(&s).2, 42);
    go(&s, &ann(2, 0, Event::None)); // a change, so the swarm is drained again
    assert!(s.drain_changes().torrents[0].needs_stored_count.is_none());
}

#[test]
fn an_unchanged_re_announce_is_written_once_a_renew_window() {
    let s = MemoryStore::new();
    let mut out = AnnounceOutcome::default();
    let mut at = |a: &Announce, now: u32| s.announce(a, now, &mut out).expect("accepted");
    let a = ann(1, 100, Event::Started); // windows of 900 s: 900..=1799, 1800..
    at(&a, 1000);
    assert_eq!(s.drain_changes().peers.len(), 1, "a new peer is written");
    let regular = Announce {
        event: Event::None,
        ..a.clone()
    };
    for now in [1010, 1500, 1799] {
        at(&regular, now);
        let c = s.drain_changes();
        assert!(
            c.is_empty(),
            "unchanged at {now}: nothing to write, got {c:?}"
        );
    }
    assert_eq!(s.counts().pending_changes, 0);
    // Into the next window: written once, with the new last_seen.
    at(&regular, 1800);
    at(&regular, 1801);
    let c = s.drain_changes();
    assert!(
        matches!(&c.peers[..], [PeerChange::Upsert(_, _, r)] if r.last_seen == 1801),
        "{c:?}"
    );
    // A state change is written at once, in the same window.
    for (changed, what) in [
        (ann(1, 0, Event::None), "became a seeder"),
        (
            Announce {
                port: 7000,
                ..ann(1, 0, Event::None)
            },
            "new port",
        ),
    ] {
        at(&changed, 1802);
        assert_eq!(s.drain_changes().peers.len(), 1, "{what}");
    }
    // And leaving is written as a deletion.
    at(&ann(1, 0, Event::Stopped), 1803);
    assert!(matches!(
        &s.drain_changes().peers[..],
        [PeerChange::Delete(..)]
    ));
}

#[test]
fn restore_brings_back_peers_and_counts() {
    let s = MemoryStore::new();
    let rec = |seeder| PeerRecord {
        ip: IpAddr::from([10, 0, 0, 1]),
        port: 1,
        key: Some(5),
        last_seen: 900,
        seeder,
        seen_leeching: !seeder,
        counted: false,
        net: NetId::UNKNOWN,
    };
    s.restore(vec![RestoredTorrent {
        info_hash: H,
        completed: 9,
        first_seen: 1,
        last_seen: 900,
        peers: vec![(id(1), rec(true)), (id(2), rec(false))],
    }]);
    assert_eq!(scrape(&s), (1, 1, 9));
    let out = go(&s, &ann(3, 100, Event::Started));
    assert_eq!(out.peers.len(), 2);
    assert!(s.drain_changes().torrents[0].needs_stored_count.is_none());
}

#[test]
fn merged_changes_keep_newest_peer_state_and_sum_deltas() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 100, Event::Started));
    go(&s, &ann(1, 0, Event::Completed));
    let older = s.drain_changes();
    go(&s, &ann(1, 0, Event::Stopped));
    go(&s, &ann(2, 100, Event::Started));
    go(&s, &ann(2, 0, Event::None));
    let merged = older.merged_with(s.drain_changes());
    assert_eq!(merged.torrents.len(), 1);
    assert_eq!(merged.torrents[0].completed_delta, 2);
    assert!(merged.peers.contains(&PeerChange::Delete(H, id(1))));
    assert_eq!(merged.peers.len(), 2);
}

#[test]
fn for_each_peer_sees_every_peer_with_its_role() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 0, Event::Started));
    go(&s, &ann(2, 100, Event::Started));
    let other = Announce {
        info_hash: [9; 20],
        ..ann(3, 100, Event::Started)
    };
    go(&s, &other);
    let mut seen = Vec::new();
    s.for_each_peer(&mut |h, id, r| seen.push((h[0], id[0], r.seeder, r.ip)));
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (7, 1, true, IpAddr::from([10, 0, 0, 1])),
            (7, 2, false, IpAddr::from([10, 0, 0, 2])),
            (9, 3, false, IpAddr::from([10, 0, 0, 3])),
        ]
    );
}

#[test]
fn remove_peers_drops_matches_records_deletes_and_empty_swarms() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 0, Event::Started));
    go(&s, &ann(2, 100, Event::Started));
    let other = Announce {
        info_hash: [9; 20],
        ..ann(2, 100, Event::Started)
    };
    go(&s, &other);
    s.drain_changes();
    let blocked = IpAddr::from([10, 0, 0, 2]);
    assert_eq!(s.remove_peers(&mut |_, r| r.ip == blocked), 2);
    assert_eq!(scrape(&s), (1, 0, 0));
    assert_eq!(s.counts().torrents, 1, "the swarm left empty is dropped");
    let mut deletes = s.drain_changes().peers;
    deletes.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        deletes,
        vec![
            PeerChange::Delete(H, id(2)),
            PeerChange::Delete([9; 20], id(2))
        ]
    );
    assert_eq!(s.remove_peers(&mut |_, _| false), 0);
}

fn big(n: u16, left: u64, event: Event) -> Announce {
    let mut peer_id = [0u8; 20];
    peer_id[18..].copy_from_slice(&n.to_be_bytes());
    Announce {
        info_hash: H,
        peer_id,
        ip: IpAddr::from([10, 1, (n >> 8) as u8, n as u8]),
        port: n,
        left,
        event,
        key: None,
        numwant: 300,
        family: None,
        renew: Renew::of_expiry(3600),
        locality: Default::default(),
    }
}

#[test]
fn a_large_swarm_keeps_roles_and_identities_through_its_index() {
    let s = MemoryStore::new();
    for n in 1..=300 {
        go(
            &s,
            &big(n, if n % 3 == 0 { 0 } else { 100 }, Event::Started),
        );
    }
    assert_eq!(scrape(&s), (100, 200, 0));
    // Every fourth stops; every fifth leecher finishes.
    for n in (4..=300).step_by(4) {
        go(&s, &big(n, 100, Event::Stopped));
    }
    for n in (5..=300).step_by(5).filter(|n| n % 3 != 0 && n % 4 != 0) {
        go(&s, &big(n, 0, Event::Completed));
    }
    let live: Vec<u16> = (1..=300).filter(|n| n % 4 != 0).collect();
    let seeder = |n: &u16| n % 3 == 0 || n % 5 == 0;
    let seeders = live.iter().filter(|n| seeder(n)).count() as u32;
    let finished = live.iter().filter(|&&n| n % 5 == 0 && n % 3 != 0).count() as u64;
    assert_eq!(scrape(&s), (seeders, live.len() as u32 - seeders, finished));
    // A leecher gets everyone else, a seeder exactly the leechers.
    let out = go(&s, &big(1, 100, Event::None));
    assert_eq!(out.peers.len(), live.len() - 1);
    let out = go(&s, &big(3, 0, Event::None));
    assert!(out
        .peers
        .iter()
        .all(|p| !seeder(&u16::from_be_bytes([p.peer_id[18], p.peer_id[19]]))));
    assert_eq!(out.peers.len(), live.len() - seeders as usize);
    // Identities are still checked against the right peer after all the moves.
    let mut moved = big(7, 100, Event::None);
    moved.ip = IpAddr::from([10, 9, 9, 9]);
    let mut o = AnnounceOutcome::default();
    assert_eq!(
        s.announce(&moved, 1000, &mut o),
        Err(SwarmError::PeerIdTaken)
    );
    let mut seen = 0;
    s.for_each_peer(&mut |_, id, r| {
        let n = u16::from_be_bytes([id[18], id[19]]);
        assert_eq!((r.port, r.seeder), (n, seeder(&n)));
        seen += 1;
    });
    assert_eq!(seen, live.len());
}

#[test]
fn a_peer_moves_between_address_families_with_its_key() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 100, Event::Started));
    let mut v6 = ann(1, 100, Event::None);
    v6.ip = "fd00::7".parse().unwrap();
    let out = go(&s, &v6);
    assert_eq!((out.complete, out.incomplete), (0, 1));
    go(&s, &ann(2, 0, Event::Started));
    let out = go(&s, &ann(2, 0, Event::None));
    assert_eq!(out.peers.len(), 1);
    assert_eq!(out.peers[0].ip, v6.ip, "handed out at its new address");
    // And back, finishing on the way: counted once.
    go(&s, &ann(1, 0, Event::Completed));
    assert_eq!(scrape(&s), (2, 0, 1));
    let mut ips = Vec::new();
    s.for_each_peer(&mut |_, id, r| ips.push((id[0], r.ip)));
    ips.sort();
    assert_eq!(
        ips,
        vec![
            (1, IpAddr::from([10, 0, 0, 1])),
            (2, IpAddr::from([10, 0, 0, 2]))
        ]
    );
}

#[test]
fn counts_of_a_swarm_dropped_before_the_drain_are_still_written() {
    let s = MemoryStore::new();
    // ctorrent: leeching, then stopped with nothing left: a download, and an empty swarm.
    go(&s, &ann(1, 100, Event::Started));
    go(&s, &ann(1, 0, Event::Stopped));
    assert_eq!(s.cleanup(0).torrents_removed, 1);
    let c = s.drain_changes();
    assert_eq!(c.torrents.len(), 1);
    assert_eq!(c.torrents[0].completed_delta, 1);
    assert_eq!(c.peers, vec![PeerChange::Delete(H, id(1))]);
    assert_eq!(s.counts().pending_changes, 0);
}

#[test]
fn batched_drains_give_the_same_changes_as_one() {
    let fill = |s: &MemoryStore| {
        for n in 1..=20 {
            go(s, &ann(n, u64::from(n % 2) * 100, Event::Started));
        }
        for n in (1..=20).step_by(3) {
            go(s, &ann(n, 100, Event::Stopped));
        }
        go(s, &ann(1, 100, Event::Started)); // back after stopping
    };
    let (one, batched) = (MemoryStore::new(), MemoryStore::new());
    fill(&one);
    fill(&batched);
    let mut all = one.drain_changes();
    let mut parts = Changes::default();
    let mut calls = 0;
    loop {
        let before = parts.peers.len();
        let more = batched.drain_changes_into(&mut parts, 3);
        assert!(parts.peers.len() - before <= 3);
        calls += 1;
        if !more {
            break;
        }
    }
    assert!(
        calls >= 7,
        "{calls} batches for 20 peer changes of at most 3"
    );
    let key = |c: &PeerChange| format!("{c:?}");
    all.peers.sort_by_key(key);
    parts.peers.sort_by_key(key);
    assert_eq!(all.peers, parts.peers);
    assert_eq!(
        all.peers.len(),
        20,
        "one change per peer: 14 upserts, 6 deletes"
    );
    let delta = |c: &Changes| c.torrents.iter().map(|t| t.completed_delta).sum::<u64>();
    assert_eq!(delta(&all), delta(&parts));
}

#[test]
fn a_drain_larger_than_a_lock_slice_takes_every_peer_of_a_shard() {
    // 5000 dirty peers in one swarm (one shard): drained 1024 per hold of the lock, in one
    // call when the batch allows, over several calls when it does not, never one twice.
    let s = MemoryStore::new();
    for n in 1..=5000 {
        go(
            &s,
            &Announce {
                numwant: 0,
                ..big(n, 100, Event::Started)
            },
        );
    }
    let mut all = Changes::default();
    assert!(
        !s.drain_changes_into(&mut all, 16_384),
        "one batch holds all"
    );
    assert_eq!(all.peers.len(), 5000);

    for n in 1..=5000 {
        go(
            &s,
            &Announce {
                numwant: 0,
                ..big(n, 0, Event::None)
            },
        );
    }
    let mut parts = Changes::default();
    assert!(s.drain_changes_into(&mut parts, 3000));
    assert_eq!(parts.peers.len(), 3000);
    assert!(!s.drain_changes_into(&mut parts, 3000));
    let ids: HashSet<String> = parts.peers.iter().map(|c| format!("{c:?}")).collect();
    assert_eq!((parts.peers.len(), ids.len()), (5000, 5000));
}

#[test]
fn relabel_sets_networks_from_addresses_and_selection_follows_them() {
    use crate::locality::Mode;
    let s = MemoryStore::new();
    for n in 1..=9 {
        go(&s, &ann(n, 100, Event::Started));
    }
    s.drain_changes();
    let mut nets = Vec::new();
    s.for_each_peer(&mut |_, _, r| nets.push(r.net));
    assert_eq!(nets, vec![NetId::UNKNOWN; 9], "announced without a network");
    // 10.0.0.1 to .3 are the operator's north, the others an AS.
    let map = |ip: IpAddr| match ip {
        IpAddr::V4(v4) if v4.octets()[3] <= 3 => NetId::named(0),
        _ => NetId::asn(64500),
    };
    assert_eq!(s.relabel(&mut |ip| map(ip)), 9);
    assert_eq!(
        s.relabel(&mut |ip| map(ip)),
        0,
        "the same map changes nothing"
    );
    assert_eq!(
        s.counts().pending_changes,
        0,
        "networks are not persisted: nothing to write"
    );
    let mut a = ann(1, 100, Event::None);
    a.numwant = 2;
    a.locality = Locality {
        mode: Mode::Prefer,
        requester: NetId::named(0),
        outside_share: 0.0,
    };
    for _ in 0..20 {
        let out = go(&s, &a);
        let ids: HashSet<_> = out.peers.iter().map(|p| p.peer_id[0]).collect();
        assert_eq!(ids, HashSet::from([2, 3]), "its own network first");
        assert_eq!(out.handed_out, [2, 0, 0]);
    }
    // Off hands out anyone, and tallies the tiers all the same.
    a.locality.mode = Mode::Off;
    a.numwant = 50;
    assert_eq!(go(&s, &a).handed_out, [2, 0, 6]);
}

#[test]
fn a_peer_announcing_from_another_network_takes_its_id() {
    let s = MemoryStore::new();
    let mut a = ann(1, 100, Event::Started);
    a.locality.requester = NetId::named(0);
    go(&s, &a);
    a.locality.requester = NetId::asn(64500);
    a.event = Event::None;
    go(&s, &a);
    let mut nets = Vec::new();
    s.for_each_peer(&mut |_, _, r| nets.push(r.net));
    assert_eq!(nets, vec![NetId::asn(64500)]);
    // What the writer gets carries it too (storage drops it: networks are not persisted).
    let c = s.drain_changes();
    assert!(matches!(&c.peers[..], [PeerChange::Upsert(_, _, r)] if r.net == NetId::asn(64500)));
}

/// Whether `f` panics with the check of `crate::blocking` (and with nothing else).
#[cfg(debug_assertions)]
fn refused<T>(f: impl FnOnce() -> T) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(_) => false,
        Err(e) => {
            let msg = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert!(msg.contains("on an async worker thread"), "{msg}");
            true
        }
    }
}

#[cfg(debug_assertions)]
#[tokio::test]
#[should_panic(expected = "a walk of the whole swarm store on an async worker thread")]
async fn a_full_scrape_on_an_async_worker_is_caught_in_debug_builds() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 0, Event::Started));
    s.scrape_all(&mut Vec::new());
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn every_walk_is_refused_on_an_async_worker_but_counts_and_announces_are_not() {
    let s = MemoryStore::new();
    go(&s, &ann(1, 0, Event::Started));
    assert!(refused(|| s.scrape_all(&mut Vec::new())), "scrape_all");
    assert!(
        refused(|| s.for_each_peer(&mut |_, _, _| {})),
        "for_each_peer"
    );
    assert!(
        refused(|| s.remove_peers(&mut |_, _| false)),
        "remove_peers"
    );
    assert!(refused(|| s.cleanup(0)), "cleanup");
    assert!(refused(|| s.drain_changes()), "drain_changes");
    assert!(
        refused(|| s.drain_changes_into(&mut Changes::default(), 10)),
        "drain_changes_into"
    );
    assert!(refused(|| s.restore(Vec::new())), "restore");
    assert!(refused(|| s.relabel(&mut |_| NetId::UNKNOWN)), "relabel");
    // The per-request calls, and counts() now that it reads the shards' totals.
    assert!(!refused(|| s.counts()), "counts");
    assert!(!refused(|| s.scrape(&[H], &mut Vec::new())), "scrape");
    assert!(!refused(|| go(&s, &ann(2, 5, Event::Started))), "announce");
    assert_eq!((s.counts().seeders, s.counts().leechers), (1, 1));
}

#[tokio::test]
async fn walks_through_blocking_run_pass_the_check() {
    let s = std::sync::Arc::new(MemoryStore::new());
    go(&s, &ann(1, 0, Event::Started));
    go(&s, &ann(2, 5, Event::Started));
    let store = std::sync::Arc::clone(&s);
    let (swarms, peers, removed, changes) = crate::blocking::run(move || {
        let mut swarms = Vec::new();
        store.scrape_all(&mut swarms);
        let mut peers = 0;
        store.for_each_peer(&mut |_, _, _| peers += 1);
        let removed = store.remove_peers(&mut |_, p| p.port == 6882);
        store.cleanup(0);
        store.restore(Vec::new());
        (swarms.len(), peers, removed, store.drain_changes())
    })
    .await;
    assert_eq!((swarms, peers, removed), (1, 2, 1));
    assert_eq!(changes.peers.len(), 2, "an upsert and the removal");
    assert_eq!(s.counts().seeders + s.counts().leechers, 1);
}
