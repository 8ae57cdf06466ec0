//! Selection by locality (`tiers`), on swarms built directly and a seeded generator: the tiers
//! in order, the random share drawn from the whole swarm, uniform choice within a tier, nothing
//! excluded ever returned, the tally by tier, and `off` exactly as before.

use super::select::sample;
use super::tiers::random_share;
use super::torrent::{Slot, Swarm, Wanted};
use super::*;
use crate::locality::{Mode, Tier};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::HashSet;

fn pid(i: usize) -> PeerId {
    let mut id = [0xEE; 20];
    id[..8].copy_from_slice(&(i as u64).to_le_bytes());
    id
}

fn index_of(p: &ResponsePeer) -> usize {
    u64::from_le_bytes(p.peer_id[..8].try_into().unwrap()) as usize
}

/// Peer `i`: IPv6 when `v6`, else IPv4.
fn rec(i: usize, net: NetId, seeder: bool, v6: bool) -> PeerRecord {
    PeerRecord {
        ip: if v6 {
            IpAddr::from([0xfd00, 0, 0, 0, 0, 0, (i >> 16) as u16, i as u16])
        } else {
            IpAddr::from((0x0A00_0000 + i as u32).to_be_bytes())
        },
        port: 1 + i as u16,
        key: None,
        last_seen: 1,
        seeder,
        seen_leeching: false,
        counted: false,
        net,
    }
}

/// A peer of a test swarm: its network, whether it seeds, whether it is IPv6.
type Spec = (NetId, bool, bool);

fn swarm_of(peers: &[Spec]) -> Swarm {
    let mut s = Swarm::new(1, true);
    for (i, &(net, seeder, v6)) in peers.iter().enumerate() {
        s.insert(pid(i), &rec(i, net, seeder, v6), false);
    }
    s
}

/// The answer for peer `me` (or for an unlisted requester that seeds when `seeder`).
fn ask(
    s: &Swarm,
    rng: &mut SmallRng,
    peers: &[Spec],
    me: Option<usize>,
    seeder: bool,
    want: usize,
    loc: Locality,
) -> AnnounceOutcome {
    let slot: Option<Slot> = me.map(|i| s.find(&pid(i)).expect("listed"));
    let seeder = me.map_or(seeder, |i| peers[i].1);
    let mut out = AnnounceOutcome::default();
    let w = Wanted {
        n: want,
        locality: loc,
        family: None,
    };
    s.pick(rng, slot, seeder, &w, &mut out);
    out
}

fn loc(mode: Mode, requester: NetId, share: f32) -> Locality {
    Locality {
        mode,
        requester,
        outside_share: share,
    }
}

fn north() -> NetId {
    NetId::named(0)
}

fn south() -> NetId {
    NetId::named(1)
}

fn far() -> NetId {
    NetId::asn(64500)
}

/// Checks an answer against the rules; returns the tiers handed out.
fn check(
    peers: &[Spec],
    me: Option<usize>,
    seeder: bool,
    want: usize,
    l: &Locality,
    out: &AnnounceOutcome,
) -> [u32; 3] {
    let seeder = me.map_or(seeder, |i| peers[i].1);
    let r = l.requester;
    let on_side = |net: NetId| l.mode != Mode::Strict || net.is_operator() == r.is_operator();
    let mut eligible = [0usize; 3];
    for (i, &(net, s, _)) in peers.iter().enumerate() {
        if Some(i) != me && !(seeder && s) && on_side(net) {
            eligible[net.tier_for(r) as usize] += 1;
        }
    }
    let n = want.min(eligible.iter().sum());
    assert_eq!(out.peers.len(), n, "answer size");
    let ids: HashSet<usize> = out.peers.iter().map(index_of).collect();
    assert_eq!(ids.len(), n, "a peer twice");
    let mut handed = [0u32; 3];
    for p in &out.peers {
        let i = index_of(p);
        let (net, s, _) = peers[i];
        assert_ne!(Some(i), me, "the requester in its own list");
        assert!(!(seeder && s), "a seeder for a seeder");
        assert!(on_side(net), "strict crossed the border");
        assert_eq!(p.port, 1 + i as u16);
        handed[net.tier_for(r) as usize] += 1;
    }
    assert_eq!(out.handed_out, handed, "tally by tier");
    if l.mode != Mode::Off {
        let random = random_share(l.outside_share, n) as u32;
        for t in Tier::ALL {
            let beyond: u32 = handed[t as usize + 1..].iter().sum();
            if (handed[t as usize] as usize) < eligible[t as usize] {
                assert!(
                    beyond <= random,
                    "{t:?} left out for farther peers: {handed:?}"
                );
            }
        }
    }
    handed
}

