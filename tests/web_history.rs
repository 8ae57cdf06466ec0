//! History snapshots: taken on schedule into SQLite, charted on `/history`, kept across
//! restarts, pruned after `history_days`.

mod common;

use common::web::{self, Browser};
use common::{query, Tracker};
use retracker::config::Config;
use retracker::stats::Snapshot;
use retracker::storage::Storage;
use retracker::tracker::{unix_now, Clock};
use retracker::web::format;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A second connection to the tracker's database (WAL, so it reads beside the server).
async fn open(db: &Path) -> Arc<Storage> {
    let db = db.to_owned();
    tokio::task::spawn_blocking(move || Arc::new(Storage::open(&db, 1).unwrap()))
        .await
        .unwrap()
}

async fn snapshots(s: &Arc<Storage>) -> Vec<Snapshot> {
    let s = Arc::clone(s);
    tokio::task::spawn_blocking(move || s.snapshots(0, u32::MAX).unwrap())
        .await
        .unwrap()
}

/// Polls until `done` holds for the stored snapshots (20 s at most); returns them. With a
/// manual `clock`, moves it a second on the tracker's clock between polls, so that the
/// snapshot task's next turn comes without sleeping through the interval.
async fn wait_for(
    s: &Arc<Storage>,
    clock: &Clock,
    what: &str,
    done: impl Fn(&[Snapshot]) -> bool,
) -> Vec<Snapshot> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let snaps = snapshots(s).await;
        if done(&snaps) {
            return snaps;
        }
        assert!(Instant::now() < deadline, "{what}: {snaps:#?}");
        if clock.is_manual() {
            clock.advance(1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tweak(c: &mut Config) {
    c.stats.access_username = "admin".into();
    c.stats.access_password = web::PASSWORD.into();
    c.stats.snapshot_interval = 1;
    c.tracker.verify_reported_ip = false;
    c.tracker.allow_internal_ip = true;
}

#[tokio::test]
async fn snapshots_are_stored_charted_and_kept_across_restarts() {
    let t = Tracker::start_manual(tweak).await;
    let (a, b) = ([1u8; 20], [2u8; 20]);
    t.announce(&query(&a, 1, 6881, 0, "")).await;
    t.announce(&query(&a, 2, 6882, 100, "")).await;
    t.announce(&query(&a, 3, 6883, 0, "&ip=2001:db8::3")).await;
    t.announce(&query(&a, 4, 6884, 0, "&event=completed")).await;
    t.announce(&query(&b, 5, 6885, 10, "&ip=2001:db8::5")).await;
    t.get(&format!("/scrape?info_hash={}", common::pct(&a)))
        .await;
    let swarm_done = t.clock.now();

    let db = open(&t.db).await;
    // Two snapshots taken wholly after the swarm was complete.
    let snaps = wait_for(&db, &t.clock, "two snapshots of the swarm", |s| {
        s.iter().filter(|s| s.at > swarm_done).count() >= 2
    })
    .await;
    let last = snaps.last().unwrap();
    assert_eq!(
        (last.torrents, last.seeders, last.leechers),
        (2, 3, 2),
        "{last:?}"
    );
    assert_eq!((last.ipv4_peers, last.ipv6_peers), (3, 2), "{last:?}");
    assert_eq!(last.unique_addrs, 3);
    assert_eq!(last.completed, 1);
    assert!(snaps.windows(2).all(|w| w[0].at < w[1].at));
    assert!(
        snaps.iter().any(|s| s.announces_per_sec > 0.0),
        "the announces show as a rate: {snaps:#?}"
    );
    assert!(snaps.iter().any(|s| s.scrapes_per_sec > 0.0));

    let browser = Browser::login(t.addr).await;
    let html = browser.page("/history").await;
    assert_eq!(
        html.matches("<svg").count(),
        15,
        "three windows of five charts"
    );
    assert!(html.contains("<polyline"), "{html}");
    for title in [
        "<title>Peers, last hour</title>",
        "<title>Torrents, last 24 hours</title>",
        "<title>Requests per second, last hour</title>",
        "<title>Peers by address family, last 30 days</title>",
        "<title>Peers handed out kept local (%), last hour</title>",
    ] {
        assert!(html.contains(title), "{title}");
    }
    let oldest = format::utc(snaps[0].at);
    assert!(html.contains(&oldest), "summary names the oldest snapshot");
    assert!(html.contains("snapshots stored"));
    assert!(html.contains("class=\"active\">History"));

    // After a restart the stored history is still there.
    // The same clock goes on: the snapshots stand where the charts' windows end.
    drop(db);
    let clock = t.clock.clone();
    let dir = t.stop().await;
    let mut config = common::config_in(dir.path());
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let t = Tracker::start_clocked(dir, config, vec![listener].into(), clock).await;
    let browser = Browser::login(t.addr).await;
    let html = browser.page("/history").await;
    assert!(html.contains(&oldest), "old snapshots survive a restart");
    assert!(html.contains("<polyline"));
    let db = open(&t.db).await;
    let after = snapshots(&db).await;
    assert!(after.len() >= snaps.len());
    assert_eq!(after[0], snaps[0]);
}

#[tokio::test]
async fn snapshots_older_than_history_days_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config_in(dir.path());
    config.stats.history_days = 1;
    let now = unix_now();
    let old = Snapshot {
        at: now - 3 * 86_400,
        torrents: 1,
        ..Snapshot::default()
    };
    let recent = Snapshot {
        at: now - 600,
        torrents: 2,
        ..Snapshot::default()
    };
    {
        let db = open(&config.db.path).await;
        let (o, r) = (old.clone(), recent.clone());
        tokio::task::spawn_blocking(move || {
            db.insert_snapshot(&o).unwrap();
            db.insert_snapshot(&r).unwrap();
        })
        .await
        .unwrap();
    }
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    // Being served means the database is open; the prune runs as the snapshot task starts.
    t.announce(&query(&[3; 20], 1, 6881, 0, "")).await;
    let db = open(&t.db).await;
    let snaps = wait_for(&db, &t.clock, "the old snapshot pruned", |s| {
        s.iter().all(|s| s.at != old.at)
    })
    .await;
    assert!(
        snaps.contains(&recent),
        "recent history is kept: {snaps:#?}"
    );
}
