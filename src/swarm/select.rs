//! Random choice of the peers an announce returns.
//!
//! Uniform among the eligible (never the requester): a client that re-announces sees a fresh
//! sample, so a large swarm does not hand every newcomer the same few peers.
//!
//! In swarms above [`BITSET_BITS`] peers the sample is drawn in runs of [`RUN`] neighbouring
//! peers: every peer is still equally likely to be sent, but 50 scattered reads of a list of
//! megabytes were 50 cache misses, most of an announce's time under aquatic_http_load_test's
//! skewed swarms. Neighbours in the list are not related (the list is in arrival order,
//! reshuffled by every removal), and each answer has fresh runs.

use rand::Rng;

/// Swarms up to this many peers mark their chosen indices in a bitset on the stack.
const BITSET_BITS: usize = 4096;
/// Above [`BITSET_BITS`], up to this many picks are remembered in an array on the stack.
const SCAN_PICKS: usize = 256;
/// Above [`BITSET_BITS`], peers are taken in runs of this many neighbours (320 bytes of
/// 40-byte records: a few adjacent cache lines instead of one miss per peer).
const RUN: usize = 8;

/// Picks up to `want` distinct indices from `0..len`, skipping `exclude`, uniformly at random,
/// and calls `take` for each.
///
/// Floyd's algorithm (Bentley and Floyd, "A sample of brilliance", CACM 1987): `want` draws, no
/// allocation and no shuffle of the swarm; up to [`BITSET_BITS`] eligible peers every
/// `want`-subset is equally likely, above it every peer (runs, see the module doc). This runs on
/// every announce, so the general `rand::seq::index::sample` (which allocates and, for small
/// swarms, shuffles a vector of all indices) is kept for the rare huge `want` only.
pub(crate) fn sample<R: Rng>(
    rng: &mut R,
    len: usize,
    exclude: Option<usize>,
    want: usize,
    mut take: impl FnMut(usize),
) {
    let eligible = len - usize::from(exclude.is_some_and(|e| e < len));
    if want == 0 || eligible == 0 {
        return;
    }
    // Indices are drawn from the eligible range and shifted past the excluded slot, so the
    // requester costs nothing and the rest stay uniform.
    let shift = |i: usize| match exclude {
        Some(e) if i >= e => i + 1,
        _ => i,
    };
    if want >= eligible {
        (0..eligible).for_each(|i| take(shift(i)));
        return;
    }
    if eligible <= BITSET_BITS {
        let mut chosen = [0u64; BITSET_BITS / 64];
        let mut insert = |i: usize| {
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            let fresh = chosen[word] & bit == 0;
            chosen[word] |= bit;
            fresh
        };
        if want * 2 <= eligible {
            floyd(rng, eligible, want, &mut insert, |i| take(shift(i)));
        } else {
            // Most of the swarm goes out: draw the few left out instead (a uniform subset of
            // those left out is a uniform subset of those sent).
            floyd(rng, eligible, eligible - want, &mut insert, |_| {});
            for i in (0..eligible).filter(|&i| chosen[i / 64] & (1u64 << (i % 64)) == 0) {
                take(shift(i));
            }
        }
    } else if want <= SCAN_PICKS {
        // Distinct runs, one more than `want` needs: the last run of the list may be short.
        // The runs are laid from a random rotation of the list, so that which peers open a
        // run (and are sent even when a run is cut short) is itself random.
        let runs = eligible.div_ceil(RUN);
        let rotation = rng.random_range(0..eligible);
        let mut chosen = [0usize; SCAN_PICKS / RUN + 1];
        let mut n = 0;
        let mut sent = 0;
        floyd(
            rng,
            runs,
            want.div_ceil(RUN) + 1,
            |r| {
                let fresh = !chosen[..n].contains(&r);
                if fresh {
                    chosen[n] = r;
                    n += 1;
                }
                fresh
            },
            |r| {
                for i in r * RUN..((r + 1) * RUN).min(eligible) {
                    if sent < want {
                        take(shift((i + rotation) % eligible));
                        sent += 1;
                    }
                }
            },
        );
    } else {
        for i in rand::seq::index::sample(rng, eligible, want) {
            take(shift(i));
        }
    }
}

