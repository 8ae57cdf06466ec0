//! Persistence of torrents and peers in SQLite (rusqlite, bundled; r2d2 pool; WAL).
//!
//! The request path never touches this module: the swarm store records changes, and
//! [`writer::run`] writes them behind in batches. At start [`Storage::restore_into`] streams the
//! live peers back into the store. This is the only module that contains SQL: [`record`] holds
//! the recordings of `retracker query --watch`.
//!
//! Errors: [`StorageError`]; each names the database file.

mod admin;
pub use admin::TorrentMeta;
pub mod checks;
mod pool;
pub mod record;
pub mod schema;
#[cfg(test)]
mod tests;
pub mod writer;

use crate::locality::NetId;
use crate::protocol::InfoHash;
use crate::swarm::{Changes, PeerChange, PeerRecord, Renew, Restore, RestoredTorrent, SwarmStore};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OptionalExtension};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// A database problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database's folder could not be created.
    #[error("{path}: cannot create the database folder: {source}")]
    CreateDir {
        /// The database file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file exists but is not a retracker database (another program's, or not SQLite at all).
    #[error("{path}: not a retracker database ({detail}); the file was left untouched")]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The file is an SQLite database, but damaged (truncated, overwritten, a disk fault). Found
    /// at start while reading, before anything was written to it.
    #[error("{path}: the database is damaged ({detail}); the file was left untouched: restore it from a backup, or move it away to start with an empty database")]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        detail: String,
    },
    /// The schema is newer than this program knows.
    #[error("{path}: database schema version {found} is newer than this retracker ({known}); upgrade retracker")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// An SQLite error.
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// No connection could be had from the pool.
    #[error("{path}: {source}")]
    Pool {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: r2d2::Error,
    },
}

/// The stored completed count of a swarm that was created before it was known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredCount {
    /// Torrent.
    pub info_hash: InfoHash,
    /// Generation of the in-memory swarm that asked.
    pub generation: u32,
    /// Completed downloads stored before this flush.
    pub completed: u64,
}

/// The SQLite database behind a connection pool.
pub struct Storage {
    pool: r2d2::Pool<pool::Manager>,
    path: PathBuf,
    /// `[DB] type = memory`: a private in-memory database that only the web UI's tables use.
    in_memory: bool,
}

