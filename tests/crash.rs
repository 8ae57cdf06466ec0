//! Crash safety: `kill -9` of the real binary while it is under announce load.
//!
//! What must hold (issue 7, item 4): the database passes `PRAGMA integrity_check`; every torrent
//! and completed count that was in the database before the kill is still there; the restarted
//! tracker answers an announce, with the restored counts, within 1 s of its start. What the kill
//! may lose is the last flush interval's changes (README, Persistence); the test does not count
//! on anything newer than what it read from the database before the kill.
//!
//! And (issue 17) the write-behind follows changes, not announces: a peer re-announcing with
//! nothing changed is not rewritten until its renew window (a quarter of the peer expiry)
//! has passed, a restart still restores such a peer (its stored `last_seen` lags, so it is
//! taken as seen at the end of its window, not expired early), and a state change made just
//! before a `kill -9` is in the database after it.

mod common;
use common::process::Process;
use common::*;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Torrents whose completed counts are in the database before the kill.
const SETTLED: u32 = 40;
/// Torrents the load announces to, up to the kill.
const LOADED: u32 = 64;
/// Connections announcing at once.
const LOAD_TASKS: u32 = 4;

fn settled(i: u32) -> [u8; 20] {
    id20("crash-settled-", i)
}

fn loaded(i: u32) -> [u8; 20] {
    id20("crash-load-", i)
}

/// Completed downloads announced for settled torrent `i` (1 to 4).
fn completions(i: u32) -> i64 {
    i64::from(i % 4 + 1)
}

/// An announce of peer `peer` over a fresh connection; an error once the tracker is gone.
async fn announce(
    addr: SocketAddr,
    hash: &[u8; 20],
    peer: [u8; 20],
    extra: &str,
) -> Result<Dict, String> {
    let query = format!(
        "info_hash={}&peer_id={}&port=6881&uploaded=0&downloaded=0{extra}",
        pct(hash),
        pct(&peer)
    );
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let req =
        format!("GET /announce?{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    // A kill can cut an answer short: that is an error here, not a panic of the parser.
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!("no complete answer: {raw:?}"));
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or("no content-length")?;
    if raw.len() < end + 4 + len {
        return Err("short answer".into());
    }
    let d = parse_response(&raw).0.dict();
    match d.str("failure reason") {
        Some(reason) => Err(format!("refused: {reason}")),
        None => Ok(d),
    }
}

/// A peer that starts, then completes its download.
async fn complete(addr: SocketAddr, hash: &[u8; 20], peer: [u8; 20]) -> Result<(), String> {
    announce(addr, hash, peer, "&left=5&event=started").await?;
    announce(addr, hash, peer, "&left=0&event=completed").await?;
    Ok(())
}

/// Every torrent's completed count in the database, read as another process would, without
/// writing to it.
fn stored_counts(db: &Path) -> HashMap<[u8; 20], i64> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = c
        .prepare("SELECT info_hash, completed FROM torrents")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
        .unwrap();
    rows.map(|r| {
        let (h, n) = r.unwrap();
        (h.try_into().unwrap(), n)
    })
    .collect()
}

/// Whether the database holds peer `peer` of `hash`.
fn stored_peer(db: &Path, hash: &[u8; 20], peer: &[u8; 20]) -> bool {
    stored_last_seen(db, hash, peer).is_some()
}

/// The stored `last_seen` of peer `peer` of `hash`, if it is stored.
fn stored_last_seen(db: &Path, hash: &[u8; 20], peer: &[u8; 20]) -> Option<u32> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.query_row(
        "SELECT last_seen FROM peers WHERE info_hash = ?1 AND peer_id = ?2",
        [&hash[..], &peer[..]],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .unwrap()
    .map(|t| t as u32)
}

