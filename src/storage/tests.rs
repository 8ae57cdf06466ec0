//! Storage against real SQLite files in a temp dir.

use super::*;
use crate::swarm::{PeerRecord, TorrentChange};

fn rec(last_seen: u32, v6: bool) -> PeerRecord {
    PeerRecord {
        ip: if v6 {
            "2001:db8::7".parse().unwrap()
        } else {
            "10.1.2.3".parse().unwrap()
        },
        port: 51413,
        key: Some(u64::MAX - 3),
        last_seen,
        seeder: v6,
        seen_leeching: true,
        counted: v6,
        net: crate::locality::NetId::UNKNOWN,
    }
}

fn torrent(h: u8, delta: u64, needs: Option<u32>) -> TorrentChange {
    TorrentChange {
        info_hash: [h; 20],
        completed_delta: delta,
        first_seen: 10,
        last_seen: 20,
        needs_stored_count: needs,
    }
}

#[test]
fn write_then_load_round_trips_and_drops_expired_peers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/db.sqlite");
    let s = Storage::open(&path, 2).unwrap();
    let changes = Changes {
        peers: vec![
            PeerChange::Upsert([1; 20], [2; 20], rec(1000, false)),
            PeerChange::Upsert([1; 20], [3; 20], rec(1000, true)),
            PeerChange::Upsert([4; 20], [5; 20], rec(10, false)),
        ],
        torrents: vec![torrent(1, 2, None), torrent(4, 0, None)],
    };
    assert!(s.write(&changes).unwrap().is_empty());
    let at = Restore {
        now: 1000,
        expire_before: 500,
        renew: Renew::every(1),
    };
    let loaded = s.load(at).unwrap();
    assert_eq!(loaded.len(), 1, "torrent 4's only peer expired");
    assert_eq!(loaded[0].completed, 2);
    assert_eq!(loaded[0].peers.len(), 2);
    let (_, v6) = loaded[0]
        .peers
        .iter()
        .find(|(id, _)| *id == [3; 20])
        .unwrap();
    assert_eq!(*v6, rec(1000, true));
    assert_eq!(
        s.torrent(&[4; 20]).unwrap(),
        Some((0, 0)),
        "expired row deleted, torrent kept"
    );
    s.write(&Changes {
        peers: vec![PeerChange::Delete([1; 20], [2; 20])],
        torrents: vec![],
    })
    .unwrap();
    assert_eq!(s.torrent(&[1; 20]).unwrap(), Some((2, 1)));
}

#[test]
fn completed_deltas_add_up_and_stored_count_is_read_before_the_delta() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(&dir.path().join("db.sqlite"), 1).unwrap();
    s.write(&Changes {
        peers: vec![],
        torrents: vec![torrent(9, 5, None)],
    })
    .unwrap();
    let stored = s
        .write(&Changes {
            peers: vec![],
            torrents: vec![torrent(9, 2, Some(77))],
        })
        .unwrap();
    assert_eq!(
        stored,
        vec![StoredCount {
            info_hash: [9; 20],
            generation: 77,
            completed: 5
        }]
    );
    assert_eq!(s.torrent(&[9; 20]).unwrap(), Some((7, 0)));
    let stored = s
        .write(&Changes {
            peers: vec![],
            torrents: vec![torrent(8, 1, Some(3))],
        })
        .unwrap();
    assert_eq!(stored[0].completed, 0, "a torrent never stored has 0");
}

#[test]
fn reopening_keeps_data_and_marks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    Storage::open(&path, 1)
        .unwrap()
        .write(&Changes {
            peers: vec![],
            torrents: vec![torrent(1, 3, None)],
        })
        .unwrap();
    let s = Storage::open(&path, 1).unwrap();
    assert_eq!(s.torrent(&[1; 20]).unwrap(), Some((3, 0)));
    let conn = Connection::open(&path).unwrap();
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    let ver: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        (app, ver),
        (schema::APPLICATION_ID, schema::MIGRATIONS.len() as i64)
    );
}

