//! Reading and validating the INI file (stub: being written).
use super::Config;
use std::path::Path;

/// A loaded configuration and the warnings found on the way (unknown sections and keys, ...).
#[derive(Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Human-readable warnings, each naming what it is about.
    pub warnings: Vec<String>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Placeholder.
    #[error("{0}")]
    Other(String),
}

/// Loads `path`, then applies `RETRACKER_<SECTION>_<KEY>` variables of the process environment.
pub fn load_file(_path: &Path) -> Result<Loaded, ConfigError> {
    todo!()
}

/// Loads INI text; `origin` names it in messages. No environment overrides.
pub fn load_str(_text: &str, _origin: &str) -> Result<Loaded, ConfigError> {
    todo!()
}

/// Loads INI text with environment overrides looked up through `env`.
pub fn load_with_env(
    _text: &str,
    _origin: &str,
    _env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    todo!()
}
