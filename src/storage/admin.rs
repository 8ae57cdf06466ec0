//! The web UI's tables: settings (the session secret), history snapshots, the blocklist,
//! sessions revoked by logout, and torrent metadata (names, sizes) from `.torrent` files. None of this is on the announce path: the web
//! handlers call it from blocking threads.

use super::{Storage, StorageError};
use crate::blocklist::{BlockEntry, BlockTarget};
use crate::protocol::metainfo::Metainfo;
use crate::protocol::InfoHash;
use crate::stats::Snapshot;
use rusqlite::{params, OptionalExtension};
use std::collections::HashMap;

/// What `torrent_meta` keeps of a `.torrent` file (`retracker add-torrent`, `POST
/// /api/torrents`); `None` where it is not known (a name set alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentMeta {
    /// Display name.
    pub name: String,
    /// Payload bytes (pad files excluded).
    pub size: Option<u64>,
    /// Payload files.
    pub files: Option<u64>,
    /// Piece length in bytes.
    pub piece_length: Option<u64>,
    /// The torrent's comment.
    pub comment: Option<String>,
    /// The program that made it.
    pub created_by: Option<String>,
}

impl From<&Metainfo> for TorrentMeta {
    fn from(m: &Metainfo) -> Self {
        TorrentMeta {
            name: m.name.clone(),
            size: Some(m.total_size),
            files: Some(m.files.len() as u64),
            piece_length: Some(m.piece_length),
            comment: m.comment.clone(),
            created_by: m.created_by.clone(),
        }
    }
}

