//! `locality`: what peer selection by locality buys, in process (no network): a synthetic
//! operator of `--networks` named networks and `--peers` peers over `--swarms` swarms with Zipf
//! popularity announces to the real swarm store ([`MemoryStore`]) as clients do (a `started`
//! announce each, then `--rounds` re-announces each, in random order; numwant 50; a quarter
//! are seeders), once per mode: `off`, `prefer` and `strict`.
//!
//! It prints, per mode, the share of the peers handed out that were in the requester's own
//! network and in the requester's or the operator's networks (from the store's own per-tier
//! counts, checked against a recount from the addresses handed out), and checks that the graph
//! of who was handed whom stays connected within every swarm whose peers span more than one
//! network (so locality never splits a swarm into islands). Exit status 1 when a swarm split
//! under `off` or `prefer` (`strict` separates the operator's networks from the outside by
//! design, so its check is per side).
//!
//! Network `k` (of `--networks`, each peer's NetId set directly as a network map would) gets a
//! share of the peers falling off as 1/(k+1), like cities of unequal size; `--outside` of the peers are outside
//! the operator's networks, at distinct addresses of `100.64.0.0/10` (up to 1M peers). Usage:
//! `cargo run --release --example locality -- --peers 100000 --swarms 10000`.

use clap::Parser;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use retracker::locality::{Locality, Mode, NetId, Tier};
use retracker::protocol::announce::Event;
use retracker::swarm::{Announce, AnnounceOutcome, MemoryStore, Renew, SwarmStore};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "Peer selection by locality: shares kept near and swarm connectivity")]
struct Args {
    /// Peers in all.
    #[arg(long, default_value_t = 100_000)]
    peers: usize,
    /// Swarms (torrents); popularity is Zipf with exponent 1.
    #[arg(long, default_value_t = 10_000)]
    swarms: usize,
    /// The operator's named networks.
    #[arg(long, default_value_t = 20)]
    networks: usize,
    /// Share of the peers outside the operator's networks, 0 to 1.
    #[arg(long, default_value_t = 0.1)]
    outside: f64,
    /// Re-announces per peer after its `started`.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// `[LOCALITY] outside_share`.
    #[arg(long, default_value_t = 0.2)]
    outside_share: f32,
    /// Random seed (the same seed gives the same operator and the same order).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// One synthetic subscriber.
struct Peer {
    swarm: usize,
    ip: IpAddr,
    net: NetId,
    seeder: bool,
}

/// The operator: who is where.
fn population(a: &Args, rng: &mut SmallRng) -> Vec<Peer> {
    // Zipf(1) over swarms by inverse transform on the harmonic weights.
    let harmonic: Vec<f64> = (1..=a.swarms)
        .scan(0.0, |acc, k| {
            *acc += 1.0 / k as f64;
            Some(*acc)
        })
        .collect();
    let city: Vec<f64> = (1..=a.networks)
        .scan(0.0, |acc, k| {
            *acc += 1.0 / k as f64;
            Some(*acc)
        })
        .collect();
    (0..a.peers)
        .map(|i| {
            let u = rng.random::<f64>() * harmonic[a.swarms - 1];
            let swarm = harmonic.partition_point(|&h| h < u).min(a.swarms - 1);
            let (ip, net) = if rng.random::<f64>() < a.outside || a.networks == 0 {
                // 100.64.0.0/10, every fourth address: distinct for up to a million peers,
                // a few outside subscribers per /24 block.
                let ip = Ipv4Addr::from(0x6440_0000 + (i as u32 * 4) % 0x40_0000);
                (IpAddr::V4(ip), NetId::block(IpAddr::V4(ip)))
            } else {
                let u = rng.random::<f64>() * city[a.networks - 1];
                let k = city.partition_point(|&c| c < u).min(a.networks - 1);
                // The network is the NetId; the address only has to be distinct (10.0.0.0/8).
                let ip = Ipv4Addr::from(0x0A00_0000 + i as u32);
                (IpAddr::V4(ip), NetId::named(k as u32))
            };
            Peer {
                swarm,
                ip,
                net,
                seeder: rng.random::<f64>() < 0.25,
            }
        })
        .collect()
}

fn peer_id(i: usize) -> [u8; 20] {
    let mut id = *b"-SIM001-000000000000";
    id[8..16].copy_from_slice(&(i as u64).to_be_bytes());
    id
}

fn info_hash(swarm: usize) -> [u8; 20] {
    let mut h = [7u8; 20];
    h[..8].copy_from_slice(&(swarm as u64).to_le_bytes());
    h
}

/// Union-find over peer indices.
struct Components(Vec<usize>);

impl Components {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        self.0[a] = b;
    }
}

/// What one mode did.
struct Outcome {
    handed: [u64; 3],
    recount: [u64; 3],
    multi_network_swarms: usize,
    split: usize,
}

