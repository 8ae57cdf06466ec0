//! `.torrent` files (metainfo): what `retracker torrent-info` prints, what `add-torrent` stores,
//! and the info hashes `retracker query --torrent` announces.
//!
//! Specs: BEP 3 (v1 `info`: `name`, `piece length`, `pieces`, `length` or `files`), BEP 52 (v2
//! `meta version` 2 and `file tree`; hybrid torrents carry both), BEP 12 (`announce-list` tiers),
//! BEP 27 (`private`), BEP 47 (pad files), BEP 19 (`url-list`).
//!
//! - The v1 info hash is the SHA-1 of the info dictionary's bytes *as written* (never a
//!   re-encoding), present when the info has v1 `pieces`; the v2 hash is the SHA-256 of the same
//!   bytes, present when `meta version` is 2. [`Metainfo::announce_hashes`] gives what a client
//!   announces: the v1 hash, then the v2 hash truncated to 20 bytes.
//! - Names: `name.utf-8` (and `path.utf-8`) is preferred over `name` when it is valid UTF-8:
//!   old clients wrote `name` in the creator's code page and the UTF-8 spelling beside it. Other
//!   text is decoded as UTF-8 with invalid bytes replaced.
//! - Pad files (BEP 47: `attr` containing `p`; also the older `.pad/...` paths and BitComet's
//!   `_____padding_file_` names) are not payload: they are left out of [`Metainfo::files`] and
//!   of [`Metainfo::total_size`], and counted in [`Metainfo::pad_files`] / [`Metainfo::pad_size`].
//! - Files: a hybrid or v2 torrent lists the v2 `file tree` (which has no pad files); a v1
//!   torrent its `files` list, or one file named after the torrent for a single-file `length`.
//! - Trackers: the `announce-list` tiers in order (BEP 12), each URL once; an `announce` URL
//!   that no tier holds comes first as a tier of its own.
//!
//! Pure: no I/O. Errors: [`MetainfoError`], whose `Display` is one line naming the key.

use super::bdecode::{self, DecodeError, Dict, Value};
use sha1::Digest;
use std::fmt;

/// A parsed `.torrent` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    /// `info.name.utf-8` if valid, else `info.name`.
    pub name: String,
    /// SHA-1 of the info dictionary, when it has v1 `pieces`.
    pub info_hash_v1: Option<[u8; 20]>,
    /// SHA-256 of the info dictionary, when `meta version` is 2 (v2 or hybrid).
    pub info_hash_v2: Option<[u8; 32]>,
    /// Payload bytes: the sum of [`Metainfo::files`], pad files excluded.
    pub total_size: u64,
    /// The payload files, pad files excluded.
    pub files: Vec<FileEntry>,
    /// How many BEP 47 pad files the v1 file list has (not in `files`).
    pub pad_files: usize,
    /// Their total size (not in `total_size`).
    pub pad_size: u64,
    /// `info.piece length` in bytes.
    pub piece_length: u64,
    /// v1: `pieces` / 20; v2 only: each file's pieces (v2 pieces never span files).
    pub piece_count: u64,
    /// `info.private` is 1 (BEP 27).
    pub private: bool,
    /// `info.meta version`: 1 when absent.
    pub meta_version: i64,
    /// Tracker tiers (see the module doc), never empty tiers.
    pub trackers: Vec<Vec<String>>,
    /// BEP 19 web seeds.
    pub url_list: Vec<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `comment` (`comment.utf-8` preferred).
    pub comment: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
}

/// One payload file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components below the torrent's folder (for a single-file torrent: its name).
    pub path: Vec<String>,
    /// Size in bytes.
    pub length: u64,
}

impl FileEntry {
    /// The path with `/` between components.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }
}

