//! Storage faults under the real binary: the database's filesystem fills up, or turns read-only,
//! while the tracker runs (issue 7, item 5).
//!
//! What must hold: announces keep being answered from memory, with peers; the error is logged
//! once, not per request or per batch; the dashboard shows the alert and `/metrics` says
//! `retracker_persistence_failing 1`; when the disk recovers, what was announced meanwhile is
//! written and the recovery logged. A filesystem that cannot recover while mounted (the kernel's
//! emergency read-only after an error) keeps the tracker serving, and a stop says in the log how
//! many changes are lost.
//!
//! The faults are real filesystem states, so the tests need root (`mount`, `chattr`, loop
//! devices): tests/run-all.sh runs them as root. The filesystems are a tmpfs and an ext4 image
//! in temporary folders, unmounted on drop, also when a test fails.

mod common;
use common::process::Process;
use common::web::{basic, request};
use rusqlite::{Connection, OpenFlags};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "storage faults";

/// A filesystem mounted for one test, unmounted when dropped.
struct Mounted {
    /// The mount point.
    dir: tempfile::TempDir,
    /// The ext4 image's folder, if any.
    _image: Option<tempfile::TempDir>,
}

impl Mounted {
    /// A tmpfs of `size` (mount's syntax, e.g. `4m`).
    fn tmpfs(size: &str) -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        sh(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
        ])
        .arg("retracker-test")
        .arg(dir.path())
        .ok();
        Mounted { dir, _image: None }
    }

    /// A 16 MiB ext4 filesystem in an image file, on a loop device, mounted with `options`.
    fn ext4(options: &str) -> Mounted {
        let image_dir = tempfile::tempdir().unwrap();
        let image = image_dir.path().join("fs.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        sh(&["mkfs.ext4", "-q", "-F"]).arg(&image).ok();
        let dir = tempfile::tempdir().unwrap();
        sh(&["mount", "-o", &format!("loop,{options}")])
            .arg(&image)
            .arg(dir.path())
            .ok();
        Mounted {
            dir,
            _image: Some(image_dir),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The kernel's name of the mounted block device (`loop3`), for `/sys/fs/ext4/<name>/`.
    fn device(&self) -> String {
        let out = Command::new(tool("findmnt"))
            .args(["-no", "SOURCE"])
            .arg(self.path())
            .output()
            .unwrap();
        let source = String::from_utf8(out.stdout).unwrap();
        source.trim().rsplit('/').next().unwrap().to_owned()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let plain = Command::new(tool("umount")).arg(self.path()).status();
        if !plain.is_ok_and(|s| s.success()) {
            let _ = Command::new(tool("umount"))
                .arg("-l")
                .arg(self.path())
                .status();
        }
    }
}

/// A command from its words; `.ok()` runs it and fails the test unless it succeeds.
fn sh(words: &[&str]) -> Cmd {
    let mut c = Command::new(tool(words[0]));
    c.args(&words[1..]);
    Cmd(c)
}

/// The path of a system tool: `mkfs.ext4` is in /usr/sbin, which a user's PATH (passed on to
/// the root run by tests/run-all.sh) may lack.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found (e2fsprogs, mount)"))
}

struct Cmd(Command);

impl Cmd {
    fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.0.arg(a);
        self
    }

    fn ok(mut self) {
        let out = self.0.output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            self.0,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A tracker with its database in `db_dir` and its log file in a folder of its own (on a
/// healthy disk: the log must be able to say what happens to the database).
struct Setup {
    log_dir: tempfile::TempDir,
    db: PathBuf,
    tracker: Process,
}

impl Setup {
    fn start(db_dir: &Path) -> Setup {
        let log_dir = tempfile::tempdir().unwrap();
        let db = db_dir.join("retracker.sqlite");
        let ini = log_dir.path().join("retracker.ini");
        std::fs::write(
            &ini,
            format!(
                "[TRACKER]\nhost = 127.0.0.1\nport = 0\nudp_port = 0\n\
                 [DB]\npath = {}\nflush_interval_ms = 100\n\
                 [LOGGING]\nlog_file = {}\n\
                 [STATS]\naccess_username = admin\naccess_password = {PASSWORD}\n",
                db.display(),
                log_dir.path().join("retracker.log").display()
            ),
        )
        .unwrap();
        let tracker = Process::start(&ini);
        Setup {
            log_dir,
            db,
            tracker,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.tracker.addr
    }

    /// The log file's lines.
    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_dir.path().join("retracker.log"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The log lines at `level` (`ERROR`, `WARN`).
    fn log_at(&self, level: &str) -> Vec<String> {
        let tag = format!(" {level} ");
        self.log()
            .into_iter()
            .filter(|l| l.contains(&tag))
            .collect()
    }

    /// Waits (at most 10 s) for the log line containing `text`: the log is written by a
    /// background thread.
    async fn logged(&self, text: &str) {
        wait_for(
            Duration::from_secs(10),
            &format!("log line {text:?}"),
            || self.log().iter().any(|l| l.contains(text)),
        )
        .await;
    }

    /// `/metrics` from loopback (no login), as `name -> value` of the unlabelled samples.
    async fn metric(&self, name: &str) -> u64 {
        let r = request(self.addr(), "GET", "/metrics", &[], "").await;
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    }

    /// The dashboard's HTML, with HTTP basic auth.
    async fn dashboard(&self) -> String {
        let auth = basic("admin", PASSWORD);
        let r = request(self.addr(), "GET", "/stat", &[("Authorization", &auth)], "").await;
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).unwrap()
    }

    /// Torrent `i` of `batch` announced by two peers: the first starts, the second completes
    /// and gets the first as a peer, from memory, whatever the database does.
    async fn announce_pair(&self, batch: &str, i: u32) {
        let hash = hash(batch, i);
        let first = self.announce(&hash, 1, 6001, "&left=5&event=started").await;
        assert_eq!(first.int("incomplete"), 1);
        let second = self.announce(&hash, 2, 6002, "&left=5&event=started").await;
        let ports: Vec<u16> = second.peers4().iter().map(|p| p.port()).collect();
        assert_eq!(ports, [6001], "torrent {batch}{i}");
        let done = self
            .announce(&hash, 2, 6002, "&left=0&event=completed")
            .await;
        assert_eq!(done.int("downloaded"), 1);
    }

    async fn announce(&self, hash: &[u8; 20], peer: u32, port: u16, extra: &str) -> common::Dict {
        let q = format!(
            "info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0{extra}",
            common::pct(hash),
            common::pct(&common::id20("-SF0001-", peer))
        );
        let r = common::get(self.addr(), None, &format!("/announce?{q}"), &[]).await;
        assert_eq!(r.status, 200);
        let d = r.dict();
        assert!(
            d.get("failure reason").is_none(),
            "{:?}",
            d.str("failure reason")
        );
        d
    }

    /// How many torrents of `batch` (of `n`) the database holds with 1 completed and 2 peers.
    fn stored(&self, batch: &str, n: u32) -> u32 {
        let c = Connection::open_with_flags(&self.db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        (0..n)
            .filter(|&i| {
                let row: Option<(i64, i64)> = c
                    .query_row(
                        "SELECT completed, (SELECT count(*) FROM peers p WHERE p.info_hash = t.info_hash)
                         FROM torrents t WHERE info_hash = ?1",
                        [&hash(batch, i)[..]],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .ok();
                row == Some((1, 2))
            })
            .count() as u32
    }
}

fn hash(batch: &str, i: u32) -> [u8; 20] {
    common::id20(batch, i)
}

/// Polls `done` every 50 ms until it holds; fails after `limit`.
async fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Torrents announced before the fault, during it, and after the recovery.
const BEFORE: u32 = 10;
const DURING: u32 = 100;

/// Runs the tracker on `mounted`, breaks its storage with `fault`, checks that it serves and
/// reports `error` once, then repairs it with `repair` and checks that everything is written.
async fn fault_and_recovery(
    mounted: &Mounted,
    fault: impl FnOnce(&Path),
    error: &str,
    repair: impl FnOnce(&Path),
) {
    let mut s = Setup::start(mounted.path());
    for i in 0..BEFORE {
        s.announce_pair("-before-", i).await;
    }
    wait_for(Duration::from_secs(10), "written before the fault", || {
        s.stored("-before-", BEFORE) == BEFORE
    })
    .await;
    assert_eq!(s.metric("retracker_persistence_failing").await, 0);
    let errors_before = s.log_at("ERROR").len();

    fault(mounted.path());
    // Every announce is answered, with its peers, while the writes fail.
    for i in 0..DURING {
        s.announce_pair("-during-", i).await;
    }
    let start = Instant::now();
    while s.metric("retracker_persistence_failing").await == 0
        || s.metric("retracker_persistence_failures_total").await < 5
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writes are not reported failing several times within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(s.metric("retracker_persistence_backlog").await >= u64::from(DURING));
    s.announce_pair("-during-", DURING).await;
    let html = s.dashboard().await;
    assert!(
        html.contains("id=\"storage-alert\""),
        "no alert on the dashboard"
    );
    assert!(html.contains(error), "the alert does not say {error:?}");
    s.logged("storage write failed").await;
    let errors: Vec<String> = s.log_at("ERROR").split_off(errors_before);
    assert_eq!(
        errors.len(),
        1,
        "one error line for the whole fault: {errors:#?}"
    );
    assert!(
        errors[0].contains("storage write failed") && errors[0].contains(error),
        "{errors:?}"
    );
    assert!(
        errors[0].contains(&s.db.display().to_string()),
        "names the file"
    );

    repair(mounted.path());
    let start = Instant::now();
    while s.metric("retracker_persistence_failing").await == 1
        || s.metric("retracker_persistence_backlog").await > 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writes have not caught up 10 s after the repair"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        s.stored("-during-", DURING + 1),
        DURING + 1,
        "all written after the repair"
    );
    assert_eq!(s.stored("-before-", BEFORE), BEFORE);
    s.logged("storage writes recovered").await;
    assert!(!s.dashboard().await.contains("id=\"storage-alert\""));
    assert_eq!(s.log_at("ERROR").len(), errors_before + 1, "{:#?}", s.log());

    let status = s.tracker.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(
        !s.log().iter().any(|l| l.contains("which are lost")),
        "nothing lost: {:#?}",
        s.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: tests/run-all.sh runs it as root"]
async fn a_full_disk_keeps_announces_answered_and_writes_catch_up_when_space_returns() {
    let mounted = Mounted::tmpfs("4m");
    let filler = mounted.path().join("filler");
    fault_and_recovery(
        &mounted,
        |dir| {
            // Fills every free block: the next page the database needs cannot be had.
            use std::io::Write;
            let mut f = std::fs::File::create(dir.join("filler")).unwrap();
            let chunk = vec![0xA5u8; 64 << 10];
            let err = loop {
                if let Err(e) = f.write_all(&chunk) {
                    break e;
                }
            };
            assert_eq!(err.raw_os_error(), Some(28), "ENOSPC: {err}");
        },
        "database or disk is full",
        |_| std::fs::remove_file(&filler).unwrap(),
    )
    .await;
}

/// Sets or clears the immutable attribute of the database folder, the database and its
/// write-ahead log. ext4 refuses every write to an immutable file, also through a descriptor
/// opened before (EPERM), which is what a read-only database looks like to a running program:
/// `mount -o remount,ro` is refused (EBUSY) while SQLite holds the files open for writing.
/// The `-shm` index is left alone: SQLite maps it into memory, and a write fault on a mapped
/// immutable file is SIGBUS, for any program.
fn immutable(dir: &Path, on: bool) {
    sh(&["chattr", if on { "+i" } else { "-i" }])
        .arg(dir)
        .arg(dir.join("retracker.sqlite"))
        .arg(dir.join("retracker.sqlite-wal"))
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: tests/run-all.sh runs it as root"]
async fn a_database_made_read_only_keeps_announces_answered_and_writes_catch_up_when_writable() {
    let mounted = Mounted::ext4("rw");
    fault_and_recovery(
        &mounted,
        |dir| immutable(dir, true),
        "disk I/O error",
        |dir| immutable(dir, false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: tests/run-all.sh runs it as root"]
async fn a_filesystem_the_kernel_turns_read_only_keeps_announces_answered_and_a_stop_says_what_is_lost(
) {
    // errors=remount-ro: an ext4 error (here one ext4 raises on request) makes the kernel turn
    // the filesystem read-only at once, open files or not, until it is unmounted and checked.
    let mounted = Mounted::ext4("errors=remount-ro");
    let mut s = Setup::start(mounted.path());
    for i in 0..BEFORE {
        s.announce_pair("-before-", i).await;
    }
    wait_for(Duration::from_secs(10), "written before the fault", || {
        s.stored("-before-", BEFORE) == BEFORE
    })
    .await;
    let trigger = format!("/sys/fs/ext4/{}/trigger_fs_error", mounted.device());
    std::fs::write(&trigger, "retracker storage fault test").unwrap();
    for i in 0..DURING {
        s.announce_pair("-during-", i).await;
    }
    let start = Instant::now();
    while s.metric("retracker_persistence_failing").await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writes never fail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(s.dashboard().await.contains("id=\"storage-alert\""));
    s.logged("storage write failed").await;

    let status = s.tracker.terminate();
    assert_eq!(status.code(), Some(0), "a clean stop");
    s.logged("which are lost").await;
    let lost = s
        .log()
        .into_iter()
        .find(|l| l.contains("which are lost"))
        .unwrap();
    // 100 torrents and 200 peers at least; the exact number depends on what the last good
    // write took.
    let n: u64 = lost
        .split("stopping with ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{lost}"));
    assert!(n >= u64::from(DURING) * 3, "{lost}");
    assert_eq!(
        s.stored("-during-", DURING),
        0,
        "nothing of it reached the disk"
    );
    assert_eq!(
        s.stored("-before-", BEFORE),
        BEFORE,
        "what was written stays"
    );
}
