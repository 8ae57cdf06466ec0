//! The configuration as an operator meets it: the committed example file, a Python retracker
//! `config.ini` loaded verbatim, error messages, environment overrides and `--check-config` output.

use retracker::config::keys::KEYS;
use retracker::config::*;
use retracker::netlist::Networks;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A path inside the crate, independent of the directory tests run from.
fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Loads `text` as `config/config.ini` with no environment.
fn load(text: &str) -> Result<Loaded, ConfigError> {
    load_str(text, "config/config.ini")
}

/// The error message for `text`, which must not load.
fn error(text: &str) -> String {
    match load(text) {
        Ok(l) => panic!("loaded: {text:?} gave {:?}", l.config),
        Err(e) => e.to_string(),
    }
}

/// A network list, for comparisons.
fn nets(text: &str) -> Networks {
    text.parse().unwrap()
}

/// Addresses, for comparisons.
fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn example_config_is_generated_from_the_registry() {
    let path = crate_path("config/config.ini");
    let generated = example_ini();
    if std::env::var("RETRACKER_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "config/config.ini differs from the registry; run RETRACKER_BLESS=1 cargo test --test config"
    );
}

#[test]
fn example_config_loads_to_the_defaults_without_warnings() {
    let text = std::fs::read_to_string(crate_path("config/config.ini")).unwrap();
    let loaded = load(&text).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    // Every key is written out, none is left to the built-in default.
    for key in KEYS {
        let line = format!("\n{} =", key.name);
        assert!(
            text.contains(&line),
            "[{}] {} missing",
            key.section,
            key.name
        );
    }
}

#[test]
fn the_example_networks_load_when_uncommented() {
    // [NETWORKS] has no default entries: the example file shows them commented out. What an
    // operator gets by removing the "; " must load to what it says.
    let text = std::fs::read_to_string(crate_path("config/config.ini")).unwrap();
    let section = text
        .split("\n[NETWORKS]\n")
        .nth(1)
        .expect("[NETWORKS] in the example")
        .split("\n[")
        .next()
        .unwrap();
    let examples: Vec<&str> = section
        .lines()
        .skip_while(|l| *l != "; For example:")
        .skip(1)
        .map_while(|l| l.strip_prefix("; "))
        .collect();
    assert_eq!(examples.len(), 2, "{section}");
    let loaded = load(&format!("[NETWORKS]\n{}\n", examples.join("\n"))).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded.config.locality.networks,
        [
            ("north".to_owned(), nets("10.1.0.0/16, 2001:db8:1::/48")),
            ("south".to_owned(), nets("10.2.0.0/16")),
        ]
    );
}

