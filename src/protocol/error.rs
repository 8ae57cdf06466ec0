//! Errors of the protocol layer (stub: being written).

/// A request that cannot be answered; `Display` is the `failure reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Placeholder.
    #[error("{0}")]
    Other(String),
}