#[test]
fn the_random_share_is_rounded_down_as_written() {
    assert_eq!(random_share(0.7, 10), 7, "0.7 as f32 is 0.69999999");
    assert_eq!(random_share(0.2, 50), 10);
    assert_eq!(random_share(0.2, 9), 1);
    assert_eq!(random_share(0.0, 50), 0);
    assert_eq!(random_share(1.0, 50), 50);
    assert_eq!(random_share(f32::NAN, 50), 0);
    assert_eq!(random_share(2.0, 50), 50);
    assert_eq!(random_share(-1.0, 50), 0);
}

#[test]
fn tiers_are_taken_nearest_first() {
    // 5 of the requester's network (itself included), 10 of another named one, 30 outside.
    let mut peers: Vec<Spec> = Vec::new();
    peers.extend((0..5).map(|_| (north(), false, false)));
    peers.extend((0..10).map(|_| (south(), false, false)));
    peers.extend((0..30).map(|_| (far(), false, false)));
    let s = swarm_of(&peers);
    let mut rng = SmallRng::seed_from_u64(1);
    for _ in 0..50 {
        let l = loc(Mode::Prefer, north(), 0.0);
        let out = ask(&s, &mut rng, &peers, Some(0), false, 12, l);
        assert_eq!(check(&peers, Some(0), false, 12, &l, &out), [4, 8, 0]);
        let out = ask(&s, &mut rng, &peers, Some(0), false, 20, l);
        assert_eq!(check(&peers, Some(0), false, 20, &l, &out), [4, 10, 6]);
        // Strict: the requester inside gets nobody outside, however many it wants.
        let l = loc(Mode::Strict, north(), 0.0);
        let out = ask(&s, &mut rng, &peers, Some(0), false, 40, l);
        assert_eq!(check(&peers, Some(0), false, 40, &l, &out), [4, 10, 0]);
        // And one outside (its AS here) nobody inside.
        let l = loc(Mode::Strict, far(), 0.5);
        let out = ask(&s, &mut rng, &peers, Some(20), false, 40, l);
        assert_eq!(check(&peers, Some(20), false, 40, &l, &out), [29, 0, 0]);
        // Off counts the tiers too.
        let l = loc(Mode::Off, north(), 0.0);
        let out = ask(&s, &mut rng, &peers, Some(0), false, 44, l);
        assert_eq!(check(&peers, Some(0), false, 44, &l, &out), [4, 10, 30]);
    }
}

#[test]
fn an_unknown_requester_has_no_network_of_its_own() {
    let peers: Vec<Spec> = (0..20)
        .map(|i| (if i < 10 { NetId::UNKNOWN } else { south() }, false, false))
        .collect();
    let s = swarm_of(&peers);
    let mut rng = SmallRng::seed_from_u64(2);
    let l = loc(Mode::Prefer, NetId::UNKNOWN, 0.0);
    let out = ask(&s, &mut rng, &peers, Some(0), false, 12, l);
    // The other unknown peers are outside; the named ones come first.
    assert_eq!(check(&peers, Some(0), false, 12, &l, &out), [0, 10, 2]);
}

/// Swarms of `len` peers where network `north` holds `own` of them (the first ones, a third
/// of them seeding), `south` a fifth and the rest are outside, some over IPv6.
fn mixed(len: usize, own: usize) -> Vec<Spec> {
    (0..len)
        .map(|i| {
            let net = if i < own {
                north()
            } else if i < own + len / 5 {
                south()
            } else {
                far()
            };
            (net, i % 3 == 1, i % 11 == 5)
        })
        .collect()
}

#[test]
fn the_random_share_comes_from_the_whole_swarm() {
    // 100 of the requester's network in 1000 (and in 5000, with the network index): share
    // 0.2 of 50 is 10 peers drawn from all 999 eligible, so about 10 × 0.9 are not from its
    // network; the 40 others are all from it.
    for len in [1000, 5000] {
        let own = len / 10;
        let peers = mixed(len, own);
        let s = swarm_of(&peers);
        let mut rng = SmallRng::seed_from_u64(3);
        let l = loc(Mode::Prefer, north(), 0.2);
        let rounds = 2000;
        let mut foreign = 0u32;
        for _ in 0..rounds {
            let out = ask(&s, &mut rng, &peers, Some(0), false, 50, l);
            let h = check(&peers, Some(0), false, 50, &l, &out);
            assert!(h[1] + h[2] <= 10, "more than the share outside: {h:?}");
            foreign += h[1] + h[2];
        }
        let mean = f64::from(foreign) / f64::from(rounds);
        let expected = 10.0 * (len - own) as f64 / (len - 1) as f64;
        assert!(
            (mean - expected).abs() < 0.15,
            "len {len}: {mean} foreign peers per answer, expected {expected}"
        );
    }
}

