//! Recordings of `retracker query --watch --record FILE.sqlite`: one row per poll and request
//! in `polls`, its peers in `poll_peers`. The file carries its own `application_id`
//! ([`RECORD_APPLICATION_ID`], "RTRQ"), so a recording is never taken for a tracker database
//! nor the other way round; a file with another id is refused untouched.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// `application_id` of a recording ("RTRQ").
pub const RECORD_APPLICATION_ID: i32 = 0x5254_5251;

const SCHEMA: &str = "
    CREATE TABLE polls (
        id         INTEGER PRIMARY KEY,
        time       TEXT NOT NULL,
        url        TEXT NOT NULL,
        request    TEXT NOT NULL,
        info_hash  TEXT,
        status     TEXT NOT NULL,
        error      TEXT,
        seeders    INTEGER,
        leechers   INTEGER,
        downloaded INTEGER,
        interval   INTEGER,
        time_ms    INTEGER NOT NULL,
        attempts   INTEGER NOT NULL
    );
    CREATE TABLE poll_peers (
        poll    INTEGER NOT NULL REFERENCES polls (id),
        address TEXT NOT NULL
    );
    CREATE INDEX poll_peers_poll ON poll_peers (poll);";

/// One recorded request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Poll {
    /// When the poll started, `2026-11-21T17:08:00Z`.
    pub time: String,
    /// Tracker URL.
    pub url: String,
    /// `announce`, `scrape`, `full scrape`.
    pub request: String,
    /// Hex info hash.
    pub info_hash: Option<String>,
    /// `ok`, `failure`, `error`.
    pub status: String,
    /// Failure reason or error.
    pub error: Option<String>,
    /// Seeders.
    pub seeders: Option<i64>,
    /// Leechers.
    pub leechers: Option<i64>,
    /// Completed downloads.
    pub downloaded: Option<i64>,
    /// Announce interval.
    pub interval: Option<i64>,
    /// Response time.
    pub time_ms: i64,
    /// Attempts.
    pub attempts: i64,
    /// Peers, `ip:port`.
    pub peers: Vec<String>,
}

/// An open recording.
pub struct Recording {
    conn: Connection,
}

/// Why a recording cannot be used; names the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sqlite {
        /// File.
        path: String,
        /// Error.
        source: rusqlite::Error,
    },
    /// Another program's SQLite file, or a tracker database.
    #[error("{path}: not a retracker recording ({detail}); the file was left untouched")]
    Foreign {
        /// File.
        path: String,
        /// What it is.
        detail: String,
    },
}

impl Recording {
    /// Opens `path`, creating the recording if the file is new or empty; `create` false opens
    /// an existing one read-only (for `retracker report`).
    pub fn open(path: &Path, create: bool) -> Result<Recording, RecordError> {
        let name = path.display().to_string();
        let sql = |source| RecordError::Sqlite {
            path: name.clone(),
            source,
        };
        let conn = if create {
            Connection::open(path)
        } else {
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        }
        .map_err(sql)?;
        let id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(sql)?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sql)?;
        if id == RECORD_APPLICATION_ID {
            return Ok(Recording { conn });
        }
        let detail = if id == super::schema::APPLICATION_ID {
            "it is a retracker tracker database".to_owned()
        } else if id != 0 || tables > 0 {
            format!("application_id {id:#x}, {tables} schema objects")
        } else if create {
            conn.execute_batch(&format!(
                "PRAGMA application_id = {RECORD_APPLICATION_ID}; PRAGMA user_version = 1; \
                 BEGIN; {SCHEMA} COMMIT;"
            ))
            .map_err(sql)?;
            return Ok(Recording { conn });
        } else {
            "an empty database".to_owned()
        };
        Err(RecordError::Foreign { path: name, detail })
    }

    /// Appends `polls` in one transaction.
    pub fn append(&mut self, polls: &[Poll]) -> Result<(), rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let mut poll = tx.prepare_cached(
                "INSERT INTO polls (time, url, request, info_hash, status, error, seeders, \
                 leechers, downloaded, interval, time_ms, attempts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut peer =
                tx.prepare_cached("INSERT INTO poll_peers (poll, address) VALUES (?1, ?2)")?;
            for p in polls {
                poll.execute(params![
                    p.time,
                    p.url,
                    p.request,
                    p.info_hash,
                    p.status,
                    p.error,
                    p.seeders,
                    p.leechers,
                    p.downloaded,
                    p.interval,
                    p.time_ms,
                    p.attempts
                ])?;
                let id = tx.last_insert_rowid();
                for a in &p.peers {
                    peer.execute(params![id, a])?;
                }
            }
        }
        tx.commit()
    }

    /// Every poll, oldest first.
    pub fn polls(&self) -> Result<Vec<Poll>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT id, time, url, request, info_hash, status, error, seeders, leechers, \
             downloaded, interval, time_ms, attempts FROM polls ORDER BY id",
        )?;
        let mut peers = self
            .conn
            .prepare("SELECT address FROM poll_peers WHERE poll = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Poll {
                    time: r.get(1)?,
                    url: r.get(2)?,
                    request: r.get(3)?,
                    info_hash: r.get(4)?,
                    status: r.get(5)?,
                    error: r.get(6)?,
                    seeders: r.get(7)?,
                    leechers: r.get(8)?,
                    downloaded: r.get(9)?,
                    interval: r.get(10)?,
                    time_ms: r.get(11)?,
                    attempts: r.get(12)?,
                    peers: Vec::new(),
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, mut poll) = row?;
            poll.peers = peers
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            out.push(poll);
        }
        Ok(out)
    }

    /// `PRAGMA application_id` of a file, without changing it (for tests and diagnostics).
    pub fn application_id(path: &Path) -> Result<Option<i32>, rusqlite::Error> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.query_row("PRAGMA application_id", [], |r| r.get(0))
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(n: i64) -> Poll {
        Poll {
            time: "2026-01-01T00:00:00Z".into(),
            url: "udp://t:1".into(),
            request: "announce".into(),
            info_hash: Some("ab".repeat(20)),
            status: "ok".into(),
            error: None,
            seeders: Some(n),
            leechers: Some(1),
            downloaded: None,
            interval: Some(1800),
            time_ms: 3,
            attempts: 1,
            peers: vec!["127.0.0.1:1".into(), format!("[::1]:{n}")],
        }
    }

    #[test]
    fn polls_read_back_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sqlite");
        let mut r = Recording::open(&path, true).unwrap();
        r.append(&[poll(1), poll(2)]).unwrap();
        r.append(&[poll(3)]).unwrap();
        drop(r);
        let r = Recording::open(&path, false).unwrap();
        assert_eq!(r.polls().unwrap(), vec![poll(1), poll(2), poll(3)]);
        assert_eq!(
            Recording::application_id(&path).unwrap(),
            Some(RECORD_APPLICATION_ID)
        );

        let tracker = dir.path().join("t.sqlite");
        Connection::open(&tracker)
            .unwrap()
            .execute_batch(&format!(
                "PRAGMA application_id = {}; CREATE TABLE x (y)",
                super::super::schema::APPLICATION_ID
            ))
            .unwrap();
        let e = Recording::open(&tracker, true).err().unwrap().to_string();
        assert!(e.contains("it is a retracker tracker database"), "{e}");
        std::fs::write(dir.path().join("empty.sqlite"), b"").unwrap();
        let e = Recording::open(&dir.path().join("empty.sqlite"), false)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a retracker recording"), "{e}");
    }
}