/// SQLite integers are signed: sizes past `i64::MAX` (no real torrent) are stored as that.
fn sql_int(n: Option<u64>) -> Option<i64> {
    n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl Storage {
    /// The value of setting `name`; when there is none yet, stores `initial` and returns it.
    /// Atomic, so two processes starting at once agree on one value.
    pub fn setting_or_insert(&self, name: &str, initial: &[u8]) -> Result<Vec<u8>, StorageError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)",
            params![name, initial],
        )
        .map_err(|e| self.sqlite(e))?;
        conn.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .map_err(|e| self.sqlite(e))
    }

    /// Stores one history snapshot (replacing one taken in the same second).
    pub fn insert_snapshot(&self, s: &Snapshot) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT OR REPLACE INTO history (at, torrents, seeders, leechers, ipv4_peers,
                    ipv6_peers, unique_addrs, announces_per_sec, scrapes_per_sec, completed,
                    kept_network, kept_near)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    s.at,
                    s.torrents as i64,
                    s.seeders as i64,
                    s.leechers as i64,
                    s.ipv4_peers as i64,
                    s.ipv6_peers as i64,
                    s.unique_addrs as i64,
                    s.announces_per_sec,
                    s.scrapes_per_sec,
                    s.completed as i64,
                    s.kept_network,
                    s.kept_near
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Snapshots taken in `from..to` (Unix seconds), oldest first.
    pub fn snapshots(&self, from: u32, to: u32) -> Result<Vec<Snapshot>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT at, torrents, seeders, leechers, ipv4_peers, ipv6_peers, unique_addrs,
                        announces_per_sec, scrapes_per_sec, completed, kept_network, kept_near
                 FROM history WHERE at >= ?1 AND at < ?2 ORDER BY at",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([from, to], |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                Ok(Snapshot {
                    at: r.get(0)?,
                    torrents: n(1)?,
                    seeders: n(2)?,
                    leechers: n(3)?,
                    ipv4_peers: n(4)?,
                    ipv6_peers: n(5)?,
                    unique_addrs: n(6)?,
                    announces_per_sec: r.get(7)?,
                    scrapes_per_sec: r.get(8)?,
                    completed: n(9)?,
                    kept_network: r.get(10)?,
                    kept_near: r.get(11)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Deletes snapshots older than `before`; returns how many.
    pub fn prune_snapshots(&self, before: u32) -> Result<usize, StorageError> {
        self.conn()?
            .execute("DELETE FROM history WHERE at < ?1", [before])
            .map_err(|e| self.sqlite(e))
    }

    /// Every blocklist entry, newest first. A row whose target no longer parses is skipped.
    pub fn blocklist(&self) -> Result<Vec<BlockEntry>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, target, reason, created, created_by FROM blocklist ORDER BY id DESC",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, target, reason, created, created_by) = row.map_err(|e| self.sqlite(e))?;
            if let Ok(target) = BlockTarget::parse(&target) {
                out.push(BlockEntry {
                    id,
                    target,
                    reason,
                    created,
                    created_by,
                });
            }
        }
        Ok(out)
    }

    /// Adds a blocklist entry, or updates the reason of the existing entry for the same target.
    pub fn add_block(
        &self,
        target: &BlockTarget,
        reason: &str,
        created: u32,
        created_by: &str,
    ) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO blocklist (target, reason, created, created_by) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (target) DO UPDATE SET reason = excluded.reason,
                    created = excluded.created, created_by = excluded.created_by",
                params![target.to_string(), reason, created, created_by],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Removes the blocklist entry `id`; false when there was none.
    pub fn remove_block(&self, id: i64) -> Result<bool, StorageError> {
        let n = self
            .conn()?
            .execute("DELETE FROM blocklist WHERE id = ?1", [id])
            .map_err(|e| self.sqlite(e))?;
        Ok(n > 0)
    }

    /// Records that the session `nonce` was ended by logout (until it would have expired).
    pub fn revoke_session(&self, nonce: &[u8], expires: u32) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT OR REPLACE INTO revoked_sessions (nonce, expires) VALUES (?1, ?2)",
                params![nonce, expires],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Sessions revoked and not yet expired at `now`, with their expiry; forgets expired ones.
    pub fn revoked_sessions(&self, now: u32) -> Result<Vec<(Vec<u8>, u32)>, StorageError> {
        let conn = self.conn()?;
        conn.execute("DELETE FROM revoked_sessions WHERE expires < ?1", [now])
            .map_err(|e| self.sqlite(e))?;
        let mut stmt = conn
            .prepare_cached("SELECT nonce, expires FROM revoked_sessions")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Names of the torrents in `hashes` that have metadata.
    pub fn torrent_names(
        &self,
        hashes: &[InfoHash],
    ) -> Result<HashMap<InfoHash, String>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT name FROM torrent_meta WHERE info_hash = ?1")
            .map_err(|e| self.sqlite(e))?;
        let mut out = HashMap::new();
        for h in hashes {
            let name: Option<String> = stmt
                .query_row([&h[..]], |r| r.get(0))
                .optional()
                .map_err(|e| self.sqlite(e))?;
            if let Some(name) = name {
                out.insert(*h, name);
            }
        }
        Ok(out)
    }

    /// Stores the display name of a torrent (keeping the rest of its metadata).
    pub fn set_torrent_name(
        &self,
        info_hash: &InfoHash,
        name: &str,
        added: u32,
    ) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO torrent_meta (info_hash, name, added) VALUES (?1, ?2, ?3)
                 ON CONFLICT (info_hash) DO UPDATE SET name = excluded.name",
                params![&info_hash[..], name, added],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Stores `meta` under each of `hashes` (a hybrid torrent's v1 hash and truncated v2 hash),
    /// in one transaction, replacing what was stored for them; `added` is kept from the first
    /// time. Safe while the tracker runs: the write waits for the tracker's (busy timeout).
    pub fn set_torrent_meta(
        &self,
        hashes: &[InfoHash],
        meta: &TorrentMeta,
        added: u32,
    ) -> Result<(), StorageError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO torrent_meta
                        (info_hash, name, size, files, piece_length, comment, created_by, added)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (info_hash) DO UPDATE SET
                        name = excluded.name, size = excluded.size, files = excluded.files,
                        piece_length = excluded.piece_length, comment = excluded.comment,
                        created_by = excluded.created_by",
                )
                .map_err(|e| self.sqlite(e))?;
            for h in hashes {
                upsert
                    .execute(params![
                        &h[..],
                        meta.name,
                        sql_int(meta.size),
                        sql_int(meta.files),
                        sql_int(meta.piece_length),
                        meta.comment,
                        meta.created_by,
                        added
                    ])
                    .map_err(|e| self.sqlite(e))?;
            }
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// The stored metadata of the torrents in `hashes` that have some.
    pub fn torrent_meta(
        &self,
        hashes: &[InfoHash],
    ) -> Result<HashMap<InfoHash, TorrentMeta>, StorageError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, size, files, piece_length, comment, created_by
                 FROM torrent_meta WHERE info_hash = ?1",
            )
            .map_err(|e| self.sqlite(e))?;
        let mut out = HashMap::new();
        for h in hashes {
            let meta = stmt
                .query_row([&h[..]], |r| {
                    let n = |i| {
                        r.get::<_, Option<i64>>(i)
                            .map(|v| v.map(|v| v.max(0) as u64))
                    };
                    Ok(TorrentMeta {
                        name: r.get(0)?,
                        size: n(1)?,
                        files: n(2)?,
                        piece_length: n(3)?,
                        comment: r.get(4)?,
                        created_by: r.get(5)?,
                    })
                })
                .optional()
                .map_err(|e| self.sqlite(e))?;
            if let Some(meta) = meta {
                out.insert(*h, meta);
            }
        }
        Ok(out)
    }

    /// Completed downloads of every torrent ever stored (all time, not only live swarms).
    pub fn completed_total(&self) -> Result<u64, StorageError> {
        self.conn()?
            .query_row(
                "SELECT coalesce(sum(completed), 0) FROM torrents",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.sqlite(e))
    }

    /// Bytes the database takes on disk (main file and write-ahead log); 0 in memory.
    pub fn size_bytes(&self) -> u64 {
        if self.in_memory {
            return 0;
        }
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        [self.path.as_os_str(), wal.as_os_str()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}
