//! The `retracker` binary as a child process, as an operator runs it: a config file, the real
//! `main`, signals. Killed (SIGKILL) when dropped, so a failing test leaves nothing running.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_retracker");

/// A running `retracker --config PATH`.
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
    /// Spawns the binary with `config` and waits (at most 30 s) for the line naming the address
    /// it listens on. The config must log to the console (`console_output`, the default).
    pub fn start(config: &Path) -> Process {
        let spawned = Instant::now();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no listening line within 30 s: {seen:#?}"));
            let found = line.split("listening on http://").nth(1).map(|rest| {
                rest.split('/')
                    .next()
                    .unwrap()
                    .parse::<SocketAddr>()
                    .unwrap()
            });
            seen.push(line);
            if let Some(addr) = found {
                break addr;
            }
        };
        Process {
            child,
            addr,
            spawned,
            lines,
            seen,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits (at most 10 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "still running 10 s after SIGTERM"
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
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
