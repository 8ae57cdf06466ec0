//! Logging: turns the `[LOGGING]` section into the process-wide `tracing` subscriber.
//!
//! - **File**: `log_file` is written by a [`RotatingFileWriter`], which mirrors Python's
//!   `logging.handlers.RotatingFileHandler(log_file, maxBytes=max_bytes,
//!   backupCount=backup_count)` (the Python retracker's handler): `retracker.log`,
//!   `retracker.log.1` … `retracker.log.N`. It sits behind `tracing_appender::non_blocking`, so
//!   a request thread only queues the formatted line and never waits on the disk; when the queue
//!   (128 000 lines) is full, lines are dropped rather than slowing the tracker down.
//!   `clear_on_start` empties the file at start.
//! - **Console**: `console_output` writes the same lines to standard error (also non-blocking).
//! - **Layout** ([`LogFormat`]): `Full` is `time level target: message` (UTC RFC 3339 time);
//!   `Compact` drops the target; `Json` writes one JSON object per line, the event's fields
//!   (`message` included) at the top level next to `timestamp`, `level` and `target`.
//! - **Level**: `level` applies to every target, except that noisy dependencies are held down by
//!   [`QUIET_DEPENDENCIES`]. The `RUST_LOG` environment variable, when set and not empty, is
//!   appended to those directives (tracing-subscriber `EnvFilter` syntax), so it wins wherever it
//!   speaks: `RUST_LOG=debug` lowers the default level to debug, and
//!   `RUST_LOG=debug,warp=debug,warp::server=debug` also shows the dependencies. Invalid
//!   `RUST_LOG` directives are reported on stderr and ignored.
//!
//! The binary calls [`init`] once at start and keeps the returned [`LogGuard`] alive until it
//! exits: dropping the guard flushes the queued lines and stops the writer threads. `log` crate
//! records (r2d2) are captured too. Tests use [`build`] with `tracing::subscriber::with_default`.
//!
//! The level can change while running: [`set_level`] (called on SIGHUP) swaps the filter of the
//! subscriber [`init`] installed, through a `tracing_subscriber::reload` handle kept in a global,
//! since the subscriber it controls is global too. The other keys take effect at the next start.

mod rotating;
mod throttle;

pub use throttle::Throttle;

pub use rotating::RotatingFileWriter;

use crate::config::{LogFormat, LogLevel, LoggingConfig};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Layer, Registry};

/// Filter directives added after the configured level, to keep dependencies quiet.
///
/// - `warp::server` logs every failed connection (a client resetting, a malformed request, a
///   timeout) at **error**, so it is turned off; its only other message above debug, "accept
///   error" (e.g. out of file descriptors), is lost with it, which is why accept errors belong in
///   our own server loop.
/// - the rest of `warp` logs per-request details at debug/trace and programming errors
///   (unhandled rejections, bad headers) at error: `warn` keeps the latter.
/// - `hyper` 1.x, `hyper_util` and `h2` log connection-level detail at debug/trace (hyper only
///   with its unstable tracing cfg): `warn` keeps them out even when `level` is debug or trace.
pub const QUIET_DEPENDENCIES: &str =
    "hyper=warn,hyper_util=warn,h2=warn,warp=warn,warp::server=off";

/// Keeps the non-blocking writer threads alive; dropping it flushes what is queued.
///
/// The binary must hold it until it exits (`let _guard = logging::init(&cfg.logging)?;`, not
/// `let _ = ...`, which drops it at once): lines logged after the drop are lost.
#[derive(Debug)]
#[must_use = "dropping the LogGuard stops file and console logging"]
pub struct LogGuard {
    _workers: Vec<WorkerGuard>,
}

/// Why logging could not be set up; the binary prints it and exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    /// The log file's folder does not exist and could not be created.
    #[error("cannot create log folder {}: {source}", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The log file could not be opened (or truncated, for `clear_on_start`).
    #[error("cannot open log file {}: {source}", path.display())]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// [`init`] was called when a global subscriber (or `log` logger) was already installed.
    #[error("cannot install the logger: {0}")]
    AlreadyInstalled(String),
}

