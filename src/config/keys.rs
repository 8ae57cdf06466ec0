//! (in progress)
/// Stub.
pub fn render(_c: &super::Config) -> String {
    String::new()
}
