//! Server-side tracker checks (`[CHECKS]`, `retracker::checks`): against a second retracker
//! over HTTP and UDP, against fake trackers that refuse, stall or answer garbage, the deny list
//! and the limits, and watches from a watch file recorded and exported to /metrics.

mod common;

use common::{config_in, process::Launch, Tracker};
use retracker::checks::{CheckError, CheckRequest, Checks, Kind};
use retracker::config::Config;
use retracker::storage::checks::{CheckFilter, Source};
use retracker::storage::Storage;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HASH: [u8; 20] = [0x42; 20];

fn service(tweak: impl FnOnce(&mut Config)) -> (tempfile::TempDir, Checks, Arc<Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.checks.deny_networks = "169.254.0.0/16".parse().unwrap();
    tweak(&mut config);
    let db = Arc::new(Storage::open(&dir.path().join("checks.sqlite"), 2).unwrap());
    let checks = Checks::new(&config, Arc::clone(&db)).unwrap();
    (dir, checks, db)
}

fn request(url: &str) -> CheckRequest {
    CheckRequest {
        url: url.into(),
        info_hash: HASH,
        kind: Kind::Announce,
        client: None,
        timeout: Some(Duration::from_secs(2)),
        retries: 0,
        port: 0,
        numwant: None,
        peer_ids: false,
        source: Source::Page,
    }
}