#[test]
fn a_peer_write_touches_one_b_tree_and_expiry_still_deletes() {
    // Peer rows are written on every change (under aquatic's load, most peers once a
    // second): an index on last_seen was a second B-tree moved per row, for one expiry DELETE
    // a cleanup period. Migration 4 drops it; the DELETE scans instead.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let s = Storage::open(&path, 1).unwrap();
    let indexes: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'peers'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0, "no index beside the primary key");
    s.write(&Changes {
        peers: vec![
            PeerChange::Upsert([1; 20], [2; 20], rec(1000, false)),
            PeerChange::Upsert([1; 20], [3; 20], rec(10, false)),
        ],
        torrents: vec![torrent(1, 0, None)],
    })
    .unwrap();
    assert_eq!(s.delete_expired(500, Renew::every(1)).unwrap(), 1);
}

#[test]
fn foreign_files_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.sqlite");
    std::fs::write(
        &text,
        b"this is not a database, it is a text file of some length....",
    )
    .unwrap();
    let before = std::fs::read(&text).unwrap();
    let err = Storage::open(&text, 1).err().expect("refused").to_string();
    assert!(
        err.contains("notes.sqlite") && err.contains("not a retracker database"),
        "{err}"
    );
    assert_eq!(std::fs::read(&text).unwrap(), before);

    let other = dir.path().join("other.sqlite");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE users (name TEXT);")
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    let err = Storage::open(&other, 1).err().expect("refused").to_string();
    assert!(err.contains("another program"), "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), before);

    let newer = dir.path().join("newer.sqlite");
    Storage::open(&newer, 1).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = Storage::open(&newer, 1).err().expect("refused").to_string();
    assert!(err.contains("newer"), "{err}");
}

#[test]
fn web_ui_tables_round_trip_in_a_file_and_in_memory() {
    use crate::blocklist::BlockTarget;
    use crate::stats::Snapshot;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    for s in [
        Storage::open(&path, 2).unwrap(),
        Storage::open_memory().unwrap(),
    ] {
        assert_eq!(s.setting_or_insert("secret", b"first").unwrap(), b"first");
        assert_eq!(s.setting_or_insert("secret", b"second").unwrap(), b"first");

        for at in [100, 160, 220] {
            let snap = Snapshot {
                at,
                seeders: u64::from(at),
                announces_per_sec: 1.5,
                ..Default::default()
            };
            s.insert_snapshot(&snap).unwrap();
        }
        let got = s.snapshots(150, 221).unwrap();
        assert_eq!(
            got.iter().map(|x| x.seeders).collect::<Vec<_>>(),
            [160, 220]
        );
        assert_eq!(got[0].announces_per_sec, 1.5);
        assert_eq!(s.prune_snapshots(160).unwrap(), 1);
        assert_eq!(s.snapshots(0, 1000).unwrap().len(), 2);

        let net = BlockTarget::parse("10.2.0.0/16").unwrap();
        s.add_block(&net, "flat 12", 5, "admin").unwrap();
        s.add_block(
            &BlockTarget::parse(&"ab".repeat(20)).unwrap(),
            "dmca",
            6,
            "ops",
        )
        .unwrap();
        s.add_block(&net, "flat 12 again", 7, "ops").unwrap();
        let list = s.blocklist().unwrap();
        assert_eq!(list.len(), 2, "same target updates the entry");
        let entry = list.iter().find(|e| e.target == net).unwrap();
        assert_eq!((entry.reason.as_str(), entry.created), ("flat 12 again", 7));
        assert!(s.remove_block(entry.id).unwrap());
        assert!(!s.remove_block(entry.id).unwrap());
        assert_eq!(s.blocklist().unwrap().len(), 1);

        s.revoke_session(b"n1", 50).unwrap();
        s.revoke_session(b"n2", 500).unwrap();
        assert_eq!(
            s.revoked_sessions(100).unwrap(),
            vec![(b"n2".to_vec(), 500)]
        );

        s.set_torrent_name(&[1; 20], "debian.iso", 1).unwrap();
        let names = s.torrent_names(&[[1; 20], [2; 20]]).unwrap();
        assert_eq!(names.len(), 1);
        assert_eq!(names[&[1; 20]], "debian.iso");
        let meta = TorrentMeta {
            name: "album".into(),
            size: Some(u64::MAX),
            files: Some(3),
            piece_length: Some(16384),
            comment: Some("c".into()),
            created_by: None,
        };
        s.set_torrent_meta(&[[1; 20], [3; 20]], &meta, 2).unwrap();
        let stored = s.torrent_meta(&[[1; 20], [2; 20], [3; 20]]).unwrap();
        let clamped = TorrentMeta {
            size: Some(i64::MAX as u64),
            ..meta
        };
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[&[1; 20]], clamped);
        assert_eq!(stored[&[3; 20]], clamped);
        assert_eq!(s.torrent_names(&[[3; 20]]).unwrap()[&[3; 20]], "album");
        s.set_torrent_name(&[3; 20], "renamed", 3).unwrap();
        assert_eq!(s.torrent_meta(&[[3; 20]]).unwrap()[&[3; 20]].files, Some(3));
        assert_eq!(s.completed_total().unwrap(), 0);
    }
    assert!(Storage::open(&path, 1).unwrap().size_bytes() > 0);
    assert_eq!(Storage::open_memory().unwrap().size_bytes(), 0);
}

