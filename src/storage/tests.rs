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
    let loaded = s.load(500).unwrap();
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
