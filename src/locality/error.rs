//! [`LocalityError`], the one error of building the operator's network map: the networks file,
//! the MaxMind databases, or two names for one network. `Display` is the whole message for the
//! operator and names the file and line, or the section and key, it is about.

use std::path::PathBuf;

/// Why the network map cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum LocalityError {
    /// The networks file could not be read.
    #[error(
        "{}: cannot read the networks file ([LOCALITY] networks_file): {source}",
        path.display()
    )]
    Read {
        /// The file, as configured.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line of the networks file is neither blank, a comment nor `CIDR name`, or gives a
    /// network a second name.
    #[error("{}:{line}: {message}", path.display())]
    Line {
        /// The file, as configured.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What is wrong, for the operator.
        message: String,
    },
    /// A `[NETWORKS]` entry gives a network a second name (only reachable from a `Config` built
    /// in code: the configuration loader refuses it first, naming the file).
    #[error("[NETWORKS] {name}: {message}")]
    Network {
        /// The network's name.
        name: String,
        /// What is wrong, for the operator.
        message: String,
    },
    /// A MaxMind database cannot be opened, or is not of the kind its key expects.
    #[error("{}: cannot be used as [LOCALITY] {key}: {message}", path.display())]
    Database {
        /// The file, as configured.
        path: PathBuf,
        /// `asn_db` or `country_db`.
        key: &'static str,
        /// What is wrong, for the operator.
        message: String,
    },
}
