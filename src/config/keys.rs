//! The registry: every configuration key, once, with its section, default (as INI text), doc line,
//! value form and how to show it back from a [`Config`].
//!
//! Everything else reads this table: the loader takes defaults and the "expected ..." wording from
//! it, `config/config.ini` is generated from it, and [`render`](super::render::render) prints the
//! effective settings through each key's [`Key::show`]. A default is written nowhere else.
//!
//! `[NETWORKS]` is the one section without registry keys: its keys are the names the operator
//! gives its networks, described once in [`NETWORKS`].

use super::{AccessMode, Config, DbKind, LogFormat, LogLevel, Mode, UdpPort};

/// What a value must look like: decides validation and the wording of "expected ...".
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Form {
    /// Any text; empty keeps the meaning the key's doc line gives it.
    Text,
    /// A file path; whether empty is allowed is up to the key (doc line).
    Path,
    /// What Python's configparser accepts: `1/yes/true/on`, `0/no/false/off`, any case.
    Bool,
    /// A whole number from `min` to `max`.
    Int {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value; `u64::MAX` means "no upper limit".
        max: u64,
    },
    /// A number greater than 0 and at most `max`, fractions allowed.
    Positive {
        /// Largest accepted value.
        max: f64,
    },
    /// A number from 0 to 1, fractions allowed: a share.
    Fraction,
    /// One of these words, any case; synonyms are listed next to each other.
    Choice(&'static [&'static str]),
    /// `full`, `compact`, `json`, or a Python logging format string (contains `%(`).
    LogFormat,
    /// One or more IP addresses separated by commas or spaces; `localhost` is 127.0.0.1.
    Hosts,
    /// As [`Form::Hosts`], or nothing (the key's doc line says what empty means).
    OptHosts,
    /// A port from 0 to 65535, or nothing (the key's doc line says what 0 and empty mean).
    OptPort,
    /// CIDR networks or addresses separated by commas or spaces; may be empty.
    Networks,
    /// Letters, digits, `_`, `-` and `.` only, because it is matched as a URL query key; may be empty.
    Token,
    /// One word of letters, digits, `_` and `-`, compared in lower case.
    Word,
    /// `redis://` or `rediss://` URLs separated by commas or spaces; may be empty.
    RedisUrls,
}

impl Form {
    /// The "expected ..." wording shared by error messages and `config/config.ini`.
    pub fn expected(&self) -> String {
        match self {
            Form::Text => "any text".into(),
            Form::Path => "a file path".into(),
            Form::Bool => "true or false (also yes/no, on/off, 1/0, any case)".into(),
            Form::Int { min, max: u64::MAX } => format!("an integer of {min} or more"),
            Form::Int { min, max } => format!("an integer from {min} to {max}"),
            Form::Positive { max } => {
                format!("a number greater than 0 and at most {max} (fractions allowed)")
            }
            Form::Fraction => "a number from 0 to 1 (fractions allowed)".into(),
            Form::Choice(words) => format!("one of {} (any case)", words.join(", ")),
            Form::LogFormat => {
                "full, compact, json, or a Python logging format string (any text with %( in it)"
                    .into()
            }
            Form::Hosts => {
                "one or more IP addresses separated by commas or spaces (localhost = 127.0.0.1)"
                    .into()
            }
            Form::OptHosts => {
                "IP addresses separated by commas or spaces (localhost = 127.0.0.1), or nothing"
                    .into()
            }
            Form::OptPort => "an integer from 0 to 65535, or nothing".into(),
            Form::Networks => {
                "IP networks (CIDR) or addresses separated by commas or spaces, or nothing".into()
            }
            Form::Token => "letters, digits, _, - and . only, or nothing".into(),
            Form::Word => "one word of letters, digits, _ and -".into(),
            Form::RedisUrls => {
                "redis://host:port/db or rediss://host:port/db (several, separated by commas or spaces, for a Redis Cluster), sentinel://host:port/primary-name (one per Sentinel), or nothing"
                    .into()
            }
        }
    }
}

/// One `[SECTION]` of the file.
#[derive(Debug)]
pub struct Section {
    /// Name as written in the example file (matched in any case).
    pub name: &'static str,
    /// One line for the example file's section header comment.
    pub doc: &'static str,
}

