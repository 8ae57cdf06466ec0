//! Torrent names on the tracker (issue 8): `retracker add-torrent` (the real binary, writing
//! the database of a running tracker, or through `POST /api/torrents`) and the API itself; then
//! announces of the v1 and the truncated v2 hash of the libtorrent hybrid fixture show the name
//! on /stat and in the torrents exports.

mod common;

use common::web::{self, basic, Browser, PASSWORD};
use common::{connect, parse_response, query, unhex, Resp, Tracker};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The hybrid fixture's hashes, as fixtures/README.md gives them.
const HYBRID_V1: &str = "ed5790779b59bf64be1415eb81854af639002ac0";
const HYBRID_V2: &str = "8ab16bf527dc9eb4ebb3d0c05db6eb8651ebe8ca";
const PRIVATE_V1: &str = "466d846e88635a7aa032ca8cbe2d810495dea262";
/// A swarm nobody described.
const UNKNOWN: &str = "00112233445566778899aabbccddeeff00112233";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// POSTs `body` to /api/torrents with `headers` (and its length) and reads the answer.
async fn post(t: &Tracker, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut req = format!(
        "POST /api/torrents HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut stream = connect(t.addr, None).await;
    stream.write_all(req.as_bytes()).await.unwrap();
    // A refusal may come before the body is read, and the server may close early.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse_response(&raw).0
}

fn json(r: &Resp) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

async fn get(t: &Tracker, target: &str) -> Resp {
    let auth = basic("admin", PASSWORD);
    web::request(t.addr, "GET", target, &[("Authorization", &auth)], "").await
}

/// Announces each hash once (a leecher).
async fn announce(t: &Tracker, hashes: &[&str]) {
    for (i, h) in hashes.iter().enumerate() {
        let hash: [u8; 20] = unhex(h).try_into().unwrap();
        let d = t.announce(&query(&hash, i as u32, 6881, 1000, "")).await;
        assert!(d.get("failure reason").is_none());
    }
}

/// Checks that /stat and both torrents exports name the hybrid under both its hashes (with its
/// size) and leave the unknown swarm unnamed.
async fn names_are_shown(t: &Tracker) {
    let stat = String::from_utf8(get(t, "/stat").await.body).unwrap();
    assert!(stat.contains("payload.bin"), "{stat}");

    let csv = String::from_utf8(get(t, "/export/torrents.csv").await.body).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("info_hash,name,size,seeders,leechers,completed")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let row = |h: &str| rows.iter().find(|r| r[0] == h).cloned();
    for h in [HYBRID_V1, HYBRID_V2] {
        assert_eq!(
            row(h).map(|r| (r[1], r[2])),
            Some(("payload.bin", "1048576")),
            "{csv}"
        );
    }
    assert_eq!(row(UNKNOWN).map(|r| (r[1], r[2])), Some(("", "")), "{csv}");

    let list: Vec<Value> =
        serde_json::from_slice(&get(t, "/export/torrents.json").await.body).unwrap();
    let item = |h: &str| list.iter().find(|v| v["info_hash"] == h).cloned().unwrap();
    for h in [HYBRID_V1, HYBRID_V2] {
        assert_eq!(item(h)["name"], "payload.bin");
        assert_eq!(item(h)["size"], 1048576);
    }
    assert_eq!(item(UNKNOWN)["name"], "");
    assert_eq!(item(UNKNOWN)["size"], Value::Null);
}

/// Runs the binary with `args` and `env` (off the runtime, which serves the tracker).
async fn retracker(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_retracker"))
            .args(args)
            .env_remove("RETRACKER_PASSWORD")
            .envs(env)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn the_api_checks_login_then_type_then_the_torrent_and_names_show() {
    let t = web::start(|_| {}).await;
    announce(&t, &[HYBRID_V1, HYBRID_V2, UNKNOWN]).await;
    let hybrid = std::fs::read(fixture("hybrid-v1-v2.torrent")).unwrap();
    let auth = basic("admin", PASSWORD);
    let torrent_type = ("Content-Type", "application/x-bittorrent");

    let r = post(&t, &[torrent_type], &hybrid).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    let wrong = basic("admin", "wrong");
    assert_eq!(
        post(&t, &[torrent_type, ("Authorization", &wrong)], &hybrid)
            .await
            .status,
        401
    );
    // A browser session is not enough: basic auth only (the CSRF defence).
    let browser = Browser::login(t.addr).await;
    let r = post(&t, &[torrent_type, ("Cookie", &browser.cookie)], &hybrid).await;
    assert_eq!(r.status, 401);

    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let r = post(&t, &[form, ("Authorization", &auth)], &hybrid).await;
    assert_eq!(r.status, 415);
    assert!(json(&r)["error"]
        .as_str()
        .unwrap()
        .contains("application/x-bittorrent"));

    let r = post(
        &t,
        &[torrent_type, ("Authorization", &auth)],
        b"<html>not a torrent",
    )
    .await;
    assert_eq!(r.status, 400);
    let error = json(&r)["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with("not a torrent file: not valid bencode"),
        "{error}"
    );
    let r = post(
        &t,
        &[torrent_type, ("Authorization", &auth)],
        b"d4:infod4:name1:xee",
    )
    .await;
    assert_eq!(json(&r)["error"], "info.piece length missing");

    // A declared length over the cap is refused from the headers (no body is sent).
    let mut stream = connect(t.addr, None).await;
    let head = format!(
        "POST /api/torrents HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Type: application/x-bittorrent\r\nContent-Length: {}\r\n\r\n",
        64 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    assert_eq!(parse_response(&raw).0.status, 413);

    // Nothing was stored by the refused requests.
    let list: Vec<Value> =
        serde_json::from_slice(&get(&t, "/export/torrents.json").await.body).unwrap();
    assert!(list.iter().all(|v| v["name"] == ""), "{list:?}");

    let r = post(&t, &[torrent_type, ("Authorization", &auth)], &hybrid).await;
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let stored = json(&r);
    assert_eq!(stored["stored"], serde_json::json!([HYBRID_V1, HYBRID_V2]));
    assert_eq!(stored["name"], "payload.bin");
    assert_eq!(stored["size"], 1048576);
    assert_eq!(stored["info_hash_v2"].as_str().unwrap()[..40], *HYBRID_V2);
    names_are_shown(&t).await;

    assert_eq!(get(&t, "/api/torrents").await.status, 405);
}

#[tokio::test]
async fn add_torrent_url_posts_each_file_with_the_password_from_the_environment() {
    let t = web::start(|_| {}).await;
    announce(&t, &[HYBRID_V1, HYBRID_V2, UNKNOWN]).await;
    let url = format!("http://{}", t.addr);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.torrent");
    std::fs::write(&bad, b"li1ee").unwrap();
    let args = |files: &[&Path]| {
        let mut a = vec!["add-torrent".to_owned(), "--url".into(), url.clone()];
        a.extend(["--user".into(), "admin".into()]);
        a.extend(files.iter().map(|f| f.display().to_string()));
        a
    };
    let hybrid = fixture("hybrid-v1-v2.torrent");
    let private = fixture("v1-private.torrent");

    let out = retracker(
        args(&[&hybrid, &bad, &private]),
        vec![("RETRACKER_PASSWORD", PASSWORD.into())],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("{HYBRID_V1} {HYBRID_V2}  payload.bin"),
            format!("{PRIVATE_V1}  payload.bin"),
        ]
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "retracker add-torrent: {}: {url}: HTTP 400: ",
            bad.display()
        )) && stderr.contains("not a dictionary"),
        "{stderr}"
    );
    names_are_shown(&t).await;

    // A wrong password stops at the first file (each try is a failed login).
    let out = retracker(
        args(&[&hybrid, &private]),
        vec![("RETRACKER_PASSWORD", "wrong".into())],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).lines().count(), 1, "{out:?}");
    assert!(text(&out.stderr).contains("HTTP 401"), "{out:?}");

    // Usage errors: exit 2.
    let mut udp = args(&[&hybrid]);
    udp[2] = url.replace("http://", "udp://");
    let out = retracker(udp, vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not udp://"), "{out:?}");
    let out = retracker(
        vec!["add-torrent".into(), "--url".into(), url.clone()],
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "--url without --user");
}

