//! The configuration loader (`config::load_str`, what `load_file` runs on a file's text) on
//! arbitrary text.
//!
//! Never a panic: the text loads, or the error names the file and either a line (syntax) or a
//! `[section] key` of the registry or a `[NETWORKS]` name, and what it expects (value), on one
//! line without control characters. So does every warning.
//! A configuration that loads, printed by `render` (`retracker --check-config`), loads back to
//! the same configuration, secrets aside (`render` never prints them).

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker_fuzz::config::{keys, load_str, render, ConfigError};

const ORIGIN: &str = "fuzz.ini";

fuzz_target!(|data: &[u8]| {
    // load_file reads the file as UTF-8 and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_str(text, ORIGIN) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                assert!(warning.starts_with("fuzz.ini: "), "{warning}");
                assert!(!warning.chars().any(char::is_control), "{warning:?}");
            }
            let printed = render(&loaded.config);
            let again = match load_str(&printed, "rendered") {
                Ok(again) => again.config,
                Err(e) => panic!("rendered configuration does not load: {e}\n{printed}"),
            };
            let mut expected = loaded.config.clone();
            expected.stats.access_password.clear();
            expected.flask.secret_key.clear();
            assert_eq!(again, expected, "{printed}");
        }
        Err(error) => check_error(text, &error),
    }
});

fn check_error(text: &str, error: &ConfigError) {
    let message = error.to_string();
    assert!(message.starts_with("fuzz.ini"), "{message}");
    // Shown on a terminal and in the journal: values are escaped, so a control character in
    // the text can neither break the line nor send a terminal escape sequence.
    assert!(!message.chars().any(char::is_control), "{message:?}");
    match error {
        ConfigError::Read { .. } => panic!("load_str does not read files: {message}"),
        ConfigError::Syntax {
            origin,
            line,
            message: what,
        } => {
            assert_eq!(origin, ORIGIN);
            // Lines as rust-ini counts them: \n, \r\n and a lone \r end one.
            let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
            assert!(
                (1..=lines).contains(line),
                "line {line} of {lines}: {message}"
            );
            assert!(!what.is_empty());
        }
        ConfigError::Value {
            origin,
            section,
            key,
            expected,
            ..
        } => {
            assert_eq!(origin, ORIGIN);
            assert!(keys::find(section, key).is_some(), "{message}");
            assert!(!expected.is_empty(), "{message}");
        }
        ConfigError::Network {
            origin, expected, ..
        } => {
            assert_eq!(origin, ORIGIN);
            assert!(message.contains("[NETWORKS] "), "{message}");
            assert!(!expected.is_empty(), "{message}");
        }
    }
}
