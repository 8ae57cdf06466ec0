//! INI text from the registry: the effective settings for `retracker --check-config`
//! ([`render`]) and the committed example `config/config.ini` ([`example_ini`]).

use super::keys::{Key, KEYS, NETWORKS, SECTIONS};
use super::Config;
use crate::netlist::Networks;

/// The effective settings as INI text that loads back to `config`, except secrets: they are
/// written as an empty value with a `(set)` / `(empty)` comment, so pasting this output into a
/// config file can never make `(set)` a password.
pub fn render(config: &Config) -> String {
    let mut out = String::from(
        "; Effective retracker configuration. Secrets are not shown and load back as empty.\n",
    );
    for section in SECTIONS {
        out.push_str(&format!("\n[{}]\n", section.name));
        if section.name == NETWORKS.name {
            for (name, nets) in &config.locality.networks {
                out.push_str(&line(name, &nets.to_string()));
            }
        }
        for key in keys_of(section.name) {
            let value = (key.show)(config);
            if key.secret {
                let state = if value.is_empty() { "(empty)" } else { "(set)" };
                out.push_str(&format!("{} = ; {state}\n", key.name));
            } else {
                out.push_str(&line(key.name, &ini_value(&value)));
            }
        }
    }
    out
}

/// The example configuration: every key at its default, under its doc line and expected form.
pub fn example_ini() -> String {
    ini(
        "; retracker configuration. Every key is listed with its default value.\n",
        |key| key.default,
    )
}

/// The configuration file of the Debian package (`/etc/retracker/config.ini`): the example
/// with the values of [`PACKAGED`](super::keys::PACKAGED), each followed by the built-in
/// default it replaces.
pub fn packaged_ini() -> String {
    ini(
        "; retracker configuration of the Debian package: /etc/retracker/config.ini.\n\
         ;\n\
         ; Check a change with `retracker --check-config`, then apply it with\n\
         ; `systemctl reload retracker`; the log names the keys that need\n\
         ; `systemctl restart retracker` instead. This file is readable by the group retracker\n\
         ; only, as it may hold the web UI password: `retracker hash-password` prints the\n\
         ; value for [STATS] access_password. Every key is listed with its value; where the\n\
         ; package differs from the built-in default, the default is named.\n",
        Key::packaged_value,
    )
}

/// Every key under its doc line and expected form, with the value `value` gives it, after
/// `header`; a value other than the default names the default.
fn ini(header: &str, value: impl Fn(&Key) -> &'static str) -> String {
    let mut out = String::from(header);
    out.push_str(
        ";\n\
         ; Sections and keys are matched in any case; unknown ones are reported and ignored.\n\
         ; A ; or # after white space starts a comment; to keep one in a value, put the value\n\
         ; in double quotes: secret_key = \"abc #1\".\n\
         ; Every key can be overridden by an environment variable RETRACKER_<SECTION>_<KEY>,\n\
         ; for example RETRACKER_TRACKER_PORT=9000 or RETRACKER_DB_PATH=/var/lib/retracker/db.\n",
    );
    for section in SECTIONS {
        out.push_str(&format!("\n; {}\n[{}]\n", section.doc, section.name));
        if section.name == NETWORKS.name {
            out.push_str(&format!(
                "\n; {}\n; Expected: {}.\n; For example:\n",
                NETWORKS.doc, NETWORKS.expected
            ));
            for example in NETWORKS.examples {
                out.push_str(&format!("; {example}\n"));
            }
        }
        for key in keys_of(section.name) {
            out.push_str(&format!(
                "\n; {}\n; Expected: {}.\n",
                key.doc,
                key.form.expected()
            ));
            let value = value(key);
            if value != key.default {
                let default = if key.default.is_empty() {
                    "(empty)"
                } else {
                    key.default
                };
                out.push_str(&format!("; Built-in default: {default}.\n"));
            }
            out.push_str(&line(key.name, value));
        }
    }
    out
}

/// The keys of one section, in registry order.
fn keys_of(section: &'static str) -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(move |k| k.section == section)
}

/// `name = value`, without a trailing space when the value is empty.
fn line(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("{name} =\n")
    } else {
        format!("{name} = {value}\n")
    }
}