#[tokio::test]
async fn add_torrent_url_over_https_checks_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let files = common::testca::write(dir.path());
    let mut config = common::config_in(dir.path());
    config.stats.access_username = "admin".into();
    config.stats.access_password = PASSWORD.into();
    let listeners = common::testca::https_listeners(&mut config, &files).await;
    let t = Tracker::start_with(tempfile::tempdir().unwrap(), config, listeners).await;
    announce(&t, &[HYBRID_V1, HYBRID_V2, UNKNOWN]).await;
    let url = format!("https://localhost:{}", t.https[0].port());
    let hybrid = fixture("hybrid-v1-v2.torrent").display().to_string();
    let run = |extra: &[&str]| {
        let mut a: Vec<String> = ["add-torrent", "--url", &url, "--user", "admin", &hybrid]
            .map(String::from)
            .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        retracker(a, vec![("RETRACKER_PASSWORD", PASSWORD.into())])
    };

    // The test CA is not a system root: refused, and nothing stored.
    let out = run(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("TLS"), "{out:?}");
    let list: Vec<Value> =
        serde_json::from_slice(&get(&t, "/export/torrents.json").await.body).unwrap();
    assert!(list.iter().all(|v| v["name"] == ""), "{list:?}");

    let ca = files.ca.display().to_string();
    let out = run(&["--ca-cert", &ca]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        text(&out.stdout).trim_end(),
        format!("{HYBRID_V1} {HYBRID_V2}  payload.bin")
    );
    names_are_shown(&t).await;

    let out = run(&["--insecure"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text(&out.stderr).contains("warning: --insecure"), "{out:?}");
}

