//! The effective text of every key to a validated [`Config`]: each key against its form, then
//! the checks across keys, then warnings about settings that are valid but likely a mistake.
//!
//! The struct literal in [`build`] makes the compiler insist on every field; a debug assertion
//! insists that every registry key was read, so the table and the struct cannot drift apart.

use super::error::ConfigError;
use super::keys::{self, Form, Key, KEYS, NETWORKS};
use super::value::{self, Refusal};
use super::{
    AccessConfig, AccessMode, CacheConfig, ChecksConfig, ClusterConfig, Config, DbConfig, DbKind,
    FlaskConfig, LocalityConfig, LogLevel, LoggingConfig, MetricsConfig, Mode, StatsConfig,
    TlsConfig, TrackerConfig, UdpPort, WebConfig,
};
use crate::locality::{self, Mode as LocalityMode};
use crate::netlist::Networks;
use std::cell::Cell;
use std::path::PathBuf;

/// Where a key's effective text came from.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Origin {
    /// The registry default.
    Default,
    /// The configuration text.
    File,
    /// This environment variable.
    Env(String),
}

/// One key's effective text.
#[derive(Debug)]
struct Setting {
    /// The value as given, comment and quotes removed.
    text: String,
    /// Where it was given.
    origin: Origin,
}

/// One `[NETWORKS]` entry as written.
#[derive(Debug)]
struct NetworkSetting {
    /// The name (the key), as first written.
    name: String,
    /// The value, comment and quotes removed.
    text: String,
}

/// The effective text of every registry key (index = position in [`KEYS`]), and the
/// `[NETWORKS]` entries.
#[derive(Debug)]
pub(super) struct Settings {
    /// How the configuration text is named in messages (its path).
    file: String,
    /// One per registry key, in registry order.
    settings: Vec<Setting>,
    /// Which keys [`build`] has read, to prove none is forgotten.
    read: Vec<Cell<bool>>,
    /// `[NETWORKS]`, in file order, one per name (any case).
    networks: Vec<NetworkSetting>,
}

impl Settings {
    /// Every key at its default; `file` names the configuration text in messages.
    pub(super) fn defaults(file: &str) -> Self {
        Settings {
            file: file.to_owned(),
            settings: KEYS
                .iter()
                .map(|k| Setting {
                    text: k.default.to_owned(),
                    origin: Origin::Default,
                })
                .collect(),
            read: KEYS.iter().map(|_| Cell::new(false)).collect(),
            networks: Vec::new(),
        }
    }

    /// Sets `[NETWORKS] name` (compared in any case, as keys are); gives true if it was set
    /// already: the last value is used, at the place and in the spelling of the first.
    pub(super) fn set_network(&mut self, name: &str, text: String) -> bool {
        match self
            .networks
            .iter_mut()
            .find(|n| n.name.eq_ignore_ascii_case(name))
        {
            Some(n) => {
                n.text = text;
                true
            }
            None => {
                self.networks.push(NetworkSetting {
                    name: name.to_owned(),
                    text,
                });
                false
            }
        }
    }

    /// The `[NETWORKS]` entries: each a valid name and at least one network, and each network
    /// under one name only.
    fn named_networks(&self) -> Result<Vec<(String, Networks)>, ConfigError> {
        let mut out: Vec<(String, Networks)> = Vec::with_capacity(self.networks.len());
        for n in &self.networks {
            let refuse = |expected: String| ConfigError::Network {
                origin: self.file.clone(),
                name: n.name.clone(),
                value: n.text.clone(),
                expected,
            };
            if !locality::valid_name(&n.name) {
                return Err(refuse(format!(
                    "a name of letters, digits, _, - and . only before the =, then {}",
                    NETWORKS.expected
                )));
            }
            // As for registry keys (see `parse`): the detail below quotes the text.
            if n.text.chars().any(|c| c.is_control() && c != '\t') {
                return Err(refuse(format!(
                    "{} (control characters are not allowed)",
                    NETWORKS.expected
                )));
            }
            let nets: Networks = n
                .text
                .parse()
                .map_err(|detail| refuse(format!("{} ({detail})", NETWORKS.expected)))?;
            if nets.is_empty() {
                return Err(refuse(NETWORKS.expected.into()));
            }
            for net in &nets.0 {
                let other = out
                    .iter()
                    .find(|(_, theirs)| theirs.0.contains(net))
                    .map(|(name, _)| name);
                if let Some(other) = other {
                    return Err(refuse(format!(
                        "networks no other name has ({net} is under {other} too; a network has one name)"
                    )));
                }
            }
            out.push((n.name.clone(), nets));
        }
        Ok(out)
    }

