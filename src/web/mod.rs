//! The operator web UI.
