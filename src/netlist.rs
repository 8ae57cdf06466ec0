//! A list of CIDR networks (`10.0.0.0/8, ::1/128`), as used by every network-policy config key.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are matched as the IPv4 address they carry, so a
//! dual-stack socket cannot slip past an IPv4 rule.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An ordered list of networks; empty matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Networks(pub Vec<IpNet>);

impl Networks {
    /// True when `ip` (normalised from IPv4-mapped IPv6) is inside any network of the list.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// True when the list has no network.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for Networks {
    type Err = String;

    /// Parses a list separated by commas and/or white space. A bare address is a host network
    /// (`/32` or `/128`). The error names the first entry that is not a network.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for item in s.split(|c: char| c == ',' || c.is_whitespace()) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip.to_canonical()),
                    Err(_) => return Err(format!("'{item}' is not an address or CIDR network")),
                },
            };
            nets.push(net);
        }
        Ok(Networks(nets))
    }
}

impl fmt::Display for Networks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_matches_mapped_addresses() {
        let n: Networks = "10.0.0.0/8, 192.168.1.7 ::1/128".parse().unwrap();
        assert_eq!(n.0.len(), 3);
        assert!(n.contains(&"10.9.8.7".parse().unwrap()));
        assert!(n.contains(&"::ffff:10.1.1.1".parse().unwrap()));
        assert!(n.contains(&"192.168.1.7".parse().unwrap()));
        assert!(!n.contains(&"192.168.1.8".parse().unwrap()));
        assert!(n.contains(&"::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Networks>().is_err());
        assert!("999.1.1.1".parse::<Networks>().is_err());
        assert!("".parse::<Networks>().unwrap().is_empty());
    }

    #[test]
    fn host_bits_are_truncated() {
        let n: Networks = "10.1.2.3/8".parse().unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
    }
}
