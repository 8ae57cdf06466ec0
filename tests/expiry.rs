//! Peers that stop announcing expire by time (several clients never send `stopped` when killed):
//! the periodic cleanup drops them from memory and from SQLite.

mod common;
use common::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn silent_peers_expire_from_memory_and_database() {
    let h = *b"expiry-test-hash-001";
    let t = Tracker::start(|c| {
        c.tracker.announce_interval = 1;
        c.tracker.peer_expire_factor = 1.0;
        c.tracker.peer_cleanup_period = 1;
    })
    .await;
    t.announce(&query(&h, 1, 6001, 5, "")).await; // then goes silent
    let start = Instant::now();
    loop {
        // Peer 2 keeps announcing, so only peer 1 can expire.
        let d = t.announce(&query(&h, 2, 6002, 5, "")).await;
        if d.peers4().is_empty() {
            assert_eq!(d.int("incomplete"), 1);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "peer 1 never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let start = Instant::now();
    loop {
        let rows: i64 = rusqlite::Connection::open(&t.db)
            .unwrap()
            .query_row("SELECT count(*) FROM peers WHERE port = 6001", [], |r| {
                r.get(0)
            })
            .unwrap();
        if rows == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "expired peer still stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
