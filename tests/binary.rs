//! The `retracker` binary as an operator runs it: start-up from the default config, flags,
//! exit codes, SIGTERM.

mod common;
use common::process::Launch;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Launch::new().args(args).current_dir(cwd).output();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_options() {
    let (code, out, _) = run(&["--help"], Path::new("."));
    assert_eq!(code, 0);
    assert!(
        out.contains("--config") && out.contains("--check-config"),
        "{out}"
    );
}

#[test]
fn check_config_prints_effective_settings_and_exits_0() {
    let (code, out, err) = run(&["--check-config"], Path::new(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[TRACKER]") && out.contains("port = 8080"),
        "{out}"
    );
    assert!(err.contains("configuration is valid"), "{err}");
}

#[test]
fn an_invalid_value_exits_2_naming_file_section_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.ini");
    std::fs::write(&path, "[TRACKER]\nport = eighty ; the web port\n").unwrap();
    let (code, _, err) = run(&["--config", path.to_str().unwrap()], dir.path());
    assert_eq!(code, 2, "{err}");
    for needle in ["bad.ini", "[TRACKER]", "port", "eighty", "expected"] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
    let (code, _, err) = run(&["--config", "/nonexistent/retracker.ini"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/retracker.ini"), "{err}");
}

#[test]
fn starts_from_the_committed_config_serves_and_stops_cleanly_on_sigterm() {
    // The committed config, run from a fresh folder as `cargo run` would from the repo root,
    // with only the port moved by an environment override (port 8080 may be taken here).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.ini"),
        dir.path().join("config/config.ini"),
    )
    .unwrap();
    let mut tracker = Launch::new()
        .current_dir(dir.path())
        .env("RETRACKER_TRACKER_PORT", "0")
        .env("RETRACKER_TRACKER_HOST", "127.0.0.1")
        .start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hash = *b"binary-test-hash-001";
    let body = rt.block_on(common::get(
        tracker.addr,
        None,
        &format!("/announce?{}", common::query(&hash, 1, 6001, 0, "")),
        &[],
    ));
    assert!(body.dict().get("interval").is_some());

    assert_eq!(tracker.terminate().code(), Some(0));
    // The default storage path, created with its folder, holds the peer after the final flush.
    let db = dir.path().join("data/retracker.sqlite");
    let peers: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM peers WHERE info_hash = ?1",
            [&hash[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(peers, 1);
    let log = std::fs::read_to_string(dir.path().join("logs/retracker.log")).unwrap();
    assert!(log.contains("listening on"), "{log}");
    assert!(
        !log.contains("announce?info_hash"),
        "no per-request line at info level"
    );
}

#[test]
fn a_foreign_database_file_exits_2_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("not-ours.sqlite");
    std::fs::write(&db, b"these are somebody's notes, not a database").unwrap();
    let out = Launch::new()
        .config(&committed_config())
        .current_dir(dir.path())
        .env("RETRACKER_TRACKER_PORT", "0")
        .env("RETRACKER_TRACKER_HOST", "127.0.0.1")
        .env("RETRACKER_DB_PATH", &db)
        .output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not-ours.sqlite") && err.contains("not a retracker database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"these are somebody's notes, not a database"
    );
}

/// The committed `config/config.ini`.
fn committed_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.ini")
}

/// Runs the binary on the database `db` with the committed config; returns its exit status and
/// standard error.
fn start_on(db: &Path) -> (Option<i32>, String) {
    let out = Launch::new()
        .config(&committed_config())
        .current_dir(db.parent().unwrap())
        .env("RETRACKER_TRACKER_PORT", "0")
        .env("RETRACKER_TRACKER_HOST", "127.0.0.1")
        .env("RETRACKER_DB_PATH", db)
        .env("RETRACKER_LOGGING_LOG_FILE", "")
        .output();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}

