//! Size-based log rotation with the semantics of Python's
//! `logging.handlers.RotatingFileHandler(filename, maxBytes, backupCount)`.
//!
//! tracing-appender only rotates by time, and operators of the Python retracker know this
//! behaviour (and its `.1` .. `.N` file names), so it is reproduced here rule for rule.

use super::LogInitError;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A log file that rotates by size exactly as Python's `RotatingFileHandler` does.
///
/// Every call to [`Write::write`] is taken as one whole record (that is how
/// `tracing_appender::non_blocking` and `tracing_subscriber::fmt` deliver them: the event is
/// formatted into one buffer, sent as one message, and handed to `write_all` once). Before a
/// record is written:
///
/// - if the file is not empty and `size + record.len() >= max_bytes` (Python's own test, so a
///   rotated file stays strictly below `max_bytes`), the file is closed, `path.N-1` is renamed to
///   `path.N` … `path.1` to `path.2`, `path` to `path.1` (the old `path.N` is replaced, so at
///   most `backup_count` backups exist), and `path` is reopened empty;
/// - a record larger than `max_bytes` is therefore written whole into a fresh file, never split,
///   and the next record rotates it away;
/// - `max_bytes == 0` or `backup_count == 0` never rotates; neither does a path that is not a
///   regular file (`/dev/stderr`, a FIFO), as in Python.
///
/// I/O errors never panic and never reach the caller: the first one of an outage is reported on
/// standard error, the record is dropped, the file is closed, and every later record tries to
/// reopen it (recreating its folder), so logging resumes by itself once the disk has room again
/// or the folder is back. Recovery is reported too, with the number of records lost.
#[derive(Debug)]
pub struct RotatingFileWriter {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    /// `None` after an I/O error: the next record reopens it.
    file: Option<File>,
    /// Bytes in the open file; tracked here instead of asking the OS for each record.
    size: u64,
    /// Only regular files rotate (Python: "never rollover anything other than regular files").
    regular: bool,
    /// An error has been reported and not yet followed by a clean record.
    reported: bool,
    /// Records dropped since the error was reported.
    lost: u64,
    /// Error reports printed so far; lets tests check "reported once".
    reports: u32,
}

impl RotatingFileWriter {
    /// Opens (creating it and its parent folder) `path` for appending.
    ///
    /// `truncate` empties the file first (`clear_on_start`); rotated files are left alone.
    /// `max_bytes` and `backup_count` are those of Python's `RotatingFileHandler`: either one
    /// being 0 turns rotation off.
    pub fn open(
        path: impl Into<PathBuf>,
        max_bytes: u64,
        backup_count: u32,
        truncate: bool,
    ) -> Result<Self, LogInitError> {
        let path = path.into();
        let (file, size, regular) = open_file(&path, truncate)?;
        Ok(Self {
            path,
            max_bytes,
            backup_count,
            file: Some(file),
            size,
            regular,
            reported: false,
            lost: 0,
            reports: 0,
        })
    }

    /// The base log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of backup number `n` (`retracker.log.1`): Python appends `.N` to the whole name.
    fn backup(&self, n: u32) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn should_rollover(&self, len: usize) -> bool {
        self.regular
            && self.max_bytes > 0
            && self.backup_count > 0
            // An empty file never rotates (CPython gh-116263): that is what keeps an oversized
            // record whole in a fresh file instead of rotating an empty one away before it.
            && self.size > 0
            && self.size.saturating_add(len as u64) >= self.max_bytes
    }

    /// Shifts the backups and starts an empty base file; returns whether all of it worked.
    fn rollover(&mut self) -> bool {
        let mut ok = true;
        self.file = None;
        for n in (1..self.backup_count).rev() {
            let (src, dst) = (self.backup(n), self.backup(n + 1));
            // Gaps in the sequence are skipped as in Python, rather than being an error.
            if src.exists() {
                if let Err(e) = fs::rename(&src, &dst) {
                    self.report(
                        &format!("cannot rename {} to {}", src.display(), dst.display()),
                        &e,
                    );
                    ok = false;
                }
            }
        }
        let dst = self.backup(1);
        // A base file deleted behind our back has nothing to keep; reopening recreates it.
        if self.path.exists() {
            if let Err(e) = fs::rename(&self.path, &dst) {
                let what = format!("cannot rename {} to {}", self.path.display(), dst.display());
                self.report(&what, &e);
                ok = false;
            }
        }
        // Reopen even after a failed rename: the record must still land somewhere.
        let reopened = self.reopen();
        ok && reopened
    }