/// Polls `what` every 50 ms until it holds; fails after `limit`.
async fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_keeps_the_database_sound_and_what_was_written_and_restarts_within_1_s() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retracker.sqlite");
    let ini = dir.path().join("retracker.ini");
    // The default flush interval (1000 ms): the window the README promises.
    std::fs::write(
        &ini,
        format!(
            "[TRACKER]\nhost = 127.0.0.1\nport = 0\nudp_port = 0\n[DB]\npath = {}\n[LOGGING]\nlog_file =\n",
            db.display()
        ),
    )
    .unwrap();
    let mut tracker = Process::start(&ini);
    let addr = tracker.addr;

    // The load: new peers starting and completing on other torrents, until the kill.
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for task in 0..LOAD_TASKS {
        let (answered, stop) = (Arc::clone(&answered), Arc::clone(&stop));
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let peer = id20(&format!("-LD{task}-"), n);
                if complete(addr, &loaded(n % LOADED), peer).await.is_err() {
                    break; // killed
                }
                answered.fetch_add(2, Ordering::Relaxed);
                n += 1;
            }
        }));
    }

    // The settled torrents, announced beside the load, then read back from the database.
    for i in 0..SETTLED {
        for k in 0..completions(i) as u32 {
            complete(addr, &settled(i), id20("-ST0001-", i * 10 + k))
                .await
                .unwrap();
        }
    }
    wait_for(
        Duration::from_secs(15),
        "settled counts in the database",
        || {
            let stored = stored_counts(&db);
            (0..SETTLED).all(|i| stored.get(&settled(i)) == Some(&completions(i)))
        },
    )
    .await;

    // What the load has in the database now must survive too; the kill comes while the load
    // keeps announcing (and the writer keeps writing) past this point.
    let mut before = HashMap::new();
    wait_for(
        Duration::from_secs(15),
        "load torrents in the database",
        || {
            before = stored_counts(&db);
            before.retain(|h, _| (0..LOADED).any(|i| loaded(i) == *h));
            !before.is_empty()
        },
    )
    .await;
    // A state change shortly before the kill: one of settled torrent 1's two seeders stops. Its
    // deletion is written within the flush interval, like any change (not held back as an
    // unchanged re-announce is).
    let stopped_at = Instant::now();
    announce(
        addr,
        &settled(1),
        id20("-ST0001-", 10),
        "&left=0&event=stopped",
    )
    .await
    .unwrap();
    wait_for(Duration::from_secs(15), "the stop in the database", || {
        !stored_peer(&db, &settled(1), &id20("-ST0001-", 10))
    })
    .await;
    println!(
        "the stop was in the database {:?} after its announce (flush interval 1 s)",
        stopped_at.elapsed()
    );
    let at_snapshot = answered.load(Ordering::Relaxed);
    wait_for(
        Duration::from_secs(15),
        "more load after the snapshot",
        || answered.load(Ordering::Relaxed) >= at_snapshot + 200,
    )
    .await;
    assert!(
        load.iter().all(|t| !t.is_finished()),
        "the load runs until the kill"
    );
    tracker.kill();
    let at_kill = answered.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }

    // The database after the kill, opened as the restart will open it (recovering the WAL).
    let c = Connection::open(&db).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);
    let after = stored_counts(&db);
    for i in 0..SETTLED {
        assert_eq!(
            after.get(&settled(i)),
            Some(&completions(i)),
            "settled torrent {i}"
        );
    }
    for (hash, n) in &before {
        let now = after.get(hash).copied().unwrap_or(-1);
        assert!(
            now >= *n,
            "{}: {n} completed before the kill, {now} after",
            String::from_utf8_lossy(hash)
        );
    }
    assert!(
        !stored_peer(&db, &settled(1), &id20("-ST0001-", 10)),
        "the peer that stopped before the kill is deleted, and stays so"
    );
    let peers: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM peers", [], |r| r.get(0))
        .unwrap();

    // Restart: the first announce is answered, with the restored counts, within 1 s of the spawn.
    let tracker = Process::start(&ini);
    let answer = loop {
        match announce(tracker.addr, &settled(0), id20("-RS0001-", 1), "&left=5").await {
            Ok(d) => break d,
            Err(e) => assert!(
                tracker.spawned.elapsed() < Duration::from_secs(10),
                "no answer 10 s after the restart: {e}"
            ),
        }
    };
    let took = tracker.spawned.elapsed();
    println!(
        "kill -9 after {at_kill} announces; database ok with {} torrents and {peers} peers; \
         restarted and answered in {took:?}",
        after.len()
    );
    assert_eq!(answer.int("downloaded"), completions(0));
    assert_eq!(
        answer.int("complete"),
        completions(0),
        "the seeders restored"
    );
    let answer = announce(tracker.addr, &settled(1), id20("-RS0001-", 2), "&left=5")
        .await
        .unwrap();
    assert_eq!(
        (answer.int("complete"), answer.int("downloaded")),
        (completions(1) - 1, completions(1)),
        "without the seeder that stopped before the kill"
    );
    assert!(
        took < Duration::from_secs(1),
        "the restarted tracker answered {took:?} after its start"
    );
}

