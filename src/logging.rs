//! Logging: turns the `[LOGGING]` section into the process-wide `tracing` subscriber.
//!
//! `log_file` is written by a [`RotatingFileWriter`], which mirrors Python's
//! `logging.handlers.RotatingFileHandler(log_file, maxBytes=max_bytes,
//! backupCount=backup_count)` (the Python retracker's handler): `retracker.log`,
//! `retracker.log.1` … `retracker.log.N`.

mod rotating;

pub use rotating::RotatingFileWriter;

use std::io;
use std::path::PathBuf;

/// Why logging could not be set up; the binary prints it and exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    /// The log file's folder does not exist and could not be created.
    #[error("cannot create log folder {}: {source}", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The log file could not be opened (or truncated, for `clear_on_start`).
    #[error("cannot open log file {}: {source}", path.display())]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `init` was called when a global subscriber (or `log` logger) was already installed.
    #[error("cannot install the logger: {0}")]
    AlreadyInstalled(String),
}
