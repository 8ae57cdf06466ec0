//! Cluster mode against a real Redis (issue 18): Debian's `redis-server`, started by each test
//! on a free port with no persistence, and retracker nodes as real processes on 127.0.0.1 with
//! their own SQLite files.
//!
//! Every wait polls against a deadline; nothing sleeps for readiness. `redis-server` and
//! `redis-cli` must be installed (`tests/run-all.sh` installs the `redis-server` package): a
//! test without them fails and says so rather than passing silently.

mod common;
use common::process::{Launch, Process};
use common::testca;
use common::web::{basic, PASSWORD};
use common::*;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of a test, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    /// redis-cli's options besides the port (TLS, password).
    cli_opts: Vec<String>,
}

/// A port free on 127.0.0.1 now (and, for a Redis Cluster node, its bus port + 10000 too).
fn free_port(with_bus: bool) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if !with_bus {
            return port;
        }
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is not installed: these tests need Debian's redis-server package (tests/run-all.sh installs it)"
    );
}

impl Redis {
    /// A standalone Redis on a free port.
    fn start(dir: &Path) -> Redis {
        Redis::start_on(dir, free_port(false), &[])
    }

    /// A Redis on `port` with `extra` arguments, waiting until it answers PING.
    fn start_on(dir: &Path, port: u16, extra: &[&str]) -> Redis {
        Redis::launch(dir, port, &["--port", &port.to_string()], extra, &[])
    }

    /// A Redis that speaks TLS only (the test CA's `localhost` certificate) and wants a
    /// password.
    fn start_tls(dir: &Path, files: &testca::Files, password: &str) -> Redis {
        let port = free_port(false);
        let (cert, key, ca) = (path(&files.cert), path(&files.key), path(&files.ca));
        let tls = [
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-ca-cert-file",
            ca,
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
        ];
        let cli = [
            "--tls",
            "--cacert",
            ca,
            "-h",
            "localhost",
            "-a",
            password,
            "--no-auth-warning",
        ];
        Redis::launch(
            dir,
            port,
            &["--port", "0", "--tls-port", &port.to_string()],
            &tls,
            &cli,
        )
    }