/// Why bytes are not a usable `.torrent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetainfoError {
    /// Not bencode at all.
    Bencode(DecodeError),
    /// Bencode, but the top level is not a dictionary.
    NotADictionary,
    /// No `info` dictionary.
    NoInfo,
    /// A required key is absent (`key` names it, e.g. `info.piece length`).
    Missing(String),
    /// A key has the wrong type or value (`key`, then what was expected).
    Invalid(String, &'static str),
    /// Neither v1 `pieces` nor `meta version` 2: nothing to hash for an announce.
    NoPieces,
    /// Sizes that overflow 64 bits.
    TooLarge,
}

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetainfoError::Bencode(e) => write!(f, "not a torrent file: {e}"),
            MetainfoError::NotADictionary => {
                f.write_str("not a torrent file: the top level is not a dictionary")
            }
            MetainfoError::NoInfo => f.write_str("no info dictionary"),
            MetainfoError::Missing(key) => write!(f, "{key} missing"),
            MetainfoError::Invalid(key, expected) => write!(f, "{key} is not {expected}"),
            MetainfoError::NoPieces => {
                f.write_str("info has neither v1 pieces nor meta version 2: no info hash")
            }
            MetainfoError::TooLarge => f.write_str("file sizes add up to more than 2^64 bytes"),
        }
    }
}

impl std::error::Error for MetainfoError {}

impl From<DecodeError> for MetainfoError {
    fn from(e: DecodeError) -> Self {
        MetainfoError::Bencode(e)
    }
}

fn missing(key: &str) -> MetainfoError {
    MetainfoError::Missing(key.to_owned())
}

fn invalid(key: impl Into<String>, expected: &'static str) -> MetainfoError {
    MetainfoError::Invalid(key.into(), expected)
}

/// UTF-8 text with invalid bytes replaced.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `key.utf-8` when it is valid UTF-8, else `key` (lossy).
fn text_pref_utf8(d: &Dict<'_>, key: &str) -> Option<String> {
    let utf8 = d
        .bytes(&format!("{key}.utf-8"))
        .and_then(|b| std::str::from_utf8(b).ok());
    utf8.map(str::to_owned).or_else(|| d.bytes(key).map(lossy))
}

/// A non-negative integer at `key`.
fn size(d: &Dict<'_>, key: &str, name: impl Fn() -> String) -> Result<u64, MetainfoError> {
    match d.get(key) {
        None => Err(MetainfoError::Missing(name())),
        Some(v) => v
            .as_int()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| invalid(name(), "a non-negative integer")),
    }
}

impl Metainfo {
    /// Parses a whole `.torrent` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        let top = bdecode::decode(bytes)?;
        let top = top.as_dict().ok_or(MetainfoError::NotADictionary)?;
        let info = match top.get("info") {
            None => return Err(MetainfoError::NoInfo),
            Some(v) => v.as_dict().ok_or_else(|| invalid("info", "a dictionary"))?,
        };

        let name = text_pref_utf8(info, "name").ok_or_else(|| missing("info.name"))?;
        let piece_length = size(info, "piece length", || "info.piece length".into())?;
        if piece_length == 0 {
            return Err(invalid("info.piece length", "a positive integer"));
        }
        let meta_version = match info.get("meta version") {
            None => 1,
            Some(v) => match v.as_int() {
                Some(n @ (1 | 2)) => n,
                _ => return Err(invalid("info.meta version", "1 or 2")),
            },
        };
        let pieces = match info.get("pieces") {
            None => None,
            Some(v) => {
                let p = v
                    .as_bytes()
                    .ok_or_else(|| invalid("info.pieces", "a byte string"))?;
                if p.len() % 20 != 0 {
                    return Err(invalid("info.pieces", "a multiple of 20 bytes long"));
                }
                Some(p)
            }
        };
        if pieces.is_none() && meta_version != 2 {
            return Err(MetainfoError::NoPieces);
        }

