//! Criterion micro-benchmarks of the hot pieces of an announce: parsing the query of each real
//! client (tests/fixtures/client-announces.tsv), the swarm update with peer selection in
//! [`MemoryStore`] (uniform, and by locality over 20 networks), and encoding the answer (HTTP
//! compact, non-compact, UDP).
//!
//! `cargo bench --bench micro` (see bench/README.md). Figures are per call on one core; the
//! throughput scripts in bench/ measure the whole server.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use retracker::locality::{Locality, Mode, NetId};
use retracker::protocol::announce::{
    encode_announce, parse_announce, AnnounceResponse, Event, ResponsePeer,
};
use retracker::protocol::udp::{self, Family};
use retracker::swarm::{Announce, AnnounceOutcome, MemoryStore, Renew, SwarmStore};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The raw queries of the real clients' captured announces.
fn client_queries() -> Vec<(String, Vec<u8>)> {
    let tsv = include_str!("../tests/fixtures/client-announces.tsv");
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let agent = cols.next()?.to_owned();
            let path = cols.next()?;
            let query = cols.next()?.as_bytes().to_vec();
            path.ends_with("announce").then_some((agent, query))
        })
        .collect()
}

fn parsing(c: &mut Criterion) {
    let queries = client_queries();
    assert!(queries.len() >= 5, "fixture has the real clients' requests");
    for (agent, query) in &queries {
        assert!(parse_announce(query).is_ok(), "{agent} parses");
    }
    let mut group = c.benchmark_group("parse_announce");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("every captured client", |b| {
        b.iter(|| {
            for (_, q) in &queries {
                black_box(parse_announce(black_box(q)).ok());
            }
        })
    });
    group.finish();
}

fn id(n: u64, tag: u8) -> [u8; 20] {
    let mut out = [tag; 20];
    out[..8].copy_from_slice(&n.to_le_bytes());
    out
}

/// The network of a peer: 20 of them, each with 5% of every swarm (a quarter of them seeding,
/// like the swarm), half of them the operator's.
fn net_of(peer: u64) -> NetId {
    let n = (peer / 4 % 20) as u32;
    if n < 10 {
        NetId::named(n)
    } else {
        NetId::asn(64_500 + n)
    }
}

fn announce_of(torrent: u64, peer: u64, numwant: usize, mode: Mode) -> Announce {
    Announce {
        info_hash: id(torrent, 0xAB),
        peer_id: id(peer, 0x2D),
        ip: IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + peer as u32)),
        port: 6881 + (peer % 1000) as u16,
        left: if peer % 4 == 0 { 0 } else { 1 << 20 },
        event: Event::None,
        key: Some(peer),
        numwant,
        family: None,
        renew: Renew::of_expiry(3600),
        locality: Locality {
            mode,
            requester: net_of(peer),
            outside_share: 0.2,
        },
    }
}

/// A store of `torrents` swarms of `per_swarm` peers each.
fn filled(torrents: u64, per_swarm: u64) -> MemoryStore {
    let store = MemoryStore::new();
    let mut out = AnnounceOutcome::default();
    for t in 0..torrents {
        for p in 0..per_swarm {
            store
                .announce(
                    &announce_of(t, t * per_swarm + p, 0, Mode::Off),
                    1_000,
                    &mut out,
                )
                .expect("fresh peer");
        }
    }
    store
}

fn store(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_announce");
    group.throughput(Throughput::Elements(1));
    for (torrents, per_swarm) in [(1_000u64, 10u64), (100, 1_000), (1, 100_000)] {
        let store = filled(torrents, per_swarm);
        let mut out = AnnounceOutcome::default();
        let mut n = 0u64;
        // A known peer re-announcing with numwant 50: the steady state of a tracker. The
        // write-behind drains the changes every 4096 announces, as the writer does each second.
        // `off` is uniform; `prefer` (share 0.2) takes 40 of the 50 from the requester's
        // network, which holds 5% of the swarm, and 10 from the whole swarm.
        for (mode, label) in [(Mode::Off, ""), (Mode::Prefer, ", prefer")] {
            group.bench_function(
                format!("re-announce, numwant 50, {torrents} swarms of {per_swarm}{label}"),
                |b| {
                    b.iter(|| {
                        n = (n + 7919) % (torrents * per_swarm);
                        if n % 4096 == 0 {
                            black_box(store.drain_changes());
                        }
                        let a = announce_of(n / per_swarm, n, 50, mode);
                        store.announce(&a, 1_001, &mut out).expect("same peer");
                        black_box(out.peers.len());
                    })
                },
            );
        }
    }
    group.finish();
}

fn peers(n: usize, v6: bool) -> Vec<ResponsePeer> {
    (0..n)
        .map(|i| ResponsePeer {
            ip: if v6 {
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i as u16))
            } else {
                IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8))
            },
            port: 6881,
            peer_id: id(i as u64, 0x2D),
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    let v4 = peers(50, false);
    let mixed: Vec<ResponsePeer> = peers(25, false)
        .into_iter()
        .chain(peers(25, true))
        .collect();
    let response = |peers, compact| AnnounceResponse {
        interval: 1800,
        min_interval: 900,
        complete: 40,
        incomplete: 60,
        downloaded: 1234,
        peers,
        external_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
        warning: None,
        tracker_id: None,
        compact,
        no_peer_id: false,
        peers6_key: false,
    };
    let mut group = c.benchmark_group("encode_announce");
    group.throughput(Throughput::Elements(1));
    for (name, peers, compact) in [
        ("compact, 50 IPv4", &v4, true),
        ("compact, 25 IPv4 + 25 IPv6", &mixed, true),
        ("dictionaries, 50 IPv4", &v4, false),
    ] {
        let resp = response(peers.as_slice(), compact);
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || Vec::with_capacity(2048),
                |out| encode_announce(black_box(&resp), out),
                BatchSize::SmallInput,
            )
        });
    }
    let udp_resp = udp::AnnounceResponse {
        transaction_id: 7,
        interval: 1800,
        leechers: 60,
        seeders: 40,
        peers: &v4,
    };
    group.bench_function("UDP, 50 IPv4", |b| {
        b.iter_batched_ref(
            || Vec::with_capacity(1500),
            |out| udp::encode_announce(black_box(&udp_resp), Family::V4, out),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, parsing, store, encoding);
criterion_main!(benches);
