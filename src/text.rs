//! Text from outside (a torrent's file names, a configuration value, an environment variable)
//! made safe to print: the one [`printable`] of the crate.
//!
//! A leaf at the crate root, depending on nothing, so that [`crate::config`] (compiled on its own
//! by `fuzz/`) and [`crate::torrent`] share it without importing each other.

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`, ...), everything else,
/// non-ASCII included, as is: a message naming it stays on one line, and an escape sequence in
/// a file name cannot rewrite the terminal or forge a log line.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .flat_map(|c| match c {
            c if c.is_control() => c.escape_default().collect(),
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_only() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("line\nnext\ttab\r"), "line\\nnext\\ttab\\r");
        assert_eq!(printable("\u{7f}\u{85}"), "\\u{7f}\\u{85}");
        assert_eq!(printable("plain é \"quoted\" \\"), "plain é \"quoted\" \\");
    }
}
