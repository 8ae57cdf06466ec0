//! The info-hash access list: `[ACCESS] mode = allow` lets only the listed torrents use the
//! tracker, `mode = deny` refuses the listed ones, `off` (the default) lets every torrent through.
//!
//! The list is a text file (`[ACCESS] file`): one info hash a line as 40 hexadecimal digits (any
//! case), `#` starts a comment (a whole line or after the hash), blank lines and surrounding
//! spaces are ignored. [`parse`] is pure and names the first bad line; [`AccessRules::load`]
//! reads the file. The file is read at start (a bad one stops the tracker with exit status 2)
//! and again on every SIGHUP (a bad one is logged and the list in force kept).
//!
//! [`AccessList`] is what announces and scrapes read: the rules are swapped whole, and a reader
//! never takes a lock (one atomic load while the list is off, an `ArcSwap` load otherwise).
//! It is checked in the transport-neutral announce core (`crate::tracker::announce::process`) and
//! in scrapes, where a refused torrent is answered with zeros, exactly like a torrent the tracker
//! has never seen (the answer neither reveals nor confirms a swarm, and BEP 15's UDP scrape,
//! which answers by position, can give the same).

use crate::config::{AccessConfig, AccessMode};
use crate::protocol::InfoHash;
use arc_swap::ArcSwap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why an access list file cannot be used. `Display` names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum AccessFileError {
    /// The file could not be read.
    #[error("{}: cannot read the access list: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line is neither blank, a comment nor an info hash.
    #[error(
        "{}:{line}: expected an info hash of 40 hexadecimal digits (or a # comment), found {text:?}",
        file.display()
    )]
    Line {
        /// The file.
        file: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What the line holds (comment removed, trimmed, cut to 60 characters).
        text: String,
    },
}

/// Why an announce or a scrape of a torrent is refused. `Display` is the `failure reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// `mode = allow` and the hash is not listed.
    #[error("info_hash is not on this tracker's allow list")]
    NotAllowed,
    /// `mode = deny` and the hash is listed.
    #[error("info_hash is on this tracker's deny list")]
    Denied,
}

/// The info hashes of an access list file's text; `file` only names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<HashSet<InfoHash>, AccessFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut hashes = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match crate::hex::decode_array(line) {
            Some(h) => {
                hashes.insert(h);
            }
            None => {
                return Err(AccessFileError::Line {
                    file: file.to_owned(),
                    line: i + 1,
                    text: line.chars().take(60).collect(),
                })
            }
        }
    }
    Ok(hashes)
}

/// A mode and its hashes: what [`AccessList`] enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRules {
    /// Off, allow or deny.
    pub mode: AccessMode,
    /// The listed hashes (empty when off).
    pub hashes: HashSet<InfoHash>,
}

impl AccessRules {
    /// No list: every torrent is let through.
    pub fn off() -> AccessRules {
        AccessRules {
            mode: AccessMode::Off,
            hashes: HashSet::new(),
        }
    }

    /// The rules `[ACCESS]` describes, reading its file (blocking I/O) unless the mode is off.
    pub fn load(config: &AccessConfig) -> Result<AccessRules, AccessFileError> {
        let Some(file) = config
            .file
            .as_ref()
            .filter(|_| config.mode != AccessMode::Off)
        else {
            return Ok(AccessRules::off());
        };
        let bytes = std::fs::read(file).map_err(|source| AccessFileError::Read {
            file: file.clone(),
            source,
        })?;
        Ok(AccessRules {
            mode: config.mode,
            hashes: parse(&String::from_utf8_lossy(&bytes), file)?,
        })
    }

    /// Refuses `info_hash` if these rules do.
    pub fn check(&self, info_hash: &InfoHash) -> Result<(), AccessDenied> {
        match self.mode {
            AccessMode::Off => Ok(()),
            AccessMode::Allow if self.hashes.contains(info_hash) => Ok(()),
            AccessMode::Allow => Err(AccessDenied::NotAllowed),
            AccessMode::Deny if self.hashes.contains(info_hash) => Err(AccessDenied::Denied),
            AccessMode::Deny => Ok(()),
        }
    }

    /// A one-line summary for the log: `allow list of 12 info hashes`.
    pub fn describe(&self) -> String {
        let n = self.hashes.len();
        let s = if n == 1 { "" } else { "es" };
        match self.mode {
            AccessMode::Off => "off (every torrent allowed)".into(),
            AccessMode::Allow => format!("allow list of {n} info hash{s}"),
            AccessMode::Deny => format!("deny list of {n} info hash{s}"),
        }
    }
}

/// The access list as the request path sees it; see the module documentation.
pub struct AccessList {
    rules: ArcSwap<AccessRules>,
    /// False while the mode is off, so requests skip even the `ArcSwap` load.
    active: AtomicBool,
}

impl Default for AccessList {
    fn default() -> Self {
        AccessList::new(AccessRules::off())
    }
}

impl AccessList {
    /// A list enforcing `rules`.
    pub fn new(rules: AccessRules) -> AccessList {
        let active = rules.mode != AccessMode::Off;
        AccessList {
            rules: ArcSwap::from_pointee(rules),
            active: AtomicBool::new(active),
        }
    }