    /// Replaces `key`'s text; gives true if the configuration text had already set it.
    pub(super) fn set(&mut self, key: &'static Key, text: String, origin: Origin) -> bool {
        let slot = &mut self.settings[index(key)];
        let again = slot.origin == Origin::File && origin == Origin::File;
        *slot = Setting { text, origin };
        again
    }

    /// How `origin` is named in messages.
    fn origin_name(&self, origin: &Origin) -> String {
        match origin {
            Origin::Default | Origin::File => self.file.clone(),
            Origin::Env(var) => format!("environment variable {var}"),
        }
    }

    /// The key `[section] name`, its text and where the text came from; marks the key read.
    fn get(&self, section: &str, name: &str) -> (&'static Key, &str, &Origin) {
        let key = keys::find(section, name)
            .unwrap_or_else(|| panic!("[{section}] {name} is not in the registry"));
        let i = index(key);
        self.read[i].set(true);
        (key, &self.settings[i].text, &self.settings[i].origin)
    }

    /// The error for `key`'s value: expected its form, plus `detail` if any.
    fn refuse(&self, key: &'static Key, detail: Refusal) -> ConfigError {
        let expected = match detail {
            Some(d) => format!("{} ({d})", key.form.expected()),
            None => key.form.expected(),
        };
        self.refuse_as(key, expected)
    }

    /// The error for `key`'s value with an `expected` wording of its own (checks across keys).
    fn refuse_as(&self, key: &'static Key, expected: String) -> ConfigError {
        let setting = &self.settings[index(key)];
        ConfigError::Value {
            origin: self.origin_name(&setting.origin),
            section: key.section,
            key: key.name,
            value: if key.secret {
                "(not shown)".into()
            } else {
                setting.text.clone()
            },
            expected,
        }
    }

    /// `name (value)` of another key for cross-key messages, saying where its value came from
    /// when that is not where `key`'s came from.
    fn other(&self, key: &'static Key, section: &str, name: &str) -> String {
        let (other, text, origin) = self.get(section, name);
        // The other value is quoted in this key's message: a tab in it must not reach the
        // terminal raw (found by fuzz/run ini).
        let text = crate::text::printable(text);
        let own = &self.settings[index(key)].origin;
        match origin {
            Origin::Default => format!("{} ({text}, the default)", other.name),
            // A key at its default "comes from" the file too: no need to say so.
            o if self.origin_name(o) == self.origin_name(own) => format!("{} ({text})", other.name),
            o => format!("{} ({text}, from {})", other.name, self.origin_name(o)),
        }
    }

