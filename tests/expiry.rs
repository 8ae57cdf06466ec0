//! Peers that stop announcing expire by time (several clients never send `stopped` when killed):
//! the periodic cleanup drops them from memory and from SQLite, and not a second early. The
//! tracker runs on a manual clock, so an hour of silence takes no time at all.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// Rows of the peer on `port` in the database.
fn stored(t: &Tracker, port: u16) -> i64 {
    rusqlite::Connection::open(&t.db)
        .unwrap()
        .query_row("SELECT count(*) FROM peers WHERE port = ?1", [port], |r| {
            r.get(0)
        })
        .unwrap()
}

#[tokio::test]
async fn silent_peers_expire_from_memory_and_database() {
    let h = *b"expiry-test-hash-001";
    // Expiry 3600 s, a cleanup every 300 s of the tracker's clock.
    let t = Tracker::start_manual(|c| {
        c.tracker.announce_interval = 1800;
        c.tracker.peer_expire_factor = 2.0;
        c.tracker.peer_cleanup_period = 300;
    })
    .await;
    t.announce(&query(&h, 1, 6001, 5, "")).await; // then goes silent
    t.announce(&query(&h, 2, 6002, 5, "")).await;
    let start = Instant::now();
    while stored(&t, 6001) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "peer 1 never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 3599 s of silence: a cleanup now (`?gc`, answered once it is done) keeps peer 1.
    t.clock.advance(3599);
    let r = t.get("/announce?gc").await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().starts_with("cleanup done: 0 expired peers"),
        "{}",
        r.text()
    );
    let d = t.announce(&query(&h, 2, 6002, 5, "")).await;
    assert_eq!(d.peers4().len(), 1, "peer 1 is not expired a second early");

    // Past the expiry, the periodic cleanup drops it. Peer 2 keeps announcing, each time a
    // minute later, so only peer 1 can expire and the cleanup's next turn always comes.
    let start = Instant::now();
    loop {
        t.clock.advance(60);
        let d = t.announce(&query(&h, 2, 6002, 5, "")).await;
        if d.peers4().is_empty() {
            assert_eq!(d.int("incomplete"), 1);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "peer 1 never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = Instant::now();
    while stored(&t, 6001) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "expired peer still stored"
        );
        t.clock.advance(60);
        t.announce(&query(&h, 2, 6002, 5, "")).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stored(&t, 6002), 1, "the announcing peer is kept");
}