/// The sections, in file order.
pub static SECTIONS: &[Section] = &[
    Section {
        name: "FLASK",
        doc: "Web UI sessions (the section name comes from the Python retracker, a Flask app).",
    },
    Section {
        name: "LOGGING",
        doc: "Where and how much to log.",
    },
    Section {
        name: "TRACKER",
        doc: "The HTTP and UDP listeners, how client addresses are found, and what announces get back.",
    },
    Section {
        name: "ACCESS",
        doc: "Which torrents may use the tracker: every one, only those listed, or all but those listed.",
    },
    Section {
        name: "CACHE",
        doc: "Kept for Python retracker configs: swarms always live in memory here.",
    },
    Section {
        name: "DB",
        doc: "Persistence of swarms across restarts.",
    },
    Section {
        name: "STATS",
        doc: "The web UI: account, sessions, history and dashboard grouping.",
    },
    Section {
        name: "WEB",
        doc: "Where the web UI is served (by default on the tracker's own port).",
    },
    Section {
        name: "METRICS",
        doc: "Prometheus /metrics: where it is served and who may read it without logging in.",
    },
    Section {
        name: "TLS",
        doc: "HTTPS: tracker, web UI and metrics as on the HTTP port; the files are re-read on every reload (SIGHUP).",
    },
    Section {
        name: "NETWORKS",
        doc: "The operator's networks, for [LOCALITY]: each key is a name of your choice, its value that network's CIDRs.",
    },
    Section {
        name: "LOCALITY",
        doc: "Peers of the requester's own network first: how networks are told apart and how peers are chosen by them.",
    },
    Section {
        name: "CLUSTER",
        doc: "Several nodes sharing their swarms through Redis or Valkey; each node answers from memory and pushes its changes in the background.",
    },
    Section {
        name: "CHECKS",
        doc: "Tracker checks made by the server: trackers it watches on a schedule, the answers it records, and which addresses it never contacts.",
    },
];

/// `[NETWORKS]`: the one section whose keys are not in [`KEYS`] but names the operator gives
/// its networks. Its entries are read into [`LocalityConfig::networks`](super::LocalityConfig),
/// shown by `render`, applied by a reload, and never set from the environment (a variable name
/// cannot keep a name's case or its `.` and `-`).
pub struct NamedSection {
    /// Section name, as in [`SECTIONS`].
    pub name: &'static str,
    /// One line for operators about each entry.
    pub doc: &'static str,
    /// What each value must look like.
    pub expected: &'static str,
    /// Entries the example file shows, commented out.
    pub examples: &'static [&'static str],
}

/// See [`NamedSection`].
pub static NETWORKS: NamedSection = NamedSection {
    name: "NETWORKS",
    doc: "name = the CIDRs of one of the operator's networks (a city, a point of presence, an office), IPv4 and IPv6; a name is letters, digits, _, - and . and a CIDR has one name; empty section = none.",
    expected: "IP networks (CIDR) or addresses separated by commas or spaces",
    examples: &["north = 10.1.0.0/16, 2001:db8:1::/48", "south = 10.2.0.0/16"],
};

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// Section name, as in [`SECTIONS`].
    pub section: &'static str,
    /// Key name as written in the example file (matched in any case).
    pub name: &'static str,
    /// Default value, as INI text.
    pub default: &'static str,
    /// One line for operators, including what an empty value means where empty is allowed.
    pub doc: &'static str,
    /// What the value must look like.
    pub form: Form,
    /// Never printed: masked by `render` and in messages.
    pub secret: bool,
    /// The effective value of this key in a [`Config`], as INI text that loads back to it.
    pub show: fn(&Config) -> String,
}

impl Key {
    /// The environment variable that overrides this key: `RETRACKER_<SECTION>_<KEY>`.
    pub fn env_var(&self) -> String {
        format!("RETRACKER_{}_{}", self.section, self.name).to_ascii_uppercase()
    }

    /// True when this is the key `[section] name`, compared in any case.
    pub fn is(&self, section: &str, name: &str) -> bool {
        self.section.eq_ignore_ascii_case(section) && self.name.eq_ignore_ascii_case(name)
    }
}