/// Windows of a quarter of the default peer expiry (2 × 1800 s).
const WINDOW: u32 = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_peer_is_not_rewritten_and_a_restart_still_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let expiry = config.peer_expiry_secs();
    assert_eq!(expiry / 4, WINDOW, "the default expiry");
    // A manual clock 10 s into a renew window, so the test decides when windows end.
    let t0 = retracker::tracker::unix_now() / WINDOW * WINDOW + 10;
    let start = |dir: tempfile::TempDir, t: u32| async move {
        let mut listeners = retracker::server::Listeners::default();
        listeners
            .tracker
            .push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        let config = config_in(dir.path());
        Tracker::start_clocked(dir, config, listeners, retracker::tracker::Clock::manual(t)).await
    };
    let t = start(dir, t0).await;
    let hash = id20("renew-", 1);
    let (a, b) = (id20("-RW0001-", 1), id20("-RW0001-", 2));
    let q = |peer: &[u8; 20], extra: &str| {
        format!(
            "info_hash={}&peer_id={}&port=6881&uploaded=0&downloaded=0{extra}",
            pct(&hash),
            pct(peer)
        )
    };
    t.announce(&q(&a, "&left=5&event=started")).await;
    t.announce(&q(&b, "&left=5&event=started&numwant=0")).await;
    wait_for(Duration::from_secs(15), "both peers stored", || {
        stored_last_seen(&t.db, &hash, &a) == Some(t0) && stored_peer(&t.db, &hash, &b)
    })
    .await;
    let rows_before = metric(
        &t.get("/metrics").await.text(),
        "retracker_persistence_rows_total",
    );

    // Re-announces with nothing changed, within the window: nothing to write.
    for minute in 1..=14 {
        t.clock.set(t0 + minute * 60);
        t.announce(&q(&a, "&left=5")).await;
        let m = t.get("/metrics").await.text();
        assert_eq!(
            metric(&m, "retracker_persistence_backlog"),
            0.0,
            "an unchanged re-announce at minute {minute} left a change to write"
        );
    }
    // A change of peer b (it finished) is written, and the flush that writes it leaves a as
    // it was stored at t0.
    t.announce(&q(&b, "&left=0&event=completed&numwant=0"))
        .await;
    wait_for(Duration::from_secs(15), "b's change written", || {
        stored_seeders(&t.db, &hash) == 1
    })
    .await;
    let rows_after = metric(
        &t.get("/metrics").await.text(),
        "retracker_persistence_rows_total",
    );
    assert_eq!(
        rows_after - rows_before,
        2.0,
        "14 unchanged re-announces wrote nothing: only b's change and its torrent's row"
    );
    assert_eq!(
        stored_last_seen(&t.db, &hash, &a),
        Some(t0),
        "a not rewritten"
    );

    // The restart: 14 minutes of announces of a are not in the database, yet a is live. At
    // t0 + 14 min + expiry - 5 min its stored last_seen (t0) is past the expiry limit, its real
    // one (t0 + 14 min) is not: it must come back.
    let dir = t.stop().await;
    let restart_at = t0 + 14 * 60 + expiry - 5 * 60;
    assert!(
        t0 < restart_at - expiry,
        "the stored last_seen alone would be expired"
    );
    let t = start(dir, restart_at).await;
    let newcomer = id20("-RW0001-", 3);
    let d = t
        .announce(&q(&newcomer, "&left=5&event=started&compact=1"))
        .await;
    assert_eq!(
        (d.int("complete"), d.int("incomplete")),
        (1, 2),
        "a (leecher) and b (seeder) restored beside the newcomer"
    );
    // And peers whose window ended before the expiry limit are not: a minute after an expiry
    // past the end of a's and b's window (t0 - 10 ..= t0 + 889), both are gone; the newcomer
    // (stored at the first restart) is not.
    let dir = t.stop().await;
    let t = start(dir, t0 - 10 + WINDOW + expiry + 60).await;
    let d = t
        .announce(&q(&id20("-RW0001-", 4), "&left=5&event=started"))
        .await;
    assert_eq!(
        (d.int("complete"), d.int("incomplete")),
        (0, 2),
        "a and b expired; the newcomer and the new peer live"
    );
    t.stop().await;
}

/// The seeders stored for `hash`.
fn stored_seeders(db: &Path, hash: &[u8; 20]) -> i64 {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.query_row(
        "SELECT count(*) FROM peers WHERE info_hash = ?1 AND seeder = 1",
        [&hash[..]],
        |r| r.get(0),
    )
    .unwrap()
}
