//! Tests of `build`.

use super::*;

/// Builds from the defaults with these `(section, key, text)` set as if from `test.ini`.
fn with(pairs: &[(&str, &str, &str)]) -> Result<(Config, Vec<String>), ConfigError> {
    let mut s = Settings::defaults("test.ini");
    for (section, name, text) in pairs {
        s.set(
            keys::find(section, name).unwrap(),
            (*text).into(),
            Origin::File,
        );
    }
    build(&s)
}

#[test]
fn every_listed_choice_word_maps() {
    for key in KEYS {
        if let Form::Choice(words) = key.form {
            for w in words {
                // An access list mode needs its file.
                assert!(
                    with(&[(key.section, key.name, w), ("ACCESS", "file", "a.txt")]).is_ok(),
                    "[{}] {} = {w}",
                    key.section,
                    key.name
                );
            }
        }
    }
}

#[test]
fn synonyms_map_to_the_same_value() {
    let level = |w| with(&[("LOGGING", "level", w)]).unwrap().0.logging.level;
    assert_eq!(level("CRITICAL"), LogLevel::Error);
    assert_eq!(level("Warn"), LogLevel::Warn);
    assert_eq!(level("WARNING"), LogLevel::Warn);
    let db = |w| with(&[("DB", "type", w)]).unwrap().0.db.kind;
    assert_eq!(db("sqlite3"), DbKind::Sqlite);
    assert_eq!(db("none"), DbKind::Memory);
}

#[test]
fn memory_db_may_have_an_empty_path_sqlite_may_not() {
    assert!(with(&[("DB", "type", "memory"), ("DB", "path", "")]).is_ok());
    let err = with(&[("DB", "path", "")]).unwrap_err().to_string();
    assert_eq!(
        err,
        "test.ini: [DB] path = \"\": expected a file path when type (sqlite, the default) is sqlite"
    );
}

#[test]
fn password_needs_a_user_name() {
    let err = with(&[
        ("STATS", "access_password", "pw"),
        ("STATS", "access_username", ""),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("[STATS] access_username = \"\""), "{err}");
    assert!(!err.contains("pw"), "{err}");
}

#[test]
fn a_broken_argon2_hash_is_refused_without_showing_it() {
    let err = with(&[(
        "STATS",
        "access_password",
        "$argon2id$v=19$m=19456,t=2,p=1$broken",
    )])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("[STATS] access_password = \"(not shown)\""),
        "{err}"
    );
    assert!(err.contains("does not parse"), "{err}");
    assert!(!err.contains("broken"), "{err}");
    let good = crate::web::auth::hash_password("pw");
    assert!(with(&[("STATS", "access_password", &good)]).is_ok());
}

