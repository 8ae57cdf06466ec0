//! The connection pool's manager: r2d2_sqlite's, except that a connection SQLite opened
//! read-only is dropped when it comes back to the pool instead of being handed out again.
//!
//! SQLite opens a file read-only, silently, when it cannot be opened for writing (an immutable
//! file, a filesystem turned read-only). r2d2 replaces connections while the tracker runs (idle
//! for 10 minutes, or 30 minutes old), so during a long read-only fault the pool fills with such
//! connections; they would keep failing every write ("attempt to write a readonly database")
//! for up to 30 minutes after the disk is writable again. Dropped on return, each is replaced by
//! a fresh open, which gets write access as soon as the file allows it.

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, MAIN_DB};

/// [`SqliteConnectionManager`] that never keeps a read-only connection.
pub struct Manager(pub SqliteConnectionManager);

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        self.0.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.is_readonly(MAIN_DB).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::Manager;
    use r2d2_sqlite::SqliteConnectionManager;
    use rusqlite::OpenFlags;

    /// Whether the pool (of one connection) hands out the same connection twice: a temporary
    /// table lives as long as its connection.
    fn reused(manager: SqliteConnectionManager) -> bool {
        let pool = r2d2::Pool::builder()
            .max_size(1)
            .build(Manager(manager))
            .unwrap();
        pool.get()
            .unwrap()
            .execute_batch("CREATE TEMP TABLE mark (x)")
            .unwrap();
        let conn = pool.get().unwrap();
        let marked = conn.prepare("SELECT * FROM temp.mark").is_ok();
        marked
    }

    #[test]
    fn a_read_only_connection_is_replaced_and_a_writable_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(reused(SqliteConnectionManager::file(&path)));
        // What SQLite falls back to when the file cannot be opened for writing.
        let read_only = SqliteConnectionManager::file(&path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI);
        assert!(!reused(read_only));
    }
}
