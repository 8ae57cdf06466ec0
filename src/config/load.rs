//! Loading: configuration text, then `RETRACKER_<SECTION>_<KEY>` environment overrides, then
//! validation into a [`Config`], collecting warnings on the way.
//!
//! Unknown sections and keys are warnings, not errors, so that a Python retracker `config.ini`
//! loads as it is; a key given twice is a warning and the last value wins.

use super::build::{self, Origin, Settings};
use super::error::{shown, ConfigError};
use super::keys::{self, KEYS, NETWORKS, SECTIONS};
use super::suggest::closest;
use super::syntax::{self, Block};
use super::Config;
use crate::text::printable;
use std::path::Path;

/// A loaded configuration and the warnings found on the way (unknown sections and keys, ...).
#[derive(Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Human-readable warnings, each naming what it is about.
    pub warnings: Vec<String>,
}

/// Loads `path`, then applies `RETRACKER_<SECTION>_<KEY>` variables of the process environment.
/// Warnings also cover `RETRACKER_<SECTION>_*` variables that match no key.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        origin: origin.clone(),
        error,
    })?;
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let mut loaded = load_with_env(&text, &origin, &env)?;
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    loaded
        .warnings
        .extend(env_warnings(names.iter().map(String::as_str)));
    Ok(loaded)
}

/// Loads INI text; `origin` names it in messages. No environment overrides.
pub fn load_str(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
    load_with_env(text, origin, &|_| None)
}

/// Loads INI text with environment overrides looked up through `env`. An override's value is
/// taken exactly as given: no comment or quote handling, the shell has done that.
pub fn load_with_env(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let blocks = syntax::parse(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        line: e.line,
        message: e.message,
    })?;
    let mut settings = Settings::defaults(origin);
    let mut warnings = Vec::new();
    for block in &blocks {
        apply_block(block, origin, &mut settings, &mut warnings);
    }
    for key in KEYS {
        let var = key.env_var();
        if let Some(text) = env(&var) {
            settings.set(key, text, Origin::Env(var));
        }
    }
    let (config, doubts) = build::build(&settings)?;
    warnings.extend(doubts);
    Ok(Loaded { config, warnings })
}

/// Warnings for environment variables named like an override (`RETRACKER_<SECTION>_...`, any
/// case, for a known section) that match no key. Other `RETRACKER_*` names are left alone: they
/// may be meant for something else (the binary's own options, tests).
pub fn env_warnings<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let known: Vec<String> = KEYS.iter().map(|k| k.env_var()).collect();
    let mut out = Vec::new();
    for name in names {
        if known.iter().any(|k| k == name) {
            continue;
        }
        let upper = name.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("RETRACKER_") else {
            continue;
        };
        let Some(section) = SECTIONS.iter().find(|s| {
            rest.strip_prefix(s.name)
                .is_some_and(|after| after.starts_with('_'))
        }) else {
            continue;
        };
        if section.name == NETWORKS.name {
            out.push(format!(
                "environment variable {}: [NETWORKS] is read from the configuration file only \
                 (ignored)",
                printable(name)
            ));
            continue;
        }
        let hint = match closest(&upper, known.iter().map(String::as_str)) {
            Some(var) => format!("; did you mean {var}?"),
            None => String::new(),
        };
        let key = rest[section.name.len() + 1..].to_ascii_lowercase();
        out.push(format!(
            "environment variable {}: no such key [{}] {} (ignored{hint})",
            printable(name),
            section.name,
            printable(&key)
        ));
    }
    out
}