    /// Parses `[section] name` with `parse`, which gets the key's form and its text.
    fn parse<T>(
        &self,
        section: &str,
        name: &str,
        parse: impl FnOnce(&Form, &str) -> Result<T, Refusal>,
    ) -> Result<T, ConfigError> {
        let (key, text, _) = self.get(section, name);
        // Values come from a single INI line, but the environment can carry anything; a control
        // character would break `render`'s output and log lines.
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(self.refuse(key, Some("control characters are not allowed".into())));
        }
        parse(&key.form, text).map_err(|detail| self.refuse(key, detail))
    }

    /// A [`Form::Text`] or [`Form::Path`] key, as given.
    fn text(&self, section: &str, name: &str) -> Result<String, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::Text | Form::Path => Ok(t.to_owned()),
            _ => mismatch(section, name),
        })
    }

    /// A [`Form::Path`] key where empty means none.
    fn opt_path(&self, section: &str, name: &str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(Some(self.text(section, name)?)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from))
    }

    /// A [`Form::Bool`] key.
    fn boolean(&self, section: &str, name: &str) -> Result<bool, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::Bool => value::boolean(t),
            _ => mismatch(section, name),
        })
    }

    /// A [`Form::Int`] key, in the field's integer type.
    fn int<T: TryFrom<u64>>(&self, section: &str, name: &str) -> Result<T, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::Int { min, max } => {
                value::integer(t, *min, *max).and_then(|n| T::try_from(n).map_err(|_| None))
            }
            _ => mismatch(section, name),
        })
    }

    /// A [`Form::Positive`] key.
    fn positive(&self, section: &str, name: &str) -> Result<f64, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::Positive { max } => value::positive(t, *max),
            _ => mismatch(section, name),
        })
    }

    /// A [`Form::Choice`] key: the listed spelling of the word given.
    fn choice(&self, section: &str, name: &str) -> Result<&'static str, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::Choice(words) => value::choice(t, words),
            _ => mismatch(section, name),
        })
    }

    /// A [`Form::Networks`] key.
    fn networks(&self, section: &str, name: &str) -> Result<Networks, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::Networks => value::networks(t),
            _ => mismatch(section, name),
        })
    }

    /// A [`Form::OptHosts`] key.
    fn opt_hosts(&self, section: &str, name: &str) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.parse(section, name, |form, t| match form {
            Form::OptHosts => value::opt_hosts(t),
            _ => mismatch(section, name),
        })
    }

    /// The error for a listed word that [`build`] does not map: a registry/code mismatch.
    fn unmapped(&self, section: &str, name: &str) -> ConfigError {
        let (key, _, _) = self.get(section, name);
        debug_assert!(false, "[{section}] {name}: a listed word is not mapped");
        self.refuse(key, None)
    }
}

/// Position of `key` in [`KEYS`]; keys are compared by address, as they all live there.
fn index(key: &'static Key) -> usize {
    KEYS.iter()
        .position(|k| std::ptr::eq(k, key))
        .expect("keys come from the registry")
}

/// A reader was used on a key of another form: a bug in [`build`], found by any test.
fn mismatch<T>(section: &str, name: &str) -> Result<T, Refusal> {
    panic!("[{section}] {name} is read with the wrong form")
}

