//! Peer selection by locality: which peers an announce returns in `prefer` and `strict` mode
//! (`off` is the uniform draw of `select`, unchanged).
//!
//! Of the `n` peers returned (numwant, or every eligible peer when fewer), `outside_share × n`
//! (rounded down) are drawn uniformly from all the eligible peers, so that swarms never split
//! into islands; the others come from the requester's network first, then from the operator's
//! other networks, then from everyone else, uniformly within each tier. `strict` leaves out
//! the other side of the operator's border altogether. Never the requester, no seeders for a
//! seeder.
//!
//! Cost: the tier counts come from the network index of a long list (see `nets`) in O(1), or
//! from a scan of a short one. A tier is drawn by rejection: uniform positions of a superset
//! (the requester's network's group, or the whole role range), keeping those of the tier not
//! yet picked; each accepted draw is uniform among what is left, so the subset is uniform. When
//! the tier is a small part of the superset, or most of the tier is wanted, its members are
//! listed instead and sampled with Floyd's algorithm. The draw from the whole swarm is the one
//! `off` makes. Above 4096 candidates, as in `select`, the superset is read in runs of
//! neighbours from a random rotation (every candidate equally likely, not every subset): a
//! long list's positions and peers are cache misses, and they were most of the time of an
//! answer. The peers chosen are read only at the end, in one loop whose misses overlap.

use super::nets::NetIndex;
use super::peers::{Addr, Peer, PeerList, V4, V6};
use super::select::sample;
use crate::locality::{Locality, Mode, NetId, Tier};
use crate::protocol::announce::ResponsePeer;
use rand::Rng;
use std::ops::Range;

/// Tiers as bits of a mask, by `Tier as usize`.
const NETWORK: u8 = 1;
const ALL: u8 = 0b111;

fn bit(t: Tier) -> u8 {
    1 << t as u8
}

/// The candidates of one announce: the two families' lists as one space of indices, the IPv4
/// positions first, then the IPv6 ones shifted by the IPv4 list's length.
pub(super) struct Space<'a> {
    pub v4: &'a PeerList<V4>,
    pub v6: &'a PeerList<V6>,
    /// The requester, if it is listed.
    pub me: Option<usize>,
    /// Only leechers are eligible (the requester seeds).
    pub leechers_only: bool,
}

impl Space<'_> {
    fn len4(&self) -> usize {
        self.v4.len()
    }

    /// The eligible role range of each list, in the space's indices.
    fn ranges(&self) -> [Range<usize>; 2] {
        let r4 = if self.leechers_only {
            self.v4.leecher_range()
        } else {
            0..self.v4.len()
        };
        let r6 = if self.leechers_only {
            self.v6.leecher_range()
        } else {
            0..self.v6.len()
        };
        let off = self.len4();
        [r4, r6.start + off..r6.end + off]
    }

    #[inline]
    fn net(&self, c: usize) -> NetId {
        if c < self.len4() {
            self.v4.get(c).net
        } else {
            self.v6.get(c - self.len4()).net
        }
    }

    fn response(&self, c: usize) -> ResponsePeer {
        if c < self.len4() {
            response(self.v4.get(c))
        } else {
            response(self.v6.get(c - self.len4()))
        }
    }

    /// Whether `c` may be handed out at all: not the requester, and in the role range.
    #[inline]
    fn eligible(&self, c: usize) -> bool {
        let in_role = if c < self.len4() {
            !self.leechers_only || !self.v4.is_seeder(c)
        } else {
            !self.leechers_only || !self.v6.is_seeder(c - self.len4())
        };
        in_role && Some(c) != self.me
    }

    /// Eligible peers in each tier for a requester of network `r`.
    fn counts(&self, r: NetId) -> [usize; 3] {
        let mut c = [0usize; 3];
        let [r4, r6] = self.ranges();
        self.count_list(self.v4, r4.clone(), r, &mut c);
        self.count_list(
            self.v6,
            r6.start - self.len4()..r6.end - self.len4(),
            r,
            &mut c,
        );
        if let Some(me) = self.me.filter(|&m| r4.contains(&m) || r6.contains(&m)) {
            c[self.net(me).tier_for(r) as usize] -= 1;
        }
        c
    }

    fn count_list<A: Addr>(
        &self,
        list: &PeerList<A>,
        range: Range<usize>,
        r: NetId,
        c: &mut [usize; 3],
    ) {
        let Some(ix) = list.nets() else {
            for pos in range {
                c[list.get(pos).net.tier_for(r) as usize] += 1;
            }
            return;
        };
        let role = |all: usize, seeders: usize| {
            if self.leechers_only {
                all - seeders
            } else {
                all
            }
        };
        let (named, named_seeders) = ix.named();
        let named = role(named, named_seeders);
        let own = match ix.group(r) {
            Some(g) if r != NetId::UNKNOWN => role(g.pos.len(), g.seeders as usize),
            _ => 0,
        };
        let total = range.len();
        c[Tier::Network as usize] += own;
        if r.is_operator() {
            c[Tier::Operator as usize] += named - own;
            c[Tier::Outside as usize] += total - named;
        } else {
            c[Tier::Operator as usize] += named;
            c[Tier::Outside as usize] += total - named - own;
        }
    }
}

