//! Persistence: write-behind to SQLite, restore at start, expiry of stored peers.

mod common;
use common::*;
use rusqlite::Connection;
use std::time::{Duration, Instant};

const H: [u8; 20] = *b"persist-test-hash-01";

fn stored(db: &std::path::Path) -> (i64, i64) {
    let c = Connection::open(db).unwrap();
    let completed = c
        .query_row(
            "SELECT completed FROM torrents WHERE info_hash = ?1",
            [&H[..]],
            |r| r.get(0),
        )
        .unwrap_or(-1);
    let peers = c
        .query_row(
            "SELECT count(*) FROM peers WHERE info_hash = ?1",
            [&H[..]],
            |r| r.get(0),
        )
        .unwrap();
    (completed, peers)
}

#[tokio::test]
async fn announces_reach_sqlite_within_the_flush_interval_without_a_shutdown() {
    let t = Tracker::start(|c| c.db.flush_interval_ms = 1000).await;
    t.announce(&query(&H, 1, 6001, 5, "&event=started")).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=completed")).await;
    let start = Instant::now();
    while stored(&t.db) != (1, 1) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not written within 5 s: {:?}",
            stored(&t.db)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mode: String = Connection::open(&t.db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn swarms_and_counts_survive_a_restart() {
    let t = Tracker::start(|_| {}).await;
    t.announce(&query(&H, 1, 6001, 5, "&event=started")).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=completed")).await;
    t.announce(&query(&H, 2, 6002, 5, "&event=started")).await;
    t.announce(&query(&H, 3, 6003, 5, "&event=started")).await;
    t.announce(&query(&H, 3, 6003, 5, "&event=stopped")).await;
    let dir = t.stop().await;
    assert_eq!(stored(&dir.path().join("retracker.sqlite")), (1, 2));

    let config = config_in(dir.path());
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    let d = t.announce(&query(&H, 4, 6004, 5, "")).await;
    assert_eq!(
        (d.int("complete"), d.int("incomplete"), d.int("downloaded")),
        (1, 2, 1)
    );
    let mut ports: Vec<u16> = d.peers4().iter().map(|p| p.port()).collect();
    ports.sort();
    assert_eq!(ports, vec![6001, 6002]);
    // The restored peer keeps its identity: completing again does not count twice.
    let d = t.announce(&query(&H, 1, 6001, 0, "&event=completed")).await;
    assert_eq!(d.int("downloaded"), 1);
}

#[tokio::test]
async fn counts_of_a_torrent_whose_swarm_emptied_come_back_when_it_is_announced_again() {
    let t = Tracker::start(|c| c.tracker.run_gc_key = "gc".into()).await;
    t.announce(&query(&H, 1, 6001, 5, "")).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=completed")).await;
    t.announce(&query(&H, 1, 6001, 0, "&event=stopped")).await;
    let dir = t.stop().await;
    let config = config_in(dir.path());
    // Restart: the torrent has no live peer, so it is not loaded into memory.
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    t.announce(&query(&H, 2, 6002, 5, "")).await;
    // The stored count is added by the writer within a flush; poll the scrape for it.
    let start = Instant::now();
    loop {
        let d = t
            .get(&format!("/scrape?info_hash={}", pct(&H)))
            .await
            .dict();
        let files = d.dict("files");
        let serde_bencode::value::Value::Dict(e) = files.0.get(&H[..]).unwrap() else {
            panic!()
        };
        if Dict(e.clone()).int("downloaded") == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "stored count never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = t.announce(&query(&H, 2, 6002, 0, "")).await; // finishes here: one more
    assert_eq!(d.int("downloaded"), 2);
    let dir = t.stop().await;
    assert_eq!(stored(&dir.path().join("retracker.sqlite")).0, 2);
}

#[tokio::test]
async fn expired_peers_are_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    t.announce(&query(&H, 1, 6001, 5, "")).await;
    t.announce(&query(&H, 2, 6002, 5, "")).await;
    let dir = t.stop().await;
    let db = dir.path().join("retracker.sqlite");
    // Peer 1 was last seen two hours ago: past announce_interval × peer_expire_factor (1 h).
    Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE peers SET last_seen = last_seen - 7200 WHERE port = 6001",
            [],
        )
        .unwrap();
    let config = config_in(dir.path());
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    let d = t.announce(&query(&H, 3, 6003, 5, "")).await;
    assert_eq!(
        d.peers4().iter().map(|p| p.port()).collect::<Vec<_>>(),
        vec![6002]
    );
    let expired: i64 = Connection::open(&t.db)
        .unwrap()
        .query_row("SELECT count(*) FROM peers WHERE port = 6001", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(expired, 0, "the expired row is deleted at start");
}
