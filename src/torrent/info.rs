//! `retracker torrent-info FILE.torrent...`: what each file holds, as `key: value` text or as a
//! JSON array. Hashes are lower-case hex; the v2 hash is printed in full (64 hex digits, BEP 52)
//! and truncated to 20 bytes (what clients announce to a tracker).

use super::load;
use crate::cli::{InfoFormat, TorrentInfoArgs};
use crate::hex;
use crate::protocol::metainfo::Metainfo;
use crate::text::printable;
use crate::web::format;
use serde_json::{json, Value};
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

/// Files the text output lists before "... and N more".
pub const LISTED_FILES: usize = 20;

/// Runs the command: 0 when every file was read, 1 when one was not.
pub fn run(args: &TorrentInfoArgs) -> ExitCode {
    let mut failed = false;
    let mut json_out = Vec::new();
    let mut first = true;
    for path in &args.files {
        let meta = match load(path) {
            Ok((_, meta)) => meta,
            Err(e) => {
                eprintln!("retracker torrent-info: {}: {e}", path.display());
                failed = true;
                continue;
            }
        };
        match args.format {
            InfoFormat::Text => {
                if !first {
                    println!();
                }
                print!("{}", text(path, &meta, args.list_all));
            }
            InfoFormat::Json => json_out.push(to_json(path, &meta)),
        }
        first = false;
    }
    if args.format == InfoFormat::Json {
        let doc = serde_json::to_string_pretty(&Value::Array(json_out))
            .expect("a Value always serialises");
        println!("{doc}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `1048576 (1.0 MiB)`.
fn size(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{n} ({})", format::bytes(n))
    }
}

/// `2026-11-21 17:08:00 UTC`, or the raw number when it is not a plausible time.
fn date(unix: i64) -> String {
    u32::try_from(unix).map_or_else(|_| unix.to_string(), format::utc)
}

/// `v1`, `v2` or `hybrid (v1 + v2)`.
fn version(m: &Metainfo) -> &'static str {
    match (m.info_hash_v1.is_some(), m.info_hash_v2.is_some()) {
        (true, true) => "hybrid (v1 + v2)",
        (false, true) => "v2",
        _ => "v1",
    }
}

/// A magnet link (BEP 9; BEP 52 `urn:btmh:1220` for the v2 hash) with name and trackers.
pub fn magnet(m: &Metainfo) -> String {
    let mut link = String::from("magnet:?");
    let mut params = Vec::new();
    if let Some(h) = m.info_hash_v1 {
        params.push(format!("xt=urn:btih:{}", hex::encode(&h)));
    }
    if let Some(h) = m.info_hash_v2 {
        params.push(format!("xt=urn:btmh:1220{}", hex::encode(&h)));
    }
    params.push(format!("dn={}", uri_component(&m.name)));
    params.extend(m.tracker_urls().map(|t| format!("tr={}", uri_component(t))));
    link.push_str(&params.join("&"));
    link
}

/// Percent-encodes all but RFC 3986 unreserved characters.
fn uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The text report of one torrent.
pub fn text(path: &Path, m: &Metainfo, list_all: bool) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        let key = if key.is_empty() {
            String::new()
        } else {
            format!("{key}:")
        };
        let _ = writeln!(out, "{key:<15}{value}");
    };
    let none = || "-".to_owned();
    line("file", &printable(&path.display().to_string()));
    line("name", &printable(&m.name));
    line("size", &size(m.total_size));
    line("files", &m.files.len().to_string());
    let shown = if list_all {
        m.files.len()
    } else {
        LISTED_FILES
    };
    for f in m.files.iter().take(shown) {
        line(
            "",
            &format!("{}  {}", printable(&f.display_path()), size(f.length)),
        );
    }
    if m.files.len() > shown {
        line(
            "",
            &format!("... and {} more (--files lists all)", m.files.len() - shown),
        );
    }
    if m.pad_files > 0 {
        line(
            "pad files",
            &format!(
                "{} of {} bytes, not counted (BEP 47)",
                m.pad_files, m.pad_size
            ),
        );
    }
    line("piece length", &size(m.piece_length));
    line("pieces", &m.piece_count.to_string());
    line("private", if m.private { "yes" } else { "no" });
    line("version", version(m));
    if m.trackers.is_empty() {
        line("trackers", "-");
    }
    let tiers = m.trackers.len();
    for (i, tier) in m.trackers.iter().enumerate() {
        for (j, url) in tier.iter().enumerate() {
            let key = if i == 0 && j == 0 { "trackers" } else { "" };
            let url = printable(url);
            if tiers > 1 {
                line(key, &format!("[tier {}] {url}", i + 1));
            } else {
                line(key, &url);
            }
        }
    }
    for (i, url) in m.url_list.iter().enumerate() {
        line(if i == 0 { "web seeds" } else { "" }, &printable(url));
    }
    line(
        "created by",
        &m.created_by.as_deref().map_or_else(none, printable),
    );
    line("creation date", &m.creation_date.map_or_else(none, date));
    line(
        "comment",
        &m.comment.as_deref().map_or_else(none, printable),
    );
    line(
        "info hash v1",
        &m.info_hash_v1.map_or_else(none, |h| hex::encode(&h)),
    );
    line(
        "info hash v2",
        &m.info_hash_v2.map_or_else(none, |h| hex::encode(&h)),
    );
    line(
        "v2 truncated",
        &m.info_hash_v2_truncated()
            .map_or_else(none, |h| hex::encode(&h)),
    );
    line("magnet", &magnet(m));
    out
}

/// The JSON object of one torrent (every file listed).
pub fn to_json(path: &Path, m: &Metainfo) -> Value {
    json!({
        "file": path.display().to_string(),
        "name": m.name,
        "size": m.total_size,
        "file_count": m.files.len(),
        "files": m.files.iter().map(|f| json!({"path": f.display_path(), "length": f.length})).collect::<Vec<_>>(),
        "pad_files": m.pad_files,
        "pad_size": m.pad_size,
        "piece_length": m.piece_length,
        "piece_count": m.piece_count,
        "private": m.private,
        "meta_version": m.meta_version,
        "trackers": m.trackers,
        "url_list": m.url_list,
        "created_by": m.created_by,
        "creation_date": m.creation_date,
        "comment": m.comment,
        "info_hash_v1": m.info_hash_v1.map(|h| hex::encode(&h)),
        "info_hash_v2": m.info_hash_v2.map(|h| hex::encode(&h)),
        "info_hash_v2_truncated": m.info_hash_v2_truncated().map(|h| hex::encode(&h)),
        "magnet": magnet(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_components_keep_only_unreserved_characters() {
        assert_eq!(uri_component("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
    }
}