fn check(at: u32, url: &str, seeders: i64, source: checks::Source) -> checks::RecordedCheck {
    checks::RecordedCheck {
        id: 0,
        at,
        url: url.into(),
        request: "announce".into(),
        info_hash: Some("AB".repeat(20)),
        status: "ok".into(),
        error: None,
        seeders: Some(seeders),
        leechers: Some(2),
        downloaded: Some(7),
        interval: Some(1800),
        time_ms: 12,
        attempts: 1,
        external_ip: Some("127.0.0.1".into()),
        warnings: vec!["w1".into(), "w2".into()],
        source,
        peers: vec![checks::CheckPeer {
            address: "127.0.0.1:6881".into(),
            client: Some("qBittorrent 4.5.2".into()),
        }],
    }
}

#[test]
fn checks_list_page_by_filter_series_export_and_cleanup() {
    use checks::{CheckFilter, Source};
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(&dir.path().join("db.sqlite"), 1).unwrap();
    let a = "http://a/announce";
    let b = "udp://b:1";
    for (at, url, seeders) in [(100, a, 1), (200, b, 5), (300, a, 3), (400, a, 4)] {
        s.record_check(&check(at, url, seeders, Source::Watch))
            .unwrap();
    }
    let page = s
        .list_checks(&CheckFilter {
            url: Some(a.into()),
            info_hash: Some("ab".repeat(20)),
            offset: 1,
            limit: 1,
        })
        .unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.rows.len(), 1);
    let row = &page.rows[0];
    assert_eq!(
        (row.at, row.seeders),
        (300, Some(3)),
        "newest first, one skipped"
    );
    let mut want = check(300, a, 3, Source::Watch);
    want.id = row.id;
    want.info_hash = Some("ab".repeat(20));
    assert_eq!(*row, want, "every column and the peers read back");
    let other = s
        .list_checks(&CheckFilter {
            info_hash: Some("cd".repeat(20)),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((other.total, other.rows.len()), (0, 0));

    let series = s.check_series(a, &"AB".repeat(20), 200).unwrap();
    let points: Vec<_> = series.iter().map(|p| (p.at, p.seeders)).collect();
    assert_eq!(points, vec![(300, Some(3)), (400, Some(4))]);

    let polls = s.export_checks(Some(a), None).unwrap();
    assert_eq!(polls.len(), 3);
    assert_eq!(polls[0].time, "1970-01-01T00:01:40Z");
    assert_eq!(polls[0].peers, vec!["127.0.0.1:6881".to_owned()]);

    // keep_days: everything before the cut goes, peers included.
    assert_eq!(s.delete_checks_before(300).unwrap(), 2);
    let left = s.export_checks(None, None).unwrap();
    assert_eq!(
        left.iter().map(|p| p.seeders).collect::<Vec<_>>(),
        vec![Some(3), Some(4)]
    );
    let conn = s.conn().unwrap();
    let peers: i64 = conn
        .query_row("SELECT count(*) FROM check_peers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(peers, 2, "the deleted checks' peers are gone too");
}

#[test]
fn page_watches_add_update_and_remove() {
    let s = Storage::open_memory().unwrap();
    let h = "EF".repeat(20);
    let id = s.add_watch("udp://t:1", &h, 60, 1000).unwrap();
    assert_eq!(s.add_watch("udp://t:1", &h, 30, 2000).unwrap(), id);
    let w = s.page_watches().unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].seconds, w[0].created, w[0].info_hash.as_str()),
        (30, 1000, "ef".repeat(20).as_str())
    );
    assert!(s.remove_watch(id).unwrap());
    assert!(!s.remove_watch(id).unwrap());
    assert!(s.page_watches().unwrap().is_empty());
}