/// A config file for the binary whose database is `db`.
fn config_for(dir: &Path, db: &Path, kind: &str) -> PathBuf {
    let path = dir.join("config.ini");
    std::fs::write(
        &path,
        format!("[DB]\ntype = {kind}\npath = {}\n", db.display()),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn add_torrent_writes_the_database_of_a_running_tracker() {
    let t = web::start(|_| {}).await;
    announce(&t, &[HYBRID_V1, HYBRID_V2, UNKNOWN]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &t.db, "sqlite");
    let hybrid = fixture("hybrid-v1-v2.torrent");
    let out = retracker(
        vec![
            "add-torrent".into(),
            "-c".into(),
            config.display().to_string(),
            hybrid.display().to_string(),
        ],
        vec![],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        format!("{HYBRID_V1} {HYBRID_V2}  payload.bin\n")
    );
    names_are_shown(&t).await;

    // The comment and creator are stored too (read back through the storage API).
    let storage = retracker::storage::Storage::open(&t.db, 1).unwrap();
    let hash: [u8; 20] = unhex(HYBRID_V1).try_into().unwrap();
    let meta = storage
        .torrent_meta(&[hash])
        .unwrap()
        .remove(&hash)
        .unwrap();
    assert_eq!((meta.files, meta.piece_length), (Some(1), Some(65536)));

    // A database that does not exist is not created; an in-memory one cannot be reached.
    let missing = dir.path().join("typo.sqlite");
    let cfg = config_for(dir.path(), &missing, "sqlite");
    let run = |cfg: PathBuf| {
        retracker(
            vec![
                "-c".into(),
                cfg.display().to_string(),
                "add-torrent".into(),
                hybrid.display().to_string(),
            ],
            vec![],
        )
    };
    let out = run(cfg).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the database does not exist"),
        "{out:?}"
    );
    assert!(!missing.exists());
    let out = run(config_for(dir.path(), &missing, "memory")).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--url"), "{out:?}");
}

#[tokio::test]
#[ignore = "needs root: tests/run-all.sh runs it as root"]
async fn root_refuses_a_database_owned_by_the_service_user() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retracker.sqlite");
    drop(retracker::storage::Storage::open(&db, 1).unwrap());
    std::os::unix::fs::chown(&db, Some(65534), Some(65534)).unwrap();
    let config = config_for(dir.path(), &db, "sqlite");
    let out = retracker(
        vec![
            "add-torrent".into(),
            "-c".into(),
            config.display().to_string(),
            fixture("v1-private.torrent").display().to_string(),
        ],
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sudo -u") && stderr.contains("--url"),
        "{stderr}"
    );
    assert_eq!(std::fs::metadata(&db).unwrap().uid(), 65534);
    let wal = dir.path().join("retracker.sqlite-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().uid() != 0);
}