#[test]
fn the_locality_sections_of_issue_16_load_as_written() {
    // The operator's example of the issue, inline comments and all.
    let loaded = load(
        "[NETWORKS]
; name = the operator's networks (CIDR, IPv4 and IPv6): a city, a point of presence, an office
north = 10.1.0.0/16, 2001:db8:1::/48
south = 10.2.0.0/16

[LOCALITY]
mode = prefer          ; off | prefer | strict
outside_share = 0.2    ; part of each answer drawn from the whole swarm (prefer), 0 to 1
networks_file =        ; more networks, one \"CIDR name\" a line (# comments), e.g. exported from BGP
asn_db =               ; a MaxMind GeoLite2-ASN (or GeoIP2-ISP) .mmdb file
country_db =           ; a MaxMind GeoLite2-Country or -City .mmdb file
",
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let l = &loaded.config.locality;
    assert_eq!(l.mode, retracker::locality::Mode::Prefer);
    assert_eq!(l.outside_share, 0.2);
    assert_eq!(l.networks.len(), 2);
    assert_eq!(
        (&l.networks_file, &l.asn_db, &l.country_db),
        (&None, &None, &None)
    );
    assert_eq!(
        error("[NETWORKS]\nnorth = 10.1.0.0/16\nsouth = 10.1.0.0/16\n"),
        "config/config.ini: [NETWORKS] south = \"10.1.0.0/16\": expected networks no other name \
         has (10.1.0.0/16 is under north too; a network has one name)"
    );
}

#[test]
fn packaged_config_is_generated_from_the_registry() {
    let path = crate_path("packaging/config.ini");
    let generated = packaged_ini();
    if std::env::var("RETRACKER_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "packaging/config.ini differs from the registry; run RETRACKER_BLESS=1 cargo test --test config"
    );
}

#[test]
fn packaged_config_loads_with_the_packaged_paths_and_otherwise_the_defaults() {
    let text = std::fs::read_to_string(crate_path("packaging/config.ini")).unwrap();
    let loaded = load_str(&text, "/etc/retracker/config.ini").unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config;
    assert_eq!(c.db.kind, DbKind::Sqlite);
    assert_eq!(
        c.db.path,
        PathBuf::from("/var/lib/retracker/retracker.sqlite")
    );
    assert_eq!(
        c.logging.log_file,
        Some(PathBuf::from("/var/log/retracker/retracker.log"))
    );
    // The journal gets the same lines through standard error.
    assert!(c.logging.console_output);
    // The web UI stays off until the admin sets a password.
    assert_eq!(c.stats.access_password, "");
    let mut expected = Config::default();
    expected.db.path = c.db.path.clone();
    expected.logging.log_file = c.logging.log_file.clone();
    assert_eq!(*c, expected, "only the paths differ from the defaults");
    // Every key is written out, and each changed one names its built-in default.
    for key in KEYS {
        assert!(text.contains(&format!("\n{} =", key.name)), "{}", key.name);
    }
    assert!(text.contains(
        "; Built-in default: data/retracker.sqlite.\npath = /var/lib/retracker/retracker.sqlite\n"
    ));
    assert!(text.contains("systemctl reload retracker"));
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::default();
    assert_eq!(c.flask.secret_key, "");
    assert_eq!(
        c.logging.log_file,
        Some(PathBuf::from("logs/retracker.log"))
    );
    assert_eq!(c.logging.level, LogLevel::Info);
    assert_eq!(c.logging.format, LogFormat::Full);
    assert!(c.logging.console_output && !c.logging.clear_on_start);
    assert_eq!(
        (c.logging.max_bytes, c.logging.backup_count),
        (5_242_880, 5)
    );
    let t = &c.tracker;
    assert_eq!(t.host, ips(&["0.0.0.0"]));
    assert_eq!((t.port, t.mode), (8080, Mode::Direct));
    assert_eq!(t.udp_port, UdpPort::SameAsHttp);
    assert_eq!(t.trusted_proxies, nets("127.0.0.1/32 ::1/128"));
    assert!(t.use_x_real_ip && t.use_x_forwarded_for);
    assert_eq!((t.announce_interval, t.min_interval), (1800, 0));
    assert_eq!(c.min_interval_secs(), 900);
    assert_eq!(t.peer_expire_factor, 2.0);
    assert_eq!(c.peer_expiry_secs(), 3600);
    assert!(!t.ignore_reported_ip && t.verify_reported_ip && !t.allow_internal_ip);
    assert_eq!(
        t.internal_networks,
        nets("10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 fc00::/7 fe80::/10 ::1/128")
    );
    assert!(t.ignore_ip.is_empty() && t.allowed_networks.is_empty());
    assert_eq!((t.numwant, t.max_numwant), (50, 200));
    assert_eq!(t.run_gc_key, "gc");
    assert_eq!(
        (t.peer_cleanup_period, t.max_scrape_hashes, t.full_scrape),
        (600, 64, false)
    );
    assert_eq!(
        (t.announce_interval_jitter, t.tracker_id.as_str()),
        (180, "")
    );
    assert_eq!(
        (c.access.mode, c.access.file.as_ref()),
        (AccessMode::Off, None)
    );
    assert_eq!(c.cache.kind, "memory");
    assert_eq!(c.db.kind, DbKind::Sqlite);
    assert_eq!(c.db.path, PathBuf::from("data/retracker.sqlite"));
    assert_eq!((c.db.flush_interval_ms, c.db.pool_size), (1000, 4));
    assert_eq!(c.stats.access_username, "admin");
    assert_eq!(c.stats.access_password, "");
}

#[test]
fn python_retracker_config_loads_verbatim() {
    let path = crate_path("tests/fixtures/python-retracker-config.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = load_str(&text, "config.ini").unwrap();
    let c = &loaded.config;
    assert_eq!(c.flask.secret_key, "change-me");
    assert_eq!(
        c.logging.log_file,
        Some(PathBuf::from("logs/retracker.log"))
    );
    assert_eq!(c.logging.level, LogLevel::Info);
    assert_eq!(c.logging.format, LogFormat::Full);
    assert!(c.logging.console_output && !c.logging.clear_on_start);
    assert_eq!(
        (c.logging.max_bytes, c.logging.backup_count),
        (5_242_880, 5)
    );
    let t = &c.tracker;
    assert_eq!(t.host, ips(&["0.0.0.0"]));
    assert_eq!(t.port, 8080, "inline comment must not reach the value");
    assert_eq!(t.mode, Mode::Proxy);
    assert_eq!(t.trusted_proxies, nets("127.0.0.1/32, 10.0.0.1/32"));
    assert!(t.use_x_real_ip && t.use_x_forwarded_for);
    assert_eq!(t.announce_interval, 1800);
    assert_eq!(t.peer_expire_factor, 2.0);
    assert!(!t.ignore_reported_ip && t.verify_reported_ip && !t.allow_internal_ip);
    assert_eq!(t.numwant, 50);
    assert_eq!(t.run_gc_key, "gc");
    assert_eq!(t.peer_cleanup_period, 600);
    assert_eq!(t.ignore_ip, nets("192.168.1.1/32"));
    assert_eq!(c.cache.kind, "simple");
    assert_eq!(c.db.kind, DbKind::Sqlite);
    assert_eq!(c.stats.access_username, "admin");
    assert_eq!(c.stats.access_password, "s3cret-Pa55");
    // Keys the Python retracker did not have keep their defaults.
    let d = Config::default();
    assert_eq!(t.max_numwant, d.tracker.max_numwant);
    assert_eq!(t.internal_networks, d.tracker.internal_networks);
    assert_eq!(c.db.path, d.db.path);
    assert_eq!(
        loaded.warnings,
        [
            "config.ini: unknown key [TRACKER] debug (ignored)",
            "config.ini: unknown key [CACHE] default_timeout (ignored)",
        ]
    );
}

#[test]
fn invalid_values_name_file_section_key_value_and_form() {
    // (INI text, section, key, value as given, expected form)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "[TRACKER]\nport = 80a ; http",
            "TRACKER",
            "port",
            "80a",
            "an integer from 0 to 65535",
        ),
        (
            "[TRACKER]\nport = 65536",
            "TRACKER",
            "port",
            "65536",
            "an integer from 0 to 65535",
        ),
        (
            "[TRACKER]\nport =",
            "TRACKER",
            "port",
            "",
            "an integer from 0 to 65535",
        ),
        (
            "[TRACKER]\nudp_port = off",
            "TRACKER",
            "udp_port",
            "off",
            "an integer from 0 to 65535, or nothing",
        ),
        (
            "[LOGGING]\nmax_bytes = -1",
            "LOGGING",
            "max_bytes",
            "-1",
            "an integer of 0 or more",
        ),
        (
            "[DB]\npool_size = 0",
            "DB",
            "pool_size",
            "0",
            "an integer from 1 to 64",
        ),
        (
            "[LOGGING]\nconsole_output = maybe",
            "LOGGING",
            "console_output",
            "maybe",
            "true or false",
        ),
        (
            "[TRACKER]\nmode = reverse",
            "TRACKER",
            "mode",
            "reverse",
            "one of direct, proxy",
        ),
        (
            "[LOGGING]\nlevel = verbose",
            "LOGGING",
            "level",
            "verbose",
            "one of trace, debug, info, warning, warn, error, critical",
        ),
        (
            "[DB]\ntype = mysql",
            "DB",
            "type",
            "mysql",
            "one of sqlite, sqlite3, memory, none",
        ),
        (
            "[LOGGING]\nformat = pretty",
            "LOGGING",
            "format",
            "pretty",
            "full, compact, json, or a Python logging format string",
        ),
        (
            "[TRACKER]\ntrusted_proxies = 10.0.0.0/33",
            "TRACKER",
            "trusted_proxies",
            "10.0.0.0/33",
            "IP networks (CIDR) or addresses",
        ),
        (
            "[TRACKER]\nignore_ip = 999.1.1.1",
            "TRACKER",
            "ignore_ip",
            "999.1.1.1",
            "'999.1.1.1' is not an address",
        ),
        (
            "[TRACKER]\nhost = 999.1.1.1",
            "TRACKER",
            "host",
            "999.1.1.1",
            "one or more IP addresses",
        ),
        (
            "[WEB]\nhost = 10.0.0.1, web.local",
            "WEB",
            "host",
            "10.0.0.1, web.local",
            "or nothing ('web.local' is not an IP address)",
        ),
        (
            "[METRICS]\nport = 70000",
            "METRICS",
            "port",
            "70000",
            "an integer from 0 to 65535",
        ),
        (
            "[TRACKER]\nhost =",
            "TRACKER",
            "host",
            "",
            "one or more IP addresses",
        ),
        (
            "[TRACKER]\npeer_expire_factor = 0",
            "TRACKER",
            "peer_expire_factor",
            "0",
            "a number greater than 0 and at most 100",
        ),
        (
            "[TRACKER]\npeer_expire_factor = 1,5",
            "TRACKER",
            "peer_expire_factor",
            "1,5",
            "a number greater than 0",
        ),
        (
            "[TRACKER]\nrun_gc_key = g c",
            "TRACKER",
            "run_gc_key",
            "g c",
            "letters, digits, _, - and . only",
        ),
        (
            "[CACHE]\ntype = \"file system\"",
            "CACHE",
            "type",
            "file system",
            "one word of letters",
        ),
        (
            "[TRACKER]\nnumwant = 300",
            "TRACKER",
            "numwant",
            "300",
            "at most max_numwant (200, the default)",
        ),
        (
            "[TRACKER]\nannounce_interval = 60\nmin_interval = 120",
            "TRACKER",
            "min_interval",
            "120",
            "0 or at most announce_interval (60)",
        ),
    ];
    for (text, section, key, value, expected) in cases {
        let msg = error(text);
        let head = format!("config/config.ini: [{section}] {key} = \"{value}\": expected ");
        assert!(msg.starts_with(&head), "{msg:?} should start with {head:?}");
        assert!(
            msg.contains(expected),
            "{msg:?} should contain {expected:?}"
        );
    }
}