#[test]
fn tls_cert_and_key_go_together() {
    let err = with(&[("TLS", "cert", "/etc/ssl/c.pem")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "test.ini: [TLS] key = \"\": expected a PEM private key file, as cert (/etc/ssl/c.pem) is set"
    );
    // The other key's value is escaped like this key's own (fuzz/run ini found a raw tab).
    let err = with(&[("TLS", "cert", "a\tb.pem")])
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("as cert (a\\tb.pem) is set"), "{err}");
    let err = with(&[("TLS", "key", "/etc/ssl/k.pem")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("test.ini: [TLS] cert = \"\": expected a PEM certificate file, as key (/etc/ssl/k.pem) is set"),
        "{err}"
    );
    let (c, w) = with(&[("TLS", "cert", "c.pem"), ("TLS", "key", "k.pem")]).unwrap();
    assert_eq!(
        c.tls.files(),
        Some((std::path::Path::new("c.pem"), std::path::Path::new("k.pem")))
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(Config::default().tls.files(), None);
    let err = with(&[
        ("TLS", "cert", "c.pem"),
        ("TLS", "key", "k.pem"),
        ("TLS", "port", "8080"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("[TLS] port = \"8080\": expected a port other than port (8080, the default)"),
        "{err}"
    );
}

#[test]
fn tls_redirect_without_https_warns() {
    let (_, w) = with(&[("TLS", "redirect_http", "yes")]).unwrap();
    assert!(
        w[0].contains("[TLS] redirect_http = \"yes\": but cert is empty"),
        "{w:?}"
    );
    let (_, w) = with(&[
        ("TLS", "cert", "c.pem"),
        ("TLS", "key", "k.pem"),
        ("TLS", "redirect_http", "yes"),
        ("WEB", "port", "8081"),
    ])
    .unwrap();
    assert!(w[0].contains("its own port"), "{w:?}");
}

#[test]
fn control_characters_are_refused() {
    let err = with(&[("DB", "path", "a\nb")]).unwrap_err().to_string();
    assert!(err.contains("control characters"), "{err}");
    assert!(err.contains("a\\nb"), "{err}");
}

#[test]
fn an_access_list_needs_a_file() {
    let err = with(&[("ACCESS", "mode", "allow")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "test.ini: [ACCESS] file = \"\": expected a file path when mode (allow) is allow or deny"
    );
    let (c, _) = with(&[("ACCESS", "mode", "Deny"), ("ACCESS", "file", "deny.txt")]).unwrap();
    assert_eq!(c.access.mode, AccessMode::Deny);
    assert_eq!(c.access.file, Some(PathBuf::from("deny.txt")));
    assert!(with(&[("ACCESS", "file", "unused.txt")]).is_ok());
}

#[test]
fn jitter_longer_than_the_expiry_margin_warns() {
    let (_, w) = with(&[("TRACKER", "announce_interval_jitter", "1800")]).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let (_, w) = with(&[
        ("TRACKER", "announce_interval_jitter", "1801"),
        ("TRACKER", "peer_expire_factor", "2"),
    ])
    .unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("[TRACKER] announce_interval_jitter = \"1801\""),
        "{w:?}"
    );
}

#[test]
fn doubtful_settings_warn() {
    let (_, w) = with(&[
        ("TRACKER", "mode", "proxy"),
        ("TRACKER", "trusted_proxies", ""),
    ])
    .unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("test.ini: [TRACKER] mode = \"proxy\": but trusted_proxies"));
    let (_, w) = with(&[
        ("TRACKER", "mode", "proxy"),
        ("TRACKER", "use_x_real_ip", "no"),
        ("TRACKER", "use_x_forwarded_for", "off"),
    ])
    .unwrap();
    assert!(w[0].contains("both off"), "{w:?}");
    let (_, w) = with(&[("TRACKER", "peer_expire_factor", "0.5")]).unwrap();
    assert!(
        w[0].contains("[TRACKER] peer_expire_factor = \"0.5\""),
        "{w:?}"
    );
    let (_, w) = with(&[("CACHE", "type", "Redis")]).unwrap();
    assert!(w[0].contains("[CACHE] type = \"Redis\": swarms"), "{w:?}");
    for quiet in ["memory", "simple", "null", "SIMPLE"] {
        assert!(
            with(&[("CACHE", "type", quiet)]).unwrap().1.is_empty(),
            "{quiet}"
        );
    }
}

/// Builds from the defaults with these `[NETWORKS]` entries, as if from `test.ini`.
fn with_networks(entries: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut s = Settings::defaults("test.ini");
    for (name, text) in entries {
        s.set_network(name, (*text).into());
    }
    build(&s).map(|(c, _)| c)
}

#[test]
fn networks_are_parsed_in_order_with_both_families() {
    let c = with_networks(&[
        ("north", "10.1.0.0/16, 2001:db8:1::/48"),
        ("south", "10.2.0.0/16 10.2.9.9"),
    ])
    .unwrap();
    let shown: Vec<String> = c
        .locality
        .networks
        .iter()
        .map(|(n, nets)| format!("{n} = {nets}"))
        .collect();
    assert_eq!(
        shown,
        [
            "north = 10.1.0.0/16, 2001:db8:1::/48",
            "south = 10.2.0.0/16, 10.2.9.9/32"
        ]
    );
}

#[test]
fn a_bad_network_entry_names_file_section_name_and_value() {
    let err = |entries: &[(&str, &str)]| with_networks(entries).unwrap_err().to_string();
    assert_eq!(
        err(&[("north", "10.1.0.0/33")]),
        "test.ini: [NETWORKS] north = \"10.1.0.0/33\": expected IP networks (CIDR) or addresses \
         separated by commas or spaces ('10.1.0.0/33' is not an address or CIDR network)"
    );
    assert_eq!(
        err(&[("north", "")]),
        "test.ini: [NETWORKS] north = \"\": expected IP networks (CIDR) or addresses separated \
         by commas or spaces"
    );
    assert_eq!(
        err(&[("my city", "10.1.0.0/16")]),
        "test.ini: [NETWORKS] my city = \"10.1.0.0/16\": expected a name of letters, digits, _, \
         - and . only before the =, then IP networks (CIDR) or addresses separated by commas or \
         spaces"
    );
    assert!(
        err(&[("north", "10.1.0.0/16\x1b[2J")]).contains("control characters"),
        "the detail would quote the escape sequence raw"
    );
}

#[test]
fn one_network_under_two_names_is_refused_naming_both() {
    let err = with_networks(&[
        ("north", "10.1.0.0/16"),
        ("south", "10.2.0.0/16, 10.1.0.0/16"),
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "test.ini: [NETWORKS] south = \"10.2.0.0/16, 10.1.0.0/16\": expected networks no other \
         name has (10.1.0.0/16 is under north too; a network has one name)"
    );
    // Nested networks under two names are the point: the most specific one wins.
    assert!(with_networks(&[("north", "10.1.0.0/16"), ("pop", "10.1.2.0/24")]).is_ok());
    // The same network twice under one name is harmless.
    assert!(with_networks(&[("north", "10.1.0.0/16, 10.1.0.0/16")]).is_ok());
}

#[test]
fn locality_keys() {
    let c = Config::default();
    assert_eq!(c.locality.mode, crate::locality::Mode::Prefer);
    assert_eq!(c.locality.outside_share, 0.2);
    assert!(c.locality.networks.is_empty());
    assert_eq!(
        (
            &c.locality.networks_file,
            &c.locality.asn_db,
            &c.locality.country_db
        ),
        (&None, &None, &None)
    );
    let (c, _) = with(&[
        ("LOCALITY", "mode", "Strict"),
        ("LOCALITY", "outside_share", "0"),
        ("LOCALITY", "networks_file", "/etc/retracker/networks.txt"),
        ("LOCALITY", "asn_db", "GeoLite2-ASN.mmdb"),
    ])
    .unwrap();
    assert_eq!(c.locality.mode, crate::locality::Mode::Strict);
    assert_eq!(c.locality.outside_share, 0.0);
    assert_eq!(
        c.locality.networks_file,
        Some(PathBuf::from("/etc/retracker/networks.txt"))
    );
    assert_eq!(c.locality.asn_db, Some(PathBuf::from("GeoLite2-ASN.mmdb")));
    assert_eq!(
        with(&[("LOCALITY", "outside_share", "1.5")])
            .unwrap_err()
            .to_string(),
        "test.ini: [LOCALITY] outside_share = \"1.5\": expected a number from 0 to 1 (fractions \
         allowed)"
    );
    assert_eq!(
        with(&[("LOCALITY", "mode", "nearest")])
            .unwrap_err()
            .to_string(),
        "test.ini: [LOCALITY] mode = \"nearest\": expected one of off, prefer, strict (any case)"
    );
}