/// Pearson's statistic of `counts` against equal expectations.
fn chi_square(counts: &[u32]) -> f64 {
    let total: u32 = counts.iter().sum();
    let e = f64::from(total) / counts.len() as f64;
    counts.iter().map(|&c| (f64::from(c) - e).powi(2) / e).sum()
}

#[test]
fn choice_within_a_tier_is_uniform() {
    // (swarm, requester's network size, want, seeder): small lists are scanned, long ones
    // drawn by rejection from the network's group or listed; a seeder only gets leechers.
    for (len, own, want, me_seeds) in [
        (40, 20, 5, false),
        (3000, 300, 30, false),
        (3000, 300, 30, true),
        (3000, 40, 30, false),
        (3000, 20, 30, false),
    ] {
        let peers = mixed(len, own);
        let me = if me_seeds { 1 } else { 0 };
        assert_eq!(peers[me].1, me_seeds);
        let s = swarm_of(&peers);
        let mut rng = SmallRng::seed_from_u64(len as u64 + own as u64);
        let l = loc(Mode::Prefer, north(), 0.0);
        let mut counts = vec![0u32; len];
        for _ in 0..20_000 {
            let out = ask(&s, &mut rng, &peers, Some(me), false, want, l);
            check(&peers, Some(me), false, want, &l, &out);
            for p in &out.peers {
                counts[index_of(p)] += 1;
            }
        }
        // Every eligible peer of the requester's network was as likely as any other.
        let own_eligible: Vec<u32> = (0..own)
            .filter(|&i| i != me && !(me_seeds && peers[i].1))
            .map(|i| counts[i])
            .collect();
        let df = own_eligible.len() as f64 - 1.0;
        if own_eligible.len() > want {
            let x = chi_square(&own_eligible);
            // Mean df, deviation sqrt(2 df): far beyond 5 deviations is no chance.
            assert!(
                x < df + 5.0 * (2.0 * df).sqrt(),
                "len {len}, own {own}: chi-square {x} with {df} degrees of freedom"
            );
        } else {
            // The whole network goes out every time; the rest comes from the next tier,
            // uniformly too.
            assert!(own_eligible.iter().all(|&c| c == 20_000));
            let south: Vec<u32> = (own..own + len / 5).map(|i| counts[i]).collect();
            let df = south.len() as f64 - 1.0;
            let x = chi_square(&south);
            assert!(x < df + 5.0 * (2.0 * df).sqrt(), "operator tier: {x}");
        }
    }
}

#[test]
fn long_tiers_drawn_in_runs_favour_no_one() {
    // 6000 of the requester's network in 12,000: drawn in runs of neighbours from its group.
    // Each member must still be as likely as another, wherever it stands in the group.
    let (len, own, want, rounds) = (12_000, 6_000, 40, 3000);
    let peers = mixed(len, own);
    let s = swarm_of(&peers);
    let mut rng = SmallRng::seed_from_u64(6);
    let l = loc(Mode::Prefer, north(), 0.0);
    let mut counts = vec![0u32; len];
    for _ in 0..rounds {
        let out = ask(&s, &mut rng, &peers, Some(0), false, want, l);
        assert_eq!(check(&peers, Some(0), false, want, &l, &out), [40, 0, 0]);
        for p in &out.peers {
            counts[index_of(p)] += 1;
        }
    }
    let per_peer = f64::from(rounds * want as u32) / (own - 1) as f64;
    // By stretch of the group (runs of 16 make neighbours move together: wide tolerance)...
    for (k, chunk) in counts[1..own].chunks(500).enumerate() {
        let mean = f64::from(chunk.iter().sum::<u32>()) / chunk.len() as f64;
        assert!(
            (mean / per_peer - 1.0).abs() < 0.2,
            "stretch {k}: {mean} per peer, expected {per_peer}"
        );
    }
    // ...and by place in a run (the rotation is random).
    let mut by_offset = [0u32; 16];
    for (i, c) in counts[..own].iter().enumerate() {
        by_offset[i % 16] += c;
    }
    let mean = f64::from(by_offset.iter().sum::<u32>()) / 16.0;
    for (k, n) in by_offset.iter().enumerate() {
        assert!(
            (f64::from(*n) / mean - 1.0).abs() < 0.1,
            "offset {k}: {n} against {mean}"
        );
    }
}