/// Two seeders and a leecher announce to `t`.
async fn seed(t: &Tracker) {
    for (n, left) in [(1, 0), (2, 0), (3, 5)] {
        t.announce(&common::query(&HASH, n, 6000 + n as u16, left, ""))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_of_a_second_tracker_over_http_and_udp_are_recorded() {
    let target = Tracker::start_udp(|_| {}).await;
    seed(&target).await;
    let (_dir, checks, db) = service(|_| {});
    let http = format!("http://{}/announce", target.addr);
    let udp = format!("udp://{}", target.udp_addr());
    let mut req = request(&http);
    req.client = Some("qbittorrent".into());
    let r = checks.run(&req).await.unwrap();
    assert_eq!(r.status, "ok", "{r:?}");
    // The check counts itself as a leecher while it asks.
    assert_eq!((r.seeders, r.leechers), (Some(2), Some(2)), "{r:?}");
    assert_eq!(r.peers.len(), 3, "{r:?}");
    assert!(r.id > 0);
    let r = checks.run(&request(&udp)).await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.seeders, r.leechers),
        ("ok", Some(2), Some(2))
    );
    assert_eq!(r.peers.len(), 3);
    let mut scrape = request(&http);
    scrape.kind = Kind::Scrape;
    let r = checks.run(&scrape).await.unwrap();
    assert_eq!(
        (r.seeders, r.leechers),
        (Some(2), Some(1)),
        "the stopped announce left"
    );

    let page = db
        .list_checks(&CheckFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(db.export_checks(Some(&udp), None).unwrap().len(), 1);
    assert_eq!(
        checks
            .run(&{
                let mut r = request(&http);
                r.client = Some("netscape".into());
                r
            })
            .await
            .unwrap_err(),
        CheckError::UnknownClient(
            "netscape".into(),
            "qbittorrent, transmission, deluge, utorrent, libtorrent, aria2".into()
        )
    );
}

/// A fake HTTP tracker answering every request with `answer` (`None`: never answers).
async fn fake(answer: Option<&'static [u8]>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                match answer {
                    Some(body) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(head.as_bytes()).await;
                        let _ = s.write_all(body).await;
                    }
                    None => {
                        let _ = s.read(&mut buf).await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_stalls_and_garbage_say_why_in_words() {
    let (_dir, checks, _db) = service(|_| {});
    let refusing = fake(Some(b"d14:failure reason11:not for youe")).await;
    let r = checks
        .run(&request(&format!("http://{refusing}/announce")))
        .await
        .unwrap();
    assert_eq!(r.status, "failure");
    assert_eq!(
        r.error.as_deref(),
        Some("refused by the tracker: not for you")
    );

    let stalling = fake(None).await;
    let started = Instant::now();
    let r = checks
        .run(&request(&format!("http://{stalling}/announce")))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "ended within its timeout"
    );
    assert_eq!(r.error.as_deref(), Some("timed out: no answer within 2 s"));

    let garbage = fake(Some(b"<html>hello</html>")).await;
    let r = checks
        .run(&request(&format!("http://{garbage}/announce")))
        .await
        .unwrap();
    assert_eq!(r.status, "error");
    assert!(
        r.error.as_deref().unwrap().starts_with("bad answer: "),
        "{r:?}"
    );

    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = checks
        .run(&request(&format!("http://{gone}/announce")))
        .await
        .unwrap();
    assert_eq!(
        r.error.as_deref(),
        Some(format!("connection refused by {gone}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_networks_and_the_limits_refuse_without_connecting() {
    let (_dir, checks, db) = service(|c| {
        c.checks.deny_networks = "127.0.0.0/8".parse().unwrap();
    });
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://localhost:{}/announce",
        l.local_addr().unwrap().port()
    );
    let e = checks.run(&request(&url)).await.unwrap_err().to_string();
    assert!(e.contains("is in [CHECKS] deny_networks"), "{e}");
    let nobody = tokio::time::timeout(Duration::from_millis(200), l.accept()).await;
    assert!(nobody.is_err(), "no connection was made");
    assert_eq!(
        db.list_checks(&CheckFilter {
            limit: 5,
            ..Default::default()
        })
        .unwrap()
        .total,
        0
    );

    // One at a time: a second check while the first stalls is refused at once.
    let (_dir, checks, _db) = service(|c| {
        c.checks.max_concurrent = 1;
        c.checks.max_per_minute = 1000;
    });
    let checks = Arc::new(checks);
    // A silent tracker that says when it has a connection: the first check is then running.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalling = format!("http://{}/announce", l.local_addr().unwrap());
    let (accepted, mut running) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        accepted.send(()).await.unwrap();
        let mut buf = [0u8; 2048];
        while s.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let first = {
        let (checks, url) = (Arc::clone(&checks), stalling.clone());
        tokio::spawn(async move { checks.run(&request(&url)).await })
    };
    running.recv().await.unwrap();
    let busy = checks
        .run(&request(&stalling))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        busy.starts_with("busy: 1 checks are running already ([CHECKS] max_concurrent)"),
        "{busy}"
    );
    first.await.unwrap().unwrap();

    // One a minute: the second is refused, saying when to come back.
    let (_dir, checks, _db) = service(|c| c.checks.max_per_minute = 1);
    let refusing = format!(
        "http://{}/announce",
        fake(Some(b"d14:failure reason2:noe")).await
    );
    assert_eq!(
        checks.run(&request(&refusing)).await.unwrap().status,
        "failure"
    );
    let e = checks
        .run(&request(&refusing))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("too many checks: 1 started in the last minute ([CHECKS] max_per_minute); try again in "), "{e}");
}

fn check_up(metrics: &str, url: &str) -> Option<f64> {
    let prefix = format!(
        "retracker_check_up{{tracker=\"{url}\",info_hash=\"{}\"}} ",
        hex(&HASH)
    );
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

/// The row of the dashboard's watched trackers table for `url`.
fn watch_row(page: &str, url: &str) -> String {
    let table = page
        .split("<table id=\"watches\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no watches table: {page}"));
    let table = table.split("</table>").next().unwrap();
    table
        .split("<tr")
        .find(|r| r.contains(url))
        .unwrap_or_else(|| panic!("no row for {url}: {table}"))
        .to_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_is_recorded_and_its_metric_falls_when_the_tracker_stops() {
    let target = Tracker::start(|_| {}).await;
    seed(&target).await;
    let url = format!("http://{}/announce", target.addr);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("watch.txt");
    std::fs::write(&file, format!("# test\n{url} {} 1\n", hex(&HASH))).unwrap();
    let watcher = common::web::start(|c| c.checks.watch_file = Some(file.clone())).await;
    let dashboard = || async {
        let auth = common::web::basic("admin", common::web::PASSWORD);
        let r = common::get(watcher.addr, None, "/stat", &[("Authorization", &auth)]).await;
        assert_eq!(r.status, 200);
        r.text()
    };

    let wait_for = |want: f64| {
        let (watcher, url) = (&watcher, url.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let text = watcher.get("/metrics").await.text();
                if check_up(&text, &url) == Some(want) {
                    return text;
                }
                assert!(
                    Instant::now() < deadline,
                    "no retracker_check_up {want}:\n{text}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let text = wait_for(1.0).await;
    assert!(
        text.contains("retracker_check_latency_seconds{tracker="),
        "{text}"
    );
    let db = Storage::open(&watcher.db, 1).unwrap();
    let rows = db
        .list_checks(&CheckFilter {
            url: Some(url.clone()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert!(rows.total >= 1);
    assert_eq!(rows.rows[0].source, Source::Watch);
    assert_eq!(rows.rows[0].seeders, Some(2));
    // The dashboard lists the watch and how it answered.
    let page = dashboard().await;
    let row = watch_row(&page, &url);
    assert!(row.contains("class=\"ok\""), "{row}");
    assert!(row.contains(&hex(&HASH)), "{row}");

    target.stop().await;
    wait_for(0.0).await;
    let page = dashboard().await;
    let row = watch_row(&page, &url);
    assert!(
        row.contains("class=\"error\"") || row.contains("class=\"failure\""),
        "{row}"
    );
    assert!(
        !row.contains("<td class=\"num\">0</td>"),
        "failures in a row counted: {row}"
    );
    watcher.stop().await;
}

#[test]
fn a_bad_watch_file_line_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let watch = dir.path().join("watch.txt");
    std::fs::write(
        &watch,
        format!("# ok\nhttp://127.0.0.1:1/announce {} 0\n", hex(&HASH)),
    )
    .unwrap();
    let config = dir.path().join("config.ini");
    std::fs::write(
        &config,
        format!(
            "[TRACKER]\nhost = 127.0.0.1\nport = 0\nudp_port = 0\n[DB]\ntype = memory\npath =\n[LOGGING]\nlog_file =\n[CHECKS]\nwatch_file = {}\n",
            watch.display()
        ),
    )
    .unwrap();
    let out = Launch::new().config(&config).output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "watch_file {}:2: \"0\": expected whole seconds",
            watch.display()
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_the_watch_file_and_keeps_the_watches_when_it_is_bad() {
    let target = Tracker::start(|_| {}).await;
    seed(&target).await;
    let url = format!("http://{}/announce", target.addr);
    let other = format!("http://{}/announce?second", target.addr);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("watch.txt");
    std::fs::write(&file, format!("{url} {} 1\n", hex(&HASH))).unwrap();
    let mut config = config_in(dir.path());
    config.checks.watch_file = Some(file.clone());
    let watcher = Tracker::start_in(
        tempfile::tempdir().unwrap(),
        config.clone(),
        &["127.0.0.1:0"],
    )
    .await;
    let polled = |wanted: &'static [bool]| {
        let (watcher, url, other) = (&watcher, url.clone(), other.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let text = watcher.get("/metrics").await.text();
                let seen = [
                    check_up(&text, &url).is_some(),
                    check_up(&text, &other).is_some(),
                ];
                if seen == wanted {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "watches {seen:?}, wanted {wanted:?}:\n{text}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    polled(&[true, false]).await;

    // A second line, then SIGHUP: both watched.
    std::fs::write(
        &file,
        format!("{url} {h} 1\n{other} {h} 1\n", h = hex(&HASH)),
    )
    .unwrap();
    watcher.reload(config.clone());
    polled(&[true, true]).await;

    // A bad file on SIGHUP: logged, and the running watches are kept.
    std::fs::write(&file, format!("{url} {} 0\n", hex(&HASH))).unwrap();
    watcher.reload(config.clone());
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let text = watcher.get("/metrics").await.text();
        assert!(
            check_up(&text, &url).is_some() && check_up(&text, &other).is_some(),
            "a bad file dropped a watch:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watcher.stop().await;
    target.stop().await;
}
