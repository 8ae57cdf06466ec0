//! The operator's named networks flattened for the announce hot path: longest-prefix match as
//! one binary search.
//!
//! CIDR networks are either nested or disjoint, never partly overlapping, so the address space
//! they cover can be cut into disjoint runs of addresses that share the same most specific
//! network. [`Table::new`] cuts it once when the map is built; [`Table::find`] is then a binary
//! search over sorted runs (`u32` addresses for IPv4, `u128` for IPv6): no allocation, no lock,
//! and a cost that grows with the logarithm of the number of runs, never with the nesting.

use ipnet::IpNet;
use std::net::IpAddr;

/// Addresses `first..=last`, all of whose most specific named network is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run<A> {
    first: A,
    last: A,
    index: u32,
}

/// The runs of both address families, each sorted by address and disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Table {
    v4: Vec<Run<u32>>,
    v6: Vec<Run<u128>>,
}

impl Table {
    /// The table of `entries`: networks (host bits clear, IPv4 as IPv4) and the index of the
    /// named network each belongs to. A network given twice must carry the same index.
    pub(super) fn new(entries: &[(IpNet, u32)]) -> Table {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for &(net, index) in entries {
            match net {
                IpNet::V4(n) => v4.push((
                    u128::from(u32::from(n.network())),
                    u128::from(u32::from(n.broadcast())),
                    index,
                )),
                IpNet::V6(n) => {
                    v6.push((u128::from(n.network()), u128::from(n.broadcast()), index))
                }
            }
        }
        Table {
            v4: flatten(v4)
                .into_iter()
                .map(|r| Run {
                    // Built from u32 addresses: every bound fits.
                    first: r.first as u32,
                    last: r.last as u32,
                    index: r.index,
                })
                .collect(),
            v6: flatten(v6),
        }
    }

    /// The index of the most specific network holding `ip`, which must be canonical (an
    /// IPv4-mapped IPv6 address given as IPv4, see [`IpAddr::to_canonical`]).
    #[inline]
    pub(super) fn find(&self, ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => find(&self.v6, u128::from(v6)),
        }
    }

    /// The number of runs (for tests: nesting must not multiply them).
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// The run holding `x`, by binary search.
#[inline]
fn find<A: Copy + Ord>(runs: &[Run<A>], x: A) -> Option<u32> {
    let after = runs.partition_point(|r| r.first <= x);
    let run = runs.get(after.checked_sub(1)?)?;
    (x <= run.last).then_some(run.index)
}

/// Cuts nested or disjoint ranges `(first, last, index)` into disjoint sorted runs, each
/// labelled with the innermost range holding it; neighbouring runs of one index are merged.
fn flatten(mut ranges: Vec<(u128, u128, u32)>) -> Vec<Run<u128>> {
    // Outer ranges before the ranges they hold: by start, then the wider first.
    ranges.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    ranges.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    let mut out: Vec<Run<u128>> = Vec::with_capacity(ranges.len());
    // The ranges holding the current position, innermost last, as (last, index).
    let mut open: Vec<(u128, u32)> = Vec::new();
    // The first address not yet written out.
    let mut next: u128 = 0;
    for &(first, last, index) in &ranges {
        // Close the ranges that end before this one starts: the rest of each is its own.
        while let Some(&(open_last, open_index)) = open.last() {
            if open_last >= first {
                break;
            }
            if next <= open_last {
                push(&mut out, next, open_last, open_index);
            }
            // open_last < first, so this cannot overflow.
            next = open_last + 1;
            open.pop();
        }
        // Nesting means the innermost open range, if any, holds this whole one: the addresses
        // before it are the open range's.
        if let Some(&(_, open_index)) = open.last() {
            if next < first {
                push(&mut out, next, first - 1, open_index);
            }
        }
        next = first;
        open.push((last, index));
    }
    let mut next = Some(next);
    while let Some((open_last, open_index)) = open.pop() {
        let Some(from) = next else { break };
        if from <= open_last {
            push(&mut out, from, open_last, open_index);
        }
        // None once the end of the address space is written.
        next = open_last.checked_add(1);
    }
    out
}

/// Appends a run, merged into the previous one when they touch and share the index.
fn push(out: &mut Vec<Run<u128>>, first: u128, last: u128, index: u32) {
    if let Some(prev) = out.last_mut() {
        if prev.index == index && prev.last.checked_add(1) == Some(first) {
            prev.last = last;
            return;
        }
    }
    out.push(Run { first, last, index });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, u32)]) -> Table {
        let entries: Vec<(IpNet, u32)> = entries
            .iter()
            .map(|(n, i)| (n.parse::<IpNet>().unwrap().trunc(), *i))
            .collect();
        Table::new(&entries)
    }

    fn at(t: &Table, ip: &str) -> Option<u32> {
        t.find(ip.parse().unwrap())
    }

    #[test]
    fn the_innermost_network_wins_at_every_edge() {
        let t = table(&[
            ("10.0.0.0/8", 0),
            ("10.1.0.0/16", 1),
            // Starts where its outer network starts.
            ("10.1.0.0/24", 5),
            ("10.1.2.0/24", 2),
            ("10.1.2.128/25", 3),
            ("10.2.0.0/16", 4),
        ]);
        for (ip, want) in [
            ("9.255.255.255", None),
            ("10.0.0.0", Some(0)),
            ("10.0.255.255", Some(0)),
            ("10.1.0.0", Some(5)),
            ("10.1.0.255", Some(5)),
            ("10.1.1.0", Some(1)),
            ("10.1.1.255", Some(1)),
            ("10.1.2.0", Some(2)),
            ("10.1.2.127", Some(2)),
            ("10.1.2.128", Some(3)),
            ("10.1.2.255", Some(3)),
            ("10.1.3.0", Some(1)),
            ("10.1.255.255", Some(1)),
            ("10.2.0.0", Some(4)),
            ("10.2.255.255", Some(4)),
            ("10.3.0.0", Some(0)),
            ("10.255.255.255", Some(0)),
            ("11.0.0.0", None),
        ] {
            assert_eq!(at(&t, ip), want, "{ip}");
        }
    }

    #[test]
    fn the_ends_of_the_address_space_do_not_overflow() {
        let t = table(&[
            ("0.0.0.0/0", 0),
            ("255.255.255.0/24", 1),
            ("255.255.255.255/32", 2),
            ("::/0", 3),
            ("ffff::/16", 4),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 5),
        ]);
        assert_eq!(at(&t, "0.0.0.0"), Some(0));
        assert_eq!(at(&t, "255.255.255.254"), Some(1));
        assert_eq!(at(&t, "255.255.255.255"), Some(2));
        assert_eq!(at(&t, "::"), Some(3));
        assert_eq!(at(&t, "ffff::1"), Some(4));
        assert_eq!(at(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), Some(4));
        assert_eq!(at(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(5));
    }

    #[test]
    fn neighbours_of_one_network_merge_into_one_run() {
        // Two halves of one name and a duplicate: one run, found everywhere in it.
        let t = table(&[("10.1.0.0/17", 7), ("10.1.128.0/17", 7), ("10.1.0.0/17", 7)]);
        assert_eq!(t.runs(), 1);
        assert_eq!(at(&t, "10.1.127.255"), Some(7));
        assert_eq!(at(&t, "10.1.128.0"), Some(7));
        assert_eq!(at(&t, "10.2.0.0"), None);
        assert_eq!(Table::new(&[]).find("10.0.0.1".parse().unwrap()), None);
    }
}