#[test]
fn error_messages_in_full() {
    assert_eq!(
        error("[TRACKER]\nport = 80a\n"),
        "config/config.ini: [TRACKER] port = \"80a\": expected an integer from 0 to 65535"
    );
    assert_eq!(
        error("[TRACKER]\nnumwant = 300\nmax_numwant = 200\n"),
        "config/config.ini: [TRACKER] numwant = \"300\": expected at most max_numwant (200)"
    );
    assert_eq!(
        error("[TRACKER]\ntrusted_proxies = 10.0.0.1, nginx\n"),
        "config/config.ini: [TRACKER] trusted_proxies = \"10.0.0.1, nginx\": expected IP networks \
         (CIDR) or addresses separated by commas or spaces, or nothing ('nginx' is not an address \
         or CIDR network)"
    );
    assert_eq!(
        error("[TRACKER]\nport = 1\n[DB\npath = x\n"),
        "config/config.ini:3: section header \"[DB\" has no closing ]"
    );
    assert_eq!(
        error("[TRACKER]\nport 8080\n"),
        "config/config.ini:2: expected key = value, [section] or a ; comment, found \"port 8080\""
    );
}

#[test]
fn missing_file_error_names_the_path() {
    let err = load_file(Path::new("config/x.ini")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config/x.ini: cannot read the configuration file: No such file or directory (os error 2)"
    );
}