/// Installs the global subscriber described by `cfg` (and a `log` → `tracing` bridge).
///
/// Warns on stderr when neither `console_output` nor `log_file` is set: everything is then
/// discarded. Keep the returned guard alive until exit (see [`LogGuard`]).
pub fn init(cfg: &LoggingConfig) -> Result<LogGuard, LogInitError> {
    if !logs_anywhere(cfg) {
        // Not eprintln!: it panics if stderr is closed.
        let _ = writeln!(
            io::stderr(),
            "retracker: logging is off: console_output is false and log_file is empty"
        );
    }
    // Checked first so that a second call does not truncate (`clear_on_start`) or open the file
    // that the installed subscriber is writing.
    if tracing::dispatcher::has_been_set() {
        return Err(LogInitError::AlreadyInstalled(
            "a global subscriber is already installed".into(),
        ));
    }
    let rust_log = std::env::var("RUST_LOG").ok();
    let (subscriber, guard, level) = build_with(cfg, rust_log.as_deref(), io::stderr())?;
    subscriber
        .try_init()
        .map_err(|e| LogInitError::AlreadyInstalled(e.to_string()))?;
    if let Some(level) = level {
        let _ = LEVEL.set(level);
    }
    Ok(guard)
}

/// The level control of the subscriber [`init`] installed (none when logging is off).
static LEVEL: OnceLock<LevelControl> = OnceLock::new();

/// Changes the level of the subscriber [`init`] installed, keeping [`QUIET_DEPENDENCIES`] and
/// `RUST_LOG` as at start. False when there is nothing to change: no subscriber installed by
/// [`init`] (tests), or logging off.
pub fn set_level(level: LogLevel) -> bool {
    LEVEL.get().is_some_and(|c| c.set(level))
}

/// Swaps the filter of one subscriber.
struct LevelControl {
    handle: reload::Handle<EnvFilter, Registry>,
    rust_log: Option<String>,
}

impl LevelControl {
    /// Installs the filter for `level`; false if the subscriber is gone.
    fn set(&self, level: LogLevel) -> bool {
        let filter =
            EnvFilter::builder().parse_lossy(filter_directives(level, self.rust_log.as_deref()));
        self.handle.reload(filter).is_ok()
    }
}

/// Builds the subscriber described by `cfg` without installing it (for tests, with
/// `tracing::subscriber::with_default`), reading `RUST_LOG` as [`init`] does.
///
/// Opens (and with `clear_on_start` truncates) the log file and starts the writer threads.
pub fn build(
    cfg: &LoggingConfig,
) -> Result<(impl Subscriber + Send + Sync + 'static, LogGuard), LogInitError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (subscriber, guard, _) = build_with(cfg, rust_log.as_deref(), io::stderr())?;
    Ok((subscriber, guard))
}

/// The `EnvFilter` directives for `level`, [`QUIET_DEPENDENCIES`] and then `rust_log`.
///
/// `EnvFilter` keeps the last directive given for a target, so `rust_log` overrides both.
pub fn filter_directives(level: LogLevel, rust_log: Option<&str>) -> String {
    let level = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let mut directives = format!("{level},{QUIET_DEPENDENCIES}");
    if let Some(extra) = rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        directives.push(',');
        directives.push_str(extra);
    }
    directives
}

fn logs_anywhere(cfg: &LoggingConfig) -> bool {
    cfg.console_output || cfg.log_file.is_some()
}

type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type Output = Box<dyn Layer<Filtered> + Send + Sync>;
/// The subscriber [`build_with`] assembles.
type Built = Layered<Vec<Output>, Filtered>;