/// Builds the configuration from the effective texts; also gives the warnings about valid but
/// doubtful settings.
pub(super) fn build(s: &Settings) -> Result<(Config, Vec<String>), ConfigError> {
    let config = Config {
        flask: FlaskConfig {
            secret_key: s.text("FLASK", "secret_key")?,
        },
        logging: LoggingConfig {
            log_file: s.opt_path("LOGGING", "log_file")?,
            level: match s.choice("LOGGING", "level")? {
                "trace" => LogLevel::Trace,
                "debug" => LogLevel::Debug,
                "info" => LogLevel::Info,
                "warning" | "warn" => LogLevel::Warn,
                "error" | "critical" => LogLevel::Error,
                _ => return Err(s.unmapped("LOGGING", "level")),
            },
            format: s.parse("LOGGING", "format", |form, t| match form {
                Form::LogFormat => value::log_format(t),
                _ => mismatch("LOGGING", "format"),
            })?,
            console_output: s.boolean("LOGGING", "console_output")?,
            max_bytes: s.int("LOGGING", "max_bytes")?,
            backup_count: s.int("LOGGING", "backup_count")?,
            clear_on_start: s.boolean("LOGGING", "clear_on_start")?,
        },
        tracker: TrackerConfig {
            host: s.parse("TRACKER", "host", |form, t| match form {
                Form::Hosts => value::hosts(t),
                _ => mismatch("TRACKER", "host"),
            })?,
            port: s.int("TRACKER", "port")?,
            udp_port: match s.parse("TRACKER", "udp_port", |form, t| match form {
                Form::OptPort => value::opt_port(t),
                _ => mismatch("TRACKER", "udp_port"),
            })? {
                None => UdpPort::SameAsHttp,
                Some(0) => UdpPort::Off,
                Some(n) => UdpPort::Port(n),
            },
            mode: match s.choice("TRACKER", "mode")? {
                "direct" => Mode::Direct,
                "proxy" => Mode::Proxy,
                _ => return Err(s.unmapped("TRACKER", "mode")),
            },
            trusted_proxies: s.networks("TRACKER", "trusted_proxies")?,
            use_x_real_ip: s.boolean("TRACKER", "use_x_real_ip")?,
            use_x_forwarded_for: s.boolean("TRACKER", "use_x_forwarded_for")?,
            announce_interval: s.int("TRACKER", "announce_interval")?,
            min_interval: s.int("TRACKER", "min_interval")?,
            peer_expire_factor: s.positive("TRACKER", "peer_expire_factor")?,
            ignore_reported_ip: s.boolean("TRACKER", "ignore_reported_ip")?,
            verify_reported_ip: s.boolean("TRACKER", "verify_reported_ip")?,
            allow_internal_ip: s.boolean("TRACKER", "allow_internal_ip")?,
            internal_networks: s.networks("TRACKER", "internal_networks")?,
            ignore_ip: s.networks("TRACKER", "ignore_ip")?,
            allowed_networks: s.networks("TRACKER", "allowed_networks")?,
            numwant: s.int("TRACKER", "numwant")?,
            max_numwant: s.int("TRACKER", "max_numwant")?,
            run_gc_key: s.parse("TRACKER", "run_gc_key", |form, t| match form {
                Form::Token => value::token(t),
                _ => mismatch("TRACKER", "run_gc_key"),
            })?,
            peer_cleanup_period: s.int("TRACKER", "peer_cleanup_period")?,
            max_scrape_hashes: s.int("TRACKER", "max_scrape_hashes")?,
            full_scrape: s.boolean("TRACKER", "full_scrape")?,
            announce_interval_jitter: s.int("TRACKER", "announce_interval_jitter")?,
            max_connections: s.int("TRACKER", "max_connections")?,
            tracker_id: s.text("TRACKER", "tracker_id")?,
        },
        access: AccessConfig {
            mode: match s.choice("ACCESS", "mode")? {
                "off" => AccessMode::Off,
                "allow" => AccessMode::Allow,
                "deny" => AccessMode::Deny,
                _ => return Err(s.unmapped("ACCESS", "mode")),
            },
            file: Some(s.text("ACCESS", "file")?)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        },
        cache: CacheConfig {
            kind: s.parse("CACHE", "type", |form, t| match form {
                Form::Word => value::word(t),
                _ => mismatch("CACHE", "type"),
            })?,
        },
        db: DbConfig {
            kind: match s.choice("DB", "type")? {
                "sqlite" | "sqlite3" => DbKind::Sqlite,
                "memory" | "none" => DbKind::Memory,
                _ => return Err(s.unmapped("DB", "type")),
            },
            path: PathBuf::from(s.text("DB", "path")?),
            flush_interval_ms: s.int("DB", "flush_interval_ms")?,
            pool_size: s.int("DB", "pool_size")?,
        },
        stats: StatsConfig {
            access_username: s.text("STATS", "access_username")?,
            access_password: s.text("STATS", "access_password")?,
            session_hours: s.int("STATS", "session_hours")?,
            login_attempts: s.int("STATS", "login_attempts")?,
            history_days: s.int("STATS", "history_days")?,
            snapshot_interval: s.int("STATS", "snapshot_interval")?,
            peer_networks: s.networks("STATS", "peer_networks")?,
        },
        web: WebConfig {
            host: s.opt_hosts("WEB", "host")?,
            port: s.int("WEB", "port")?,
        },
        metrics: MetricsConfig {
            host: s.opt_hosts("METRICS", "host")?,
            port: s.int("METRICS", "port")?,
            allowed_networks: s.networks("METRICS", "allowed_networks")?,
        },
        tls: TlsConfig {
            cert: s.opt_path("TLS", "cert")?,
            key: s.opt_path("TLS", "key")?,
            port: s.int("TLS", "port")?,
            redirect_http: s.boolean("TLS", "redirect_http")?,
        },
        locality: LocalityConfig {
            mode: match s.choice("LOCALITY", "mode")? {
                "off" => LocalityMode::Off,
                "prefer" => LocalityMode::Prefer,
                "strict" => LocalityMode::Strict,
                _ => return Err(s.unmapped("LOCALITY", "mode")),
            },
            outside_share: s.parse("LOCALITY", "outside_share", |form, t| match form {
                Form::Fraction => value::fraction(t),
                _ => mismatch("LOCALITY", "outside_share"),
            })?,
            networks: s.named_networks()?,
            networks_file: s.opt_path("LOCALITY", "networks_file")?,
            asn_db: s.opt_path("LOCALITY", "asn_db")?,
            country_db: s.opt_path("LOCALITY", "country_db")?,
        },
        cluster: ClusterConfig {
            redis_urls: s.parse("CLUSTER", "redis_url", |form, t| match form {
                Form::RedisUrls => value::redis_urls(t),
                _ => mismatch("CLUSTER", "redis_url"),
            })?,
            redis_password: s.text("CLUSTER", "redis_password")?,
            node_id: s.parse("CLUSTER", "node_id", |form, t| match form {
                Form::Token => value::token(t),
                _ => mismatch("CLUSTER", "node_id"),
            })?,
            sync_interval_ms: s.int("CLUSTER", "sync_interval_ms")?,
            view_max_age_ms: s.int("CLUSTER", "view_max_age_ms")?,
        },
        checks: ChecksConfig {
            keep_days: s.int("CHECKS", "keep_days")?,
            watch_file: s.opt_path("CHECKS", "watch_file")?,
            deny_networks: s.networks("CHECKS", "deny_networks")?,
            max_concurrent: s.int("CHECKS", "max_concurrent")?,
            max_per_minute: s.int("CHECKS", "max_per_minute")?,
        },
    };
    debug_assert!(
        s.read.iter().all(Cell::get),
        "registry keys never read by build: {:?}",
        KEYS.iter()
            .zip(&s.read)
            .filter(|(_, r)| !r.get())
            .map(|(k, _)| format!("[{}] {}", k.section, k.name))
            .collect::<Vec<_>>()
    );
    check_across_keys(&config, s)?;
    let warnings = doubts(&config, s);
    Ok((config, warnings))
}