    /// Starts `redis-server` listening as `listen` says on 127.0.0.1, without persistence, in a
    /// folder of its own under `dir`, with `extra` arguments; waits until it answers PING (with
    /// redis-cli's `cli_opts`).
    fn launch(dir: &Path, port: u16, listen: &[&str], extra: &[&str], cli_opts: &[&str]) -> Redis {
        need("redis-server");
        need("redis-cli");
        let dir = dir.join(format!("redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let base = [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            path(&dir),
        ];
        let args: Vec<String> = listen
            .iter()
            .chain(&base)
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        let r = Redis {
            child: spawn_redis(&args),
            port,
            dir,
            args,
            cli_opts: cli_opts.iter().map(|s| s.to_string()).collect(),
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while self.cli(&["PING"]).trim() != "PONG" {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server on port {} does not answer",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(&self.cli_opts)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// SIGKILL.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, empty.
    fn restart_empty(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).unwrap();
        self.child = spawn_redis(&self.args);
        self.wait_ready();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

fn spawn_redis(args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server")
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node's configuration file in `dir`.
fn node_ini(dir: &Path, name: &str, redis_url: &str, tracker: &str) -> PathBuf {
    let ini = dir.join(format!("{name}.ini"));
    std::fs::write(
        &ini,
        format!(
            "[TRACKER]\nhost = 127.0.0.1\nport = 0\nannounce_interval_jitter = 0\n{tracker}\
             [DB]\npath = {}\nflush_interval_ms = 100\n[LOGGING]\nlog_file =\n\
             [STATS]\naccess_username = admin\naccess_password = {PASSWORD}\n\
             [CLUSTER]\nredis_url = {redis_url}\nnode_id = {name}\nsync_interval_ms = 100\nview_max_age_ms = 300\n",
            dir.join(format!("{name}.sqlite")).display()
        ),
    )
    .unwrap();
    ini
}

fn start_nodes(dir: &Path, redis_url: &str, tracker: &str) -> Vec<Process> {
    ["n1", "n2", "n3"]
        .iter()
        .map(|n| Process::start(&node_ini(dir, n, redis_url, tracker)))
        .collect()
}

const HASH: [u8; 20] = [0x5a; 20];

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// An announce of peer `n` (from 127.0.0.`n`, port 6000 + n) to the node at `addr`.
async fn announce(addr: SocketAddr, hash: &[u8; 20], n: u8, left: u64, extra: &str) -> Dict {
    let q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={left}&compact=1{extra}",
        pct(hash),
        pct(&id20("-CL0001-", u32::from(n))),
        6000 + u16::from(n)
    );
    let r = get(addr, Some(ip(n)), &format!("/announce?{q}"), &[]).await;
    assert_eq!(r.status, 200);
    let d = r.dict();
    assert!(
        d.get("failure reason").is_none(),
        "{:?}",
        d.str("failure reason")
    );
    d
}

/// Whether peer `me`, announcing (leecher, default numwant) to the node at `addr`, is handed
/// peer `other`.
async fn sees(addr: SocketAddr, me: u8, other: u8) -> bool {
    announce(addr, &HASH, me, 100, "")
        .await
        .peers4()
        .contains(&peer_of(other))
}

fn peer_of(n: u8) -> SocketAddr {
    SocketAddr::new(ip(n), 6000 + u16::from(n))
}

/// Scrape counts (complete, incomplete, downloaded) of `hash` on the node at `addr`.
async fn scrape(addr: SocketAddr, hash: &[u8; 20]) -> (i64, i64, i64) {
    let r = get(addr, None, &format!("/scrape?info_hash={}", pct(hash)), &[]).await;
    let files = r.dict().dict("files");
    match files.0.get(hash.as_slice()) {
        Some(serde_bencode::value::Value::Dict(d)) => {
            let e = Dict(d.clone());
            (e.int("complete"), e.int("incomplete"), e.int("downloaded"))
        }
        other => panic!("no entry for the hash: {other:?}"),
    }
}

/// `/api/stats` as the admin.
async fn api_stats(addr: SocketAddr) -> serde_json::Value {
    let r = get(
        addr,
        None,
        "/api/stats",
        &[("Authorization", &basic("admin", PASSWORD))],
    )
    .await;
    assert_eq!(r.status, 200);
    serde_json::from_str(&r.text()).unwrap()
}

/// The dashboard page as the admin.
async fn dashboard(addr: SocketAddr) -> String {
    let r = get(
        addr,
        None,
        "/stat",
        &[("Authorization", &basic("admin", PASSWORD))],
    )
    .await;
    assert_eq!(r.status, 200);
    r.text()
}

async fn metrics(addr: SocketAddr) -> String {
    get(addr, None, "/metrics", &[]).await.text()
}

/// Polls `check` every 50 ms until it returns true; fails after `limit` with `what`.
macro_rules! wait_until {
    ($limit:expr, $what:expr, $check:expr) => {{
        let start = Instant::now();
        loop {
            if $check {
                break start.elapsed();
            }
            assert!(
                start.elapsed() < $limit,
                "{}: not within {:?}",
                $what,
                $limit
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_on_one_node_is_handed_out_by_the_others_and_leaves_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    // Peers expire 4 s after their last announce (interval 2 s, factor 2).
    let mut nodes = start_nodes(
        dir.path(),
        &redis.url(),
        "announce_interval = 2\npeer_expire_factor = 2\n",
    );
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();

    // Peer 1 on node 1; peers 2 and 3 ask nodes 2 and 3.
    announce(addrs[0], &HASH, 1, 100, "&event=started").await;
    let took = wait_until!(
        Duration::from_secs(2),
        "peer 1 handed out by nodes 2 and 3",
        {
            let a = announce(addrs[1], &HASH, 2, 100, "").await.peers4();
            let b = announce(addrs[2], &HASH, 3, 100, "").await.peers4();
            a.contains(&peer_of(1)) && b.contains(&peer_of(1))
        }
    );
    eprintln!("handed out by the other nodes after {took:?}");
    // Counts are cluster-wide: three leechers on every node.
    wait_until!(Duration::from_secs(2), "three leechers everywhere", {
        let mut all = true;
        for a in &addrs {
            all &= scrape(*a, &HASH).await == (0, 3, 0);
        }
        all
    });
    // And node 1 hands out the peers of nodes 2 and 3.
    let d = announce(addrs[0], &HASH, 1, 100, "").await;
    let mut got = d.peers4();
    got.sort();
    assert_eq!(got, vec![peer_of(2), peer_of(3)]);

    // `stopped` on node 1: gone from nodes 2 and 3.
    announce(addrs[0], &HASH, 1, 100, "&event=stopped").await;
    wait_until!(Duration::from_secs(2), "peer 1 gone after stopped", {
        let a = announce(addrs[1], &HASH, 2, 100, "").await.peers4();
        let b = announce(addrs[2], &HASH, 3, 100, "").await.peers4();
        !a.contains(&peer_of(1)) && !b.contains(&peer_of(1))
    });
    assert_eq!(scrape(addrs[2], &HASH).await, (0, 2, 0));

    // Back on node 1, then node 1 dies: its peer expires from the others' views by score.
    announce(addrs[0], &HASH, 1, 0, "").await;
    wait_until!(
        Duration::from_secs(2),
        "peer 1 back",
        sees(addrs[1], 2, 1).await
    );
    nodes[0].kill();
    let gone = wait_until!(Duration::from_secs(15), "a dead node's peer expired", {
        let a = announce(addrs[1], &HASH, 2, 100, "").await;
        let b = announce(addrs[2], &HASH, 3, 100, "").await;
        !a.peers4().contains(&peer_of(1))
            && !b.peers4().contains(&peer_of(1))
            && a.int("complete") == 0
    });
    eprintln!("a dead node's peer left the views {gone:?} after the kill");
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_download_reported_through_two_nodes_counts_once_and_a_kill_9_does_not_count_it_again()
{
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let mut nodes = start_nodes(dir.path(), &redis.url(), "");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();

    // Peer 7 leeches through nodes 1 and 2 (a torrent with both trackers), then finishes and
    // tells both.
    for a in &addrs[..2] {
        announce(*a, &HASH, 7, 100, "&event=started").await;
    }
    for a in &addrs[..2] {
        announce(*a, &HASH, 7, 0, "&event=completed").await;
    }
    wait_until!(Duration::from_secs(3), "both claims settled", {
        let mut n = 0.0;
        for a in &addrs[..2] {
            let m = metrics(*a).await;
            n += metric(&m, "retracker_cluster_claims_total{result=\"won\"}")
                + metric(&m, "retracker_cluster_claims_total{result=\"lost\"}");
        }
        n == 2.0
    });
    let mut won = 0.0;
    for a in &addrs[..2] {
        won += metric(
            &metrics(*a).await,
            "retracker_cluster_claims_total{result=\"won\"}",
        );
    }
    assert_eq!(won, 1.0, "one node won the claim");
    wait_until!(Duration::from_secs(2), "downloaded = 1 on every node", {
        let mut all = true;
        for a in &addrs {
            all &= scrape(*a, &HASH).await.2 == 1;
        }
        all
    });

    // The winner's count is in its own SQLite file once written; kill -9 it after that, restart
    // it, and let the client replay its `completed` there.
    let winner = if metric(
        &metrics(addrs[0]).await,
        "retracker_cluster_claims_total{result=\"won\"}",
    ) == 1.0
    {
        0
    } else {
        1
    };
    let db = dir.path().join(format!("n{}.sqlite", winner + 1));
    wait_until!(
        Duration::from_secs(5),
        "the count in the winner's database",
        stored_completed(&db) == Some(1)
    );
    nodes[winner].kill();
    let ini = dir.path().join(format!("n{}.ini", winner + 1));
    nodes[winner] = Launch::new().config(&ini).start();
    let again = nodes[winner].addr;
    announce(again, &HASH, 7, 0, "&event=completed").await;
    // And a peer that finishes only now, through the restarted node: counted, once.
    announce(again, &HASH, 8, 100, "&event=started").await;
    announce(again, &HASH, 8, 0, "&event=completed").await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();
    wait_until!(Duration::from_secs(3), "downloaded = 2 on every node", {
        let mut all = true;
        for a in &addrs {
            all &= scrape(*a, &HASH).await.2 == 2;
        }
        all
    });
    // A node restarted within seconds finds its previous run's report under its id: that is
    // not two processes sharing one id.
    assert!(
        !nodes[winner]
            .stderr()
            .iter()
            .any(|l| l.contains("another process reports node_id")),
        "{:#?}",
        nodes[winner].stderr()
    );
    // The web UI shows the cluster's count too: the torrents export of the node that lost the
    // claim (its own count is 0).
    let loser = 1 - winner;
    let r = get(
        addrs[loser],
        None,
        "/export/torrents.json",
        &[("Authorization", &basic("admin", PASSWORD))],
    )
    .await;
    let list: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["info_hash"] == "5a".repeat(20))
        .unwrap_or_else(|| panic!("no row: {list}"));
    assert_eq!(row["completed"], 2, "{row}");
    // Stays 2: nothing was counted a third time.
    for _ in 0..5 {
        for a in &addrs {
            assert_eq!(scrape(*a, &HASH).await.2, 2);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        redis
            .cli(&["HGETALL", &format!("rt:{{{}}}:done", "5a".repeat(20))])
            .lines()
            .count(),
        2,
        "one node's count"
    );
}

/// The completed count of [`HASH`] in a node's database, read-only.
fn stored_completed(db: &Path) -> Option<i64> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()?;
    c.query_row(
        "SELECT completed FROM torrents WHERE info_hash = ?1",
        [HASH.as_slice()],
        |r| r.get(0),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_every_node_answers_and_restarted_empty_counts_and_peers_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(dir.path());
    let nodes = start_nodes(dir.path(), &redis.url(), "");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();

    announce(addrs[0], &HASH, 1, 100, "&event=started").await;
    announce(addrs[0], &HASH, 1, 0, "&event=completed").await;
    wait_until!(
        Duration::from_secs(2),
        "peer 1 and its download on node 2",
        {
            let d = announce(addrs[1], &HASH, 2, 100, "").await;
            d.peers4().contains(&peer_of(1)) && d.int("downloaded") == 1
        }
    );

    // The operator's view while all is well: three live nodes, no alert.
    wait_until!(Duration::from_secs(5), "three nodes in /api/stats", {
        let s = api_stats(addrs[0]).await;
        s["cluster"]["nodes"].as_array().map(Vec::len) == Some(3)
    });
    let s = api_stats(addrs[0]).await;
    assert_eq!(s["cluster"]["node"], "n1");
    assert_eq!(s["cluster"]["redis_up"], true);
    let page = dashboard(addrs[0]).await;
    assert!(
        page.contains("id=\"cluster-nodes\"") && page.contains("n1 (this node)"),
        "{page}"
    );
    assert!(!page.contains("id=\"cluster-alert\""));

    redis.kill();
    for a in &addrs {
        wait_until!(Duration::from_secs(10), "retracker_cluster_up 0", {
            metric(&metrics(*a).await, "retracker_cluster_up") == 0.0
        });
    }
    let page = dashboard(addrs[1]).await;
    assert!(page.contains("id=\"cluster-alert\""), "{page}");
    let s = api_stats(addrs[1]).await;
    assert_eq!(s["cluster"]["redis_up"], false);
    assert!(
        s["cluster"]["redis_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{s}"
    );
    // Every node answers at once, from its own peers and the last view.
    for (i, a) in addrs.iter().enumerate() {
        let start = Instant::now();
        let d = announce(*a, &HASH, 10 + i as u8, 100, "").await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "node {} took {:?}",
            i + 1,
            start.elapsed()
        );
        assert!(d.int("incomplete") >= 1);
    }
    let d = announce(addrs[1], &HASH, 2, 100, "").await;
    assert!(
        d.peers4().contains(&peer_of(1)),
        "the last view still serves: {:?}",
        d.peers4()
    );

    // Redis back, empty: every node pushes its peers and counts again.
    redis.restart_empty();
    wait_until!(
        Duration::from_secs(10),
        "peer 1 and its download back on nodes 2 and 3",
        {
            let a = announce(addrs[1], &HASH, 2, 100, "").await;
            let b = announce(addrs[2], &HASH, 3, 100, "").await;
            a.peers4().contains(&peer_of(1))
                && a.int("downloaded") == 1
                && b.peers4().contains(&peer_of(1))
                && b.int("downloaded") == 1
        }
    );
    for a in &addrs {
        let m = metrics(*a).await;
        assert_eq!(metric(&m, "retracker_cluster_up"), 1.0);
        assert!(
            metric(&m, "retracker_cluster_resyncs_total") >= 2.0,
            "resync after the restart"
        );
    }
    // Nothing doubled: one download, one peer 1.
    assert_eq!(scrape(addrs[2], &HASH).await.2, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_on_redis_does_not_hold_up_any_answer() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let nodes = start_nodes(dir.path(), &redis.url(), "");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();
    announce(addrs[0], &HASH, 1, 100, "").await;
    wait_until!(
        Duration::from_secs(2),
        "peer 1 on node 3",
        sees(addrs[2], 3, 1).await
    );
    assert_eq!(redis.cli(&["CLIENT", "PAUSE", "4000", "ALL"]).trim(), "OK");
    let paused = Instant::now();
    let mut n = 0u8;
    while paused.elapsed() < Duration::from_secs(3) {
        for a in &addrs {
            let start = Instant::now();
            let d = announce(*a, &HASH, 20 + n % 50, 100, "").await;
            assert!(
                start.elapsed() < Duration::from_millis(500),
                "an answer waited {:?} while Redis was paused",
                start.elapsed()
            );
            assert!(d.int("incomplete") >= 1);
            n = n.wrapping_add(1);
        }
    }
    // And after the pause everything flows again.
    redis.cli(&["CLIENT", "UNPAUSE"]);
    wait_until!(
        Duration::from_secs(10),
        "peers announced during the pause reach node 1",
        {
            announce(addrs[0], &HASH, 1, 100, "")
                .await
                .int("incomplete")
                >= 4
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_master_redis_cluster_works_without_cross_slot_errors() {
    let dir = tempfile::tempdir().unwrap();
    let masters: Vec<Redis> = (0..3)
        .map(|_| {
            let port = free_port(true);
            let conf = dir.path().join(format!("nodes-{port}.conf"));
            Redis::start_on(
                dir.path(),
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    conf.to_str().unwrap(),
                    "--cluster-node-timeout",
                    "5000",
                ],
            )
        })
        .collect();
    let hosts: Vec<String> = masters
        .iter()
        .map(|r| format!("127.0.0.1:{}", r.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&hosts)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let start = Instant::now();
    while !masters
        .iter()
        .all(|m| m.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the Redis Cluster never became ok"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let urls = masters.iter().map(Redis::url).collect::<Vec<_>>().join(",");
    let nodes = start_nodes(dir.path(), &urls, "");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();

    // Twenty swarms, spread over the slots of the three masters.
    let hashes: Vec<[u8; 20]> = (0..20).map(|i| id20("cluster-slots-", i)).collect();
    for h in &hashes {
        announce(addrs[0], h, 1, 100, "").await;
        announce(addrs[0], h, 1, 0, "&event=completed").await;
    }
    for h in &hashes {
        wait_until!(Duration::from_secs(5), "every swarm on nodes 2 and 3", {
            let a = announce(addrs[1], h, 2, 100, "").await;
            let b = announce(addrs[2], h, 3, 100, "").await;
            a.peers4().contains(&peer_of(1))
                && b.peers4().contains(&peer_of(1))
                && a.int("downloaded") == 1
        });
    }
    let mut keys_per_master = Vec::new();
    for m in &masters {
        keys_per_master.push(m.cli(&["DBSIZE"]).trim().parse::<u64>().unwrap());
    }
    assert!(
        keys_per_master.iter().filter(|n| **n > 0).count() >= 2,
        "swarms on several masters: {keys_per_master:?}"
    );
    for a in &addrs {
        let m = metrics(*a).await;
        assert_eq!(metric(&m, "retracker_cluster_errors_total"), 0.0, "{m}");
        assert_eq!(metric(&m, "retracker_cluster_up"), 1.0);
    }
    for mut n in nodes {
        let lines = n.stderr().join("\n");
        assert!(
            !lines.contains("CROSSSLOT") && !lines.to_lowercase().contains("crossed slots"),
            "{lines}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_with_one_node_id_are_told() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let a = Process::start(&node_ini(dir.path(), "same", &redis.url(), ""));
    let ini_b = node_ini(
        &dir.path().join("b-dir").tap_mkdir(),
        "same",
        &redis.url(),
        "",
    );
    let b = Process::start(&ini_b);
    let mut procs = [a, b];
    wait_until!(
        Duration::from_secs(15),
        "an error about the shared node_id",
        {
            procs.iter_mut().any(|p| {
                p.stderr()
                    .iter()
                    .any(|l| l.contains("another process reports node_id \"same\""))
            })
        }
    );
}

/// Creates a folder and gives it back.
trait TapMkdir {
    fn tap_mkdir(self) -> PathBuf;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_password_works_and_the_password_is_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let files = testca::write(dir.path());
    let redis = Redis::start_tls(dir.path(), &files, "s3cret-redis");
    let url = format!("rediss://localhost:{}/0", redis.port);
    // The password in redis_password for node 1, in the URL for node 2; both trust the test CA
    // through SSL_CERT_FILE, as an operator's own CA would be.
    let mut nodes = Vec::new();
    for (name, url, password) in [
        ("n1", url.clone(), "s3cret-redis"),
        (
            "n2",
            format!("rediss://:s3cret-redis@localhost:{}/0", redis.port),
            "",
        ),
    ] {
        let ini = node_ini(dir.path(), name, &url, "");
        let text = std::fs::read_to_string(&ini).unwrap();
        std::fs::write(&ini, format!("{text}redis_password = {password}\n")).unwrap();
        nodes.push(
            Launch::new()
                .config(&ini)
                .env("SSL_CERT_FILE", &files.ca)
                .start(),
        );
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();
    announce(addrs[0], &HASH, 1, 100, "").await;
    wait_until!(
        Duration::from_secs(5),
        "peer 1 on node 2 over TLS",
        sees(addrs[1], 2, 1).await
    );
    assert!(redis.cli(&["DBSIZE"]).trim().parse::<u64>().unwrap() > 0);
    for mut n in nodes {
        let lines = n.stderr().join("\n");
        assert!(!lines.contains("s3cret-redis"), "{lines}");
    }
    // A wrong password: the node serves alone, says why, and never prints the password.
    let ini = node_ini(
        dir.path(),
        "n3",
        &format!("rediss://:wrong-pw@localhost:{}/0", redis.port),
        "",
    );
    let mut n3 = Launch::new()
        .config(&ini)
        .env("SSL_CERT_FILE", &files.ca)
        .start();
    let a3 = n3.addr;
    wait_until!(
        Duration::from_secs(10),
        "retracker_cluster_up 0 with a wrong password",
        {
            metric(&metrics(a3).await, "retracker_cluster_up") == 0.0
                && n3
                    .stderr()
                    .iter()
                    .any(|l| l.contains("cluster: Redis does not answer"))
        }
    );
    let d = announce(a3, &HASH, 3, 100, "").await;
    assert_eq!(d.int("incomplete"), 1, "served alone");
    let lines = n3.stderr().join("\n");
    assert!(!lines.contains("wrong-pw"), "{lines}");
    assert_eq!(
        lines.matches("Redis does not answer").count(),
        1,
        "logged once: {lines}"
    );
    eprintln!(
        "{}",
        lines
            .lines()
            .filter(|l| l.contains("cluster"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A BEP 15 announce from 127.0.0.`n` (port 6000 + n) to the UDP tracker on the node's HTTP
/// port; returns (leechers, seeders, peers).
async fn udp_announce(node: SocketAddr, hash: &[u8; 20], n: u8) -> (u32, u32, Vec<SocketAddr>) {
    let sock = tokio::net::UdpSocket::bind(SocketAddr::new(ip(n), 0))
        .await
        .unwrap();
    let exchange = |packet: Vec<u8>| {
        let sock = &sock;
        async move {
            sock.send_to(&packet, node).await.unwrap();
            let mut buf = vec![0u8; 2048];
            let (len, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
                .await
                .expect("a UDP answer within 5 s")
                .unwrap();
            buf.truncate(len);
            buf
        }
    };
    let mut connect = 0x0417_2710_1980u64.to_be_bytes().to_vec();
    connect.extend_from_slice(&0u32.to_be_bytes());
    connect.extend_from_slice(&7u32.to_be_bytes());
    let r = exchange(connect).await;
    assert_eq!(&r[..8], &[0, 0, 0, 0, 0, 0, 0, 7], "connect answer");
    let conn = &r[8..16];
    let mut a = conn.to_vec();
    a.extend_from_slice(&1u32.to_be_bytes());
    a.extend_from_slice(&8u32.to_be_bytes());
    a.extend_from_slice(hash);
    a.extend_from_slice(&id20("-CL0001-", u32::from(n)));
    a.extend_from_slice(&0u64.to_be_bytes()); // downloaded
    a.extend_from_slice(&100u64.to_be_bytes()); // left
    a.extend_from_slice(&0u64.to_be_bytes()); // uploaded
    a.extend_from_slice(&0u32.to_be_bytes()); // event
    a.extend_from_slice(&0u32.to_be_bytes()); // ip
    a.extend_from_slice(&9u32.to_be_bytes()); // key
    a.extend_from_slice(&50i32.to_be_bytes()); // numwant
    a.extend_from_slice(&(6000 + u16::from(n)).to_be_bytes());
    let r = exchange(a).await;
    assert_eq!(&r[..8], &[0, 0, 0, 1, 0, 0, 0, 8], "announce answer: {r:?}");
    let be = |at: usize| u32::from_be_bytes(r[at..at + 4].try_into().unwrap());
    let peers = r[20..]
        .chunks(6)
        .map(|c| {
            SocketAddr::new(
                IpAddr::from([c[0], c[1], c[2], c[3]]),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect();
    (be(12), be(16), peers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_announces_share_the_cluster_too() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path());
    let nodes = start_nodes(dir.path(), &redis.url(), "");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();
    // Peer 1 over HTTP on node 1, peer 2 over UDP on node 2: each gets the other.
    announce(addrs[0], &HASH, 1, 100, "").await;
    wait_until!(Duration::from_secs(2), "peer 1 in node 2's UDP answer", {
        udp_announce(addrs[1], &HASH, 2)
            .await
            .2
            .contains(&peer_of(1))
    });
    wait_until!(
        Duration::from_secs(2),
        "peer 2 in node 1's HTTP answer",
        sees(addrs[0], 1, 2).await
    );
    // Node 3 reads the swarm at its first request (the answer to that one has its own peers
    // only): the counts are the cluster's soon after.
    wait_until!(
        Duration::from_secs(2),
        "the cluster's counts over UDP on node 3",
        udp_announce(addrs[2], &HASH, 3).await.0 == 3
    );
    assert_eq!(udp_announce(addrs[2], &HASH, 3).await.1, 0, "no seeders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_redis_sentinel_the_nodes_follow_a_failover() {
    let dir = tempfile::tempdir().unwrap();
    let primary = Redis::start(dir.path());
    let replica_port = free_port(false);
    let replica = Redis::start_on(
        dir.path(),
        replica_port,
        &["--replicaof", "127.0.0.1", &primary.port.to_string()],
    );
    // A Sentinel watching the primary (quorum 1), with a config file of its own (Sentinel
    // rewrites it).
    let sport = free_port(false);
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sport}\nbind 127.0.0.1\ndir {}\nsentinel monitor main 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds main 1000\nsentinel failover-timeout main 5000\n",
            dir.path().display(),
            primary.port
        ),
    )
    .unwrap();
    let _sentinel = Killed(
        Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let cli = |port: u16, args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let start = Instant::now();
    // The Sentinel knows the primary and has found its replica.
    while !cli(sport, &["SENTINEL", "REPLICAS", "main"]).contains(&replica_port.to_string()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the Sentinel never saw the replica"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("sentinel://127.0.0.1:{sport}/main");
    let nodes = start_nodes(dir.path(), &url, "");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|p| p.addr).collect();
    announce(addrs[0], &HASH, 1, 100, "").await;
    wait_until!(
        Duration::from_secs(3),
        "peer 1 on node 2 through the Sentinel's primary",
        sees(addrs[1], 2, 1).await
    );

    // Failover: the replica becomes the primary; the nodes follow and keep sharing.
    assert!(cli(sport, &["SENTINEL", "FAILOVER", "main"]).contains("OK"));
    let start = Instant::now();
    // Done when the old primary follows the new one.
    while !(replica.cli(&["ROLE"]).starts_with("master")
        && primary.cli(&["ROLE"]).starts_with("slave"))
    {
        assert!(start.elapsed() < Duration::from_secs(30), "no failover");
        std::thread::sleep(Duration::from_millis(100));
    }
    announce(addrs[2], &HASH, 3, 100, "").await;
    wait_until!(
        Duration::from_secs(10),
        "peer 3 (announced after the failover) on node 1",
        sees(addrs[0], 1, 3).await
    );
    wait_until!(
        Duration::from_secs(5),
        "peer 1 still on node 2 after the failover",
        sees(addrs[1], 2, 1).await
    );
    assert!(
        replica
            .cli(&["EXISTS", &format!("rt:{{{}}}:4l", "5a".repeat(20))])
            .trim()
            == "1",
        "the new primary holds the swarm: {} / old {}",
        replica.cli(&["KEYS", "*"]),
        primary.cli(&["KEYS", "*"])
    );
    drop(primary);
}

/// A child process killed when dropped, so a failing test leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