/// Takes one block's known keys into `settings` and warns about everything else in it.
fn apply_block(block: &Block, origin: &str, settings: &mut Settings, warnings: &mut Vec<String>) {
    let Some(written) = &block.section else {
        for (key, _) in &block.entries {
            warnings.push(format!(
                "{origin}: key {} outside any section (ignored{})",
                printable(key),
                hint_any_section(key)
            ));
        }
        return;
    };
    let Some(section) = keys::find_section(written) else {
        let mut detail = String::new();
        if !block.entries.is_empty() {
            let names: Vec<String> = block.entries.iter().map(|(k, _)| printable(k)).collect();
            detail = format!(" with its keys {}", names.join(", "));
        }
        if let Some(s) = closest(written, SECTIONS.iter().map(|s| s.name)) {
            detail.push_str(&format!("; did you mean [{s}]?"));
        }
        warnings.push(format!(
            "{origin}: unknown section [{}] (ignored{detail})",
            printable(written)
        ));
        return;
    };
    if section.name == NETWORKS.name {
        // The keys are the operator's names: each is checked when the configuration is built.
        for (name, value) in &block.entries {
            if settings.set_network(name, value.clone()) {
                warnings.push(format!(
                    "{origin}: [NETWORKS] {} is set more than once; the last value, \"{}\", is used",
                    printable(name),
                    shown(value)
                ));
            }
        }
        return;
    }
    for (name, value) in &block.entries {
        let Some(key) = keys::find(section.name, name) else {
            warnings.push(format!(
                "{origin}: unknown key [{}] {} (ignored{})",
                section.name,
                printable(name),
                hint_in_section(section.name, name)
            ));
            continue;
        };
        if settings.set(key, value.clone(), Origin::File) {
            let last = if key.secret {
                String::new()
            } else {
                format!(", \"{}\",", shown(value))
            };
            warnings.push(format!(
                "{origin}: [{}] {} is set more than once; the last value{last} is used",
                key.section, key.name
            ));
        }
    }
}

/// "; did you mean ...?" for an unknown key of a known section: a near miss in the section, or
/// the same key in another section.
fn hint_in_section(section: &str, name: &str) -> String {
    let same_section = KEYS.iter().filter(|k| k.section == section);
    if let Some(k) = closest(name, same_section.map(|k| k.name)) {
        return format!("; did you mean {k}?");
    }
    match KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(name)) {
        Some(k) => format!("; did you mean [{}] {}?", k.section, k.name),
        None => String::new(),
    }
}

