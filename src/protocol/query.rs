//! Raw query strings to byte pairs.