/// [`build`] with `RUST_LOG` and the console passed in, so tests neither race on the process
/// environment nor need to capture the real stderr; also gives the level control (none when
/// nothing is logged: the filter then stays off).
fn build_with(
    cfg: &LoggingConfig,
    rust_log: Option<&str>,
    console: impl Write + Send + 'static,
) -> Result<(Built, LogGuard, Option<LevelControl>), LogInitError> {
    let mut outputs: Vec<Output> = Vec::new();
    let mut workers = Vec::new();

    // The file first: an error here must leave no writer thread behind.
    if let Some(path) = &cfg.log_file {
        let file =
            RotatingFileWriter::open(path, cfg.max_bytes, cfg.backup_count, cfg.clear_on_start)?;
        let (writer, guard) = NonBlockingBuilder::default()
            .thread_name("retracker-log-file")
            .finish(file);
        outputs.push(output(cfg.format, writer, false));
        workers.push(guard);
    }
    if cfg.console_output {
        let ansi = io::stderr().is_terminal();
        let (writer, guard) = NonBlockingBuilder::default()
            .thread_name("retracker-log-console")
            .finish(console);
        outputs.push(output(cfg.format, writer, ansi));
        workers.push(guard);
    }

    let logs = !outputs.is_empty();
    let filter = if logs {
        EnvFilter::builder().parse_lossy(filter_directives(cfg.level, rust_log))
    } else {
        // Off rather than merely unwritten: every callsite is then disabled up front.
        EnvFilter::new("off")
    };
    let (filter, handle) = reload::Layer::new(filter);
    let control = logs.then(|| LevelControl {
        handle,
        rust_log: rust_log.map(str::to_owned),
    });
    let subscriber = Registry::default().with(filter).with(outputs);
    Ok((subscriber, LogGuard { _workers: workers }, control))
}

