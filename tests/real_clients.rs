//! Two real BitTorrent clients from Debian find each other through the tracker and one downloads
//! a file from the other: transmission-cli seeds, aria2c leeches (Transmission waits ~30 s before
//! asking a fresh seeder for pieces, aria2 asks at once; see shared/notes/real-clients.md). Once
//! with an `http://` announce URL, once with a `udp://` one (BEP 15, both clients speak it).
//!
//! Needs `aria2c`, `transmission-cli` and `transmission-create` (the README's test command
//! installs them). Everything stays on 127.0.0.1.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the client when the test ends, however it ends.
struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap()
        .status
        .success();
    assert!(found, "{tool} is not installed: run the README's test command, which installs aria2 and transmission-cli");
}

async fn scrape(t: &Tracker, hash: &[u8]) -> (i64, i64, i64) {
    let d = t
        .get(&format!("/scrape?info_hash={}", pct(hash)))
        .await
        .dict();
    match d.dict("files").0.get(hash) {
        Some(serde_bencode::value::Value::Dict(e)) => {
            let e = Dict(e.clone());
            (e.int("complete"), e.int("incomplete"), e.int("downloaded"))
        }
        _ => (0, 0, 0),
    }
}

fn info_hash_of(torrent: &Path) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let raw = std::fs::read(torrent).unwrap();
    // The info dict is the bencoded value after "4:info" up to the final 'e' of the outer dict
    // (transmission-create writes `info` as the last key).
    let start = raw.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    Sha1::digest(&raw[start..raw.len() - 1]).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2c_downloads_from_transmission_through_the_tracker() {
    let t = Tracker::start(|_| {}).await;
    let announce = format!("http://{}/announce", t.addr);
    download_through(&t, &announce, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2c_downloads_from_transmission_through_the_udp_tracker() {
    let t = Tracker::start_udp(|_| {}).await;
    let announce = format!("udp://{}/announce", t.udp_addr());
    download_through(&t, &announce, true).await;
    // The torrent names only the udp:// tracker: transmission's and aria2's announces (at least
    // started, started, stopped) all came over BEP 15.
    let m = String::from_utf8(t.get("/metrics").await.body).unwrap();
    let announces: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("retracker_requests_total{kind=\"announce\",result=\"ok\"} "))
        .unwrap_or_else(|| panic!("no announce counter in {m}"))
        .parse()
        .unwrap();
    assert!(announces >= 3.0, "{announces} announces");
}

/// transmission-cli seeds a fresh torrent whose only tracker is `announce`, aria2c downloads it;
/// the file must arrive intact and the tracker's counts (scraped over HTTP) follow the swarm.
///
/// `udp`: aria2 speaks to UDP trackers only through its DHT socket (`--enable-dht` "also enables
/// UDP tracker support"), so DHT is switched on, with no entry point and a fresh routing table
/// file: it knows no node to contact. The torrent is private, so neither client uses DHT for it.
async fn download_through(t: &Tracker, announce: &str, udp: bool) {
    for tool in ["aria2c", "transmission-cli", "transmission-create"] {
        require(tool);
    }
    let work = tempfile::tempdir().unwrap();
    let (seed_dir, leech_dir, home) = (
        work.path().join("seed"),
        work.path().join("leech"),
        work.path().join("home"),
    );
    for d in [&seed_dir, &leech_dir, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    let payload: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(seed_dir.join("payload.bin"), &payload).unwrap();
    let torrent = work.path().join("payload.torrent");
    let ok = Command::new("transmission-create")
        .args(udp.then_some("-p"))
        .args([
            "-o",
            torrent.to_str().unwrap(),
            "-t",
            announce,
            seed_dir.join("payload.bin").to_str().unwrap(),
        ])
        .env("HOME", &home)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let hash = info_hash_of(&torrent);

    // Transmission would otherwise bootstrap DHT from public nodes and look for peers on the LAN.
    std::fs::create_dir_all(home.join("tr")).unwrap();
    std::fs::write(
        home.join("tr/settings.json"),
        r#"{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "port-forwarding-enabled": false}"#,
    )
    .unwrap();
    let seed_port = free_port();
    let _seeder = Kill(
        Command::new("transmission-cli")
            .args([
                "-g",
                home.join("tr").to_str().unwrap(),
                "-w",
                seed_dir.to_str().unwrap(),
            ])
            .args([
                "-p",
                &seed_port.to_string(),
                "-u",
                "-1",
                "-d",
                "-1",
                torrent.to_str().unwrap(),
            ])
            .env("HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while scrape(t, &hash).await.0 < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "transmission never announced as a seeder"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let leech_port = free_port();
    let dht = if udp {
        vec![
            "--enable-dht=true".to_owned(),
            format!("--dht-listen-port={}", free_udp_port()),
            format!("--dht-file-path={}", work.path().join("dht.dat").display()),
        ]
    } else {
        vec!["--enable-dht=false".to_owned()]
    };
    let leecher = Command::new("aria2c")
        .args(["--dir", leech_dir.to_str().unwrap(), "--seed-time=0"])
        .args(&dht)
        .args([
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
        ])
        .args([
            "--listen-port",
            &leech_port.to_string(),
            "--bt-stop-timeout=90",
            "--console-log-level=warn",
        ])
        .args([
            "--summary-interval=0",
            "--check-certificate=false",
            torrent.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || leecher.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "aria2c failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read(leech_dir.join("payload.bin")).unwrap();
    use sha1::{Digest, Sha1};
    assert_eq!(
        Sha1::digest(&got),
        Sha1::digest(&payload),
        "downloaded file differs"
    );

    // aria2 finishes by announcing left=0 (stopped, without `completed`): one download counted,
    // the seeder still there, the leecher gone.
    let start = Instant::now();
    loop {
        let (complete, incomplete, downloaded) = scrape(t, &hash).await;
        if (complete, incomplete, downloaded) == (1, 0, 1) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "tracker counts: complete {complete}, incomplete {incomplete}, downloaded {downloaded}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