#[test]
fn inline_comments_and_quotes() {
    let c = load(
        "[TRACKER]\n\
         port = 9000 ; http\n\
         run_gc_key = sweep   # secret-ish\n\
         trusted_proxies = 10.0.0.1 ; nginx\n\
         [FLASK]\n\
         secret_key = \"abc #1\" ; quoted\n\
         [STATS]\n\
         access_password = \"p;w #x\"\n\
         access_username = a;b#c\n\
         [LOGGING]\n\
         log_file = \"C:\\logs\\retracker.log\"\n\
         format = %(asctime)s ; Python format\n",
    )
    .unwrap()
    .config;
    assert_eq!(c.tracker.port, 9000);
    assert_eq!(c.tracker.run_gc_key, "sweep");
    assert_eq!(c.tracker.trusted_proxies, nets("10.0.0.1/32"));
    assert_eq!(c.flask.secret_key, "abc #1");
    assert_eq!(c.stats.access_password, "p;w #x");
    assert_eq!(
        c.stats.access_username, "a;b#c",
        "no white space before ; or #"
    );
    assert_eq!(
        c.logging.log_file,
        Some(PathBuf::from("C:\\logs\\retracker.log"))
    );
    assert_eq!(c.logging.format, LogFormat::Full);
}

#[test]
fn empty_values_take_their_empty_meaning() {
    let c = load(
        "[LOGGING]\nlog_file =\n[TRACKER]\ntrusted_proxies =\nrun_gc_key = ; off\n\
         [STATS]\naccess_password = \"\"\n",
    )
    .unwrap()
    .config;
    assert_eq!(c.logging.log_file, None);
    assert!(c.tracker.trusted_proxies.is_empty());
    assert_eq!(c.tracker.run_gc_key, "");
    assert_eq!(c.stats.access_password, "");
}