/// A peer as an answer lists it.
pub(super) fn response<A: Addr>(p: &Peer<A>) -> ResponsePeer {
    ResponsePeer {
        ip: p.addr.ip(),
        port: p.port,
        peer_id: p.id,
    }
}

/// Candidates already picked for this answer.
// The small table lives on the stack on purpose: no allocation for the usual numwant.
#[allow(clippy::large_enum_variant)]
enum Picked {
    /// Open addressing on the stack (at most half full), for the usual numwant.
    Small {
        slots: [u32; SMALL_SLOTS],
        bits: u32,
    },
    /// A bit per candidate, for the rare large numwant.
    Large(Vec<u64>),
}

const SMALL_SLOTS: usize = 256;
/// Rejection draws made at once (see `Picker::draw`).
const BATCH: usize = 64;
/// Supersets above this many candidates are drawn in runs of [`RUN`] neighbours, at most
/// [`MAX_RUNS`] of them (the threshold and the run of `select`, in 4-byte positions: 16 is
/// one cache line of a group).
const RUNS_FROM: usize = 4096;
const RUN: usize = 16;
const MAX_RUNS: usize = 32;
const EMPTY: u32 = u32::MAX;

impl Picked {
    fn new(picks: usize, space: usize) -> Picked {
        if picks <= SMALL_SLOTS / 2 {
            let size = (2 * picks).next_power_of_two().max(16);
            Picked::Small {
                slots: [EMPTY; SMALL_SLOTS],
                bits: size.trailing_zeros(),
            }
        } else {
            Picked::Large(vec![0; space.div_ceil(64)])
        }
    }

    /// Where `c` is or would go in the small table.
    fn probe(slots: &[u32; SMALL_SLOTS], bits: u32, c: u32) -> usize {
        let mask = (1usize << bits) - 1;
        // Fibonacci hashing: neighbouring candidates land far apart.
        let mut i = (c.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize;
        while slots[i] != EMPTY && slots[i] != c {
            i = (i + 1) & mask;
        }
        i
    }

    fn contains(&self, c: usize) -> bool {
        match self {
            Picked::Small { slots, bits } => slots[Self::probe(slots, *bits, c as u32)] != EMPTY,
            Picked::Large(words) => words[c / 64] & (1 << (c % 64)) != 0,
        }
    }

    fn insert(&mut self, c: usize) {
        match self {
            Picked::Small { slots, bits } => {
                let i = Self::probe(slots, *bits, c as u32);
                slots[i] = c as u32;
            }
            Picked::Large(words) => words[c / 64] |= 1 << (c % 64),
        }
    }
}

/// A part of a superset drawn from by rejection.
enum Part<'a> {
    /// Consecutive candidates.
    Range(Range<usize>),
    /// Positions of one list (a network's group), shifted by the list's offset in the space.
    Group(&'a [u32], usize),
}

impl Part<'_> {
    fn len(&self) -> usize {
        match self {
            Part::Range(r) => r.len(),
            Part::Group(g, _) => g.len(),
        }
    }

    fn at(&self, i: usize) -> usize {
        match self {
            Part::Range(r) => r.start + i,
            Part::Group(g, off) => off + g[i] as usize,
        }
    }
}

/// The picks of one answer, as they are made.
///
/// Picks are written out only at the end ([`Picker::emit`]): choosing a member of the
/// requester's network reads positions only, and the peers themselves, scattered over a long
/// list (a cache miss each), are then read in one tight loop of independent loads, whose misses
/// the processor overlaps. Read one by one between draws they cost several times as much.
struct Picker<'s, 'a> {
    space: &'s Space<'a>,
    r: NetId,
    picked: Picked,
    /// The picks in order, with their tiers.
    chosen: Vec<(u32, Tier)>,
    /// Picks per tier so far.
    taken: [usize; 3],
}