#[test]
fn a_damaged_database_file_exits_2_naming_it_and_is_left_untouched() {
    // A real database: 300 torrents of one peer each, half of the peers past their expiry (the
    // start would delete those), written by the tracker and closed cleanly.
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let made = rt.block_on(async {
        let t = common::Tracker::start(|_| {}).await;
        for i in 0..300 {
            let hash = common::id20("damaged-", i);
            let port = 6000 + (i % 2) as u16;
            t.announce(&common::query(&hash, i, port, 0, "")).await;
        }
        t.stop().await
    });
    let good = made.path().join("retracker.sqlite");
    let c = rusqlite::Connection::open(&good).unwrap();
    let expired = c
        .execute(
            "UPDATE peers SET last_seen = last_seen - 7200 WHERE port = 6000",
            [],
        )
        .unwrap();
    assert_eq!(expired, 150);
    let torrents_root: i64 = c
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'torrents'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(c);
    let good = std::fs::read(&good).unwrap();

    let mut overwritten = good.clone();
    let page = (torrents_root as usize - 1) * 4096;
    overwritten[page..page + 4096].fill(0xA5);
    let random: Vec<u8> = (0..good.len() as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", good[..good.len() / 2].to_vec(), "is damaged"),
        ("header-cut", good[..50].to_vec(), "is damaged"),
        ("torrents-overwritten", overwritten, "is damaged"),
        ("random", random, "not a retracker database"),
    ];
    for (name, bytes, says) in cases {
        let db = dir.path().join(format!("{name}.sqlite"));
        std::fs::write(&db, &bytes).unwrap();
        let (code, err) = start_on(&db);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}.sqlite")) && err.contains(says),
            "{name}: {err}"
        );
        assert!(err.contains("left untouched"), "{name}: {err}");
        assert!(
            std::fs::read(&db).unwrap() == bytes,
            "{name}: the file changed"
        );
    }
}

/// Runs `retracker hash-password` with `input` on standard input.
fn hash_password(input: &[u8]) -> std::process::Output {
    Launch::new().arg("hash-password").output_with_stdin(input)
}

#[test]
fn hash_password_prints_a_hash_the_config_accepts_and_the_login_verifies() {
    let out = hash_password(b"s3cret pass\n");
    assert_eq!(out.status.code(), Some(0));
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("s3cret"));

    // The printed hash, pasted into the config, passes --check-config and is not echoed back.
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("c.ini");
    std::fs::write(&ini, format!("[STATS]\naccess_password = {hash}\n")).unwrap();
    let (code, shown, err) = run(&["--check-config", "-c", ini.to_str().unwrap()], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(!shown.contains(&hash), "secrets are masked");
    let mut stats = retracker::config::Config::default().stats;
    stats.access_password = hash;
    let auth = retracker::web::auth::Auth::new(&stats, b"k", Vec::new()).unwrap();
    assert!(auth.verify("admin", "s3cret pass"));

    // An empty password is refused: it would switch the web UI off.
    assert_eq!(hash_password(b"\n").status.code(), Some(2));
}

/// Receives one `sd_notify` datagram, waiting at most 30 s.
fn notification(socket: &std::os::unix::net::UnixDatagram) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification within 30 s");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn tells_systemd_when_ready_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    let config = dir.path().join("retracker.ini");
    let text = format!(
        "[TRACKER]\nhost = 127.0.0.1\nport = 0\n[DB]\npath = {}\n[LOGGING]\nlog_file =\n",
        dir.path().join("db.sqlite").display()
    );
    std::fs::write(&config, &text).unwrap();
    let mut tracker = Launch::new()
        .config(&config)
        .current_dir(dir.path())
        .env("NOTIFY_SOCKET", &socket_path)
        .start();

    // READY=1 comes once the tracker answers; STATUS names the address.
    let ready = notification(&systemd);
    let addr = ready
        .strip_prefix("READY=1\nSTATUS=tracker on ")
        .unwrap_or_else(|| panic!("{ready:?}"));
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert_eq!(addr, tracker.addr, "the address the log names");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hash = *b"binary-test-notify-1";
    let body = rt.block_on(common::get(
        addr,
        None,
        &format!("/announce?{}", common::query(&hash, 1, 6001, 0, "")),
        &[],
    ));
    assert!(body.dict().get("interval").is_some());

    // A reload: RELOADING=1 with the monotonic clock, then READY=1 once applied.
    std::fs::write(
        &config,
        text.replace("[TRACKER]\n", "[TRACKER]\nnumwant = 7\n"),
    )
    .unwrap();
    tracker.signal("-HUP");
    let reloading = notification(&systemd);
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("{reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0, "{reloading:?}");
    assert_eq!(notification(&systemd), "READY=1");

    // A file that does not load is refused, and the tracker is ready again at once.
    std::fs::write(&config, "[TRACKER]\nport = eighty\n").unwrap();
    tracker.signal("-HUP");
    assert!(notification(&systemd).starts_with("RELOADING=1\n"));
    assert_eq!(notification(&systemd), "READY=1");

    tracker.signal("-TERM");
    assert_eq!(notification(&systemd), "STOPPING=1");
    assert_eq!(tracker.wait_exit().code(), Some(0));
}
