//! Errors of the protocol layer.
