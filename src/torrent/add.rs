//! `retracker add-torrent FILE.torrent... [--url URL --user USER]`: stores each torrent's name,
//! size, file count, piece length, comment and creator under every hash a client announces it
//! with (the v1 info hash and the v2 hash truncated to 20 bytes), so the stats page, the peers
//! browser and the exports show names.
//!
//! - Direct (no `--url`): writes the SQLite database of the configuration (`-c`, resolved as
//!   the server resolves it). Only that: no migration of peers, no restore, no expiry, so it is
//!   safe while the tracker runs (SQLite WAL; writers wait up to the busy timeout). The database
//!   must exist already (the tracker creates it), so a wrong `-c` does not create a stray one.
//!   Run as root on a database owned by another user (the package's `/var/lib/retracker`), it
//!   refuses: SQLite would create root-owned `-wal`/`-shm` files that lock the service out.
//! - `--url`: `POST /api/torrents` of a running tracker ([`super::api`]) over http:// or
//!   https:// (`--ca-cert`, `--insecure` as for `retracker query`), with the web UI account; the password comes from `RETRACKER_PASSWORD` or the terminal, never from the
//!   command line (where `ps` would show it).
//!
//! Prints one line per torrent: the stored hashes, then the name.

use super::api::{self, Endpoint};
use super::load;
use crate::cli::AddTorrentArgs;
use crate::client::tls::TlsSettings;
use crate::config::{self, DbKind};
use crate::hex;
use crate::storage::{Storage, TorrentMeta};
use crate::text::printable;
use std::path::Path;
use std::process::ExitCode;

/// The environment variable `--url` reads the password from.
pub const PASSWORD_ENV: &str = "RETRACKER_PASSWORD";

fn fail(message: impl std::fmt::Display) {
    eprintln!("retracker add-torrent: {message}");
}

/// Runs the command with the configuration file `config_path` (direct mode).
pub fn run(args: &AddTorrentArgs, config_path: &Path) -> ExitCode {
    match &args.url {
        Some(url) => through_api(args, url),
        None => direct(args, config_path),
    }
}

/// The line printed for a stored torrent.
fn stored_line(hashes: &[String], name: &str) -> String {
    format!("{}  {}", hashes.join(" "), printable(name))
}

fn direct(args: &AddTorrentArgs, config_path: &Path) -> ExitCode {
    let loaded = match config::load_file(config_path) {
        Ok(l) => l,
        Err(e) => {
            fail(format_args!("configuration error: {e}"));
            return ExitCode::from(2);
        }
    };
    let db = &loaded.config.db;
    if db.kind == DbKind::Memory {
        fail(format_args!(
            "{}: [DB] type = memory: the running tracker keeps names in memory only; add them through its web API with --url",
            config_path.display()
        ));
        return ExitCode::from(2);
    }
    if !db.path.exists() {
        fail(format_args!(
            "{}: the database does not exist ([DB] path in {}); start the tracker once to create it, or check -c",
            db.path.display(),
            config_path.display()
        ));
        return ExitCode::from(2);
    }
    if let Some(why) = root_refusal(&db.path) {
        fail(why);
        return ExitCode::from(2);
    }
    let storage = match Storage::open(&db.path, 1) {
        Ok(s) => s,
        Err(e) => {
            fail(e);
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for path in &args.files {
        let meta = match load(path) {
            Ok((_, m)) => m,
            Err(e) => {
                fail(format_args!("{}: {e}", path.display()));
                failed = true;
                continue;
            }
        };
        let hashes = meta.announce_hashes();
        let now = crate::tracker::unix_now();
        match storage.set_torrent_meta(&hashes, &TorrentMeta::from(&meta), now) {
            Ok(()) => {
                let shown: Vec<String> = hashes.iter().map(|h| hex::encode(h)).collect();
                println!("{}", stored_line(&shown, &meta.name));
            }
            Err(e) => {
                fail(format_args!("{}: {e}", path.display()));
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Why root must not write `db` (owned by another user), naming the way out; `None` when the
/// caller is not root or root owns the file.
fn root_refusal(db: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let uid = std::fs::metadata(db).ok()?.uid();
    if uid == 0 {
        return None;
    }
    let owner = user_name(uid).unwrap_or_else(|| uid.to_string());
    Some(format!(
        "{}: the database belongs to {owner}, and running as root would leave root-owned -wal/-shm files that lock the tracker out; run it as the owner (sudo -u {owner} retracker add-torrent ...) or use --url",
        db.display()
    ))
}

/// The name of user `uid` from /etc/passwd.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut fields = l.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
    })
}

/// The password for `--url`: the environment, else the terminal without echo, else the first
/// line of standard input.
fn password(user: &str, ep: &Endpoint) -> std::io::Result<String> {
    use std::io::IsTerminal;
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password for {user} at {}: ", ep.authority()))
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn through_api(args: &AddTorrentArgs, url: &str) -> ExitCode {
    let ep = match Endpoint::parse(url) {
        Ok(ep) => ep,
        Err(e) => {
            fail(e);
            return ExitCode::from(2);
        }
    };
    let tls = match TlsSettings::new(args.ca_cert.as_deref(), args.insecure) {
        Ok(t) => t,
        Err(e) => {
            fail(e);
            return ExitCode::from(2);
        }
    };
    if args.insecure {
        fail("warning: --insecure: the server's certificate is not checked");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            fail(format_args!("cannot start the network runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let user = args.user.as_deref().unwrap_or_default();
    let password = match password(user, &ep) {
        Ok(p) => p,
        Err(e) => {
            fail(format_args!("cannot read the password: {e}"));
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for path in &args.files {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                fail(format_args!("{}: cannot read: {e}", path.display()));
                failed = true;
                continue;
            }
        };
        let sent = api::post(&ep, &tls, user, &password, bytes.into());
        let answer = match runtime.block_on(sent) {
            Ok(a) => a,
            Err(e) => {
                fail(format_args!("{}: {url}: {e}", path.display()));
                failed = true;
                continue;
            }
        };
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if answer.status == 200 {
            let hashes: Vec<String> = json["stored"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|h| h.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            println!(
                "{}",
                stored_line(&hashes, json["name"].as_str().unwrap_or_default())
            );
            continue;
        }
        failed = true;
        let why = json["error"].as_str().map_or_else(
            || {
                String::from_utf8_lossy(&answer.body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect()
            },
            str::to_owned,
        );
        fail(format_args!(
            "{}: {url}: HTTP {}: {why}",
            path.display(),
            answer.status
        ));
        if answer.status == 401 || answer.status == 429 {
            // Every other file would fail the same way, and count as a failed login.
            break;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
