//! Random choice of the peers an announce returns.
//!
//! Uniform among the eligible (never the requester): a client that re-announces sees a fresh
//! sample, so a large swarm does not hand every newcomer the same few peers.

use rand::Rng;

/// Picks up to `want` distinct indices from `0..len`, skipping `exclude`, uniformly at random,
/// and calls `take` for each.
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
    for i in rand::seq::index::sample(rng, eligible, want) {
        take(shift(i));
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
}