        let mut files = Vec::new();
        let (mut pad_files, mut pad_size) = (0, 0u64);
        if meta_version == 2 {
            let tree = match info.get("file tree") {
                None => return Err(missing("info.file tree")),
                Some(v) => v
                    .as_dict()
                    .ok_or_else(|| invalid("info.file tree", "a dictionary"))?,
            };
            walk_tree(tree, &mut Vec::new(), &mut files)?;
            // v1 part of a hybrid: count its pad files too, so the numbers agree with a v1 view.
            if pieces.is_some() {
                if let Some(list) = info.list("files") {
                    (pad_files, pad_size) = v1_files(list, None)?;
                }
            }
        } else if let Some(v) = info.get("files") {
            let list = v.as_list().ok_or_else(|| invalid("info.files", "a list"))?;
            (pad_files, pad_size) = v1_files(list, Some(&mut files))?;
        } else if info.get("length").is_some() {
            let length = size(info, "length", || "info.length".into())?;
            files.push(FileEntry {
                path: vec![name.clone()],
                length,
            });
        } else {
            return Err(missing("info.length or info.files"));
        }

        let total_size = files
            .iter()
            .try_fold(0u64, |sum, f| sum.checked_add(f.length))
            .ok_or(MetainfoError::TooLarge)?;
        let piece_count = match pieces {
            Some(p) => (p.len() / 20) as u64,
            None => files.iter().map(|f| f.length.div_ceil(piece_length)).sum(),
        };

        let raw = info.raw();
        let info_hash_v1 = pieces.map(|_| sha1::Sha1::digest(raw).into());
        let info_hash_v2 = (meta_version == 2).then(|| sha2::Sha256::digest(raw).into());

        Ok(Metainfo {
            name,
            info_hash_v1,
            info_hash_v2,
            total_size,
            files,
            pad_files,
            pad_size,
            piece_length,
            piece_count,
            private: info.int("private") == Some(1),
            meta_version,
            trackers: trackers(top),
            url_list: url_list(top),
            created_by: top.bytes("created by").map(lossy),
            comment: text_pref_utf8(top, "comment"),
            creation_date: top.int("creation date"),
        })
    }

    /// The 20-byte hashes a client announces: v1 if any, then the v2 hash truncated to 20 bytes
    /// if any.
    pub fn announce_hashes(&self) -> Vec<[u8; 20]> {
        let mut out = Vec::with_capacity(2);
        out.extend(self.info_hash_v1);
        out.extend(self.info_hash_v2_truncated());
        out
    }

    /// The v2 hash truncated to 20 bytes, as clients announce it (BEP 52).
    pub fn info_hash_v2_truncated(&self) -> Option<[u8; 20]> {
        self.info_hash_v2.map(|h| {
            let mut t = [0; 20];
            t.copy_from_slice(&h[..20]);
            t
        })
    }

    /// Every tracker URL once, tier by tier.
    pub fn tracker_urls(&self) -> impl Iterator<Item = &str> {
        self.trackers.iter().flatten().map(String::as_str)
    }
}