/// `value` quoted when the loader would otherwise read it differently: surrounding white space,
/// a leading quote or comment character, or a comment character after white space.
fn ini_value(value: &str) -> String {
    let comment_inside = value
        .char_indices()
        .any(|(i, c)| matches!(c, ';' | '#') && value[..i].ends_with(char::is_whitespace));
    let needs_quotes =
        value.trim() != value || value.starts_with(['"', ';', '#']) || comment_inside;
    if needs_quotes {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}

/// The keys whose effective value differs between `old` and `new`, as `[SECTION] key` (secrets
/// named, never shown), in registry order, `[NETWORKS] name` in its section's place: what a
/// reload log line reports.
pub fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    changes(old, new)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// [`changed_keys`] split by what a reload does with them: `(applied now, need a restart)`,
/// see [`super::keys::RELOADABLE`]; a `[NETWORKS]` entry is always applied.
pub fn reload_changes(old: &Config, new: &Config) -> (Vec<String>, Vec<String>) {
    let (mut applied, mut restart) = (Vec::new(), Vec::new());
    for (name, reloadable) in changes(old, new) {
        if reloadable {
            applied.push(name);
        } else {
            restart.push(name);
        }
    }
    (applied, restart)
}

/// Every change between `old` and `new` as `([SECTION] key, reloadable)`, in file order.
fn changes(old: &Config, new: &Config) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for section in SECTIONS {
        if section.name == NETWORKS.name {
            out.extend(
                network_changes(&old.locality.networks, &new.locality.networks)
                    .into_iter()
                    .map(|name| (format!("[{}] {name}", NETWORKS.name), true)),
            );
        }
        for k in keys_of(section.name) {
            if (k.show)(old) != (k.show)(new) {
                out.push((format!("[{}] {}", k.section, k.name), k.reloadable()));
            }
        }
    }
    out
}

/// The names (any case) given other networks, added or removed between `old` and `new`: those
/// of `old` in its order, then the new ones.
fn network_changes(old: &[(String, Networks)], new: &[(String, Networks)]) -> Vec<String> {
    let mut out: Vec<String> = old
        .iter()
        .filter(|(name, nets)| networks_of(new, name) != Some(nets))
        .map(|(name, _)| name.clone())
        .collect();
    out.extend(
        new.iter()
            .filter(|(name, _)| networks_of(old, name).is_none())
            .map(|(name, _)| name.clone()),
    );
    out
}

/// The networks of `name` (any case) in `list`.
fn networks_of<'a>(list: &'a [(String, Networks)], name: &str) -> Option<&'a Networks> {
    list.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, nets)| nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(ini_value("logs/x.log"), "logs/x.log");
        assert_eq!(ini_value("a;b#c"), "a;b#c");
        assert_eq!(ini_value(""), "");
        assert_eq!(ini_value("abc #1"), "\"abc #1\"");
        assert_eq!(ini_value(" pad"), "\" pad\"");
        assert_eq!(ini_value(";x"), "\";x\"");
        assert_eq!(ini_value("\"q\""), "\"\"q\"\"");
    }

    #[test]
    fn every_key_appears_once_with_doc_and_expected_form() {
        let text = example_ini();
        for key in KEYS {
            let block = format!(
                "; {}\n; Expected: {}.\n{} =",
                key.doc,
                key.form.expected(),
                key.name
            );
            assert_eq!(text.matches(&block).count(), 1, "{block}");
        }
    }

    #[test]
    fn changed_keys_names_what_differs_and_hides_secrets() {
        let old = Config::default();
        let mut new = old.clone();
        assert!(changed_keys(&old, &new).is_empty());
        new.tracker.numwant = 7;
        new.stats.access_password = "hunter2".into();
        let changed = changed_keys(&old, &new);
        assert_eq!(changed, ["[TRACKER] numwant", "[STATS] access_password"]);
        assert!(!changed.concat().contains("hunter2"));
        new.tracker.port = 1;
        new.logging.level = crate::config::LogLevel::Debug;
        let (applied, restart) = reload_changes(&old, &new);
        assert_eq!(applied, ["[LOGGING] level", "[TRACKER] numwant"]);
        assert_eq!(restart, ["[TRACKER] port", "[STATS] access_password"]);
    }

    #[test]
    fn a_reload_applies_the_networks_and_the_locality_keys() {
        let nets = |s: &str| s.parse::<crate::netlist::Networks>().unwrap();
        let mut old = Config::default();
        old.locality.networks = vec![
            ("north".into(), nets("10.1.0.0/16")),
            ("south".into(), nets("10.2.0.0/16")),
            ("east".into(), nets("10.3.0.0/16")),
        ];
        let mut new = old.clone();
        assert!(changed_keys(&old, &new).is_empty());
        // Changed, removed, the same under another case, added.
        new.locality.networks = vec![
            ("north".into(), nets("10.1.0.0/16, 2001:db8:1::/48")),
            ("EAST".into(), nets("10.3.0.0/16")),
            ("west".into(), nets("10.4.0.0/16")),
        ];
        new.locality.mode = crate::locality::Mode::Strict;
        new.locality.asn_db = Some("asn.mmdb".into());
        new.stats.peer_networks = nets("10.0.0.0/8");
        let (applied, restart) = reload_changes(&old, &new);
        assert_eq!(
            applied,
            [
                "[NETWORKS] north",
                "[NETWORKS] south",
                "[NETWORKS] west",
                "[LOCALITY] mode",
                "[LOCALITY] asn_db",
            ]
        );
        assert_eq!(restart, ["[STATS] peer_networks"]);
    }
}
