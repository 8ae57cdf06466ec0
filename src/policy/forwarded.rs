//! Parsing of `X-Real-IP` / `X-Forwarded-For` values and of a reported `ip=`, without allocating.
//!
//! Header values are raw bytes from the network: anything that is not an address is reported as
//! [`Entry::Junk`], never a panic. An address that can never be a peer's source address
//! (unspecified, multicast, IPv4 broadcast) is junk too, so a header can never make the tracker
//! hand `0.0.0.0` to a swarm.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One comma-separated entry of a proxy header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// Nothing but white space, e.g. from `a,,b`, a trailing comma or an empty header: carries no
    /// claim, so it is neither an address nor junk.
    Empty,
    /// A usable address, normalised (IPv4-mapped IPv6 becomes IPv4), port and brackets removed.
    Addr(IpAddr),
    /// Anything else: not UTF-8, a host name, `unknown`, an obfuscated RFC 7239 name, a bad port,
    /// or an address that cannot be a source address.
    Junk,
}

/// Parses one header entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:80`, with surrounding spaces or tabs.
pub(super) fn parse_entry(raw: &[u8]) -> Entry {
    let raw = raw.trim_ascii();
    if raw.is_empty() {
        return Entry::Empty;
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Entry::Junk;
    };
    match strip_port(text).and_then(usable) {
        Some(ip) => Entry::Addr(ip),
        None => Entry::Junk,
    }
}

/// Parses a reported `ip=`: a bare literal only. No brackets, port or white space: a client that
/// knows its address writes it plainly, and a lenient parser is where `999.1.1.1` got in before.
pub(super) fn parse_reported(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().and_then(usable)
}

/// The entries of every `X-Forwarded-For` value, right-most first (the order in which proxies
/// appended them, reversed). A boundary between two header values counts as a comma, as
/// RFC 9110 says repeated list headers are joined.
pub(super) fn entries_right_to_left<'a>(values: &'a [&'a [u8]]) -> impl Iterator<Item = &'a [u8]> {
    values
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(|&b| b == b','))
}

/// Removes `[...]` around IPv6 and a `:port` suffix, then parses the address.
fn strip_port(text: &str) -> Option<IpAddr> {
    if let Some(rest) = text.strip_prefix('[') {
        // Brackets are URI syntax for IPv6 only; `[1.2.3.4]` is not something a proxy writes.
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    // Exactly one colon: IPv4 with a port. A bare IPv6 address with several colons has already
    // parsed above, and without brackets its port could not be told apart from the address.
    let (host, port) = text.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// 1 to 5 ASCII digits fitting a `u16`; `str::parse` alone would accept a `+` sign.
fn is_port(text: &str) -> bool {
    (1..=5).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u16>().is_ok()
}

/// Normalises, then keeps only addresses that could be a peer's source address.
fn usable(ip: IpAddr) -> Option<IpAddr> {
    let ip = ip.to_canonical();
    let unusable = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    (!unusable).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Entry {
        Entry::Addr(s.parse().unwrap())
    }

    #[test]
    fn policy_entry_forms() {
        let cases: &[(&[u8], Entry)] = &[
            (b"1.2.3.4", addr("1.2.3.4")),
            (b"  1.2.3.4\t", addr("1.2.3.4")),
            (b"1.2.3.4:5678", addr("1.2.3.4")),
            (b"1.2.3.4:", Entry::Junk),
            (b"1.2.3.4:+80", Entry::Junk),
            (b"1.2.3.4:65536", Entry::Junk),
            (b"1.2.3.4:123456", Entry::Junk),
            (b"2001:db8::1", addr("2001:db8::1")),
            (b"2001:DB8::1", addr("2001:db8::1")),
            (b"[2001:db8::1]", addr("2001:db8::1")),
            (b"[2001:db8::1]:80", addr("2001:db8::1")),
            (b"[2001:db8::1]80", Entry::Junk),
            (b"[2001:db8::1", Entry::Junk),
            (b"[1.2.3.4]", Entry::Junk),
            (b"[::ffff:1.2.3.4]:1", addr("1.2.3.4")),
            (b"::ffff:10.0.0.1", addr("10.0.0.1")),
            (b"", Entry::Empty),
            (b" \t ", Entry::Empty),
            (b"unknown", Entry::Junk),
            (b"_hidden", Entry::Junk),
            (b"host.example", Entry::Junk),
            (b"999.1.1.1", Entry::Junk),
            (b"010.1.1.1", Entry::Junk),
            (b"0.0.0.0", Entry::Junk),
            (b"::", Entry::Junk),
            (b"224.0.0.1", Entry::Junk),
            (b"ff02::1", Entry::Junk),
            (b"255.255.255.255", Entry::Junk),
            (b"fe80::1%eth0", Entry::Junk),
            (b"\xff\xfe1.2.3.4", Entry::Junk),
            (b"1.2.3.4 5.6.7.8", Entry::Junk),
        ];
        for (raw, want) in cases {
            assert_eq!(
                parse_entry(raw),
                *want,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn policy_reported_forms() {
        assert_eq!(parse_reported("1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(
            parse_reported("::ffff:1.2.3.4"),
            Some("1.2.3.4".parse().unwrap())
        );
        for bad in [
            "1.2.3.4:80",
            "[::1]",
            " 1.2.3.4",
            "999.1.1.1",
            "0.0.0.0",
            "example.org",
            "",
        ] {
            assert_eq!(parse_reported(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn policy_entries_are_walked_right_to_left_across_headers() {
        let values: &[&[u8]] = &[b"a, b", b"c,d"];
        let got: Vec<&[u8]> = entries_right_to_left(values).collect();
        assert_eq!(got, [&b"d"[..], b"c", b" b", b"a"]);
    }
}
