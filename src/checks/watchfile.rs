//! `[CHECKS] watch_file`: one `URL INFO_HASH_HEX SECONDS` a line, `#` comments and blank lines
//! skipped. Pure: [`parse`] takes the text; [`load`] reads the file. An error names the file,
//! the line number and what is wrong; at start it ends the server with exit status 2, on a
//! reload the running watches are kept and the error logged.

use crate::client::TrackerUrl;
use crate::protocol::InfoHash;
use std::path::Path;

/// One watched tracker and torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEntry {
    /// The URL as written.
    pub url: String,
    /// The torrent.
    pub info_hash: InfoHash,
    /// Seconds between two polls, at least 1.
    pub seconds: u32,
}

/// A watch file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("[CHECKS] watch_file {file}{}: {what}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct WatchFileError {
    /// The file.
    pub file: String,
    /// The line (1-based), when one is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub what: String,
}

/// The entries of `text`, read from `file` (named in errors).
pub fn parse(text: &str, file: &str) -> Result<Vec<WatchEntry>, WatchFileError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |what: String| WatchFileError {
            file: file.to_owned(),
            line: Some(i + 1),
            what,
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [url, hash, seconds] = fields[..] else {
            return Err(fail(format!(
                "{} fields, expected 3: URL INFO_HASH_HEX SECONDS",
                fields.len()
            )));
        };
        TrackerUrl::parse(url).map_err(|e| fail(format!("{url:?}: {e}")))?;
        let info_hash = crate::hex::decode_array(hash)
            .ok_or_else(|| fail(format!("{hash:?} is not an info hash (40 hex digits)")))?;
        let seconds = seconds
            .parse::<u32>()
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| fail(format!("{seconds:?}: expected whole seconds, 1 or more")))?;
        out.push(WatchEntry {
            url: url.to_owned(),
            info_hash,
            seconds,
        });
    }
    Ok(out)
}

/// Reads and parses `path` (blocking I/O).
pub fn load(path: &Path) -> Result<Vec<WatchEntry>, WatchFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| WatchFileError {
        file: file.clone(),
        line: None,
        what: e.to_string(),
    })?;
    parse(&text, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789ABCDEF01234567";

    #[test]
    fn entries_comments_and_blank_lines() {
        let text = format!("# trackers\n\nhttp://t/announce {H} 60\n  udp://u:6969 {H} 1  \n");
        let got = parse(&text, "w.txt").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].url, "http://t/announce");
        assert_eq!(got[1].seconds, 1);
        assert_eq!(got[0].info_hash[0], 0x01);
    }

    #[test]
    fn bad_lines_name_file_line_and_what() {
        for (line, want) in [
            (format!("ftp://t/ {H} 60"), "unsupported scheme"),
            ("http://t/announce abc 60".to_owned(), "not an info hash"),
            (format!("http://t/announce {H} 0"), "1 or more"),
            (format!("http://t/announce {H} soon"), "whole seconds"),
            (format!("http://t/announce {H}"), "2 fields, expected 3"),
            ("udp://t/ x 1".to_owned(), "needs a port"),
        ] {
            let text = format!("# ok\n\n{line}\n");
            let e = parse(&text, "/etc/w.txt").unwrap_err().to_string();
            assert!(e.starts_with("[CHECKS] watch_file /etc/w.txt:3: "), "{e}");
            assert!(e.contains(want), "{line}: {e}");
        }
        let e = load(Path::new("/nonexistent/w.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("[CHECKS] watch_file /nonexistent/w.txt: "),
            "{e}"
        );
    }
}