/// Rules that involve two keys; the error is on the first key and names the second.
fn check_across_keys(c: &Config, s: &Settings) -> Result<(), ConfigError> {
    let key = |section, name| keys::find(section, name).expect("registry key");
    let t = &c.tracker;
    if t.numwant > t.max_numwant {
        let numwant = key("TRACKER", "numwant");
        let other = s.other(numwant, "TRACKER", "max_numwant");
        return Err(s.refuse_as(numwant, format!("at most {other}")));
    }
    if t.min_interval > t.announce_interval {
        let min = key("TRACKER", "min_interval");
        let other = s.other(min, "TRACKER", "announce_interval");
        return Err(s.refuse_as(min, format!("0 or at most {other}")));
    }
    if c.access.mode != AccessMode::Off && c.access.file.is_none() {
        let file = key("ACCESS", "file");
        let other = s.other(file, "ACCESS", "mode");
        return Err(s.refuse_as(file, format!("a file path when {other} is allow or deny")));
    }
    if c.db.kind == DbKind::Sqlite && c.db.path.as_os_str().is_empty() {
        let path = key("DB", "path");
        let other = s.other(path, "DB", "type");
        return Err(s.refuse_as(path, format!("a file path when {other} is sqlite")));
    }
    let password = &c.stats.access_password;
    if password.starts_with("$argon2") {
        let parsed =
            argon2::password_hash::PasswordHash::new(password).and_then(|h| match h.hash {
                Some(_) => Ok(()),
                None => Err(argon2::password_hash::Error::OutputSize {
                    provided: std::cmp::Ordering::Less,
                    expected: 32,
                }),
            });
        if let Err(e) = parsed {
            let key = key("STATS", "access_password");
            return Err(s.refuse_as(
                key,
                format!(
                    "a plain password or an argon2 hash printed by `retracker hash-password` \
                     (this starts like an argon2 hash but does not parse: {e})"
                ),
            ));
        }
    }
    if !c.stats.access_password.is_empty() && c.stats.access_username.is_empty() {
        let user = key("STATS", "access_username");
        return Err(s.refuse_as(user, "a user name when access_password is set".into()));
    }
    let tls = &c.tls;
    match (&tls.cert, &tls.key) {
        (Some(_), None) => {
            let k = key("TLS", "key");
            let other = s.other(k, "TLS", "cert");
            return Err(s.refuse_as(k, format!("a PEM private key file, as {other} is set")));
        }
        (None, Some(_)) => {
            let cert = key("TLS", "cert");
            let other = s.other(cert, "TLS", "key");
            return Err(s.refuse_as(cert, format!("a PEM certificate file, as {other} is set")));
        }
        _ => {}
    }
    if tls.cert.is_some() && tls.port != 0 && tls.port == t.port {
        let port = key("TLS", "port");
        let other = s.other(port, "TRACKER", "port");
        return Err(s.refuse_as(port, format!("a port other than {other}")));
    }
    Ok(())
}

