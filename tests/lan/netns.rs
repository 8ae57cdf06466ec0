//! Network namespaces for tests/lan.rs: a router namespace (IPv4 forwarding, no NAT) with
//! bridges for subnets, hosts attached to it by veth pairs, processes started inside the hosts
//! with their output in log files, and curl run from a host. Everything is removed on drop, also
//! when the test panics: the processes (SIGTERM, then SIGKILL), then anything left inside the
//! namespaces (all started by this test), then the namespaces, which takes their links along.
//!
//! Namespace names carry the test's pid, so runs never collide. Links are created straight
//! inside the namespaces (`ip -n ... link add ... peer ... netns ...`): nothing is ever added to
//! the root namespace, and nothing here sends traffic from it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How a host's veth end in the router is set up.
pub enum Side<'a> {
    /// Put on this bridge of the router (a subnet shared with other hosts).
    Bridge(&'a str),
    /// Given this address (CIDR): a point-to-point subnet of the host's own.
    Addr(&'a str),
}

/// The namespaces, the processes started in them and their logs.
pub struct Lan {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
    /// Folder of one `NAME.log` per started process.
    pub logs: PathBuf,
    /// Temp folder of everything the test writes.
    pub work: tempfile::TempDir,
}

impl Lan {
    /// No namespaces yet; a fresh temp folder.
    pub fn new() -> Lan {
        let work = tempfile::tempdir().unwrap();
        let logs = work.path().join("logs");
        fs::create_dir(&logs).unwrap();
        Lan {
            prefix: format!("rlan{}-", std::process::id()),
            namespaces: Vec::new(),
            children: Vec::new(),
            logs,
            work,
        }
    }

    /// The namespace name of host `role`.
    pub fn ns(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    /// The folder `name` of the temp folder, created if need be.
    pub fn dir(&self, name: &str) -> PathBuf {
        let d = self.work.path().join(name);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Runs `ip ARGS`, failing the test when it fails.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().unwrap();
        if !out.status.success() {
            self.fail(&format!(
                "ip {}: {} (the LAN test needs root)",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }

    fn add_ns(&mut self, role: &str) -> String {
        let ns = self.ns(role);
        self.ip(&["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        self.ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ns
    }

    /// The router namespace `rt`, forwarding IPv4, with one bridge per `(name, address/prefix)`.
    pub fn router(&mut self, bridges: &[(&str, &str)]) {
        let rt = self.add_ns("rt");
        let forward = self.run("rt", &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        if !forward.status.success() {
            self.fail(&format!("cannot enable forwarding in {rt}"));
        }
        for (br, addr) in bridges {
            self.ip(&["-n", &rt, "link", "add", br, "type", "bridge"]);
            self.ip(&["-n", &rt, "addr", "add", addr, "dev", br]);
            self.ip(&["-n", &rt, "link", "set", br, "up"]);
        }
    }

    /// Host `role` (at most 15 characters: it names the router's end of the link too) with
    /// `eth0` at `addr` (CIDR) and a default route via `gateway`, linked to the router's `side`.
    pub fn attach(&mut self, role: &str, addr: &str, gateway: &str, side: Side) {
        let rt = self.ns("rt");
        let ns = self.add_ns(role);
        self.ip(&[
            "-n", &rt, "link", "add", role, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        match side {
            Side::Bridge(br) => self.ip(&["-n", &rt, "link", "set", role, "master", br]),
            Side::Addr(a) => self.ip(&["-n", &rt, "addr", "add", a, "dev", role]),
        }
        self.ip(&["-n", &rt, "link", "set", role, "up"]);
        self.ip(&["-n", &ns, "addr", "add", addr, "dev", "eth0"]);
        self.ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        self.ip(&["-n", &ns, "route", "add", "default", "via", gateway]);
    }

    /// Starts `cmd` on host `role` in folder `cwd`, its output in logs/`name`.log, `HOME` in
    /// the temp folder.
    pub fn spawn(&mut self, name: &str, role: &str, cmd: &[&str], cwd: &Path) {
        let log = fs::File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(role)])
            .args(cmd)
            .current_dir(cwd)
            .env("HOME", self.dir("home"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| self.fail(&format!("cannot start {name}: {e}")));
        self.children.push((name.to_owned(), child));
    }

    /// The process id of what [`Lan::spawn`] started as `name` (`ip netns exec` execs it).
    pub fn pid(&self, name: &str) -> u32 {
        let found = self.children.iter().find(|(n, _)| n == name);
        found.map_or_else(
            || self.fail(&format!("{name} not started")),
            |(_, c)| c.id(),
        )
    }

    /// Runs `cmd` on host `role` to the end.
    pub fn run(&self, role: &str, cmd: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(role)])
            .args(cmd)
            .output()
            .unwrap()
    }

    /// GET `url` with curl from host `role`, `extra` being more curl arguments. Returns the
    /// HTTP status (0 when there was no answer) and the body.
    pub fn curl(&self, role: &str, url: &str, extra: &[&str]) -> (u16, Vec<u8>) {
        let mut cmd = vec!["curl", "-sS", "--max-time", "10", "-w", "%{http_code}"];
        cmd.extend_from_slice(extra);
        cmd.push(url);
        let mut body = self.run(role, &cmd).stdout;
        let code = body.split_off(body.len().saturating_sub(3));
        let code = String::from_utf8_lossy(&code).parse().unwrap_or(0);
        (code, body)
    }

    /// Polls `check` every 200 ms for up to `secs` seconds until it is `Ok`; fails naming
    /// `what` and the last `Err` (what was seen instead) if it never is.
    pub fn wait_until(&self, what: &str, secs: u64, mut check: impl FnMut() -> Result<(), String>) {
        let start = Instant::now();
        loop {
            match check() {
                Ok(()) => return,
                Err(seen) if start.elapsed() > Duration::from_secs(secs) => {
                    self.fail(&format!("{what}: not within {secs} s; last seen: {seen}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Fails the test with `msg` and the end of every log.
    pub fn fail(&self, msg: &str) -> ! {
        let mut text = format!("{msg}\n");
        let mut logs: Vec<PathBuf> = fs::read_dir(&self.logs)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        logs.sort();
        for path in logs {
            let log = fs::read_to_string(&path).unwrap_or_default();
            // Progress lines (transmission-cli, ctorrent) end in CR: they count as lines too.
            let lines: Vec<&str> = log
                .split(['\n', '\r'])
                .filter(|l| !l.trim().is_empty())
                .collect();
            let tail = lines[lines.len().saturating_sub(25)..].join("\n");
            text.push_str(&format!("--- {}:\n{tail}\n", path.display()));
        }
        panic!("{text}");
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // SIGTERM first, so that nginx's master takes its worker along.
        for (_, child) in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for (_, child) in &mut self.children {
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