/// Builds a non-secret [`Key`]; keeps the table below one line per field.
const fn key(
    section: &'static str,
    name: &'static str,
    default: &'static str,
    form: Form,
    doc: &'static str,
    show: fn(&Config) -> String,
) -> Key {
    Key {
        section,
        name,
        default,
        doc,
        form,
        secret: false,
        show,
    }
}

/// Marks a key as secret.
const fn secret(key: Key) -> Key {
    Key {
        secret: true,
        ..key
    }
}

/// Shows a boolean the way the defaults are written.
fn yes_no(b: bool) -> String {
    if b { "true" } else { "false" }.into()
}

/// Every key, grouped by section in [`SECTIONS`] order.
#[rustfmt::skip] // One key per block reads better than rustfmt's one argument per line.
pub static KEYS: &[Key] = &[
    secret(key(
        "FLASK", "secret_key", "", Form::Text,
        "Secret that signs web UI sessions; empty = generate one and keep it in the database.",
        |c| c.flask.secret_key.clone(),
    )),
    key(
        "LOGGING", "log_file", "logs/retracker.log", Form::Path,
        "Log file, rotated by size; empty = no log file.",
        |c| c.logging.log_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    ),
    key(
        "LOGGING", "level", "INFO",
        Form::Choice(&["trace", "debug", "info", "warning", "warn", "error", "critical"]),
        "Most verbose level written; critical is the same as error.",
        |c| match c.logging.level {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARNING",
            LogLevel::Error => "ERROR",
        }
        .into(),
    ),
    key(
        "LOGGING", "format", "full", Form::LogFormat,
        "Line layout; a Python format string such as %(asctime)s - %(message)s means full.",
        |c| match c.logging.format {
            LogFormat::Full => "full",
            LogFormat::Compact => "compact",
            LogFormat::Json => "json",
        }
        .into(),
    ),
    key(
        "LOGGING", "console_output", "true", Form::Bool,
        "Also log to standard error.",
        |c| yes_no(c.logging.console_output),
    ),
    key(
        "LOGGING", "max_bytes", "5242880", Form::Int { min: 0, max: u64::MAX },
        "Rotate the log file when it would grow past this many bytes; 0 = never rotate.",
        |c| c.logging.max_bytes.to_string(),
    ),
    key(
        "LOGGING", "backup_count", "5", Form::Int { min: 0, max: 1000 },
        "Rotated files kept (log_file.1 .. log_file.N); 0 = never rotate.",
        |c| c.logging.backup_count.to_string(),
    ),
    key(
        "LOGGING", "clear_on_start", "false", Form::Bool,
        "Empty the log file at start.",
        |c| yes_no(c.logging.clear_on_start),
    ),
    key(
        "TRACKER", "host", "0.0.0.0", Form::Hosts,
        "Addresses to listen on, one listener each (0.0.0.0 = every IPv4 address, :: = every IPv6 one).",
        |c| c.tracker.host.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    ),
    key(
        "TRACKER", "port", "8080", Form::Int { min: 0, max: 65535 },
        "HTTP port; 0 = pick a free port.",
        |c| c.tracker.port.to_string(),
    ),
    key(
        "TRACKER", "udp_port", "", Form::OptPort,
        "UDP tracker (BEP 15) port on every host; empty = the port HTTP listens on, 0 = no UDP tracker.",
        |c| match c.tracker.udp_port {
            UdpPort::SameAsHttp => String::new(),
            UdpPort::Off => "0".into(),
            UdpPort::Port(n) => n.to_string(),
        },
    ),
    key(
        "TRACKER", "mode", "direct", Form::Choice(&["direct", "proxy"]),
        "direct: the client is the socket's peer; proxy: behind nginx, the client comes from its headers.",
        |c| match c.tracker.mode {
            Mode::Direct => "direct",
            Mode::Proxy => "proxy",
        }
        .into(),
    ),
    key(
        "TRACKER", "trusted_proxies", "127.0.0.1/32, ::1/128", Form::Networks,
        "Proxies whose X-Real-IP / X-Forwarded-For headers are believed in proxy mode; empty = none.",
        |c| c.tracker.trusted_proxies.to_string(),
    ),
    key(
        "TRACKER", "use_x_real_ip", "true", Form::Bool,
        "In proxy mode, take the client address from X-Real-IP first.",
        |c| yes_no(c.tracker.use_x_real_ip),
    ),
    key(
        "TRACKER", "use_x_forwarded_for", "true", Form::Bool,
        "In proxy mode, take the right-most X-Forwarded-For entry that is not a trusted proxy.",
        |c| yes_no(c.tracker.use_x_forwarded_for),
    ),
    key(
        "TRACKER", "announce_interval", "1800", Form::Int { min: 1, max: 604_800 },
        "Seconds between announces asked of clients (interval).",
        |c| c.tracker.announce_interval.to_string(),
    ),
    key(
        "TRACKER", "min_interval", "0", Form::Int { min: 0, max: 604_800 },
        "Seconds a client must wait between announces (min interval); 0 = half of announce_interval.",
        |c| c.tracker.min_interval.to_string(),
    ),
    key(
        "TRACKER", "peer_expire_factor", "2", Form::Positive { max: 100.0 },
        "A peer silent for announce_interval times this factor is dropped.",
        |c| c.tracker.peer_expire_factor.to_string(),
    ),
    key(
        "TRACKER", "ignore_reported_ip", "false", Form::Bool,
        "Never use the ip= address a client reports.",
        |c| yes_no(c.tracker.ignore_reported_ip),
    ),
    key(
        "TRACKER", "verify_reported_ip", "true", Form::Bool,
        "Use ip= only when it also appears in the X-Forwarded-For chain of a trusted proxy.",
        |c| yes_no(c.tracker.verify_reported_ip),
    ),
    key(
        "TRACKER", "allow_internal_ip", "false", Form::Bool,
        "Accept an ip= inside internal_networks.",
        |c| yes_no(c.tracker.allow_internal_ip),
    ),
    key(
        "TRACKER", "internal_networks",
        "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, fc00::/7, fe80::/10, ::1/128",
        Form::Networks,
        "Networks counted as internal for allow_internal_ip; empty = none.",
        |c| c.tracker.internal_networks.to_string(),
    ),
    key(
        "TRACKER", "ignore_ip", "", Form::Networks,
        "Clients refused outright, also as a reported ip=; empty = none.",
        |c| c.tracker.ignore_ip.to_string(),
    ),
    key(
        "TRACKER", "allowed_networks", "", Form::Networks,
        "Only these networks may announce; empty = everyone.",
        |c| c.tracker.allowed_networks.to_string(),
    ),
    key(
        "TRACKER", "numwant", "50", Form::Int { min: 1, max: 5000 },
        "Peers returned when the client asks for no number; at most max_numwant.",
        |c| c.tracker.numwant.to_string(),
    ),
    key(
        "TRACKER", "max_numwant", "200", Form::Int { min: 1, max: 5000 },
        "Most peers returned in one answer, whatever the client asks.",
        |c| c.tracker.max_numwant.to_string(),
    ),
    key(
        "TRACKER", "run_gc_key", "gc", Form::Token,
        "Query key that triggers a peer cleanup (from loopback or a trusted proxy only); empty = disabled.",
        |c| c.tracker.run_gc_key.clone(),
    ),
    key(
        "TRACKER", "peer_cleanup_period", "600", Form::Int { min: 1, max: 86_400 },
        "Seconds between cleanups of expired peers.",
        |c| c.tracker.peer_cleanup_period.to_string(),
    ),
    key(
        "TRACKER", "max_scrape_hashes", "64", Form::Int { min: 1, max: 100 },
        "Most info hashes answered in one scrape.",
        |c| c.tracker.max_scrape_hashes.to_string(),
    ),
    key(
        "TRACKER", "full_scrape", "false", Form::Bool,
        "Answer a scrape without info_hash with every torrent.",
        |c| yes_no(c.tracker.full_scrape),
    ),
    key(
        "TRACKER", "announce_interval_jitter", "180", Form::Int { min: 0, max: 604_800 },
        "Up to this many seconds added at random to each interval sent, so clients spread out; 0 = off.",
        |c| c.tracker.announce_interval_jitter.to_string(),
    ),
    key(
        "TRACKER", "max_connections", "16384", Form::Int { min: 1, max: 1_000_000 },
        "Most HTTP(S) connections open at once; when full, the longest-idle one is closed for a new client.",
        |c| c.tracker.max_connections.to_string(),
    ),
    key(
        "TRACKER", "tracker_id", "", Form::Text,
        "Sent as tracker id in every announce response (BEP 3); empty = not sent.",
        |c| c.tracker.tracker_id.clone(),
    ),
    key(
        "ACCESS", "mode", "off", Form::Choice(&["off", "allow", "deny"]),
        "off: every torrent; allow: only the info hashes in file; deny: every torrent but those in file.",
        |c| match c.access.mode {
            AccessMode::Off => "off",
            AccessMode::Allow => "allow",
            AccessMode::Deny => "deny",
        }
        .into(),
    ),
    key(
        "ACCESS", "file", "", Form::Path,
        "Info hashes for mode, one 40-digit hex hash a line, # comments; re-read on SIGHUP; needed unless mode is off.",
        |c| c.access.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    ),
    key(
        "CACHE", "type", "memory", Form::Word,
        "Python retracker cache backend (simple, redis, ...): accepted, but has no effect.",
        |c| c.cache.kind.clone(),
    ),
    key(
        "DB", "type", "sqlite", Form::Choice(&["sqlite", "sqlite3", "memory", "none"]),
        "sqlite: keep swarms in the file at path across restarts; memory (or none): no persistence.",
        |c| match c.db.kind {
            DbKind::Sqlite => "sqlite",
            DbKind::Memory => "memory",
        }
        .into(),
    ),
    key(
        "DB", "path", "data/retracker.sqlite", Form::Path,
        "SQLite file, its folder is created; may be empty only with type = memory.",
        |c| c.db.path.display().to_string(),
    ),
    key(
        "DB", "flush_interval_ms", "1000", Form::Int { min: 10, max: 60_000 },
        "Most milliseconds between two writes of changed swarms to the database.",
        |c| c.db.flush_interval_ms.to_string(),
    ),
    key(
        "DB", "pool_size", "4", Form::Int { min: 1, max: 64 },
        "SQLite connections kept open.",
        |c| c.db.pool_size.to_string(),
    ),
    key(
        "STATS", "access_username", "admin", Form::Text,
        "User name for the stats page; needed when access_password is set.",
        |c| c.stats.access_username.clone(),
    ),
    secret(key(
        "STATS", "access_password", "", Form::Text,
        "Web UI password, plain or an argon2 PHC hash (retracker hash-password); empty = web UI disabled.",
        |c| c.stats.access_password.clone(),
    )),
    key(
        "STATS", "session_hours", "12", Form::Int { min: 1, max: 8760 },
        "Hours a web UI login lasts.",
        |c| c.stats.session_hours.to_string(),
    ),
    key(
        "STATS", "login_attempts", "5", Form::Int { min: 1, max: 1000 },
        "Failed logins allowed per client address in 15 minutes; further attempts are refused.",
        |c| c.stats.login_attempts.to_string(),
    ),
    key(
        "STATS", "history_days", "30", Form::Int { min: 1, max: 3650 },
        "Days of history snapshots kept for the charts.",
        |c| c.stats.history_days.to_string(),
    ),
    key(
        "STATS", "snapshot_interval", "60", Form::Int { min: 1, max: 3600 },
        "Seconds between two history snapshots.",
        |c| c.stats.snapshot_interval.to_string(),
    ),
    key(
        "STATS", "peer_networks", "", Form::Networks,
        "Networks the dashboard groups peers by; empty = allowed_networks, or else /24 and /48 blocks.",
        |c| c.stats.peer_networks.to_string(),
    ),
    key(
        "WEB", "host", "", Form::OptHosts,
        "Addresses of a separate web UI listener; empty = the tracker's host.",
        |c| hosts_text(&c.web.host),
    ),
    key(
        "WEB", "port", "0", Form::Int { min: 0, max: 65535 },
        "Port of a separate web UI listener; 0 = serve the web UI on the tracker's port.",
        |c| c.web.port.to_string(),
    ),
    key(
        "METRICS", "host", "", Form::OptHosts,
        "Addresses of a separate /metrics listener; empty = the tracker's host.",
        |c| hosts_text(&c.metrics.host),
    ),
    key(
        "METRICS", "port", "0", Form::Int { min: 0, max: 65535 },
        "Port of a separate /metrics listener; 0 = serve /metrics beside the web UI.",
        |c| c.metrics.port.to_string(),
    ),
    key(
        "METRICS", "allowed_networks", "127.0.0.0/8, ::1/128", Form::Networks,
        "Networks that may read /metrics without logging in (a logged-in user always may).",
        |c| c.metrics.allowed_networks.to_string(),
    ),
    key(
        "TLS", "cert", "", Form::Path,
        "PEM certificate chain, server certificate first (certbot: fullchain.pem); empty = no HTTPS.",
        |c| path_text(&c.tls.cert),
    ),
    key(
        "TLS", "key", "", Form::Path,
        "PEM private key of cert (certbot: privkey.pem); needed when cert is set.",
        |c| path_text(&c.tls.key),
    ),
    key(
        "TLS", "port", "8443", Form::Int { min: 0, max: 65535 },
        "HTTPS port, on the addresses of [TRACKER] host; 0 = pick a free port.",
        |c| c.tls.port.to_string(),
    ),
    key(
        "TLS", "redirect_http", "false", Form::Bool,
        "Redirect web UI pages asked over plain HTTP to HTTPS; tracker requests are never redirected.",
        |c| yes_no(c.tls.redirect_http),
    ),
    key(
        "LOCALITY", "mode", "prefer", Form::Choice(&["off", "prefer", "strict"]),
        "off: peers at random from the whole swarm; prefer: the requester's network first, then the operator's other networks, then the rest; strict: never across the edge of the operator's networks.",
        |c| c.locality.mode.word().into(),
    ),
    key(
        "LOCALITY", "outside_share", "0.2", Form::Fraction,
        "With prefer, the part of each answer drawn from the whole swarm whatever the network, so swarms stay connected.",
        |c| c.locality.outside_share.to_string(),
    ),
    key(
        "LOCALITY", "networks_file", "", Form::Path,
        "More networks, one \"CIDR name\" a line (# comments), e.g. exported from BGP or an IPAM; a name may also be in [NETWORKS]; empty = none.",
        |c| path_text(&c.locality.networks_file),
    ),
    key(
        "LOCALITY", "asn_db", "", Form::Path,
        "MaxMind GeoLite2-ASN or GeoIP2-ISP (or DB-IP ASN Lite) .mmdb file: outside [NETWORKS], a peer's network is its AS; empty = its /24 or /48 block.",
        |c| path_text(&c.locality.asn_db),
    ),
    key(
        "LOCALITY", "country_db", "", Form::Path,
        "MaxMind GeoLite2-Country or -City (or DB-IP Country Lite) .mmdb file, for the country retracker locate and the web UI show; empty = none.",
        |c| path_text(&c.locality.country_db),
    ),
    // The URL may carry the password (redis://:secret@host): never printed.
    secret(key(
        "CLUSTER", "redis_url", "", Form::RedisUrls,
        "Redis (>= 7.0) or Valkey shared by the nodes: redis://[:password@]host:port/db, rediss:// for TLS, several URLs of one Redis Cluster separated by commas, or the Sentinels of a primary as sentinel://host:26379/primary-name; empty = a single node, no cluster.",
        |c| c.cluster.redis_urls.join(","),
    )),
    secret(key(
        "CLUSTER", "redis_password", "", Form::Text,
        "Password for Redis when the URL has none (AUTH; ACL user name in the URL); empty = the URL's, or none.",
        |c| c.cluster.redis_password.clone(),
    )),
    key(
        "CLUSTER", "node_id", "", Form::Token,
        "This node's name in the cluster, different on every node (its completions and peers are counted under it); empty = the host name.",
        |c| c.cluster.node_id.clone(),
    ),
    key(
        "CLUSTER", "sync_interval_ms", "250", Form::Int { min: 10, max: 60000 },
        "How often a node pushes its peer changes and completions to Redis, in milliseconds (one pipelined batch each time).",
        |c| c.cluster.sync_interval_ms.to_string(),
    ),
    key(
        "CLUSTER", "view_max_age_ms", "1000", Form::Int { min: 100, max: 60000 },
        "How old a node's copy of the other nodes' peers of a swarm may get before an announce or scrape of that swarm has it read again (in the background), in milliseconds.",
        |c| c.cluster.view_max_age_ms.to_string(),
    ),
    key(
        "CHECKS", "keep_days", "30", Form::Int { min: 1, max: 3650 },
        "Days recorded tracker checks are kept; older ones are deleted by a periodic cleanup.",
        |c| c.checks.keep_days.to_string(),
    ),
    key(
        "CHECKS", "watch_file", "", Form::Path,
        "Trackers to watch, one \"URL INFO_HASH_HEX SECONDS\" a line (# comments), each polled every SECONDS and recorded; re-read on SIGHUP; empty = none.",
        |c| path_text(&c.checks.watch_file),
    ),
    key(
        "CHECKS", "deny_networks",
        "0.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4, fe80::/10, ff00::/8",
        Form::Networks,
        "Addresses never contacted by a check (a name resolving into them is refused): link-local with the cloud metadata address 169.254.169.254, carrier-grade NAT, multicast, reserved; loopback and private ranges stay allowed for the operator's own and LAN trackers; empty = none.",
        |c| c.checks.deny_networks.to_string(),
    ),
    key(
        "CHECKS", "max_concurrent", "4", Form::Int { min: 1, max: 256 },
        "Most checks in flight at once (watches and checks asked for together); one more is refused, not queued.",
        |c| c.checks.max_concurrent.to_string(),
    ),
    key(
        "CHECKS", "max_per_minute", "60", Form::Int { min: 1, max: 100_000 },
        "Most checks started in any 60 seconds (watches included); one more is refused.",
        |c| c.checks.max_per_minute.to_string(),
    ),
];

