//! `retracker locate ADDRESS...`: what the operator's network map makes of addresses, for an
//! admin checking the map (`[NETWORKS]`, `[LOCALITY] networks_file`, `asn_db`, `country_db`)
//! before a reload. The configuration is read as the other subcommands read it (`-c`, else
//! `config/config.ini`, else the packaged file) and the map is built as the tracker builds it.
//!
//! Output: for each address, `key: value` lines (address, network, as, country, tier), a blank
//! line between addresses. Exit status 0; 2 when an argument is not an IP address, or when the
//! configuration, the networks file or a database cannot be used (the message names the file
//! and line, or the section and key).

use super::{Location, NetworkMap};
use crate::cli::LocateArgs;
use crate::config;
use crate::text::printable;
use std::fmt::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

/// Prints a message on standard error under the command's name.
fn fail(message: impl std::fmt::Display) {
    eprintln!("retracker locate: {message}");
}

/// An address as an admin may paste it: `10.1.2.3`, `2001:db8::1` or `[2001:db8::1]`.
fn parse_address(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.trim().parse().ok()
}

/// Runs the command with the configuration file `config_path`.
pub fn run(args: &LocateArgs, config_path: &Path) -> ExitCode {
    let mut addresses = Vec::with_capacity(args.addresses.len());
    for text in &args.addresses {
        match parse_address(text) {
            Some(ip) => addresses.push(ip),
            None => {
                fail(format_args!(
                    "\"{}\" is not an IP address (expected IPv4 such as 192.0.2.1 or IPv6 such as \
                     2001:db8::1)",
                    printable(text)
                ));
                return ExitCode::from(2);
            }
        }
    }
    let loaded = match config::load_file(config_path) {
        Ok(l) => l,
        Err(e) => {
            fail(format_args!("configuration error: {e}"));
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        fail(format_args!("warning: {w}"));
    }
    let map = match NetworkMap::load(&loaded.config) {
        Ok(map) => map,
        Err(e) => {
            fail(format_args!("configuration error: {e}"));
            return ExitCode::from(2);
        }
    };
    let blocks: Vec<String> = addresses
        .iter()
        .map(|ip| text(&map, &map.locate(*ip)))
        .collect();
    print!("{}", blocks.join("\n"));
    ExitCode::SUCCESS
}

/// The lines printed for one address.
pub fn text(map: &NetworkMap, at: &Location) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "address: {}", at.ip);
    let network = match (&at.inside, &at.asn) {
        // An unnamed network of [STATS] peer_networks goes by its CIDR text.
        (Some(inside), _) if inside.name == inside.cidr.to_string() => {
            format!("{} ([STATS] peer_networks)", inside.name)
        }
        (Some(inside), _) => format!("{} ({})", inside.name, inside.cidr),
        (None, Some(asn)) if at.id == super::NetId::asn(asn.number) => {
            format!("AS{} (autonomous system)", asn.number)
        }
        (None, _) => format!("{} (address block)", at.block),
    };
    let _ = writeln!(out, "network: {network}");
    let asn = match &at.asn {
        Some(asn) => asn.to_string(),
        None if map.has_asn_db() => "not in the ASN database".into(),
        None => "unknown (no [LOCALITY] asn_db)".into(),
    };
    let _ = writeln!(out, "as: {asn}");
    let country = match &at.country {
        Some(country) => country.to_string(),
        None if map.has_country_db() => "not in the country database".into(),
        None => "unknown (no [LOCALITY] country_db)".into(),
    };
    let _ = writeln!(out, "country: {country}");
    let tier = match &at.inside {
        Some(inside) => format!("inside the operator's networks ({})", inside.name),
        None => "outside the operator's networks".into(),
    };
    let _ = writeln!(out, "tier: {tier}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_admins_paste_them() {
        assert_eq!(parse_address("10.1.2.3"), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(
            parse_address("[2001:db8::1]"),
            Some("2001:db8::1".parse().unwrap())
        );
        for bad in ["", "10.1.2", "10.1.2.3/24", "host.example", "10.1.2.3:80"] {
            assert_eq!(parse_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_for_a_named_network_and_a_block() {
        let nets: [ipnet::IpNet; 1] = ["10.1.0.0/16".parse().unwrap()];
        let map = NetworkMap::from_networks([("north", &nets[..])]).unwrap();
        assert_eq!(
            text(&map, &map.locate("::ffff:10.1.2.3".parse().unwrap())),
            "address: 10.1.2.3\nnetwork: north (10.1.0.0/16)\n\
             as: unknown (no [LOCALITY] asn_db)\ncountry: unknown (no [LOCALITY] country_db)\n\
             tier: inside the operator's networks (north)\n"
        );
        assert_eq!(
            text(&map, &map.locate("2001:db8:7::1".parse().unwrap())),
            "address: 2001:db8:7::1\nnetwork: 2001:db8:7::/48 (address block)\n\
             as: unknown (no [LOCALITY] asn_db)\ncountry: unknown (no [LOCALITY] country_db)\n\
             tier: outside the operator's networks\n"
        );
    }
}
