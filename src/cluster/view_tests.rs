use super::*;
use rand::SeedableRng;

fn peer(i: u8, seeder: bool, net: NetId) -> ViewPeer {
    ViewPeer {
        ip: IpAddr::from([10, 0, 0, i]),
        port: 6881,
        peer_id: [i; 20],
        seeder,
        net,
    }
}

fn requester(numwant: usize, mode: Mode, net: NetId) -> Requester {
    Requester {
        peer_id: [0; 20],
        ip: IpAddr::from([10, 9, 9, 9]),
        port: 1,
        seeder: false,
        numwant,
        family: None,
        locality: Locality {
            mode,
            requester: net,
            outside_share: 0.0,
        },
    }
}

fn own(i: u8) -> ResponsePeer {
    ResponsePeer {
        ip: IpAddr::from([192, 168, 0, i]),
        port: 6881,
        peer_id: [100 + i; 20],
    }
}

#[test]
fn counts_add_up_and_the_own_share_of_completions_is_the_larger() {
    let view = View {
        seeders: 3,
        leechers: 4,
        completed: 10,
        own_completed: 5,
        ..Default::default()
    };
    let mut out = AnnounceOutcome {
        complete: 1,
        incomplete: 2,
        downloaded: 2,
        ..Default::default()
    };
    let rng = &mut rand::rngs::SmallRng::seed_from_u64(1);
    merge_announce(
        &view,
        &requester(50, Mode::Off, NetId::UNKNOWN),
        3,
        &mut |_| NetId::UNKNOWN,
        rng,
        &mut out,
    );
    assert_eq!((out.complete, out.incomplete, out.downloaded), (4, 6, 15));
    let mut e = ScrapeEntry {
        info_hash: [1; 20],
        complete: 1,
        incomplete: 0,
        downloaded: 7,
    };
    merge_scrape(&view, &mut e);
    assert_eq!((e.complete, e.incomplete, e.downloaded), (4, 4, 17));
}

#[test]
fn view_peers_fill_the_answer_but_never_the_requester_a_duplicate_or_a_seeder_for_a_seeder() {
    fills_but_never_the_requester_a_duplicate_or_a_seeder_for_a_seeder(false);
}

#[test]
fn the_one_tier_draw_fills_the_answer_but_never_with_the_requester_a_duplicate_or_a_seeder_for_a_seeder(
) {
    fills_but_never_the_requester_a_duplicate_or_a_seeder_for_a_seeder(true);
}

/// The general merge (`one_tier` false: the view as built, no single network known) or the
/// one-tier draw (the view `finished`, every peer in one network).
fn fills_but_never_the_requester_a_duplicate_or_a_seeder_for_a_seeder(one_tier: bool) {
    let n = NetId::UNKNOWN;
    let mut view = View {
        seeders: 2,
        leechers: 2,
        peers: vec![peer(1, true, n), peer(2, false, n), peer(3, true, n)],
        ..Default::default()
    };
    // The requester itself, listed through another node.
    let r = requester(50, Mode::Off, n);
    view.peers.push(ViewPeer {
        ip: r.ip,
        port: r.port,
        peer_id: r.peer_id,
        seeder: false,
        net: n,
    });
    if one_tier {
        view = view.finished();
        assert!(view.single_net.is_some());
    }
    let rng = &mut rand::rngs::SmallRng::seed_from_u64(2);
    let mut out = AnnounceOutcome {
        peers: vec![
            own(1),
            ResponsePeer {
                ip: IpAddr::from([10, 0, 0, 3]),
                port: 6881,
                peer_id: [3; 20],
            },
        ],
        ..Default::default()
    };
    merge_announce(&view, &r, 2, &mut |_| n, rng, &mut out);
    let mut got: Vec<_> = out.peers.iter().map(|p| p.ip).collect();
    got.sort();
    let want: Vec<IpAddr> = vec![
        IpAddr::from([10, 0, 0, 1]),
        IpAddr::from([10, 0, 0, 2]),
        IpAddr::from([10, 0, 0, 3]),
        IpAddr::from([192, 168, 0, 1]),
    ];
    assert_eq!(got, want);
    assert_eq!(out.handed_out.iter().sum::<u32>(), 4);

    let mut seeder = requester(50, Mode::Off, n);
    seeder.seeder = true;
    let mut out = AnnounceOutcome::default();
    merge_announce(&view, &seeder, 0, &mut |_| n, rng, &mut out);
    assert!(
        out.peers
            .iter()
            .all(|p| p.ip == IpAddr::from([10, 0, 0, 2])),
        "{:?}",
        out.peers
    );
}

#[test]
fn prefer_puts_the_requesters_network_first_across_own_and_view_peers() {
    let home = NetId::named(0);
    let other = NetId::named(1);
    let view = View {
        leechers: 20,
        peers: (1..=20)
            .map(|i| peer(i, false, if i <= 5 { home } else { other }))
            .collect(),
        ..Default::default()
    };
    let rng = &mut rand::rngs::SmallRng::seed_from_u64(3);
    for _ in 0..50 {
        // Own peers are in the other network: the store lists them as such.
        let mut out = AnnounceOutcome {
            peers: (1..=10).map(own).collect(),
            handed_out: [0, 10, 0],
            ..Default::default()
        };
        merge_announce(
            &view,
            &requester(8, Mode::Prefer, home),
            10,
            &mut |_| other,
            rng,
            &mut out,
        );
        assert_eq!(out.peers.len(), 8);
        assert_eq!(
            out.handed_out,
            [5, 3, 0],
            "the 5 home peers, all from the view"
        );
    }
}

#[test]
fn strict_never_hands_out_a_view_peer_across_the_border() {
    let home = NetId::named(0);
    let outside = NetId::block(IpAddr::from([8, 8, 8, 8]));
    let view = View {
        leechers: 2,
        peers: vec![peer(1, false, outside), peer(2, false, home)],
        ..Default::default()
    };
    let rng = &mut rand::rngs::SmallRng::seed_from_u64(4);
    let mut out = AnnounceOutcome::default();
    merge_announce(
        &view,
        &requester(50, Mode::Strict, home),
        0,
        &mut |_| home,
        rng,
        &mut out,
    );
    assert_eq!(out.peers.len(), 1);
    assert_eq!(out.peers[0].ip, IpAddr::from([10, 0, 0, 2]));
}

#[test]
fn off_draws_about_uniformly_over_the_cluster() {
    // 10 own peers picked out of 1,000 own, and 100 view peers sampled from 1,000 others:
    // about half of an answer must come from each side.
    let n = NetId::UNKNOWN;
    let view = View {
        leechers: 1000,
        peers: (0..100).map(|i| peer(i, false, n)).collect(),
        ..Default::default()
    };
    // Every peer in one network: the one-tier draw; the general one is checked below.
    let one_tier = view.clone().finished();
    assert!(one_tier.single_net.is_some());
    let rng = &mut rand::rngs::SmallRng::seed_from_u64(5);
    let mut from_view = 0;
    for _ in 0..200 {
        let mut out = AnnounceOutcome {
            peers: (1..=10).map(own).collect(),
            ..Default::default()
        };
        merge_announce(
            &view,
            &requester(10, Mode::Off, n),
            1000,
            &mut |_| n,
            rng,
            &mut out,
        );
        assert_eq!(out.peers.len(), 10);
        from_view += out
            .peers
            .iter()
            .filter(|p| p.ip.to_string().starts_with("10."))
            .count();
    }
    assert!(
        (800..1200).contains(&from_view),
        "{from_view} of 2000 from the view"
    );
}
