//! The `retracker` binary as a child process, as an operator runs it: a config file, arguments,
//! environment overrides, the real `main`, signals. [`Launch`] builds the command line; it
//! either runs a command to its end ([`Launch::output`]) or starts the tracker and waits until it
//! says where it listens ([`Launch::start`]), giving a [`Process`] that is killed (SIGKILL) when
//! dropped, so a failing test leaves nothing running. Every wait reads lines or polls against a
//! deadline; none sleeps for readiness.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_retracker");

/// How long the binary may take to start listening, or to exit after SIGTERM.
const START_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// How to run the binary: arguments, environment and working folder.
///
/// `RUST_LOG` is removed from the environment, so the log lines a test waits for do not depend
/// on the shell that runs `cargo test`.
pub struct Launch {
    command: Command,
}

impl Default for Launch {
    fn default() -> Self {
        Self::new()
    }
}

impl Launch {
    /// `retracker` with no arguments, in the test's working folder.
    pub fn new() -> Launch {
        let mut command = Command::new(BIN);
        command.env_remove("RUST_LOG");
        Launch { command }
    }

    /// Adds `--config PATH`.
    pub fn config(self, path: &Path) -> Launch {
        self.arg("--config").arg(path)
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Launch {
        self.command.args(args);
        self
    }

    /// Sets an environment variable (`RETRACKER_<SECTION>_<KEY>` overrides, `NOTIFY_SOCKET`).
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Launch {
        self.command.env(key, value);
        self
    }

    /// Runs in `dir` (relative paths of the config resolve against it).
    pub fn current_dir(mut self, dir: &Path) -> Launch {
        self.command.current_dir(dir);
        self
    }

    /// Runs the command to its end with nothing on standard input; returns its status and
    /// output.
    pub fn output(self) -> Output {
        self.output_with_stdin(b"")
    }

    /// Runs the command to its end with `input` on standard input.
    pub fn output_with_stdin(mut self, input: &[u8]) -> Output {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        // A command that exits without reading its input closes the pipe: not an error here.
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }

    /// Starts the tracker and waits (at most 30 s) for the console line naming the address it
    /// listens on. The configuration must log to the console (`console_output`, the default).
    pub fn start(mut self) -> Process {
        let spawned = Instant::now();
        let mut child = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut process = Process {
            child,
            // Replaced below, once the tracker names it.
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            spawned,
            lines,
            seen: Vec::new(),
        };
        let line = process.wait_for_within("listening on http://", START_DEADLINE);
        let rest = line.split("listening on http://").nth(1).unwrap();
        process.addr = rest
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
        process
    }
}

/// A running tracker, started by [`Launch::start`].
pub struct Process {
    child: Child,
    /// The tracker's HTTP address, read from the "listening on" log line.
    pub addr: SocketAddr,
    /// When the process was spawned.
    pub spawned: Instant,
    /// Standard error lines, as they come.
    lines: mpsc::Receiver<String>,
    /// Standard error lines received so far, the listening line included.
    seen: Vec<String>,
}

impl Process {
    /// `retracker --config PATH`, started as [`Launch::start`] does.
    pub fn start(config: &Path) -> Process {
        Launch::new().config(config).start()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal: `"-HUP"`, `"-TERM"`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name} {}", self.child.id());
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits (at most 10 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.wait_exit()
    }

    /// Waits (at most 10 s) for the process to exit on its own, polling.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < STOP_DEADLINE,
                "still running {STOP_DEADLINE:?} later: {:#?}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Standard error so far.
    pub fn stderr(&mut self) -> &[String] {
        self.seen.extend(self.lines.try_iter());
        &self.seen
    }

    /// The first console line containing `needle`, already read or written within `deadline`.
    pub fn wait_for_within(&mut self, needle: &str, deadline: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let start = Instant::now();
        loop {
            let left = deadline.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {deadline:?}: {:#?}",
                    self.seen
                ),
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
