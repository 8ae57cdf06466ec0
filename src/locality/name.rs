//! The rule for the names of the operator's networks, shared by `[NETWORKS]` keys (checked by
//! the configuration loader) and the networks file, in a file of its own so that the fuzz crate
//! compiles it with the configuration (see `mode.rs`).

/// True when `name` may name one of the operator's networks: letters, digits, `_`, `-` and `.`,
/// at least one; so that it reads the same in the INI file, the networks file, metrics labels
/// and URLs.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["north", "PoP-1", "msk.dc_2", "0"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a:b", "n\u{f6}rd", "a,b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