    /// Opens the base file again after a rotation or an error; returns whether it worked.
    fn reopen(&mut self) -> bool {
        match open_file(&self.path, false) {
            Ok((file, size, regular)) => {
                self.file = Some(file);
                self.size = size;
                self.regular = regular;
                true
            }
            Err(e) => {
                self.report(&e.what(), &e.source);
                false
            }
        }
    }

    /// Prints the first error of an outage; later ones are the same story and would flood stderr.
    fn report(&mut self, what: &str, err: &io::Error) {
        if self.reported {
            return;
        }
        self.reported = true;
        self.reports += 1;
        // Not eprintln!: it panics when stderr itself is gone, and logging must never panic.
        let _ = writeln!(
            io::stderr(),
            "retracker: logging: {what}: {err}; records are dropped until it works again"
        );
    }

    fn write_record(&mut self, record: &[u8]) {
        let mut ok = true;
        if self.file.is_none() {
            ok = self.reopen();
        }
        if ok && self.should_rollover(record.len()) {
            ok = self.rollover();
        }
        let Some(file) = self.file.as_mut() else {
            self.lost += 1;
            return;
        };
        match file.write_all(record) {
            Ok(()) => self.size += record.len() as u64,
            Err(e) => {
                // Closing drops whatever state the failed handle was in (a full disk, a stale
                // network mount); the next record starts over from a fresh open.
                self.file = None;
                self.lost += 1;
                self.report(
                    &format!("cannot write log file {}", self.path.display()),
                    &e,
                );
                return;
            }
        }
        // A failed rotation still writes the record (into the over-long base file), so only a
        // record with no error at all ends an outage; otherwise each record would re-report it.
        if ok && self.reported {
            self.reported = false;
            let _ = writeln!(
                io::stderr(),
                "retracker: logging: {} writable again; {} record(s) lost",
                self.path.display(),
                self.lost
            );
            self.lost = 0;
        }
    }
}

impl Write for RotatingFileWriter {
    /// Writes `buf` as one record and always reports it as fully written: errors are handled
    /// (reported, retried) inside, because a caller such as the non-blocking worker would only
    /// discard them, and a short count would make `write_all` split the record.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !buf.is_empty() {
            self.write_record(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // The file is unbuffered (one write per record, as Python flushes per record), so there
        // is nothing to push; a flush error would have been a write error already.
        Ok(())
    }
}

/// Why opening failed, before it becomes a [`LogInitError`] (at start) or a stderr report
/// (while running).
struct OpenFailure {
    /// The folder that could not be created, or the file that could not be opened.
    path: PathBuf,
    /// Whether `path` is the folder.
    is_dir: bool,
    source: io::Error,
}

impl OpenFailure {
    fn what(&self) -> String {
        let what = if self.is_dir {
            "cannot create log folder"
        } else {
            "cannot open log file"
        };
        format!("{what} {}", self.path.display())
    }
}

impl From<OpenFailure> for LogInitError {
    fn from(f: OpenFailure) -> Self {
        if f.is_dir {
            LogInitError::CreateDir {
                dir: f.path,
                source: f.source,
            }
        } else {
            LogInitError::OpenFile {
                path: f.path,
                source: f.source,
            }
        }
    }
}