impl Storage {
    /// Opens (creating it and its folder if needed) and migrates the database at `path`.
    ///
    /// A file that is not SQLite, or an SQLite file of another program, is refused before anything
    /// is written to it.
    pub fn open(path: &Path, pool_size: u32) -> Result<Storage, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let sqlite = |source| StorageError::Sqlite {
            path: path.to_owned(),
            source,
        };
        {
            let conn = Connection::open(path).map_err(sqlite)?;
            check_identity(&conn, path)?;
            migrate(&conn, path)?;
        }
        let manager = pool::Manager(SqliteConnectionManager::file(path).with_init(|c| {
            c.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
            )
        }));
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .build(manager)
            .map_err(|source| StorageError::Pool {
                path: path.to_owned(),
                source,
            })?;
        Ok(Storage {
            pool,
            path: path.to_owned(),
            in_memory: false,
        })
    }

    /// An in-memory database for `[DB] type = memory`: swarms are not persisted, but the web UI
    /// still keeps its settings, history and blocklist (until the process ends).
    pub fn open_memory() -> Result<Storage, StorageError> {
        let path = PathBuf::from(":memory:");
        // One connection that is never recycled: each in-memory connection is its own database.
        let pool = r2d2::Pool::builder()
            .max_size(1)
            .min_idle(Some(1))
            .max_lifetime(None)
            .idle_timeout(None)
            .build(pool::Manager(SqliteConnectionManager::memory()))
            .map_err(|source| StorageError::Pool {
                path: path.clone(),
                source,
            })?;
        let storage = Storage {
            pool,
            path,
            in_memory: true,
        };
        migrate(&*storage.conn()?, &storage.path)?;
        Ok(storage)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<pool::Manager>, StorageError> {
        self.pool.get().map_err(|source| StorageError::Pool {
            path: self.path.clone(),
            source,
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> StorageError {
        StorageError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// [`Storage::sqlite`], except that a damaged file is [`StorageError::Damaged`]: for the
    /// reads at start, which come before any write.
    fn at_start(&self, source: rusqlite::Error) -> StorageError {
        damaged_or(&self.path, source, |source| self.sqlite(source))
    }

    /// Reads the live peers (see [`Restore`]) back grouped by torrent, with each torrent's
    /// stored counts, and deletes the others.
    pub fn load(&self, at: Restore) -> Result<Vec<RestoredTorrent>, StorageError> {
        let mut out = Vec::new();
        self.load_each(at, |t| out.push(t))?;
        Ok(out)
    }

    /// Restores the live peers into `store` (see [`Storage::load_each`]) a few torrents at a
    /// time, so that no copy of every peer is ever held besides the store's own. Returns the
    /// number of torrents and peers restored.
    pub fn restore_into(
        &self,
        at: Restore,
        store: &dyn SwarmStore,
    ) -> Result<(u64, u64), StorageError> {
        const BATCH: usize = 256;
        let mut batch = Vec::with_capacity(BATCH);
        let counts = self.load_each(at, |t| {
            batch.push(t);
            if batch.len() == BATCH {
                store.restore(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        })?;
        store.restore(batch);
        Ok(counts)
    }

    /// Calls `f` with each torrent that has live peers, those peers and the torrent's stored
    /// counts, then deletes the expired peers; returns the number of torrents and peers.
    ///
    /// A stored `last_seen` may be up to a renew window older than the peer's last announce
    /// (see [`Restore`]): a peer is live when its window ends at `expire_before` or later, and
    /// comes back as seen at the end of its window.
    ///
    /// Every peer row is read before the delete, so that a damaged file is refused
    /// ([`StorageError::Damaged`]) before anything is written to it. Peers are read in
    /// primary-key order (grouped by torrent, no sort) and each torrent's counts are looked up
    /// once per torrent rather than joined into every peer row.
    pub fn load_each(
        &self,
        at: Restore,
        mut f: impl FnMut(RestoredTorrent),
    ) -> Result<(u64, u64), StorageError> {
        let conn = self.conn()?;
        let err = |e| self.at_start(e);
        let mut counts_of = conn
            .prepare("SELECT completed, first_seen, last_seen FROM torrents WHERE info_hash = ?1")
            .map_err(err)?;
        let mut stmt = conn
            .prepare(
                "SELECT info_hash, peer_id, ip, port, key, seeder, seen_leeching, counted, last_seen
                 FROM peers ORDER BY info_hash, peer_id",
            )
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let (mut torrents, mut peers) = (0u64, 0u64);
        let mut current: Option<RestoredTorrent> = None;
        let mut finish = |t: Option<RestoredTorrent>| -> Result<(), StorageError> {
            let Some(mut t) = t else {
                return Ok(());
            };
            let stored = counts_of
                .query_row([&t.info_hash[..]], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()
                .map_err(err)?;
            if let Some((completed, first_seen, last_seen)) = stored {
                t.completed = completed as u64;
                t.first_seen = first_seen as u32;
                t.last_seen = last_seen as u32;
            }
            torrents += 1;
            peers += t.peers.len() as u64;
            f(t);
            Ok(())
        };
        while let Some(row) = rows.next().map_err(err)? {
            let get_i64 = |i| row.get::<_, Option<i64>>(i).map_err(err);
            let stored_seen = get_i64(8)?.unwrap_or(0) as u32;
            if !at.keep(stored_seen) {
                continue; // deleted below
            }
            let last_seen = at.last_seen(stored_seen);
            let (Some(info_hash), Some(peer_id), Some(ip)) = (
                blob20(row.get_ref(0).map_err(err)?.as_blob().ok()),
                blob20(row.get_ref(1).map_err(err)?.as_blob().ok()),
                ip_from_blob(row.get_ref(2).map_err(err)?.as_blob().ok()),
            ) else {
                continue; // a malformed row loses one peer, not the start-up
            };
            let record = PeerRecord {
                ip,
                port: get_i64(3)?.unwrap_or(0) as u16,
                key: get_i64(4)?.map(|k| k as u64),
                seeder: get_i64(5)?.unwrap_or(0) != 0,
                seen_leeching: get_i64(6)?.unwrap_or(0) != 0,
                counted: get_i64(7)?.unwrap_or(0) != 0,
                last_seen,
                // Not stored: set by `SwarmStore::relabel` once the network map is loaded.
                net: NetId::UNKNOWN,
            };
            if current.as_ref().is_none_or(|t| t.info_hash != info_hash) {
                finish(current.take())?;
                current = Some(RestoredTorrent {
                    info_hash,
                    completed: 0,
                    first_seen: 0,
                    last_seen: 0,
                    peers: Vec::new(),
                });
            }
            current
                .as_mut()
                .expect("set above")
                .peers
                .push((peer_id, record));
        }
        finish(current)?;
        drop(rows);
        let expired = at.renew.stored_before(at.expire_before);
        conn.execute("DELETE FROM peers WHERE last_seen < ?1", [expired])
            .map_err(err)?;
        Ok((torrents, peers))
    }

    /// Writes one batch of changes in a single transaction. Returns the stored counts that swarms
    /// created without them asked for, read before this batch's deltas were added.
    pub fn write(&self, changes: &Changes) -> Result<Vec<StoredCount>, StorageError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let mut stored = Vec::new();
        {
            let mut read_count = tx
                .prepare_cached("SELECT completed FROM torrents WHERE info_hash = ?1")
                .map_err(|e| self.sqlite(e))?;
            let mut upsert_torrent = tx
                .prepare_cached(
                    "INSERT INTO torrents (info_hash, completed, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (info_hash) DO UPDATE SET
                        completed = completed + excluded.completed,
                        last_seen = max(last_seen, excluded.last_seen)",
                )
                .map_err(|e| self.sqlite(e))?;
            for t in &changes.torrents {
                if let Some(generation) = t.needs_stored_count {
                    let completed: Option<i64> = read_count
                        .query_row([&t.info_hash[..]], |r| r.get(0))
                        .optional()
                        .map_err(|e| self.sqlite(e))?;
                    stored.push(StoredCount {
                        info_hash: t.info_hash,
                        generation,
                        completed: completed.unwrap_or(0) as u64,
                    });
                }
                upsert_torrent
                    .execute(params![
                        &t.info_hash[..],
                        t.completed_delta as i64,
                        t.first_seen,
                        t.last_seen
                    ])
                    .map_err(|e| self.sqlite(e))?;
            }
            let mut upsert_peer = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO peers
                        (info_hash, peer_id, ip, port, key, seeder, seen_leeching, counted, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(|e| self.sqlite(e))?;
            let mut delete_peer = tx
                .prepare_cached("DELETE FROM peers WHERE info_hash = ?1 AND peer_id = ?2")
                .map_err(|e| self.sqlite(e))?;
            for change in &changes.peers {
                match change {
                    PeerChange::Upsert(h, id, r) => upsert_peer.execute(params![
                        &h[..],
                        &id[..],
                        ip_to_blob(&r.ip).as_slice(),
                        r.port,
                        r.key.map(|k| k as i64),
                        r.seeder,
                        r.seen_leeching,
                        r.counted,
                        r.last_seen
                    ]),
                    PeerChange::Delete(h, id) => delete_peer.execute(params![&h[..], &id[..]]),
                }
                .map_err(|e| self.sqlite(e))?;
            }
        }
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(stored)
    }

    /// Deletes the peers expired at `expire_before`: those whose renew window (a stored
    /// `last_seen` lags the peer's last announce by up to one, see [`Renew`]) ended before it.
    /// Returns how many.
    pub fn delete_expired(&self, expire_before: u32, renew: Renew) -> Result<usize, StorageError> {
        let expired = renew.stored_before(expire_before);
        self.conn()?
            .execute("DELETE FROM peers WHERE last_seen < ?1", [expired])
            .map_err(|e| self.sqlite(e))
    }

    /// The stored completed count and peer rows of a torrent (for tests and tools).
    pub fn torrent(&self, info_hash: &InfoHash) -> Result<Option<(u64, u64)>, StorageError> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT t.completed, (SELECT count(*) FROM peers p WHERE p.info_hash = t.info_hash)
             FROM torrents t WHERE t.info_hash = ?1",
            [&info_hash[..]],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )
        .optional()
        .map_err(|e| self.sqlite(e))
    }
}

/// Refuses a file that is not a retracker database, before writing anything to it.
fn check_identity(conn: &Connection, path: &Path) -> Result<(), StorageError> {
    let foreign = |detail: String| StorageError::Foreign {
        path: path.to_owned(),
        detail,
    };
    // Reading the header is the first access: a non-SQLite file fails here ("file is not a
    // database"); an SQLite file cut short or overwritten, here or on the schema ("malformed").
    let refused = |e: rusqlite::Error| damaged_or(path, e, |e| foreign(e.to_string()));
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(refused)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(refused)?;
    match app_id {
        schema::APPLICATION_ID => Ok(()),
        0 if objects == 0 => Ok(()),
        0 => Err(foreign(format!(
            "an SQLite database of another program ({objects} schema objects)"
        ))),
        other => Err(foreign(format!("SQLite application_id {other:#x}"))),
    }
}

/// [`StorageError::Damaged`] when SQLite found the file damaged, else `other(e)`.
fn damaged_or(
    path: &Path,
    e: rusqlite::Error,
    other: impl FnOnce(rusqlite::Error) -> StorageError,
) -> StorageError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) {
        StorageError::Damaged {
            path: path.to_owned(),
            detail: e.to_string(),
        }
    } else {
        other(e)
    }
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StorageError> {
    let sqlite = |source| StorageError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)?;
    let known = schema::MIGRATIONS.len() as i64;
    if version > known {
        return Err(StorageError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        let batch = format!(
            "BEGIN; {sql}; PRAGMA application_id = {}; PRAGMA user_version = {}; COMMIT;",
            schema::APPLICATION_ID,
            i + 1
        );
        conn.execute_batch(&batch).map_err(sqlite)?;
    }
    Ok(())
}

fn blob20(b: Option<&[u8]>) -> Option<[u8; 20]> {
    b.and_then(|b| b.try_into().ok())
}

fn ip_to_blob(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn ip_from_blob(b: Option<&[u8]>) -> Option<IpAddr> {
    match b?.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b?).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b?).ok()?))),
        _ => None,
    }
}
