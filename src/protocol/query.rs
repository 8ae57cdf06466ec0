//! Raw query strings to byte pairs.
/// Stub.
pub fn query_has_key(_q: &[u8], _k: &[u8]) -> bool {
    false
}