/// Shows an optional path the way the defaults are written (empty for none).
fn path_text(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The keys a running tracker applies on SIGHUP, as `(section, key)`; a change to any other key
/// (listeners, database, log outputs, web UI account and sessions) waits for a restart.
pub static RELOADABLE: &[(&str, &str)] = &[
    ("LOGGING", "level"),
    ("TRACKER", "mode"),
    ("TRACKER", "trusted_proxies"),
    ("TRACKER", "use_x_real_ip"),
    ("TRACKER", "use_x_forwarded_for"),
    ("TRACKER", "announce_interval"),
    ("TRACKER", "min_interval"),
    ("TRACKER", "peer_expire_factor"),
    ("TRACKER", "ignore_reported_ip"),
    ("TRACKER", "verify_reported_ip"),
    ("TRACKER", "allow_internal_ip"),
    ("TRACKER", "internal_networks"),
    ("TRACKER", "ignore_ip"),
    ("TRACKER", "allowed_networks"),
    ("TRACKER", "numwant"),
    ("TRACKER", "max_numwant"),
    ("TRACKER", "run_gc_key"),
    ("TRACKER", "peer_cleanup_period"),
    ("TRACKER", "max_scrape_hashes"),
    ("TRACKER", "full_scrape"),
    ("TRACKER", "announce_interval_jitter"),
    ("TRACKER", "tracker_id"),
    ("ACCESS", "mode"),
    ("ACCESS", "file"),
    // Re-read on every reload (certbot renews in place); turning HTTPS on or off needs a restart.
    ("TLS", "cert"),
    ("TLS", "key"),
    // Has no effect at all, so there is nothing to restart for.
    ("CACHE", "type"),
    // The network map is rebuilt whole (files re-read); so are the [NETWORKS] entries, which
    // are not registry keys (see `render::reload_changes`).
    ("LOCALITY", "mode"),
    ("LOCALITY", "outside_share"),
    ("LOCALITY", "networks_file"),
    ("LOCALITY", "asn_db"),
    ("LOCALITY", "country_db"),
    // Re-read (the file) and swapped whole; a bad file keeps the running watches.
    ("CHECKS", "watch_file"),
    ("CHECKS", "deny_networks"),
];

/// The values the Debian package's `/etc/retracker/config.ini` gives instead of the defaults
/// (see [`packaged_ini`](super::render::packaged_ini)): the database and the log file where the
/// unit's `StateDirectory=` and `LogsDirectory=` put them. The console output the defaults
/// already turn on goes to the journal.
pub static PACKAGED: &[(&str, &str, &str)] = &[
    ("LOGGING", "log_file", "/var/log/retracker/retracker.log"),
    ("DB", "path", "/var/lib/retracker/retracker.sqlite"),
];

impl Key {
    /// The value of this key in the Debian package's configuration file.
    pub fn packaged_value(&self) -> &'static str {
        PACKAGED
            .iter()
            .find(|(s, n, _)| self.is(s, n))
            .map_or(self.default, |(_, _, v)| v)
    }

    /// True when a reload (SIGHUP) applies a change of this key, see [`RELOADABLE`].
    pub fn reloadable(&self) -> bool {
        RELOADABLE.iter().any(|(s, n)| self.is(s, n))
    }
}