/// Puts the peer into `out` at the end of its tier's run, so an answer lists the requester's
/// network first, then the operator's other networks, then the rest (clients try the first
/// peers of a list first), each run in the order drawn. `handed` counts what is in `out`.
fn put_in_order(out: &mut Vec<ResponsePeer>, handed: &mut [u32; 3], peer: ResponsePeer, t: Tier) {
    let at = handed[..=t as usize]
        .iter()
        .map(|&n| n as usize)
        .sum::<usize>();
    handed[t as usize] += 1;
    // Runs of up to numwant peers: the shift is a few hundred bytes at most.
    out.insert(at.min(out.len()), peer);
}

impl Picker<'_, '_> {
    fn take(&mut self, c: usize, tier: Tier) {
        self.picked.insert(c);
        self.taken[tier as usize] += 1;
        self.chosen.push((c as u32, tier));
    }

    /// Writes the picks into `out`, nearest tier first (the requester's network, then the
    /// operator's other networks, then the rest: clients try the first peers of a list first),
    /// each tier in the order drawn, and their tiers into `handed`.
    fn emit(self, out: &mut Vec<ResponsePeer>, handed: &mut [u32; 3]) {
        for t in Tier::ALL {
            out.extend(
                self.chosen
                    .iter()
                    .filter(|&&(_, tier)| tier == t)
                    .map(|&(c, _)| self.space.response(c as usize)),
            );
        }
        for (h, t) in handed.iter_mut().zip(self.taken) {
            *h += t as u32;
        }
    }

    /// The tier of `c` when it may still be picked for a tier in `mask`.
    #[inline]
    fn wanted(&self, c: usize, mask: u8) -> Option<Tier> {
        if !self.space.eligible(c) {
            return None;
        }
        let tier = self.space.net(c).tier_for(self.r);
        (mask & bit(tier) != 0 && !self.picked.contains(c)).then_some(tier)
    }

    /// [`Picker::wanted`] for a member of the requester's network's group: its tier is known,
    /// so the peer itself is not read (a cache miss in a long list) unless it is taken.
    #[inline]
    fn wanted_own(&self, c: usize) -> Option<Tier> {
        (self.space.eligible(c) && !self.picked.contains(c)).then_some(Tier::Network)
    }

    /// Takes `c` when it may still be picked for a tier in `mask` (`own`: a member of the
    /// requester's network's group, whose tier is known); returns whether it was taken.
    #[inline]
    fn try_take(&mut self, c: usize, own: bool, mask: u8) -> bool {
        let tier = if own {
            self.wanted_own(c)
        } else {
            self.wanted(c, mask)
        };
        if let Some(t) = tier {
            self.take(c, t);
        }
        tier.is_some()
    }

    /// Every candidate of the tiers in `mask` not yet picked, with its tier.
    fn list(&self, mask: u8, capacity: usize) -> Vec<(usize, Tier)> {
        let mut found = Vec::with_capacity(capacity);
        let [r4, r6] = self.space.ranges();
        for (nets, range, off) in [
            (self.space.v4.nets(), r4, 0),
            (self.space.v6.nets(), r6, self.space.len4()),
        ] {
            match nets {
                Some(ix) if mask == NETWORK && self.r != NetId::UNKNOWN => {
                    // The requester's network alone: its group.
                    for &p in ix.group(self.r).map_or(&[][..], |g| &g.pos[..]) {
                        let c = off + p as usize;
                        if let Some(t) = self.wanted_own(c) {
                            found.push((c, t));
                        }
                    }
                }
                Some(ix) => {
                    // A long list: only the groups of the wanted tiers.
                    for g in ix.groups() {
                        if mask & bit(g.net.tier_for(self.r)) == 0 {
                            continue;
                        }
                        for &p in &g.pos {
                            let c = off + p as usize;
                            if let Some(t) = self.wanted(c, mask) {
                                found.push((c, t));
                            }
                        }
                    }
                }
                None => {
                    for c in range {
                        if let Some(t) = self.wanted(c, mask) {
                            found.push((c, t));
                        }
                    }
                }
            }
        }
        found
    }