/// Floyd's loop over `0..n` for `k` picks; `insert` adds an index to the chosen set and says
/// whether it was new, `take` receives each pick once.
fn floyd<R: Rng>(
    rng: &mut R,
    n: usize,
    k: usize,
    mut insert: impl FnMut(usize) -> bool,
    mut take: impl FnMut(usize),
) {
    for j in n - k..n {
        let t = rng.random_range(0..=j);
        // When `t` was taken, `j` is new: earlier rounds drew from below it.
        let pick = if insert(t) {
            t
        } else {
            insert(j);
            j
        };
        take(pick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn never_returns_excluded_and_no_duplicates() {
        let mut rng = SmallRng::seed_from_u64(7);
        for len in 0..20usize {
            for ex in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                for want in 0..25 {
                    let mut got = Vec::new();
                    sample(&mut rng, len, ex, want, |i| got.push(i));
                    let set: HashSet<_> = got.iter().copied().collect();
                    assert_eq!(set.len(), got.len(), "duplicates");
                    assert!(got.iter().all(|&i| i < len));
                    if len > 0 {
                        assert!(ex.is_none_or(|e| !got.contains(&e)));
                    }
                    let eligible = len - usize::from(ex.is_some_and(|e| e < len));
                    assert_eq!(got.len(), want.min(eligible));
                }
            }
        }
    }

    #[test]
    fn every_eligible_peer_gets_chosen() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut seen = [0u32; 10];
        for _ in 0..2000 {
            sample(&mut rng, 10, Some(3), 2, |i| seen[i] += 1);
        }
        assert_eq!(seen[3], 0);
        // 2000 draws of 2 among 9: about 444 each; a stuck selection would leave zeros.
        for (i, n) in seen.iter().enumerate() {
            if i != 3 {
                assert!((300..600).contains(n), "peer {i} chosen {n} times");
            }
        }
    }

    #[test]
    fn large_swarms_and_large_wants_stay_distinct_and_uniform() {
        let mut rng = SmallRng::seed_from_u64(3);
        // Bitset path (len <= 4096), scan path (len above, want <= 256), rand's path (want > 256).
        for (len, want) in [(4096, 50), (4097, 50), (100_000, 256), (100_000, 300)] {
            let mut counts = vec![0u32; len];
            let rounds = 400;
            for _ in 0..rounds {
                let mut got = Vec::new();
                sample(&mut rng, len, Some(7), want, |i| got.push(i));
                assert_eq!(got.len(), want);
                let set: HashSet<_> = got.iter().copied().collect();
                assert_eq!(set.len(), want, "duplicates at len {len}");
                assert!(!set.contains(&7) && got.iter().all(|&i| i < len));
                got.iter().for_each(|&i| counts[i] += 1);
            }
            // Uniformity: the picks of the lower and upper half of the swarm balance out
            // (Floyd's loop draws later picks from wider ranges; a slip there skews the halves).
            let lower: u32 = counts[..len / 2].iter().sum();
            let total = (rounds * want) as f64;
            let share = f64::from(lower) / total;
            assert!(
                (0.47..0.53).contains(&share),
                "len {len}: lower half got {share}"
            );
        }
    }

    #[test]
    fn every_subset_of_a_small_swarm_is_equally_likely() {
        // 5 eligible, want 2 (drawn) or 3 (the 2 left out drawn): 10 subsets either way, each
        // about 1/10 of 20,000 draws.
        let mut rng = SmallRng::seed_from_u64(11);
        for want in [2, 3] {
            let mut seen = std::collections::HashMap::new();
            for _ in 0..20_000 {
                let mut got = Vec::new();
                sample(&mut rng, 6, Some(2), want, |i| got.push(i));
                got.sort_unstable();
                *seen.entry(got).or_insert(0u32) += 1;
            }
            assert_eq!(seen.len(), 10);
            for (subset, n) in seen {
                assert!((1700..2300).contains(&n), "{subset:?} drawn {n} times");
            }
        }
    }

    #[test]
    fn runs_favour_no_position() {
        // Above 4096 peers the sample comes in runs of 8; whatever the position in a run, a
        // peer is as likely to be sent as any other (the runs are cut from a random rotation).
        let mut rng = SmallRng::seed_from_u64(5);
        let len = 5000;
        let mut counts = vec![0u32; len];
        for _ in 0..4000 {
            sample(&mut rng, len, None, 50, |i| counts[i] += 1);
        }
        let mut by_offset = [0u32; 8];
        counts
            .iter()
            .enumerate()
            .for_each(|(i, n)| by_offset[i % 8] += n);
        let mean = f64::from(by_offset.iter().sum::<u32>()) / 8.0;
        for (offset, n) in by_offset.iter().enumerate() {
            let share = f64::from(*n) / mean;
            assert!((0.95..1.05).contains(&share), "offset {offset}: {share}");
        }
    }
}
