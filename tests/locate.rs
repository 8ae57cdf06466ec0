//! `retracker locate` as an admin runs it to check a network map (issue 16): the real binary
//! with a configuration naming networks in `[NETWORKS]`, a networks file and MaxMind's test
//! databases (tests/fixtures/geoip; its README says what their sources give for each address
//! used here). Also exit status 2, naming what is wrong, for an argument that is not an
//! address and for a bad line of the networks file, from `locate` and from `--check-config`.

mod common;
use common::process::Launch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A MaxMind test database.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/geoip")
        .join(name)
}

/// A folder with `config.ini` (the given `[NETWORKS]`, the networks file `networks.txt` holding
/// `file`, and both test databases) and that file.
fn setup(networks: &str, file: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("networks.txt"), file).unwrap();
    let config = dir.path().join("config.ini");
    std::fs::write(
        &config,
        format!(
            "[NETWORKS]\n{networks}\n[LOCALITY]\nnetworks_file = networks.txt\n\
             asn_db = {}\ncountry_db = {}\n",
            fixture("GeoLite2-ASN-Test.mmdb").display(),
            fixture("GeoLite2-Country-Test.mmdb").display()
        ),
    )
    .unwrap();
    (dir, config)
}

/// Runs `retracker -c CONFIG ARGS...` in `dir`: exit status, standard output and error.
fn run(dir: &Path, config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Launch::new()
        .config(config)
        .args(args)
        .current_dir(dir)
        .output();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The output split per address: `address -> key -> value`.
fn blocks(stdout: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out = HashMap::new();
    for block in stdout.split("\n\n") {
        let lines: HashMap<String, String> = block
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap_or_else(|| panic!("{l:?}"));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        out.insert(lines["address"].clone(), lines);
    }
    out
}

#[test]
fn locate_prints_network_as_country_and_tier() {
    let (dir, config) = setup(
        "north = 10.1.0.0/16, 2001:db8:1::/48\nsouth = 10.2.0.0/16",
        "# exported from BGP\n10.1.2.0/24 north-pop1\n89.160.20.128/26 partner\n",
    );
    let (code, out, err) = run(
        dir.path(),
        &config,
        &[
            "locate",
            "10.1.2.3",
            "::ffff:10.1.9.9",
            "[2001:db8:1::7]",
            "89.160.20.130",
            "89.160.20.200",
            "1.128.0.1",
            "2001:218::1",
            "203.0.113.9",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "", "no warning for a valid configuration");
    let b = blocks(&out);
    assert_eq!(b.len(), 8, "{out}");
    let line = |addr: &str, key: &str| b[addr][key].as_str();

    // The /24 of the networks file inside the /16 of [NETWORKS].
    assert_eq!(line("10.1.2.3", "network"), "north-pop1 (10.1.2.0/24)");
    assert_eq!(
        line("10.1.2.3", "tier"),
        "inside the operator's networks (north-pop1)"
    );
    assert_eq!(line("10.1.2.3", "as"), "not in the ASN database");
    assert_eq!(line("10.1.2.3", "country"), "not in the country database");
    // An IPv4-mapped address is shown and placed as IPv4.
    assert_eq!(line("10.1.9.9", "network"), "north (10.1.0.0/16)");
    assert_eq!(line("2001:db8:1::7", "network"), "north (2001:db8:1::/48)");
    // A named network of the file holding an address the databases know: the name wins, and
    // the AS and country are still shown.
    assert_eq!(
        line("89.160.20.130", "network"),
        "partner (89.160.20.128/26)"
    );
    assert_eq!(line("89.160.20.130", "as"), "AS29518 Bredband2 AB");
    assert_eq!(line("89.160.20.130", "country"), "SE Sweden");
    // Outside the named networks: the AS is the network.
    assert_eq!(
        line("89.160.20.200", "network"),
        "AS29518 (autonomous system)"
    );
    assert_eq!(
        line("89.160.20.200", "tier"),
        "outside the operator's networks"
    );
    assert_eq!(line("1.128.0.1", "as"), "AS1221 Telstra Pty Ltd");
    assert_eq!(line("1.128.0.1", "network"), "AS1221 (autonomous system)");
    assert_eq!(line("2001:218::1", "country"), "JP Japan");
    // Nowhere: the address block.
    assert_eq!(
        line("2001:218::1", "network"),
        "2001:218::/48 (address block)"
    );
    assert_eq!(
        line("203.0.113.9", "network"),
        "203.0.113.0/24 (address block)"
    );
    assert_eq!(
        line("203.0.113.9", "tier"),
        "outside the operator's networks"
    );
    // In the order given.
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("address: "))
        .collect();
    assert_eq!(order[0], "10.1.2.3");
    assert_eq!(order[7], "203.0.113.9");
}

#[test]
fn locate_without_a_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.ini");
    std::fs::write(&config, "[STATS]\npeer_networks = 10.5.0.0/16\n").unwrap();
    let (code, out, err) = run(dir.path(), &config, &["locate", "10.5.1.1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "address: 10.5.1.1\nnetwork: 10.5.0.0/16 ([STATS] peer_networks)\n\
         as: unknown (no [LOCALITY] asn_db)\ncountry: unknown (no [LOCALITY] country_db)\n\
         tier: inside the operator's networks (10.5.0.0/16)\n"
    );
}

#[test]
fn a_bad_address_exits_2() {
    let (dir, config) = setup("north = 10.1.0.0/16", "");
    for bad in ["10.1.2", "north", "10.1.2.3/24"] {
        let (code, out, err) = run(dir.path(), &config, &["locate", "10.1.2.3", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert_eq!(out, "", "nothing printed for the good one either");
        assert!(
            err.starts_with(&format!("retracker locate: \"{bad}\" is not an IP address")),
            "{err}"
        );
    }
}

#[test]
fn a_bad_networks_file_line_exits_2_naming_file_and_line() {
    let (dir, config) = setup(
        "north = 10.1.0.0/16",
        "10.1.2.0/24 north-pop1\n# a comment\nnorth-pop2 10.1.3.0/24\n",
    );
    let want = "networks.txt:3: \"north-pop2\" is not an address or CIDR network; the CIDR comes \
                first, then the name";
    let (code, out, err) = run(dir.path(), &config, &["locate", "10.1.2.3"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains(want), "{err}");
    let (code, _, err) = run(dir.path(), &config, &["--check-config"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(want), "{err}");

    // The same network under two names, across [NETWORKS] and the file: both named.
    let (dir, config) = setup("north = 10.1.0.0/16", "10.1.0.0/16 south\n");
    let (code, _, err) = run(dir.path(), &config, &["locate", "10.1.2.3"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "networks.txt:1: 10.1.0.0/16 is named south here but is already [NETWORKS] north"
        ),
        "{err}"
    );
}

#[test]
fn swapped_databases_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.ini");
    std::fs::write(
        &config,
        format!(
            "[LOCALITY]\nasn_db = {}\n",
            fixture("GeoLite2-City-Test.mmdb").display()
        ),
    )
    .unwrap();
    let (code, _, err) = run(dir.path(), &config, &["locate", "10.1.2.3"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("GeoLite2-City-Test.mmdb: cannot be used as [LOCALITY] asn_db: it is a GeoLite2-City database"),
        "{err}"
    );
}