/// One entry of a v1 `files` list: the file, and whether it is a pad file.
/// Reads a v1 `files` list: the payload files go into `files` when given; the pad files are
/// counted, and their number and total size returned.
fn v1_files(
    list: &[Value<'_>],
    mut files: Option<&mut Vec<FileEntry>>,
) -> Result<(usize, u64), MetainfoError> {
    let (mut count, mut size) = (0, 0u64);
    for (i, f) in list.iter().enumerate() {
        let (entry, pad) = v1_file(f, i)?;
        if pad {
            count += 1;
            size = size
                .checked_add(entry.length)
                .ok_or(MetainfoError::TooLarge)?;
        } else if let Some(files) = files.as_deref_mut() {
            files.push(entry);
        }
    }
    Ok((count, size))
}

fn v1_file(v: &Value<'_>, i: usize) -> Result<(FileEntry, bool), MetainfoError> {
    let key = |k: &str| format!("info.files[{i}]{k}");
    let d = v
        .as_dict()
        .ok_or_else(|| invalid(key(""), "a dictionary"))?;
    let length = size(d, "length", || key(".length"))?;
    let list = match d.get("path.utf-8").and_then(Value::as_list) {
        Some(l) if utf8_path(l).is_some() => l,
        _ => match d.get("path") {
            None => return Err(missing(&key(".path"))),
            Some(p) => p
                .as_list()
                .ok_or_else(|| invalid(key(".path"), "a list of strings"))?,
        },
    };
    let mut path = Vec::with_capacity(list.len());
    for c in list {
        let c = c
            .as_bytes()
            .ok_or_else(|| invalid(key(".path"), "a list of strings"))?;
        path.push(lossy(c));
    }
    if path.is_empty() {
        return Err(invalid(key(".path"), "a non-empty list"));
    }
    let pad_attr = d.bytes("attr").is_some_and(|a| a.contains(&b'p'));
    let pad_name = path[0] == ".pad"
        || path
            .last()
            .is_some_and(|n| n.starts_with("_____padding_file_"));
    Ok((FileEntry { path, length }, pad_attr || pad_name))
}

/// `Some` when every component is a valid UTF-8 string.
fn utf8_path(list: &[Value<'_>]) -> Option<()> {
    list.iter()
        .all(|c| c.as_bytes().is_some_and(|b| std::str::from_utf8(b).is_ok()))
        .then_some(())
}

/// BEP 52 `file tree`: a directory maps names to nodes; a file is a node whose only key is the
/// empty string, mapping to `{length, pieces root}`.
fn walk_tree(
    dir: &Dict<'_>,
    prefix: &mut Vec<String>,
    out: &mut Vec<FileEntry>,
) -> Result<(), MetainfoError> {
    for (name, node) in dir.entries() {
        prefix.push(lossy(name));
        let key = format!("info.file tree/{}", prefix.join("/"));
        let node = node
            .as_dict()
            .ok_or_else(|| invalid(key.clone(), "a dictionary"))?;
        if let Some(leaf) = node.get("") {
            let leaf = leaf
                .as_dict()
                .ok_or_else(|| invalid(key.clone(), "a file dictionary"))?;
            let length = size(leaf, "length", || format!("{key}.length"))?;
            out.push(FileEntry {
                path: prefix.clone(),
                length,
            });
        } else if !name.is_empty() {
            walk_tree(node, prefix, out)?;
        }
        prefix.pop();
    }
    Ok(())
}

/// BEP 12 tiers, each URL once; `announce` first when no tier has it.
fn trackers(top: &Dict<'_>) -> Vec<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut tiers = Vec::new();
    let announce = top
        .bytes("announce")
        .map(lossy)
        .filter(|u| !u.trim().is_empty());
    let listed: Vec<Vec<String>> = top
        .list("announce-list")
        .unwrap_or_default()
        .iter()
        .map(|tier| match tier {
            Value::List(urls) => urls.iter().filter_map(Value::as_bytes).map(lossy).collect(),
            // A flat list of strings (seen in the wild): one tier each.
            Value::Bytes(url) => vec![lossy(url)],
            _ => Vec::new(),
        })
        .collect();
    if let Some(a) = announce {
        if !listed.iter().flatten().any(|u| *u == a) {
            seen.insert(a.clone());
            tiers.push(vec![a]);
        }
    }
    for tier in listed {
        let tier: Vec<String> = tier
            .into_iter()
            .filter(|u| !u.trim().is_empty() && seen.insert(u.clone()))
            .collect();
        if !tier.is_empty() {
            tiers.push(tier);
        }
    }
    tiers
}

/// BEP 19 `url-list`: one string or a list of them.
fn url_list(top: &Dict<'_>) -> Vec<String> {
    match top.get("url-list") {
        Some(Value::Bytes(u)) if !u.is_empty() => vec![lossy(u)],
        Some(Value::List(l)) => l.iter().filter_map(Value::as_bytes).map(lossy).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
