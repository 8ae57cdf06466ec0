//! [`ConfigError`], the one error of loading a configuration, in a file of its own so that
//! `load` (which reads the text) and `build` (which validates it) both use it without importing
//! each other.

use crate::text::printable;

/// A configuration that cannot be used. `Display` is the whole message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{origin}: cannot read the configuration file: {error}")]
    Read {
        /// The path as given.
        origin: String,
        /// Why reading failed.
        error: std::io::Error,
    },
    /// The text is not INI.
    #[error("{origin}:{line}: {}", printable(.message))]
    Syntax {
        /// The path (or name) of the text.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A key's value is not what the key takes.
    #[error("{origin}: [{section}] {key} = \"{}\": expected {expected}", shown(.value))]
    Value {
        /// The path of the text, or `environment variable RETRACKER_...`.
        origin: String,
        /// Section, as in the registry.
        section: &'static str,
        /// Key, as in the registry.
        key: &'static str,
        /// The value as given (comment and quotes removed); `(not shown)` for secrets.
        value: String,
        /// What the key takes.
        expected: String,
    },
    /// A `[NETWORKS]` entry is not a name and its networks, or names a network named already.
    #[error("{origin}: [NETWORKS] {} = \"{}\": expected {expected}", printable(.name), shown(.value))]
    Network {
        /// The path of the text.
        origin: String,
        /// The name (the key), as given.
        name: String,
        /// The value as given (comment and quotes removed).
        value: String,
        /// What the entry must be.
        expected: String,
    },
}

/// A value as it can be put between double quotes in a one-line message.
pub(super) fn shown(value: &str) -> String {
    printable(value).replace('"', "\\\"")
}
