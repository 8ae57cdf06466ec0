//! Logging (stub: being written).
/// Stub guard.
pub struct LogGuard;
/// Stub.
pub fn init(_c: &crate::config::LoggingConfig) -> Result<LogGuard, std::io::Error> {
    Ok(LogGuard)
}