    /// Enforces `rules` from now on; requests in flight finish with the old ones.
    pub fn replace(&self, rules: AccessRules) {
        let active = rules.mode != AccessMode::Off;
        self.rules.store(Arc::new(rules));
        self.active.store(active, Ordering::Release);
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<AccessRules> {
        self.rules.load_full()
    }

    /// Refuses `info_hash` if the list does.
    pub fn check(&self, info_hash: &InfoHash) -> Result<(), AccessDenied> {
        if !self.active.load(Ordering::Acquire) {
            return Ok(());
        }
        self.rules.load().check(info_hash)
    }

    /// True when `info_hash` may be announced and scraped.
    pub fn permits(&self, info_hash: &InfoHash) -> bool {
        self.check(info_hash).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "466d846e88635a7aa032ca8cbe2d810495dea262";
    const B: &str = "0123456789ABCDEFabcdef0123456789abcdef01";

    fn hash(hex: &str) -> InfoHash {
        crate::hex::decode_array(hex).unwrap()
    }

    #[test]
    fn parses_hashes_comments_blanks_and_spaces() {
        let text = format!(
            "\u{feff}# torrents of the LAN party\n\n  {A}  \n{B} # upper and lower case\r\n\t#x\n{A}\n"
        );
        let set = parse(&text, Path::new("allow.txt")).unwrap();
        assert_eq!(set, HashSet::from([hash(A), hash(B)]));
        assert_eq!(hash(B)[..3], [0x01, 0x23, 0x45]);
        assert_eq!(hash(B)[4..7], [0x89, 0xab, 0xcd]);
        assert!(parse("", Path::new("empty.txt")).unwrap().is_empty());
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        for (bad, shown) in [
            ("466d846e", "466d846e"),
            (
                "466d846e88635a7aa032ca8cbe2d810495dea26g",
                "466d846e88635a7aa032ca8cbe2d810495dea26g",
            ),
            (&format!("{A}0")[..], &format!("{A}0")[..]),
            (&format!("{A} {A}")[..], &format!("{A} {A}")[..60]),
            ("magnet:?xt=urn:btih:abc # no", "magnet:?xt=urn:btih:abc"),
            (&format!("+a{}", &A[2..])[..], &format!("+a{}", &A[2..])[..]),
            (&format!("-a{}", &A[2..])[..], &format!("-a{}", &A[2..])[..]),
            (&format!("é{}", &A[2..])[..], &format!("é{}", &A[2..])[..]),
        ] {
            let text = format!("# list\n{A}\n{bad}\n");
            let err = parse(&text, Path::new("/etc/retracker/allow.txt")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "/etc/retracker/allow.txt:3: expected an info hash of 40 hexadecimal digits \
                     (or a # comment), found {shown:?}"
                ),
                "{bad}"
            );
        }
        let long = "x".repeat(100);
        let err = parse(&long, Path::new("a")).unwrap_err().to_string();
        assert!(err.ends_with(&format!("{:?}", "x".repeat(60))), "{err}");
        // Non-ASCII digits are not hex digits, whatever char::to_digit thinks of other scripts.
        assert!(parse(&"\u{0661}".repeat(20), Path::new("a")).is_err());
    }

    #[test]
    fn rules_by_mode() {
        let listed = HashSet::from([hash(A)]);
        let (a, b) = (hash(A), hash(B));
        let allow = AccessRules {
            mode: AccessMode::Allow,
            hashes: listed.clone(),
        };
        assert_eq!(allow.check(&a), Ok(()));
        assert_eq!(allow.check(&b), Err(AccessDenied::NotAllowed));
        let deny = AccessRules {
            mode: AccessMode::Deny,
            hashes: listed,
        };
        assert_eq!(deny.check(&a), Err(AccessDenied::Denied));
        assert_eq!(deny.check(&b), Ok(()));
        assert_eq!(AccessRules::off().check(&a), Ok(()));
        assert_eq!(
            AccessDenied::NotAllowed.to_string(),
            "info_hash is not on this tracker's allow list"
        );
        assert_eq!(
            AccessDenied::Denied.to_string(),
            "info_hash is on this tracker's deny list"
        );
        assert_eq!(allow.describe(), "allow list of 1 info hash");
        assert_eq!(deny.describe(), "deny list of 1 info hash");

        let list = AccessList::default();
        assert!(list.permits(&a) && list.permits(&b));
        list.replace(allow);
        assert!(list.permits(&a) && !list.permits(&b));
        list.replace(deny);
        assert_eq!(list.check(&a), Err(AccessDenied::Denied));
        list.replace(AccessRules::off());
        assert!(list.permits(&a));
    }

    #[test]
    fn load_reads_the_file_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deny.txt");
        std::fs::write(&file, format!("{A}\n")).unwrap();
        let config = |mode, file: Option<&Path>| AccessConfig {
            mode,
            file: file.map(Path::to_owned),
        };
        let rules = AccessRules::load(&config(AccessMode::Deny, Some(&file))).unwrap();
        assert_eq!(rules.mode, AccessMode::Deny);
        assert_eq!(rules.hashes, HashSet::from([hash(A)]));
        let missing = dir.path().join("missing.txt");
        assert_eq!(
            AccessRules::load(&config(AccessMode::Off, Some(&missing))).unwrap(),
            AccessRules::off()
        );
        let err = AccessRules::load(&config(AccessMode::Allow, Some(&missing)))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}: cannot read", missing.display())),
            "{err}"
        );
    }
}