/// One formatting layer in the configured layout.
fn output(format: LogFormat, writer: NonBlocking, ansi: bool) -> Output {
    let layer = fmt::layer().with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Full => layer.boxed(),
        LogFormat::Compact => layer.compact().with_target(false).boxed(),
        // Colour codes would corrupt the JSON strings.
        LogFormat::Json => layer.json().flatten_event(true).with_ansi(false).boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::{Arc, Mutex};
    use tempfile::TempDir;

    fn file_config(path: PathBuf, format: LogFormat) -> LoggingConfig {
        LoggingConfig {
            log_file: Some(path),
            level: LogLevel::Info,
            format,
            console_output: false,
            max_bytes: 0,
            backup_count: 0,
            clear_on_start: false,
        }
    }

    /// Runs `f` under the subscriber built from `cfg`, then drops the guard (flushing the
    /// writers) before returning.
    fn log_with(cfg: &LoggingConfig, rust_log: Option<&str>, console: SharedBuf, f: impl FnOnce()) {
        let (subscriber, guard, _) = build_with(cfg, rust_log, console).unwrap();
        tracing::subscriber::with_default(subscriber, f);
        drop(guard);
    }

    /// A console stand-in whose contents the test can read back.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl SharedBuf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn full_format_reaches_the_file_through_the_non_blocking_writer() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("logs/retracker.log");
        let cfg = file_config(path.clone(), LogFormat::Full);
        log_with(&cfg, None, SharedBuf::default(), || {
            tracing::info!(peers = 3, "tracker started");
            tracing::debug!("below the configured level");
        });

        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = lines[0];
        assert!(line.starts_with("20"), "no timestamp first: {line}");
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("retracker::logging::tests:"), "{line}");
        assert!(line.contains("tracker started peers=3"), "{line}");
        assert!(!line.contains('\x1b'), "colour codes in the file: {line:?}");
    }

    #[test]
    fn compact_format_leaves_out_the_target() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("c.log");
        let cfg = file_config(path.clone(), LogFormat::Compact);
        log_with(&cfg, None, SharedBuf::default(), || {
            tracing::warn!("compact line");
        });
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(" WARN "), "{text}");
        assert!(text.contains("compact line"), "{text}");
        assert!(!text.contains("retracker::logging"), "{text}");
    }

    #[test]
    fn json_format_writes_one_object_per_line() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("j.log");
        let cfg = file_config(path.clone(), LogFormat::Json);
        log_with(&cfg, None, SharedBuf::default(), || {
            tracing::info!(info_hash = "abc", "announce \"quoted\"\nsecond line");
            tracing::error!("failed");
        });

        let text = fs::read_to_string(&path).unwrap();
        let objects: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(objects.len(), 2, "{text}");
        assert_eq!(objects[0]["level"], "INFO");
        assert_eq!(objects[0]["message"], "announce \"quoted\"\nsecond line");
        assert_eq!(objects[0]["info_hash"], "abc");
        assert_eq!(objects[0]["target"], "retracker::logging::tests");
        assert!(objects[0]["timestamp"].is_string());
        assert_eq!(objects[1]["level"], "ERROR");
    }

    #[test]
    fn console_gets_the_same_lines() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("both.log");
        let mut cfg = file_config(path.clone(), LogFormat::Full);
        cfg.console_output = true;
        let console = SharedBuf::default();
        log_with(&cfg, None, console.clone(), || {
            tracing::error!("to both");
        });
        assert!(console.text().contains("ERROR"), "{}", console.text());
        assert!(console.text().contains("to both"));
        assert!(fs::read_to_string(&path).unwrap().contains("to both"));
    }

    #[test]
    fn console_only_creates_no_file() {
        let cfg = LoggingConfig {
            log_file: None,
            console_output: true,
            ..file_config(PathBuf::new(), LogFormat::Json)
        };
        let console = SharedBuf::default();
        log_with(&cfg, None, console.clone(), || {
            tracing::info!("console only");
        });
        let line = console.text();
        let obj: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(obj["message"], "console only");
    }

    #[test]
    fn nothing_configured_logs_nothing() {
        let cfg = LoggingConfig {
            log_file: None,
            console_output: false,
            ..file_config(PathBuf::new(), LogFormat::Full)
        };
        assert!(!logs_anywhere(&cfg));
        let (subscriber, guard, control) =
            build_with(&cfg, Some("trace"), SharedBuf::default()).unwrap();
        assert!(guard._workers.is_empty());
        assert!(control.is_none(), "nothing to change the level of");
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(tracing::Level::ERROR));
        });
    }

    #[test]
    fn dependencies_are_quiet_and_rust_log_overrides() {
        let dir = TempDir::new().unwrap();
        let emit = || {
            tracing::error!(target: "warp::server", "server connection error: reset");
            tracing::warn!(target: "warp::filters::body", "warp warn");
            tracing::info!(target: "hyper::proto::h1", "hyper info");
            tracing::warn!(target: "hyper::proto::h1", "hyper warn");
            tracing::debug!(target: "h2::codec", "h2 debug");
            tracing::info!(target: "retracker::http", "own info");
            tracing::debug!(target: "retracker::http", "own debug");
        };

        let mut cfg = file_config(dir.path().join("quiet.log"), LogFormat::Full);
        cfg.level = LogLevel::Trace;
        log_with(&cfg, None, SharedBuf::default(), emit);
        let text = fs::read_to_string(dir.path().join("quiet.log")).unwrap();
        assert!(!text.contains("server connection error"), "{text}");
        assert!(text.contains("warp warn"), "{text}");
        assert!(!text.contains("hyper info"), "{text}");
        assert!(text.contains("hyper warn"), "{text}");
        assert!(!text.contains("h2 debug"), "{text}");
        assert!(text.contains("own debug"), "{text}");

        let mut cfg = file_config(dir.path().join("env.log"), LogFormat::Full);
        cfg.level = LogLevel::Debug;
        let rust_log = Some(" warn,warp::server=error,h2=debug ");
        log_with(&cfg, rust_log, SharedBuf::default(), emit);
        let text = fs::read_to_string(dir.path().join("env.log")).unwrap();
        assert!(text.contains("server connection error"), "{text}");
        assert!(text.contains("h2 debug"), "{text}");
        assert!(!text.contains("own info"), "{text}");
        assert!(text.contains("hyper warn"), "{text}");
    }

    #[test]
    fn the_level_changes_while_running() {
        let cfg = LoggingConfig {
            log_file: None,
            console_output: true,
            ..file_config(PathBuf::new(), LogFormat::Compact)
        };
        let console = SharedBuf::default();
        let (subscriber, guard, control) =
            build_with(&cfg, Some("h2=debug"), console.clone()).unwrap();
        let control = control.unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("debug before");
            tracing::info!("info before");
            assert!(control.set(LogLevel::Debug));
            tracing::debug!("debug after");
            tracing::debug!(target: "hyper::proto", "hyper debug after");
            assert!(control.set(LogLevel::Error));
            tracing::warn!("warn at error level");
            tracing::debug!(target: "h2::codec", "h2 debug kept by RUST_LOG");
        });
        drop(guard);
        let text = console.text();
        assert!(text.contains("info before"), "{text}");
        assert!(!text.contains("debug before"), "{text}");
        assert!(text.contains("debug after"), "{text}");
        assert!(
            !text.contains("hyper debug after"),
            "quiet dependencies: {text}"
        );
        assert!(!text.contains("warn at error level"), "{text}");
        assert!(text.contains("h2 debug kept by RUST_LOG"), "{text}");
        // Nothing installed by init in tests.
        assert!(!set_level(LogLevel::Debug));
    }

    #[test]
    fn filter_directives_put_rust_log_last() {
        assert_eq!(
            filter_directives(LogLevel::Warn, None),
            format!("warn,{QUIET_DEPENDENCIES}")
        );
        assert_eq!(
            filter_directives(LogLevel::Error, Some("  ")),
            format!("error,{QUIET_DEPENDENCIES}")
        );
        assert_eq!(
            filter_directives(LogLevel::Info, Some("debug")),
            format!("info,{QUIET_DEPENDENCIES},debug")
        );
    }

    #[test]
    fn rotation_through_the_subscriber_keeps_records_whole() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("r.log");
        let mut cfg = file_config(path.clone(), LogFormat::Full);
        cfg.max_bytes = 400;
        cfg.backup_count = 3;
        log_with(&cfg, None, SharedBuf::default(), || {
            for i in 0..100 {
                tracing::info!("event number {i:03}");
            }
        });

        let mut numbers = Vec::new();
        for name in ["r.log.3", "r.log.2", "r.log.1", "r.log"] {
            let text = fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(text.len() < 400, "{name}: {} bytes", text.len());
            assert!(text.ends_with('\n'), "{name} ends mid-record");
            for line in text.lines() {
                let n = line.rsplit("event number ").next().unwrap();
                numbers.push(n.parse::<u32>().unwrap_or_else(|_| panic!("split: {line}")));
            }
        }
        assert!(!dir.path().join("r.log.4").exists());
        // The newest records, in order, with none missing between the oldest kept and the last.
        let first = numbers[0];
        assert_eq!(numbers, (first..100).collect::<Vec<_>>());
    }

    #[test]
    fn clear_on_start_truncates_the_file() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("clear.log");
        fs::write(&path, "from the last run\n").unwrap();
        let mut cfg = file_config(path.clone(), LogFormat::Full);
        cfg.clear_on_start = true;
        log_with(&cfg, None, SharedBuf::default(), || tracing::info!("fresh"));
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("last run"), "{text}");
        assert!(text.contains("fresh"), "{text}");

        cfg.clear_on_start = false;
        log_with(&cfg, None, SharedBuf::default(), || {
            tracing::info!("appended")
        });
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("fresh") && text.contains("appended"),
            "{text}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn full_disk_does_not_panic_through_the_subscriber() {
        // /dev/full fails every write with ENOSPC.
        let cfg = file_config(PathBuf::from("/dev/full"), LogFormat::Full);
        let (subscriber, guard, _) = build_with(&cfg, None, SharedBuf::default()).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..10 {
                tracing::error!("lost {i}");
            }
        });
        // The worker thread would have died on a panic; the guard's flush would then not wait.
        drop(guard);
    }

    #[test]
    fn unopenable_file_is_an_error_naming_the_path() {
        let dir = TempDir::new().unwrap();
        let cfg = file_config(dir.path().to_path_buf(), LogFormat::Full);
        let err = build_with(&cfg, None, SharedBuf::default()).err().unwrap();
        let msg = err.to_string();
        assert!(matches!(err, LogInitError::OpenFile { .. }), "{err:?}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains("os error"), "{msg}");
    }
}