#[test]
fn udp_port_empty_zero_or_a_port() {
    let udp = |text: &str| load(text).unwrap().config.tracker.udp_port;
    assert_eq!(udp("[TRACKER]\nudp_port ="), UdpPort::SameAsHttp);
    assert_eq!(udp("[TRACKER]\nudp_port = 0"), UdpPort::Off);
    assert_eq!(udp("[TRACKER]\nudp_port = 6969"), UdpPort::Port(6969));
}

#[test]
fn sections_keys_and_values_in_any_case() {
    let loaded = load(
        "[tracker]\nPORT = 9000\nMode = PROXY\nFull_Scrape = On\n[Logging]\nlevel = critical\n\
         CONSOLE_OUTPUT = NO\n[db]\nTYPE = None\n",
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    assert_eq!((c.tracker.port, c.tracker.mode), (9000, Mode::Proxy));
    assert!(c.tracker.full_scrape);
    assert_eq!(c.logging.level, LogLevel::Error);
    assert!(!c.logging.console_output);
    assert_eq!(c.db.kind, DbKind::Memory);
}

#[test]
fn environment_overrides_the_file() {
    let env = |name: &str| {
        match name {
            "RETRACKER_TRACKER_PORT" => Some("9000"),
            "RETRACKER_DB_PATH" => Some("/tmp/x.sqlite"),
            "RETRACKER_STATS_ACCESS_PASSWORD" => Some("from env ; kept"),
            "RETRACKER_LOGGING_LOG_FILE" => Some(""),
            _ => None,
        }
        .map(str::to_owned)
    };
    let loaded = load_with_env(
        "[TRACKER]\nport = 8081\n[DB]\npath = data/file.sqlite\n",
        "config/config.ini",
        &env,
    )
    .unwrap();
    let c = loaded.config;
    assert_eq!(c.tracker.port, 9000);
    assert_eq!(c.db.path, PathBuf::from("/tmp/x.sqlite"));
    assert_eq!(c.stats.access_password, "from env ; kept", "taken as given");
    assert_eq!(
        c.logging.log_file, None,
        "an empty variable still overrides"
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn invalid_environment_override_names_the_variable() {
    let env = |name: &str| (name == "RETRACKER_TRACKER_PORT").then(|| "80a".to_owned());
    let err = load_with_env("[TRACKER]\nport = 8080\n", "config/config.ini", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable RETRACKER_TRACKER_PORT: [TRACKER] port = \"80a\": expected an \
         integer from 0 to 65535"
    );
    // A check across keys says where the other value came from.
    let env = |name: &str| (name == "RETRACKER_TRACKER_MAX_NUMWANT").then(|| "20".to_owned());
    let err = load_with_env("[TRACKER]\nnumwant = 50\n", "config/config.ini", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config/config.ini: [TRACKER] numwant = \"50\": expected at most max_numwant (20, from \
         environment variable RETRACKER_TRACKER_MAX_NUMWANT)"
    );
}

#[test]
fn unknown_environment_overrides_warn() {
    let warnings = env_warnings(["RETRACKER_TRACKER_PROT", "RETRACKER_CONFIG", "HOME"]);
    assert_eq!(
        warnings,
        ["environment variable RETRACKER_TRACKER_PROT: no such key [TRACKER] prot (ignored; did you mean RETRACKER_TRACKER_PORT?)"]
    );
}

#[test]
fn unknown_sections_and_keys_warn_and_are_ignored() {
    let loaded = load(
        "stray = 1\n[TRACKER]\nannnounce_interval = 60\nport = 9000\n[REDIS]\nurl = redis://x\n",
    )
    .unwrap();
    assert_eq!(loaded.config.tracker.announce_interval, 1800);
    assert_eq!(loaded.config.tracker.port, 9000);
    assert_eq!(
        loaded.warnings,
        [
            "config/config.ini: key stray outside any section (ignored)",
            "config/config.ini: unknown key [TRACKER] annnounce_interval (ignored; did you mean announce_interval?)",
            "config/config.ini: unknown section [REDIS] (ignored with its keys url)",
        ]
    );
}

#[test]
fn a_key_given_twice_warns_and_the_last_wins() {
    let loaded = load("[TRACKER]\nport = 1\nport = 2\n").unwrap();
    assert_eq!(loaded.config.tracker.port, 2);
    assert_eq!(
        loaded.warnings,
        ["config/config.ini: [TRACKER] port is set more than once; the last value, \"2\", is used"]
    );
}

/// A configuration where every key differs from its default.
const EVERYTHING_CHANGED: &str = r#"
[FLASK]
secret_key = "s3cret #1"
[LOGGING]
log_file = "logs/a #1.log"
level = debug
format = json
console_output = off
max_bytes = 0
backup_count = 0
clear_on_start = yes
[TRACKER]
host = 127.0.0.1, ::1
port = 0
udp_port = 6969
mode = proxy
trusted_proxies = 10.0.0.1
use_x_real_ip = false
use_x_forwarded_for = false
announce_interval = 900
min_interval = 300
peer_expire_factor = 1.5
ignore_reported_ip = true
verify_reported_ip = false
allow_internal_ip = true
internal_networks = 10.0.0.0/8
ignore_ip = 192.0.2.0/24
allowed_networks = 198.51.100.0/24, 2001:db8::/32
numwant = 30
max_numwant = 100
run_gc_key =
peer_cleanup_period = 60
max_scrape_hashes = 10
full_scrape = true
announce_interval_jitter = 30
tracker_id = lan-tracker-1
max_connections = 500
[ACCESS]
mode = allow
file = /etc/retracker/allow.txt
[CACHE]
type = redis
[DB]
type = memory
path =
flush_interval_ms = 50
pool_size = 2
[STATS]
access_username = ops
access_password = hunter2
session_hours = 2
login_attempts = 3
history_days = 7
snapshot_interval = 10
peer_networks = 10.1.0.0/24, 10.2.0.0/24
[WEB]
host = 127.0.0.1
port = 8081
[METRICS]
host = ::1
port = 9100
allowed_networks = 10.0.0.0/8
[TLS]
cert = /etc/letsencrypt/live/tracker.lan/fullchain.pem
key = "/etc/retracker/key #1.pem"
port = 8444
redirect_http = true
[NETWORKS]
north = 10.1.0.0/16, 2001:db8:1::/48
south = 10.2.0.0/16
[LOCALITY]
mode = strict
outside_share = 0.5
networks_file = /etc/retracker/networks.txt
asn_db = /var/lib/GeoIP/GeoLite2-ASN.mmdb
country_db = /var/lib/GeoIP/GeoLite2-Country.mmdb
[CLUSTER]
redis_url = redis://:r3dispw@10.0.0.9:6379/2
redis_password = v4lkeypw
node_id = spb-1.isp
sync_interval_ms = 100
view_max_age_ms = 3000
[CHECKS]
keep_days = 7
watch_file = /etc/retracker/watch.txt
deny_networks = 169.254.0.0/16
max_concurrent = 2
max_per_minute = 10
"#;

#[test]
fn render_masks_secrets_and_loads_back() {
    let first = load(EVERYTHING_CHANGED).unwrap();
    let original = first.config;
    let defaults = Config::default();
    for key in KEYS {
        assert_ne!(
            (key.show)(&original),
            (key.show)(&defaults),
            "[{}] {} is not exercised",
            key.section,
            key.name
        );
    }
    assert_ne!(original.locality.networks, defaults.locality.networks);
    let text = render(&original);
    assert!(
        !text.contains("s3cret")
            && !text.contains("hunter2")
            && !text.contains("r3dispw")
            && !text.contains("v4lkeypw"),
        "{text}"
    );
    assert!(
        text.contains("\n[NETWORKS]\nnorth = 10.1.0.0/16, 2001:db8:1::/48\nsouth = 10.2.0.0/16\n"),
        "{text}"
    );
    assert!(text.contains("\nsecret_key = ; (set)\n"), "{text}");
    assert!(text.contains("\naccess_password = ; (set)\n"), "{text}");
    assert!(text.contains("\nlog_file = \"logs/a #1.log\"\n"), "{text}");

    let reloaded = load(&text).unwrap();
    let mut expected = original.clone();
    expected.flask.secret_key.clear();
    expected.stats.access_password.clear();
    expected.cluster.redis_urls.clear();
    expected.cluster.redis_password.clear();
    assert_eq!(reloaded.config, expected);
    // The same notices (cache type, proxy headers off), nothing about the rendered text itself.
    assert_eq!(reloaded.warnings, first.warnings);
}

#[test]
fn a_bad_redis_url_is_refused_without_showing_it() {
    let err = load("[CLUSTER]\nredis_url = redis://a:1, http://:s3cret@b:2\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("[CLUSTER] redis_url"), "{err}");
    assert!(err.contains("URL number 2 is not one"), "{err}");
    assert!(err.contains("rediss://"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let err = load("[CLUSTER]\nsync_interval_ms = 0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("an integer from 10 to 60000"), "{err}");
}

#[test]
fn render_of_the_defaults_loads_back_exactly() {
    let text = render(&Config::default());
    assert!(text.contains("\nsecret_key = ; (empty)\n"), "{text}");
    assert!(text.contains("\naccess_password = ; (empty)\n"), "{text}");
    assert!(
        text.contains("\n[TRACKER]\n") && text.contains("\nport = 8080\n"),
        "{text}"
    );
    let loaded = load(&text).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

/// README's key table, one row per registry key, and one for the names of `[NETWORKS]`.
fn readme_table() -> String {
    use retracker::config::keys::{NETWORKS, SECTIONS};
    let mut t = String::from(
        "| section | key | default | meaning | accepted values |\n|---|---|---|---|---|\n",
    );
    let cell = |s: &str| s.replace('|', "\\|");
    let in_order = SECTIONS.iter().flat_map(|s| {
        KEYS.iter()
            .filter(move |k| k.section == s.name)
            .map(move |k| (s, Some(k)))
            .chain((s.name == NETWORKS.name).then_some((s, None)))
    });
    for (section, key) in in_order {
        let Some(k) = key else {
            t.push_str(&format!(
                "| `[{}]` | a name of your choice | (none) | {} | {} |\n",
                section.name,
                cell(NETWORKS.doc),
                cell(NETWORKS.expected)
            ));
            continue;
        };
        let default = if k.default.is_empty() {
            "(empty)".to_owned()
        } else {
            format!("`{}`", k.default)
        };
        t.push_str(&format!(
            "| `[{}]` | `{}` | {} | {} | {} |\n",
            k.section,
            k.name,
            cell(&default),
            cell(k.doc),
            cell(&k.form.expected())
        ));
    }
    t
}

#[test]
fn readme_lists_every_key_with_its_default() {
    let path = crate_path("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let open = readme
        .find("<!-- config-table")
        .expect("README has the config-table marker");
    let body = readme[open..].find("-->\n").unwrap() + open + 4;
    let close = readme
        .find("<!-- /config-table -->")
        .expect("closing marker");
    let table = readme_table();
    if std::env::var("RETRACKER_BLESS").as_deref() == Ok("1") {
        let updated = format!("{}{}{}", &readme[..body], table, &readme[close..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        readme[body..close] == table,
        "README's key table differs from the registry; run RETRACKER_BLESS=1 cargo test --test config"
    );
}
