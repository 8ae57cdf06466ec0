//! The networks file (`[LOCALITY] networks_file`) and the names of the operator's networks.
//!
//! The file holds more of the operator's networks than fit in `[NETWORKS]`, typically exported
//! from BGP or an IPAM: one `CIDR name` a line, `#` starts a comment (a whole line or after the
//! entry), blank lines and surrounding spaces are ignored, a UTF-8 byte order mark is skipped.
//! A name may be given on many lines (one city, many prefixes) and may be one of `[NETWORKS]`
//! too: its networks are then added to that one. [`parse`] is pure and names the first bad line.

use super::{valid_name, LocalityError};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::Path;

/// One `CIDR name` line of the networks file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// Line number, from 1.
    pub line: usize,
    /// The network, canonical (see [`canonical`]).
    pub net: IpNet,
    /// The name, as written.
    pub name: String,
}

/// A CIDR network or a bare address (a host network), canonical; `None` when `item` is neither.
pub(super) fn parse_net(item: &str) -> Option<IpNet> {
    let net = match item.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(item.parse::<IpAddr>().ok()?),
    };
    Some(canonical(net))
}

/// `net` with its host bits cleared, and an IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`)
/// as the IPv4 network it maps, because addresses are looked up in their canonical form.
pub(crate) fn canonical(net: IpNet) -> IpNet {
    let net = net.trunc();
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.network().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            if let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                return IpNet::V4(mapped);
            }
        }
    }
    net
}

/// The entries of a networks file's text; `path` only names it in errors.
pub(super) fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, LocalityError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let line = i + 1;
        let fail = |message: String| LocalityError::Line {
            path: path.to_owned(),
            line,
            message,
        };
        let fields: Vec<&str> = content.split_whitespace().collect();
        let &[cidr, name] = fields.as_slice() else {
            return Err(fail(format!(
                "expected \"CIDR name\" (or a # comment), found {:?}",
                shorten(content)
            )));
        };
        let Some(net) = parse_net(cidr) else {
            let hint = if parse_net(name).is_some() {
                "; the CIDR comes first, then the name"
            } else {
                ""
            };
            return Err(fail(format!(
                "{:?} is not an address or CIDR network{hint}",
                shorten(cidr)
            )));
        };
        if !valid_name(name) {
            return Err(fail(format!(
                "{:?} is not a network name: expected letters, digits, _, - and . only",
                shorten(name)
            )));
        }
        out.push(Entry {
            line,
            net,
            name: name.to_owned(),
        });
    }
    Ok(out)
}

/// At most 60 characters of a line, for messages (a binary file must not flood the terminal);
/// they are shown with `{:?}`, which escapes control characters.
fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(usize, String, String)> {
        parse(text, Path::new("nets.txt"))
            .unwrap()
            .into_iter()
            .map(|e| (e.line, e.net.to_string(), e.name))
            .collect()
    }

    fn error(text: &str) -> String {
        parse(text, Path::new("nets.txt")).unwrap_err().to_string()
    }

    #[test]
    fn lines_comments_and_blank_lines() {
        let text = "\u{feff}# exported from BGP\n\n10.1.0.0/16 north\n  10.1.2.3/24\tnorth.pop-1 # rack\r\n2001:db8:1::/48 north\n192.0.2.7 office\n::ffff:10.3.0.0/112 south\n";
        assert_eq!(
            entries(text),
            [
                (3, "10.1.0.0/16".into(), "north".into()),
                (4, "10.1.2.0/24".into(), "north.pop-1".into()),
                (5, "2001:db8:1::/48".into(), "north".into()),
                (6, "192.0.2.7/32".into(), "office".into()),
                (7, "10.3.0.0/16".into(), "south".into()),
            ]
        );
        assert!(entries("").is_empty());
    }

    #[test]
    fn each_bad_line_is_named_with_what_is_wrong() {
        assert_eq!(
            error("10.1.0.0/16 north\n10.2.0.0/16\n"),
            "nets.txt:2: expected \"CIDR name\" (or a # comment), found \"10.2.0.0/16\""
        );
        assert_eq!(
            error("10.2.0.0/16 south city\n"),
            "nets.txt:1: expected \"CIDR name\" (or a # comment), found \"10.2.0.0/16 south city\""
        );
        assert_eq!(
            error("# c\n10.2.0.0/33 south\n"),
            "nets.txt:2: \"10.2.0.0/33\" is not an address or CIDR network"
        );
        assert_eq!(
            error("south 10.2.0.0/16\n"),
            "nets.txt:1: \"south\" is not an address or CIDR network; the CIDR comes first, then the name"
        );
        assert_eq!(
            error("10.2.0.0/16 s\u{f6}d\n"),
            "nets.txt:1: \"s\u{f6}d\" is not a network name: expected letters, digits, _, - and . only"
        );
    }

    #[test]
    fn mapped_networks_are_ipv4_and_host_bits_are_cleared() {
        let net = |s: &str| canonical(s.parse().unwrap()).to_string();
        assert_eq!(net("::ffff:10.1.2.3/120"), "10.1.2.0/24");
        assert_eq!(net("::ffff:0.0.0.0/96"), "0.0.0.0/0");
        // Wider than the mapped block: stays IPv6.
        assert_eq!(net("::ffff:0.0.0.0/95"), "::fffe:0:0/95");
        assert_eq!(net("2001:db8:1:2::/48"), "2001:db8:1::/48");
    }
}