/// Opens `path` for appending after creating its folder; returns the file, its size, and
/// whether it is a regular file (only those rotate).
fn open_file(path: &Path, truncate: bool) -> Result<(File, u64, bool), OpenFailure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| OpenFailure {
            path: dir.to_path_buf(),
            is_dir: true,
            source,
        })?;
    }
    let open_err = |source| OpenFailure {
        path: path.to_path_buf(),
        is_dir: false,
        source,
    };
    // Append mode, as Python opens with 'a': another writer (or `logrotate copytruncate`)
    // cannot make us write into the middle of the file.
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    let regular = meta.is_file();
    // std refuses append together with truncate, hence set_len; devices cannot be truncated.
    if truncate && regular {
        file.set_len(0).map_err(open_err)?;
    }
    let size = if regular && !truncate { meta.len() } else { 0 };
    Ok((file, size, regular))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn record(i: usize) -> String {
        format!("record {i:04}\n")
    }

    /// Writes `count` records through the writer and returns the base path.
    fn write_records(w: &mut RotatingFileWriter, from: usize, count: usize) {
        for i in from..from + count {
            w.write_all(record(i).as_bytes()).unwrap();
        }
    }

    fn files(dir: &TempDir) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rotation_keeps_order_and_backup_count() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("tracker.log");
        // Each record is 12 bytes; 40-byte files hold 3 records (36 + 12 >= 40 rotates).
        let mut w = RotatingFileWriter::open(&path, 40, 3, false).unwrap();
        write_records(&mut w, 0, 20);
        drop(w);

        assert_eq!(
            files(&dir),
            [
                "tracker.log",
                "tracker.log.1",
                "tracker.log.2",
                "tracker.log.3"
            ]
        );
        // 20 records: files of 3 each, newest in the base file; the oldest ones were dropped.
        let expect = |range: std::ops::Range<usize>| range.map(record).collect::<String>();
        assert_eq!(read(&path), expect(18..20));
        assert_eq!(read(&dir.path().join("tracker.log.1")), expect(15..18));
        assert_eq!(read(&dir.path().join("tracker.log.2")), expect(12..15));
        assert_eq!(read(&dir.path().join("tracker.log.3")), expect(9..12));
        for name in files(&dir) {
            let len = fs::metadata(dir.path().join(&name)).unwrap().len();
            assert!(len < 40, "{name} has {len} bytes");
        }
    }

    #[test]
    fn rotates_when_reaching_max_bytes_exactly() {
        // Python's test is `pos + len(msg) >= maxBytes`: a record that would make the file
        // exactly max_bytes long already goes into a new file.
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("a.log");
        let mut w = RotatingFileWriter::open(&path, 24, 2, false).unwrap();
        write_records(&mut w, 0, 2);
        assert_eq!(read(&path), record(1));
        assert_eq!(read(&dir.path().join("a.log.1")), record(0));
    }

    #[test]
    fn oversized_record_is_written_whole_into_a_fresh_file() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("big.log");
        let mut w = RotatingFileWriter::open(&path, 30, 5, false).unwrap();
        let big = format!("{}\n", "x".repeat(99));
        w.write_all(record(0).as_bytes()).unwrap();
        w.write_all(big.as_bytes()).unwrap();
        w.write_all(record(1).as_bytes()).unwrap();
        drop(w);

        assert_eq!(read(&path), record(1));
        assert_eq!(read(&dir.path().join("big.log.1")), big);
        assert_eq!(read(&dir.path().join("big.log.2")), record(0));
        assert!(!dir.path().join("big.log.3").exists());
    }

    #[test]
    fn oversized_first_record_does_not_rotate_an_empty_file() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("big.log");
        let mut w = RotatingFileWriter::open(&path, 10, 5, false).unwrap();
        w.write_all(b"0123456789abcdef\n").unwrap();
        assert_eq!(read(&path), "0123456789abcdef\n");
        assert_eq!(files(&dir), ["big.log"]);
    }

    #[test]
    fn zero_max_bytes_or_zero_backups_never_rotate() {
        for (max_bytes, backups) in [(0, 3), (40, 0)] {
            let dir = TempDir::new().unwrap();
            let path = dir.path().join("flat.log");
            let mut w = RotatingFileWriter::open(&path, max_bytes, backups, false).unwrap();
            write_records(&mut w, 0, 50);
            drop(w);
            assert_eq!(
                files(&dir),
                ["flat.log"],
                "max_bytes={max_bytes} backups={backups}"
            );
            assert_eq!(read(&path), (0..50).map(record).collect::<String>());
        }
    }

    #[test]
    fn appends_to_an_existing_file_and_counts_its_size() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("old.log");
        fs::write(&path, "x".repeat(30)).unwrap();
        let mut w = RotatingFileWriter::open(&path, 40, 2, false).unwrap();
        write_records(&mut w, 0, 1);
        // 30 existing bytes + 12 >= 40: the old content rotates away before the first record.
        assert_eq!(read(&path), record(0));
        assert_eq!(read(&dir.path().join("old.log.1")), "x".repeat(30));
    }

    #[test]
    fn clear_on_start_truncates_only_the_base_file() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("c.log");
        fs::write(&path, "old base\n").unwrap();
        fs::write(dir.path().join("c.log.1"), "old backup\n").unwrap();
        let mut w = RotatingFileWriter::open(&path, 1000, 2, true).unwrap();
        write_records(&mut w, 0, 1);
        assert_eq!(read(&path), record(0));
        assert_eq!(read(&dir.path().join("c.log.1")), "old backup\n");
    }

    #[test]
    fn creates_the_parent_folder() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("a/b/c.log");
        let mut w = RotatingFileWriter::open(&path, 0, 0, false).unwrap();
        write_records(&mut w, 0, 1);
        assert_eq!(read(&path), record(0));
    }

    #[test]
    fn open_error_names_the_path() {
        let dir = TempDir::new().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "").unwrap();
        let err = RotatingFileWriter::open(blocker.join("x.log"), 0, 0, false).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LogInitError::CreateDir { .. }), "{err:?}");
        assert!(msg.contains(&blocker.display().to_string()), "{msg}");

        let err = RotatingFileWriter::open(dir.path(), 0, 0, false).unwrap_err();
        assert!(matches!(err, LogInitError::OpenFile { .. }), "{err:?}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn full_disk_is_reported_once_and_never_panics() {
        // /dev/full fails every write with ENOSPC: a disk-full simulator.
        let mut w = RotatingFileWriter::open("/dev/full", 10, 3, true).unwrap();
        assert!(!w.regular, "a device must not rotate");
        for i in 0..5 {
            assert_eq!(w.write(record(i).as_bytes()).unwrap(), 12);
        }
        assert!(w.flush().is_ok());
        assert_eq!(w.reports, 1);
        assert_eq!(w.lost, 5);
    }

    #[test]
    fn failed_rename_still_writes_the_record() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("r.log");
        // A non-empty folder named like backup 2 makes the `.1` -> `.2` rename fail.
        fs::create_dir_all(dir.path().join("r.log.2/x")).unwrap();
        fs::write(dir.path().join("r.log.1"), "old backup\n").unwrap();
        let mut w = RotatingFileWriter::open(&path, 20, 2, false).unwrap();
        write_records(&mut w, 0, 2);
        assert_eq!(w.reports, 1);
        assert_eq!(w.lost, 0);
        assert_eq!(read(&path), record(1));
        assert_eq!(read(&dir.path().join("r.log.1")), record(0));
    }

    #[test]
    fn deleted_folder_is_recreated_on_a_later_write() {
        let dir = TempDir::new().unwrap();
        let logs = dir.path().join("logs");
        let path = logs.join("t.log");
        let mut w = RotatingFileWriter::open(&path, 30, 2, false).unwrap();
        write_records(&mut w, 0, 2);

        // The folder vanishes and a plain file takes its name, so reopening fails for a while.
        fs::remove_dir_all(&logs).unwrap();
        fs::write(&logs, "in the way").unwrap();
        write_records(&mut w, 2, 3); // rotation due: reopen fails, records are dropped
        assert_eq!(w.reports, 1);
        assert!(w.file.is_none());

        fs::remove_file(&logs).unwrap();
        write_records(&mut w, 5, 1);
        assert_eq!(read(&path), record(5));
        assert!(!w.reported);
        assert_eq!(w.lost, 0);
    }
}