/// "; did you mean [SECTION] key?" for a key written before any section header.
fn hint_any_section(name: &str) -> String {
    let exact = KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(name));
    let key = exact.or_else(|| {
        closest(name, KEYS.iter().map(|k| k.name)).and_then(|n| KEYS.iter().find(|k| k.name == n))
    });
    match key {
        Some(k) => format!("; did you mean [{}] {}?", k.section, k.name),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The warnings of loading `text` as `t.ini`, which must load.
    fn warnings(text: &str) -> Vec<String> {
        load_str(text, "t.ini").unwrap().warnings
    }

    #[test]
    fn unknown_key_names_section_key_and_suggestion() {
        assert_eq!(
            warnings("[TRACKER]\nannnounce_interval = 60\n"),
            ["t.ini: unknown key [TRACKER] annnounce_interval (ignored; did you mean announce_interval?)"]
        );
        assert_eq!(
            warnings("[tracker]\ndebug = true\n"),
            ["t.ini: unknown key [TRACKER] debug (ignored)"]
        );
        assert_eq!(
            warnings("[DB]\nport = 1\n"),
            ["t.ini: unknown key [DB] port (ignored; did you mean [TRACKER] port?)"]
        );
    }

    #[test]
    fn unknown_sections_and_keys_outside_sections() {
        assert_eq!(
            warnings("port = 1\n[TRACKR]\nhost = ::1\nport = 2\n[REDIS]\n"),
            [
                "t.ini: key port outside any section (ignored; did you mean [TRACKER] port?)",
                "t.ini: unknown section [TRACKR] (ignored with its keys host, port; did you mean [TRACKER]?)",
                "t.ini: unknown section [REDIS] (ignored)",
            ]
        );
    }

    #[test]
    fn duplicates_warn_and_the_last_wins_across_repeated_sections() {
        let loaded = load_str(
            "[TRACKER]\nport = 1\nPORT = 2\n[STATS]\naccess_password = a\n\
             access_password = b\n[tracker]\nport = 3\n",
            "t.ini",
        )
        .unwrap();
        assert_eq!(loaded.config.tracker.port, 3);
        assert_eq!(loaded.config.stats.access_password, "b");
        assert_eq!(
            loaded.warnings,
            [
                "t.ini: [TRACKER] port is set more than once; the last value, \"2\", is used",
                "t.ini: [STATS] access_password is set more than once; the last value is used",
                "t.ini: [TRACKER] port is set more than once; the last value, \"3\", is used",
            ]
        );
    }

    #[test]
    fn networks_are_names_of_the_operator_not_unknown_keys() {
        let loaded = load_str(
            "[NETWORKS]\nnorth = 10.1.0.0/16, 2001:db8:1::/48\nsouth = 10.2.0.0/16\n\
             North = 10.3.0.0/16\n[networks]\nmsk.dc-1 = 10.4.0.1\n",
            "t.ini",
        )
        .unwrap();
        let names: Vec<(String, String)> = loaded
            .config
            .locality
            .networks
            .iter()
            .map(|(n, nets)| (n.clone(), nets.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("north".into(), "10.3.0.0/16".into()),
                ("south".into(), "10.2.0.0/16".into()),
                ("msk.dc-1".into(), "10.4.0.1/32".into()),
            ]
        );
        assert_eq!(
            loaded.warnings,
            ["t.ini: [NETWORKS] North is set more than once; the last value, \"10.3.0.0/16\", is used"]
        );
    }

    #[test]
    fn env_overrides_win_without_duplicate_warnings() {
        let env = |name: &str| (name == "RETRACKER_TRACKER_PORT").then(|| "9000".to_owned());
        let loaded = load_with_env("[TRACKER]\nport = 1\n", "t.ini", &env).unwrap();
        assert_eq!(loaded.config.tracker.port, 9000);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn env_warnings_only_for_override_like_names() {
        let w = env_warnings([
            "RETRACKER_TRACKER_PORT",
            "RETRACKER_TRACKER_PORTT",
            "retracker_db_path",
            "RETRACKER_STATS_COLOR",
            "RETRACKER_CONFIG",
            "RETRACKER_BLESS",
            "RETRACKER_TRACKERX",
            "RETRACKER_NETWORKS_NORTH",
            "PATH",
        ]);
        assert_eq!(
            w,
            [
                "environment variable RETRACKER_TRACKER_PORTT: no such key [TRACKER] portt (ignored; did you mean RETRACKER_TRACKER_PORT?)",
                "environment variable retracker_db_path: no such key [DB] path (ignored; did you mean RETRACKER_DB_PATH?)",
                "environment variable RETRACKER_STATS_COLOR: no such key [STATS] color (ignored)",
                "environment variable RETRACKER_NETWORKS_NORTH: [NETWORKS] is read from the \
                 configuration file only (ignored)",
            ]
        );
    }

    #[test]
    fn control_characters_of_the_file_are_escaped_in_warnings() {
        // Found by fuzz/ (target ini, input "\0="): names went into warnings raw, so a
        // control character reached the terminal of `--check-config` and the log.
        assert_eq!(
            warnings("\0="),
            ["t.ini: key \\u{0} outside any section (ignored)"]
        );
        assert_eq!(
            warnings("[A\x1bB]\nk\x07 = 1\n[TRACKER]\nport\x1b = 1\n"),
            [
                "t.ini: unknown section [A\\u{1b}B] (ignored with its keys k\\u{7}; did you mean [DB]?)",
                "t.ini: unknown key [TRACKER] port\\u{1b} (ignored; did you mean port?)",
            ]
        );
    }

    #[test]
    fn control_characters_of_the_file_are_escaped_in_errors() {
        // Found by fuzz/ (target ini, input "[\x05]c"): the section name went into the
        // syntax error raw.
        assert_eq!(
            load_str("[\x05]c", "t.ini").unwrap_err().to_string(),
            "t.ini:1: unexpected text \"c\" after section header [\\u{5}]; put keys on their \
             own lines"
        );
    }

    #[test]
    fn messages_quote_values_on_one_line() {
        assert_eq!(shown("a\"b\nc\\d"), "a\\\"b\\nc\\d");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = load_file(Path::new("config/does-not-exist.ini")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config/does-not-exist.ini: cannot read the configuration file: \
             No such file or directory (os error 2)"
        );
    }
}