fn run(a: &Args, peers: &[Peer], mode: Mode, rng: &mut SmallRng) -> Outcome {
    let store = MemoryStore::new();
    let by_ip: HashMap<IpAddr, usize> = peers.iter().enumerate().map(|(i, p)| (p.ip, i)).collect();
    let mut order: Vec<usize> = (0..peers.len()).collect();
    let mut out = AnnounceOutcome::default();
    let mut handed = [0u64; 3];
    let mut recount = [0u64; 3];
    let mut graph = Components((0..peers.len()).collect());
    for round in 0..=a.rounds {
        // Fisher-Yates: every round in a fresh random order, as clients' timers drift.
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for &i in &order {
            let p = &peers[i];
            let announce = Announce {
                info_hash: info_hash(p.swarm),
                peer_id: peer_id(i),
                ip: p.ip,
                port: 6881,
                left: if p.seeder { 0 } else { 1 },
                event: if round == 0 {
                    Event::Started
                } else {
                    Event::None
                },
                key: None,
                numwant: 50,
                family: None,
                renew: Renew::of_expiry(3600),
                locality: Locality {
                    mode,
                    requester: p.net,
                    outside_share: a.outside_share,
                },
            };
            store
                .announce(&announce, 1_000 + round as u32, &mut out)
                .expect("distinct peer ids, one address each");
            for (t, n) in handed.iter_mut().zip(out.handed_out) {
                *t += u64::from(n);
            }
            for r in &out.peers {
                let j = by_ip[&r.ip];
                recount[peers[j].net.tier_for(p.net) as usize] += 1;
                graph.join(i, j);
            }
        }
    }
    // Connectivity per swarm whose peers span more than one network.
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, p) in peers.iter().enumerate() {
        members.entry(p.swarm).or_default().push(i);
    }
    let (mut multi, mut split) = (0, 0);
    for list in members.values() {
        if list.len() < 2 || list.iter().all(|&i| peers[i].net == peers[list[0]].net) {
            continue;
        }
        multi += 1;
        // Strict keeps the operator's side and the outside apart by design: check each side.
        let sides: Vec<Vec<usize>> = if mode == Mode::Strict {
            let (inside, outside): (Vec<usize>, Vec<usize>) =
                list.iter().partition(|&&i| peers[i].net.is_operator());
            vec![inside, outside]
        } else {
            vec![list.clone()]
        };
        // Seeders are never handed seeders: a side connects through its leechers, so a side
        // of seeders alone has nothing to connect.
        let has_leecher = |s: &&Vec<usize>| s.iter().any(|&i| !peers[i].seeder);
        for side in sides.iter().filter(|s| s.len() > 1).filter(has_leecher) {
            let root = graph.find(side[0]);
            if side.iter().any(|&i| graph.find(i) != root) {
                if std::env::var_os("LOCALITY_DEBUG").is_some() {
                    let desc: Vec<String> = side
                        .iter()
                        .map(|&i| {
                            let p = &peers[i];
                            format!(
                                "{}{}:{}",
                                if p.seeder { "S" } else { "L" },
                                p.ip,
                                graph.find(i)
                            )
                        })
                        .collect();
                    eprintln!("split side of {} peers: {}", side.len(), desc.join(" "));
                }
                split += 1;
                break;
            }
        }
    }
    Outcome {
        handed,
        recount,
        multi_network_swarms: multi,
        split,
    }
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / of as f64)
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    if a.peers == 0 || a.swarms == 0 || !(0.0..=1.0).contains(&a.outside) {
        eprintln!("locality: --peers and --swarms must be positive, --outside from 0 to 1");
        return ExitCode::from(2);
    }
    let mut rng = SmallRng::seed_from_u64(a.seed);
    let peers = population(&a, &mut rng);
    println!(
        "{} peers, {} swarms (Zipf 1), {} named networks, {:.0}% outside, {} re-announces each, numwant 50, outside_share {}",
        a.peers,
        a.swarms,
        a.networks,
        a.outside * 100.0,
        a.rounds,
        a.outside_share
    );
    println!();
    println!("| mode | peers handed out | in own network | in own or operator's networks | swarms of >1 network | split |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut failed = false;
    for mode in [Mode::Off, Mode::Prefer, Mode::Strict] {
        let o = run(&a, &peers, mode, &mut SmallRng::seed_from_u64(a.seed + 1));
        let total: u64 = o.handed.iter().sum();
        println!(
            "| {mode:?} | {total} | {} | {} | {} | {} |",
            pct(o.handed[Tier::Network as usize], total),
            pct(
                o.handed[Tier::Network as usize] + o.handed[Tier::Operator as usize],
                total
            ),
            o.multi_network_swarms,
            o.split
        );
        if o.handed != o.recount {
            eprintln!(
                "locality: {mode:?}: the store counted {:?} by tier, the addresses handed out say {:?}",
                o.handed, o.recount
            );
            failed = true;
        }
        if o.split > 0 {
            eprintln!("locality: {mode:?}: {} swarms split into islands", o.split);
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