/// Shows a host list the way the defaults are written.
fn hosts_text(hosts: &[std::net::IpAddr]) -> String {
    hosts
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The key `[section] name`, compared in any case.
pub fn find(section: &str, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.is(section, name))
}

/// The section called `name`, compared in any case.
pub fn find_section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_and_grouped_in_section_order() {
        let mut seen = HashSet::new();
        for k in KEYS {
            assert!(
                seen.insert((k.section, k.name)),
                "[{}] {} twice",
                k.section,
                k.name
            );
            assert!(
                find_section(k.section).is_some(),
                "[{}] is not in SECTIONS",
                k.section
            );
            assert_eq!(
                k.name,
                k.name.to_ascii_lowercase(),
                "key names are lower case"
            );
        }
        let order: Vec<usize> = KEYS
            .iter()
            .map(|k| SECTIONS.iter().position(|s| s.name == k.section).unwrap())
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] <= w[1]),
            "keys not grouped by section"
        );
        for s in SECTIONS {
            assert_eq!(
                KEYS.iter().any(|k| k.section == s.name),
                s.name != NETWORKS.name,
                "[{}]: every section has registry keys, but [NETWORKS] has the operator's names",
                s.name
            );
        }
    }

    #[test]
    fn reloadable_keys_are_registry_keys() {
        for (section, name) in RELOADABLE {
            assert!(find(section, name).is_some(), "[{section}] {name}");
        }
        assert!(find("TRACKER", "numwant").unwrap().reloadable());
        assert!(find("LOCALITY", "networks_file").unwrap().reloadable());
        for (section, name) in [("TRACKER", "port"), ("TRACKER", "host"), ("DB", "path")] {
            assert!(
                !find(section, name).unwrap().reloadable(),
                "[{section}] {name}"
            );
        }
    }

    #[test]
    fn doc_lines_are_single_lines() {
        for k in KEYS {
            assert!(
                !k.doc.is_empty() && !k.doc.contains('\n'),
                "[{}] {}",
                k.section,
                k.name
            );
        }
        for s in SECTIONS {
            assert!(!s.doc.is_empty() && !s.doc.contains('\n'), "[{}]", s.name);
        }
        assert!(!NETWORKS.doc.contains('\n') && !NETWORKS.expected.contains('\n'));
    }

    #[test]
    fn env_var_names_are_upper_case_and_unique() {
        let vars: HashSet<String> = KEYS.iter().map(Key::env_var).collect();
        assert_eq!(vars.len(), KEYS.len());
        assert_eq!(
            find("tracker", "PORT").unwrap().env_var(),
            "RETRACKER_TRACKER_PORT"
        );
        assert_eq!(
            find("STATS", "access_password").unwrap().env_var(),
            "RETRACKER_STATS_ACCESS_PASSWORD"
        );
    }

    #[test]
    fn show_gives_back_the_default_text() {
        // Defaults are written in the canonical form `show` produces, so `render` of the defaults
        // reads the same as the example file.
        let defaults = Config::default();
        for k in KEYS {
            assert_eq!((k.show)(&defaults), k.default, "[{}] {}", k.section, k.name);
        }
    }

    #[test]
    fn expected_wording() {
        assert_eq!(
            Form::Int { min: 0, max: 65535 }.expected(),
            "an integer from 0 to 65535"
        );
        assert_eq!(
            Form::Int {
                min: 0,
                max: u64::MAX
            }
            .expected(),
            "an integer of 0 or more"
        );
        assert_eq!(
            Form::Choice(&["direct", "proxy"]).expected(),
            "one of direct, proxy (any case)"
        );
    }
}