    /// Picks `want` of the `count` candidates of the tiers in `mask` not yet picked, uniformly.
    fn draw<R: Rng>(&mut self, rng: &mut R, mask: u8, count: usize, mut want: usize) {
        if want == 0 {
            return;
        }
        let mut count = count;
        let parts = superset(self.space, self.r, mask);
        let size = parts[0].len() + parts[1].len();
        // Rejection only pays while few draws fail: the tier is not a small part of the
        // superset, and few of its members are wanted (else repeats are rejected too often).
        if want * 2 <= count && count * 8 >= size {
            let split = parts[0].len();
            let [p0, p1] = parts;
            let own = [matches!(p0, Part::Group(..)), matches!(p1, Part::Group(..))];
            let at = |i: usize| {
                if i < split {
                    (p0.at(i), own[0])
                } else {
                    (p1.at(i - split), own[1])
                }
            };
            if size > RUNS_FROM {
                // Runs of neighbours from a random rotation, as `select` draws long lists:
                // one cache line of a group's positions (or a few of a role range) per run
                // instead of a miss per draw; every candidate is still as likely as another.
                let rotation = rng.random_range(0..size);
                let runs = size.div_ceil(RUN);
                let mut used = [0usize; MAX_RUNS];
                let mut n = 0;
                let mut tries = 2 * MAX_RUNS;
                while want > 0 && n < MAX_RUNS && tries > 0 {
                    tries -= 1;
                    let r = rng.random_range(0..runs);
                    if used[..n].contains(&r) {
                        continue;
                    }
                    used[n] = r;
                    n += 1;
                    for k in r * RUN..((r + 1) * RUN).min(size) {
                        if want == 0 {
                            break;
                        }
                        let (c, own) = at((k + rotation) % size);
                        if self.try_take(c, own, mask) {
                            want -= 1;
                            count -= 1;
                        }
                    }
                }
                if want == 0 {
                    return;
                }
            }
            let mut budget = want * 8 + 64;
            // Draws in batches: first the positions (a group's entries are scattered reads of
            // its position list, a cache miss each in a long swarm; in one tight loop they
            // overlap), then the checks in the order drawn. The same i.i.d. draws examined in
            // the same order: still sequential rejection sampling; the unused rest of the last
            // batch is as if never drawn.
            let mut batch = [(0u32, false); BATCH];
            while want > 0 && budget > 0 {
                let b = (want + want / 2 + 2).min(BATCH).min(budget);
                budget -= b;
                for slot in &mut batch[..b] {
                    let (c, own) = at(rng.random_range(0..size));
                    *slot = (c as u32, own);
                }
                for &(c, own) in &batch[..b] {
                    if want == 0 {
                        break;
                    }
                    if self.try_take(c as usize, own, mask) {
                        want -= 1;
                        count -= 1;
                    }
                }
            }
            if want == 0 {
                return;
            }
        }
        // Each draw so far was uniform among what was left; so is this one.
        let found = self.list(mask, count);
        debug_assert_eq!(found.len(), count, "tier counts and candidates disagree");
        sample(rng, found.len(), None, want, |i| {
            let (c, t) = found[i];
            self.take(c, t);
        });
    }
}

/// The superset of the tiers in `mask` drawn from by rejection: the requester's network's
/// groups for its own tier where lists have an index, else the role ranges.
fn superset<'s>(space: &'s Space, r: NetId, mask: u8) -> [Part<'s>; 2] {
    let [r4, r6] = space.ranges();
    let own = mask == NETWORK && r != NetId::UNKNOWN;
    let group = |nets: Option<&'s NetIndex>, off: usize| -> Option<Part<'s>> {
        let g = nets.filter(|_| own)?.group(r);
        Some(Part::Group(g.map_or(&[][..], |g| &g.pos[..]), off))
    };
    [
        group(space.v4.nets(), 0).unwrap_or(Part::Range(r4)),
        group(space.v6.nets(), space.len4()).unwrap_or(Part::Range(r6)),
    ]
}