#[test]
fn strict_random_share_stays_on_the_requesters_side() {
    // Few of the operator's peers in a long list: the share is drawn from them only.
    let mut peers = mixed(4000, 30);
    for p in peers.iter_mut().skip(30).take(500) {
        p.0 = far();
    }
    let s = swarm_of(&peers);
    let mut rng = SmallRng::seed_from_u64(4);
    let l = loc(Mode::Strict, north(), 1.0);
    for want in [10, 50, 400, 1000] {
        let out = ask(&s, &mut rng, &peers, Some(0), false, want, l);
        let h = check(&peers, Some(0), false, want, &l, &out);
        assert_eq!(h[2], 0);
    }
}

#[test]
fn off_is_the_uniform_draw_it_always_was() {
    // The selection before locality, written out: both families' role ranges as one range,
    // the requester skipped, `select::sample` over it. Same generator, same peers.
    for (len, want) in [(10, 50), (1000, 50), (6000, 50), (6000, 300)] {
        let peers = mixed(len, len / 20);
        let s = swarm_of(&peers);
        for (me, seeder) in [(Some(0), false), (Some(1), true), (None, true)] {
            let mut rng = SmallRng::seed_from_u64(5);
            let mut before = rng.clone();
            let out = ask(&s, &mut rng, &peers, me, seeder, want, Locality::default());
            let seeder = me.map_or(seeder, |i| peers[i].1);
            let role = |l: (usize, usize)| if seeder { l.1..l.0 } else { 0..l.0 };
            let v4_len = peers.iter().filter(|p| !p.2).count();
            let v4_seeders = peers.iter().filter(|p| !p.2 && p.1).count();
            let v6_seeders = peers.iter().filter(|p| p.2 && p.1).count();
            let (r4, r6) = (role((v4_len, v4_seeders)), role((len - v4_len, v6_seeders)));
            let n4 = r4.len();
            let exclude = match me.map(|i| s.find(&pid(i)).unwrap()) {
                Some(Slot::V4(p)) if r4.contains(&p) => Some(p - r4.start),
                Some(Slot::V6(p)) if r6.contains(&p) => Some(n4 + p - r6.start),
                _ => None,
            };
            let mut want_ids = Vec::new();
            sample(&mut before, n4 + r6.len(), exclude, want, |i| {
                let slot = if i < n4 {
                    Slot::V4(r4.start + i)
                } else {
                    Slot::V6(r6.start + i - n4)
                };
                want_ids.push(s.record(slot).port);
            });
            let got: Vec<u16> = out.peers.iter().map(|p| p.port).collect();
            assert_eq!(got, want_ids, "len {len}, me {me:?}");
        }
    }
}

/// One of a few networks by number.
fn net(n: u8) -> NetId {
    match n {
        0 => NetId::UNKNOWN,
        1..=3 => NetId::named(u32::from(n)),
        4 => NetId::asn(7),
        _ => NetId::block(IpAddr::from([192, 0, 2, n])),
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    // Skewed, so that some networks are rare: the cases where tiers run dry.
    let which = prop_oneof![1 => Just(0u8), 4 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8),
        4 => Just(4u8), 1 => Just(5u8)];
    (which, any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(n, s, v6)| (net(n), s, v6))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    /// Any swarm (short, or long enough for the network index), any requester (listed or
    /// not), any mode and share: the answer has the right size, never an excluded peer, takes
    /// from a farther tier only what the random share explains, and tallies its tiers.
    #[test]
    fn answers_follow_the_rules(
        peers in prop_oneof![
            prop::collection::vec(spec(), 0..40),
            prop::collection::vec(spec(), 500..1300),
        ],
        me in any::<prop::sample::Index>(),
        listed in prop::bool::weighted(0.8),
        seeder in any::<bool>(),
        mode in 0usize..3,
        unlisted_net in 0u8..6,
        share in prop_oneof![Just(0.0f32), Just(0.2f32), Just(0.5f32), Just(1.0f32), 0.0f32..1.0],
        wants in prop::collection::vec(prop_oneof![0usize..60, 100usize..700], 1..4),
        seed in any::<u64>(),
    ) {
        let s = swarm_of(&peers);
        let me = (listed && !peers.is_empty()).then(|| me.index(peers.len()));
        let requester = me.map_or(net(unlisted_net), |i| peers[i].0);
        let l = loc([Mode::Off, Mode::Prefer, Mode::Strict][mode], requester, share);
        let mut rng = SmallRng::seed_from_u64(seed);
        for want in wants {
            let out = ask(&s, &mut rng, &peers, me, seeder, want, l);
            check(&peers, me, seeder, want, &l, &out);
        }
    }
}
