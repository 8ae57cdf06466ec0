//! SIGHUP against the real binary: a changed configuration and access list file are applied
//! while serving, a broken configuration or access list is refused and the running one kept,
//! and the console log says so. Every wait polls against a deadline.

mod common;
use common::process::{Launch, Process};
use common::{get, id20, query, Dict};
use retracker::hex;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long any change may take to show.
const DEADLINE: Duration = Duration::from_secs(15);

/// The configuration the tests write, with `tracker` lines added to `[TRACKER]` and `extra`
/// sections after it.
fn config_text(access_file: &Path, level: &str, tracker: &str, extra: &str) -> String {
    format!(
        "[LOGGING]\nlog_file =\nlevel = {level}\nformat = compact\nconsole_output = true\n\
         [TRACKER]\nhost = 127.0.0.1\nport = 0\nannounce_interval_jitter = 0\n{tracker}\n\
         [ACCESS]\nmode = deny\nfile = {}\n\
         [DB]\ntype = memory\npath =\n{extra}",
        access_file.display()
    )
}

/// The binary, started by a test, and a runtime to announce to it.
struct Running {
    process: Process,
    rt: tokio::runtime::Runtime,
}

impl Running {
    fn start(config: &Path) -> Running {
        Running {
            process: Launch::new()
                .config(config)
                .current_dir(config.parent().unwrap())
                .start(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// Waits for a console line containing `needle`, read since the last call or before.
    fn wait_for(&mut self, needle: &str) -> String {
        self.process.wait_for_within(needle, DEADLINE)
    }

    /// Every console line written so far.
    fn seen(&mut self) -> Vec<String> {
        self.process.stderr().to_vec()
    }

    /// Sends SIGHUP.
    fn hup(&self) {
        self.process.signal("-HUP");
    }

    /// Announces `h` as peer `n` (a leecher), returning the decoded answer.
    fn announce(&self, h: &[u8; 20], n: u32) -> Dict {
        let target = format!("/announce?{}", query(h, n, 6000 + n as u16, 5, ""));
        self.rt
            .block_on(get(self.process.addr, None, &target, &[]))
            .dict()
    }

    /// Announces until `done` holds for the answer, or fails after the deadline.
    fn announce_until(&self, h: &[u8; 20], n: u32, what: &str, done: impl Fn(&Dict) -> bool) {
        let start = Instant::now();
        loop {
            let d = self.announce(h, n);
            if done(&d) {
                return;
            }
            assert!(start.elapsed() < DEADLINE, "{what} not seen: {:?}", d.0);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename, as editors do, so that the
/// binary never reads half a file.
fn write(path: &Path, text: &str) {
    let tmp: PathBuf = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn sighup_applies_a_new_config_and_access_list_and_keeps_them_through_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (config, access) = (
        dir.path().join("retracker.ini"),
        dir.path().join("deny.txt"),
    );
    let swarm = id20("reload-swarm-", 1);
    let (denied, later_denied) = (id20("reload-denied-", 1), id20("reload-denied-", 2));
    write(&access, &format!("# denied\n{}\n", hex::encode(&denied)));
    write(&config, &config_text(&access, "info", "numwant = 2", ""));
    let mut t = Running::start(&config);

    for n in 1..=4 {
        t.announce(&swarm, n);
    }
    let d = t.announce(&swarm, 9);
    assert_eq!(d.peers4().len(), 2, "numwant 2");
    assert!(d.get("tracker id").is_none());
    assert!(t.announce(&later_denied, 1).get("failure reason").is_none());
    let d = t.announce(&denied, 1);
    assert_eq!(
        d.str("failure reason").as_deref(),
        Some("info_hash is on this tracker's deny list")
    );

    // numwant, tracker id, the log level and a key that needs a restart change; one more hash
    // is denied in the file.
    write(
        &access,
        &format!(
            "# denied\n{}\n{}\n",
            hex::encode(&denied),
            hex::encode(&later_denied)
        ),
    );
    write(
        &config,
        &config_text(
            &access,
            "debug",
            "numwant = 3\ntracker_id = reloaded-1",
            "[STATS]\nhistory_days = 7\n",
        ),
    );
    t.hup();
    t.announce_until(&swarm, 9, "numwant 3", |d| d.peers4().len() == 3);
    let d = t.announce(&swarm, 9);
    assert_eq!(d.str("tracker id").as_deref(), Some("reloaded-1"));
    let d = t.announce(&later_denied, 1);
    assert_eq!(
        d.str("failure reason").as_deref(),
        Some("info_hash is on this tracker's deny list")
    );
    assert_eq!(d.str("retry in").as_deref(), Some("never"));

    let changed = t.wait_for("reload: changed");
    for key in [
        "[LOGGING] level",
        "[TRACKER] numwant",
        "[TRACKER] tracker_id",
    ] {
        assert!(changed.contains(key), "{key} missing: {changed}");
    }
    assert!(changed.contains(" INFO "), "{changed}");
    let restart = t.wait_for("take effect only after a restart");
    assert!(restart.contains(" WARN "), "{restart}");
    assert!(restart.ends_with("[STATS] history_days"), "{restart}");
    let access_line = t.wait_for("reload: access list now");
    assert!(
        access_line.ends_with(&format!(
            "deny list of 2 info hashes from {}",
            access.display()
        )),
        "{access_line}"
    );
    // Logged at debug: the new level was in force before the reload logged.
    let debug = t.wait_for("reload: blocklist re-read");
    assert!(debug.contains(" DEBUG "), "{debug}");
    // The peer of the torrent now denied left the swarms.
    t.wait_for("reload: 1 peers of refused torrents or blocked addresses dropped");

    // A broken configuration is refused by the binary and never reaches the server.
    let broken = config_text(&access, "info", "numwant = lots\ntracker_id = broken", "");
    write(&config, &broken);
    t.hup();
    let refused = t.wait_for("reload refused");
    assert!(
        refused.contains("[TRACKER] numwant = \"lots\""),
        "{refused}"
    );
    assert!(refused.contains(" ERROR "), "{refused}");
    let d = t.announce(&swarm, 9);
    assert_eq!(d.peers4().len(), 3, "still numwant 3");
    assert_eq!(d.str("tracker id").as_deref(), Some("reloaded-1"));
    let seen = t.seen();
    let reloads = seen
        .iter()
        .filter(|l| l.contains("reload: changed"))
        .count();
    assert_eq!(reloads, 1, "the server applied no other reload: {seen:#?}");

    // A broken access list is refused too; the list in force is kept and the reason names the
    // file and line. The rest of the (valid) configuration still applies.
    write(
        &access,
        &format!(
            "{}\n{}\nbad line\n",
            hex::encode(&denied),
            hex::encode(&later_denied)
        ),
    );
    write(
        &config,
        &config_text(&access, "debug", "numwant = 4\ntracker_id = reloaded-1", ""),
    );
    t.hup();
    let kept = t.wait_for("the access list is kept as it was");
    assert!(kept.contains("(deny list of 2 info hashes)"), "{kept}");
    assert!(
        kept.contains(&format!("{}:3:", access.display())) && kept.contains("\"bad line\""),
        "{kept}"
    );
    t.announce_until(&swarm, 9, "numwant 4", |d| d.peers4().len() == 4);
    eprintln!("{:#?}", t.seen());
    for h in [&denied, &later_denied] {
        assert!(t.announce(h, 1).get("failure reason").is_some());
    }
}

#[test]
fn a_bad_access_list_at_start_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (config, access) = (
        dir.path().join("retracker.ini"),
        dir.path().join("deny.txt"),
    );
    write(
        &access,
        "# ok so far\n0123456789abcdef0123456789abcdef0123456\n",
    );
    write(&config, &config_text(&access, "info", "", ""));
    for args in [&["--check-config"][..], &[]] {
        let out = Launch::new()
            .args(args)
            .config(&config)
            .current_dir(dir.path())
            .output();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{}:2: expected an info hash", access.display())),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn sighup_rereads_the_blocklist_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (config, access) = (
        dir.path().join("retracker.ini"),
        dir.path().join("deny.txt"),
    );
    let db = dir.path().join("retracker.sqlite");
    write(&access, "");
    let text = config_text(&access, "info", "", "").replace(
        "type = memory\npath =",
        &format!("type = sqlite\npath = {}", db.display()),
    );
    write(&config, &text);
    let mut t = Running::start(&config);
    let h = id20("reload-blocked-", 1);
    assert!(t.announce(&h, 1).get("failure reason").is_none());

    // Another tool writes an entry into the database; the tracker sees it on SIGHUP.
    let storage = retracker::storage::Storage::open(&db, 1).unwrap();
    let target = retracker::blocklist::BlockTarget::parse(&hex::encode(&h)).unwrap();
    storage
        .add_block(&target, "added by script", 1, "ops")
        .unwrap();
    t.hup();
    t.announce_until(&h, 1, "the blocklist entry", |d| {
        d.str("failure reason").as_deref()
            == Some("this torrent is blocked on this tracker: added by script")
    });
    // Its peer was dropped from the swarm.
    t.wait_for("reload: 1 peers of refused torrents or blocked addresses dropped");
    let scrape = format!("/scrape?info_hash={}", common::pct(&h));
    let files =
        t.rt.block_on(get(t.process.addr, None, &scrape, &[]))
            .dict()
            .dict("files");
    let entry = Dict(match files.0.get(&h[..]) {
        Some(serde_bencode::value::Value::Dict(d)) => d.clone(),
        other => panic!("{other:?}"),
    });
    assert_eq!((entry.int("complete"), entry.int("incomplete")), (0, 0));
}