/// Picks up to `want` peers for a requester by `loc` (`prefer` or `strict`) into `out`, and
/// counts them by tier into `handed`.
pub(super) fn pick<R: Rng>(
    rng: &mut R,
    space: &Space,
    loc: &Locality,
    want: usize,
    out: &mut Vec<ResponsePeer>,
    handed: &mut [u32; 3],
) {
    let r = loc.requester;
    let allowed = match loc.mode {
        // The side of the border the requester is on: its own network is on it either way.
        Mode::Strict if r.is_operator() => ALL & !bit(Tier::Outside),
        Mode::Strict => ALL & !bit(Tier::Operator),
        Mode::Prefer | Mode::Off => ALL,
    };
    let mut counts = space.counts(r);
    let only = single_tier(&counts);
    for t in Tier::ALL {
        if allowed & bit(t) == 0 {
            counts[t as usize] = 0;
        }
    }
    let eligible: usize = counts.iter().sum();
    let n = want.min(eligible);
    if n == 0 {
        return;
    }
    if let Some(t) = only {
        // One tier holds every eligible peer (a swarm inside one network, as most are at an
        // ISP's city): the tiers order nothing, the random share and the rest are one uniform
        // draw, so this is the draw `off` makes, without the per-tier bookkeeping (a third of
        // a UDP announce's time in bench/udp.sh, where every peer is in 127.0.0.0/24).
        uniform(rng, space, n, |c| out.push(space.response(c)));
        handed[t as usize] += n as u32;
        return;
    }
    if n == eligible && allowed == ALL {
        // Every eligible peer goes out: nothing to choose.
        for range in space.ranges() {
            for c in range.filter(|&c| space.eligible(c)) {
                put_in_order(out, handed, space.response(c), space.net(c).tier_for(r));
            }
        }
        return;
    }
    let mut p = Picker {
        space,
        r,
        picked: Picked::new(n, space.len4() + space.v6.len()),
        chosen: Vec::with_capacity(n),
        taken: [0; 3],
    };
    if n == eligible {
        // Every peer on the requester's side goes out: listed by groups in a long list (the
        // side may be a small part of it).
        for (c, t) in p.list(allowed, n) {
            p.take(c, t);
        }
        p.emit(out, handed);
        return;
    }
    let random = random_share(loc.outside_share, n);
    if random > 0 {
        if allowed == ALL {
            // The whole swarm: the very draw `off` makes.
            uniform(rng, space, random, |c| {
                let tier = space.net(c).tier_for(r);
                p.take(c, tier);
            });
        } else {
            p.draw(rng, allowed, eligible, random);
        }
    }
    let mut left = n - random;
    for t in Tier::ALL {
        if left == 0 {
            break;
        }
        if allowed & bit(t) == 0 {
            continue;
        }
        let avail = counts[t as usize] - p.taken[t as usize];
        let w = left.min(avail);
        p.draw(rng, bit(t), avail, w);
        left -= w;
    }
    p.emit(out, handed);
}

/// The one tier holding every eligible peer, if there is one (before `strict` leaves any out:
/// then every eligible peer of the space is in it).
fn single_tier(counts: &[usize; 3]) -> Option<Tier> {
    let mut with = Tier::ALL.into_iter().filter(|&t| counts[t as usize] > 0);
    let first = with.next()?;
    with.next().is_none().then_some(first)
}

/// Picks up to `want` peers uniformly at random (`Mode::Off`) into `out`, and counts them by
/// tier for a requester of network `r` into `handed` (so an operator can compare with `prefer`).
pub(super) fn pick_uniform<R: Rng>(
    rng: &mut R,
    space: &Space,
    r: NetId,
    want: usize,
    out: &mut Vec<ResponsePeer>,
    handed: &mut [u32; 3],
) {
    uniform(rng, space, want, |c| {
        handed[space.net(c).tier_for(r) as usize] += 1;
        out.push(space.response(c));
    });
}

/// The part of an answer of `n` peers drawn from the whole swarm: `share × n` rounded down, as
/// written (the f32 nearest 0.7 is 0.69999999, and 0.7 of 10 peers must be 7); a share out of
/// 0..=1 is clamped, NaN is 0.
pub(super) fn random_share(share: f32, n: usize) -> usize {
    let share = if share.is_nan() {
        0.0
    } else {
        f64::from(share).clamp(0.0, 1.0)
    };
    ((share * n as f64 * (1.0 + 1e-6)).floor() as usize).min(n)
}

/// Up to `want` eligible candidates uniformly from the whole space (what `off` returns), each
/// passed to `take`: both families' role ranges as one range, the requester skipped.
pub(super) fn uniform<R: Rng>(
    rng: &mut R,
    space: &Space,
    want: usize,
    mut take: impl FnMut(usize),
) {
    let [r4, r6] = space.ranges();
    let n4 = r4.len();
    let exclude = match space.me {
        Some(m) if r4.contains(&m) => Some(m - r4.start),
        Some(m) if r6.contains(&m) => Some(n4 + m - r6.start),
        _ => None,
    };
    sample(rng, n4 + r6.len(), exclude, want, |i| {
        take(if i < n4 {
            r4.start + i
        } else {
            r6.start + i - n4
        })
    });
}