/// Warnings about valid settings that probably do not do what the operator expects.
fn doubts(c: &Config, s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    let mut warn = |section: &str, name: &str, why: &str| {
        let (key, text, origin) = s.get(section, name);
        out.push(format!(
            "{}: [{}] {} = \"{text}\": {why}",
            s.origin_name(origin),
            key.section,
            key.name
        ));
    };
    if !matches!(c.cache.kind.as_str(), "memory" | "simple" | "null") {
        warn(
            "CACHE",
            "type",
            "swarms are always kept in memory; this key has no effect",
        );
    }
    let t = &c.tracker;
    if t.mode == Mode::Proxy && t.trusted_proxies.is_empty() {
        warn(
            "TRACKER",
            "mode",
            "but trusted_proxies is empty, so no proxy header is believed and every client \
             appears with the proxy's address",
        );
    } else if t.mode == Mode::Proxy && !t.use_x_real_ip && !t.use_x_forwarded_for {
        warn(
            "TRACKER",
            "mode",
            "but use_x_real_ip and use_x_forwarded_for are both off, so every client appears \
             with the proxy's address",
        );
    }
    if c.tls.redirect_http && c.tls.cert.is_none() {
        warn(
            "TLS",
            "redirect_http",
            "but cert is empty, so there is no HTTPS to redirect to",
        );
    } else if c.tls.redirect_http && c.web.port != 0 {
        warn(
            "TLS",
            "redirect_http",
            "but the web UI has its own port ([WEB] port), which HTTPS does not serve, so \
             nothing is redirected",
        );
    }
    if t.peer_expire_factor < 1.0 {
        warn(
            "TRACKER",
            "peer_expire_factor",
            "below 1, peers are dropped before their next announce is due",
        );
    } else if c.peer_expiry_secs()
        < t.announce_interval
            .saturating_add(t.announce_interval_jitter)
    {
        warn(
            "TRACKER",
            "announce_interval_jitter",
            "peers told to come back this much later than announce_interval expire first \
             (announce_interval x peer_expire_factor is shorter); raise peer_expire_factor",
        );
    }

    out
}

#[cfg(test)]
mod tests;
