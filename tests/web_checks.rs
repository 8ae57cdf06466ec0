//! The `/checks` page, end to end: a logged-in admin checks a second retracker (HTTP and UDP),
//! uploads a hybrid `.torrent`, sees failures in words from fake trackers, adds and removes
//! watches; CSRF and login refusals contact nothing. Real servers on 127.0.0.1:0 with real
//! SQLite files in temp dirs.

mod common;

use common::web::{self, basic, csrf_in, enc, request, Browser, PASSWORD};
use common::{connect, parse_response, pct, Resp, Tracker};
use retracker::storage::checks::CheckFilter;
use retracker::storage::Storage;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HASH: [u8; 20] = *b"web-checks-torrent-1";
/// The hybrid fixture's v1 hash and its v2 hash truncated (tests/fixtures/README in ../shared).
const HYBRID_V1: &str = "ed5790779b59bf64be1415eb81854af639002ac0";
const HYBRID_V2: &str = "8ab16bf527dc9eb4ebb3d0c05db6eb8651ebe8ca";

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Two seeders (qBittorrent, Transmission) and a leecher (Deluge) announce to `t`.
async fn seed(t: &Tracker) {
    for (id, port, left) in [
        ("-qB4650-aaaaaaaaaaaa", 7001, 0),
        ("-TR4040-bbbbbbbbbbbb", 7002, 0),
        ("-DE2110-cccccccccccc", 7003, 10),
    ] {
        let d = t
            .announce(&format!(
                "info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}",
                pct(&HASH),
                pct(id.as_bytes())
            ))
            .await;
        assert!(d.get("failure reason").is_none());
    }
}

/// A `multipart/form-data` body as a browser builds it: text fields, then the file (if any).
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----retrackerTestBoundary7MA4YWxkTrZu0gW";
    let mut b = Vec::new();
    for (name, value) in fields {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    let (name, content): (&str, &[u8]) = file.unwrap_or(("", b""));
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"torrent\"; filename=\"{name}\"\r\nContent-Type: application/x-bittorrent\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(content);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

/// POSTs a raw body.
async fn post_raw(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Resp {
    let mut s = connect(addr, None).await;
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
        .await
        .expect("an answer within 30 s")
        .unwrap();
    parse_response(&raw).0
}

/// Submits the check form of `b` with `fields` (the CSRF token is added) and `file`.
async fn check(b: &Browser, fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (u16, String) {
    let csrf = csrf_in(&b.page("/checks").await).unwrap();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let (ct, body) = multipart(&all, file);
    let r = post_raw(b.addr, "/checks", &[("Cookie", &b.cookie)], &ct, &body).await;
    (r.status, String::from_utf8(r.body).unwrap())
}

/// The cells of the answer figure `class` in the `n`th answer section.
fn figure(html: &str, n: usize, class: &str) -> String {
    let section = html
        .split("<section class=\"answer\"")
        .nth(n + 1)
        .expect("an answer section");
    let at = section
        .find(&format!("class=\"{class}\">"))
        .or_else(|| section.find(&format!(" {class}\">")))
        .unwrap_or_else(|| panic!("no {class} in {section}"));
    let rest = &section[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find("</td>").unwrap()].trim().to_owned()
}

fn answers(html: &str) -> usize {
    html.matches("<section class=\"answer\"").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_from_the_page_shows_the_answer_and_is_recorded() {
    let target = Tracker::start_udp(|_| {}).await;
    seed(&target).await;
    let ui = web::start(|_| {}).await;
    let b = Browser::login(ui.addr).await;

    // The form is there, with the clients to pose as.
    let page = b.page("/checks").await;
    for needle in [
        "id=\"check-form\"",
        "enctype=\"multipart/form-data\"",
        "value=\"qbittorrent\"",
        "value=\"transmission\"",
        "name=\"numwant\"",
        "name=\"port\"",
    ] {
        assert!(page.contains(needle), "{needle}");
    }

    let http = format!("http://{}/announce", target.addr);
    let (status, html) = check(
        &b,
        &[
            ("url", &http),
            ("hash", &hex(&HASH)),
            ("kind", "announce"),
            ("port", "51413"),
            ("numwant", "30"),
            ("client", "qbittorrent"),
            ("peer_ids", "1"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(answers(&html), 1);
    assert!(html.contains("data-status=\"ok\""), "{html}");
    assert_eq!(figure(&html, 0, "num seeders"), "2");
    // The check's own announce is a leecher of the swarm it asks about, as every tracker
    // counts the announcing peer.
    assert_eq!(figure(&html, 0, "num leechers"), "2");
    assert_eq!(figure(&html, 0, "num interval"), target_interval());
    assert_eq!(figure(&html, 0, "mono external-ip"), "127.0.0.1");
    // The peers, named by their peer ids (compact=0 was asked for).
    for (addr, client) in [
        ("127.0.0.1:7001", "qBittorrent"),
        ("127.0.0.1:7002", "Transmission"),
        ("127.0.0.1:7003", "Deluge"),
    ] {
        let row = html
            .split("<tr>")
            .find(|r| r.contains(&format!(">{addr}<")))
            .unwrap_or_else(|| panic!("no peer {addr} in {html}"));
        assert!(row.contains(client), "{addr}: {row}");
    }
    // The link to every check of this tracker and torrent (`/reports`, filtered).
    let link = html
        .split("class=\"report\" href=\"")
        .nth(1)
        .expect("a link to the report");
    let link = link[..link.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert_eq!(
        link,
        format!(
            "/reports?tracker={}&hash={}",
            http.replace(':', "%3A"),
            hex(&HASH)
        )
    );

    // The check left the swarm again (`stopped`).
    let scrape = target
        .get(&format!("/scrape?info_hash={}", pct(&HASH)))
        .await
        .dict();
    let files = scrape.dict("files");
    let entry = match files.0.get(&HASH[..]).unwrap() {
        serde_bencode::value::Value::Dict(d) => common::Dict(d.clone()),
        _ => panic!(),
    };
    assert_eq!(
        entry.int("incomplete"),
        1,
        "the check's peer left with `stopped`"
    );

    // UDP scrape of the same swarm.
    let udp = format!("udp://{}", target.udp_addr());
    let (status, html) = check(
        &b,
        &[("url", &udp), ("hash", &hex(&HASH)), ("kind", "scrape")],
        None,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"ok\""), "{html}");
    assert_eq!(figure(&html, 0, "num seeders"), "2");
    assert_eq!(figure(&html, 0, "num leechers"), "1");

    // Both checks are recorded, as the page showed them.
    let db = Storage::open(&ui.db, 1).unwrap();
    let page = db
        .list_checks(&CheckFilter {
            limit: 10,
            ..CheckFilter::default()
        })
        .unwrap();
    assert_eq!(page.total, 2);
    let announce = page.rows.iter().find(|r| r.request == "announce").unwrap();
    assert_eq!((announce.seeders, announce.leechers), (Some(2), Some(2)));
    assert_eq!(announce.url, http);
    assert_eq!(announce.peers.len(), 3);
    let scrape = page.rows.iter().find(|r| r.request == "scrape").unwrap();
    assert_eq!(scrape.url, udp);
}

/// The interval the default configuration hands out.
fn target_interval() -> String {
    retracker::config::Config::default()
        .tracker
        .announce_interval
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hybrid_torrent_is_checked_under_both_hashes() {
    let target = Tracker::start(|_| {}).await;
    let ui = web::start(|_| {}).await;
    let b = Browser::login(ui.addr).await;
    let torrent = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hybrid-v1-v2.torrent"
    ))
    .unwrap();
    let http = format!("http://{}/announce", target.addr);
    let (status, html) = check(
        &b,
        &[("url", &http), ("hash", ""), ("kind", "announce")],
        Some(("hybrid.torrent", &torrent)),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(answers(&html), 2, "{html}");
    assert!(html.contains("A hybrid torrent"), "{html}");
    for h in [HYBRID_V1, HYBRID_V2] {
        assert!(
            html.contains(&format!("<td class=\"hash\">{h}</td>")),
            "{h}"
        );
    }
    assert_eq!(html.matches("data-status=\"ok\"").count(), 2);

    // A hash and a file at once, a file that is no torrent, a bad hash: told what to fix.
    for (fields, file, words) in [
        (
            vec![("url", http.as_str()), ("hash", HYBRID_V1)],
            Some(("x.torrent", &torrent[..])),
            "not both",
        ),
        (
            vec![("url", http.as_str())],
            Some(("x.torrent", &b"not bencode"[..])),
            "not a torrent",
        ),
        (
            vec![("url", http.as_str()), ("hash", "abc")],
            None,
            "40 hex digits",
        ),
        (
            vec![
                ("url", http.as_str()),
                ("hash", HYBRID_V1),
                ("port", "70000"),
            ],
            None,
            "1 to 65535",
        ),
        (
            vec![("url", "ftp://x/"), ("hash", HYBRID_V1)],
            None,
            "ftp://x/",
        ),
    ] {
        let (status, html) = check(&b, &fields, file).await;
        assert_eq!(status, 400, "{words}: {html}");
        let error = html
            .split("id=\"check-error\">")
            .nth(1)
            .unwrap_or_else(|| panic!("{words}: {html}"));
        assert!(
            error.split("</p>").next().unwrap().contains(words),
            "{words}: {error}"
        );
    }
}

/// A fake tracker: `answer` for every connection (`None`: accept and say nothing).
async fn fake(answer: Option<&'static [u8]>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            match answer {
                Some(a) => {
                    let _ = s.write_all(a).await;
                }
                None => held.push(s),
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_told_in_words() {
    let ui = web::start(|c| c.checks.deny_networks = "127.0.0.2/32".parse().unwrap()).await;
    let b = Browser::login(ui.addr).await;
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let stall = fake(None).await;
    let garbage = fake(Some(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    ))
    .await;
    let refuse = fake(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 41\r\nConnection: close\r\n\r\nd14:failure reason19:torrent not allowede")).await;
    let hash = hex(&HASH);
    for (url, words) in [
        (format!("http://{closed}/announce"), "connection refused"),
        (format!("http://{stall}/announce"), "timed out"),
        (format!("http://{garbage}/announce"), "bad answer"),
        (
            format!("http://{refuse}/announce"),
            "refused by the tracker: torrent not allowed",
        ),
    ] {
        let started = Instant::now();
        let (status, html) = check(
            &b,
            &[("url", &url), ("hash", &hash), ("timeout", "1")],
            None,
        )
        .await;
        assert_eq!(status, 200, "{url}: {html}");
        assert!(started.elapsed() < Duration::from_secs(15), "{url}");
        let words_at = html
            .split("class=\"alert failure-words\">")
            .nth(1)
            .unwrap_or_else(|| panic!("{url}: {html}"));
        assert!(
            words_at.split("</p>").next().unwrap().contains(words),
            "{url}: {words_at}"
        );
    }
    // A denied network is not contacted at all: 403 and why.
    let denied = "http://127.0.0.2:1/announce";
    let (status, html) = check(&b, &[("url", denied), ("hash", &hash)], None).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("deny_networks"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_fields_go_into_the_request() {
    let ui = web::start(|_| {}).await;
    let b = Browser::login(ui.addr).await;
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = b"d8:intervali900e5:peers0:e";
            let _ = s
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
            let _ = s.write_all(body).await;
        }
    });
    let url = format!("http://{addr}/announce");
    let (status, html) = check(
        &b,
        &[
            ("url", &url),
            ("hash", &hex(&HASH)),
            ("port", "51413"),
            ("numwant", "30"),
            ("client", "qbittorrent"),
            ("peer_ids", "1"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(figure(&html, 0, "num interval"), "900");
    let first = rx.recv().await.unwrap();
    let line = first.lines().next().unwrap();
    for part in [
        "port=51413",
        "numwant=30",
        "compact=0",
        "peer_id=-qB",
        "event=started",
        // Unreserved bytes are sent as they are, as clients do.
        "info_hash=web-checks-torrent-1",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(
        first
            .to_ascii_lowercase()
            .contains("user-agent: qbittorrent/"),
        "{first}"
    );
    let stop = rx.recv().await.unwrap();
    assert!(stop.contains("event=stopped"), "{stop}");
}

/// A listener that counts the connections made to it.
async fn counter() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&n);
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_check_runs_without_a_login_and_a_csrf_token() {
    let ui = web::start(|_| {}).await;
    let (tracker, contacted) = counter().await;
    let url = format!("http://{tracker}/announce");
    let hash = hex(&HASH);
    let form = |csrf: &str| {
        multipart(
            &[
                ("csrf", csrf),
                ("url", &url),
                ("hash", &hash),
                ("timeout", "1"),
            ],
            None,
        )
    };

    // Not logged in: the page and the form send the browser to the login form.
    let r = request(ui.addr, "GET", "/checks", &[], "").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").unwrap(), "/login?next=/checks");
    let (ct, body) = form("");
    let r = post_raw(ui.addr, "/checks", &[], &ct, &body).await;
    assert_eq!(r.status, 303, "{}", r.text());
    // HTTP basic auth reads pages but posts no forms (no CSRF token exists for it).
    let auth = basic("admin", PASSWORD);
    let r = post_raw(ui.addr, "/checks", &[("Authorization", &auth)], &ct, &body).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let page = request(ui.addr, "GET", "/checks", &[("Authorization", &auth)], "").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("cannot run checks"));

    // Logged in, but the token is missing or another session's.
    let b = Browser::login(ui.addr).await;
    let other = Browser::login(ui.addr).await;
    let stolen = csrf_in(&other.page("/checks").await).unwrap();
    for token in ["", "0000", stolen.as_str()] {
        let (ct, body) = form(token);
        let r = post_raw(ui.addr, "/checks", &[("Cookie", &b.cookie)], &ct, &body).await;
        assert_eq!(r.status, 403, "token {token:?}: {}", r.text());
        assert!(r.text().contains("CSRF"), "{}", r.text());
    }
    // The watch forms too.
    for target in ["/checks/watch", "/checks/watch/remove"] {
        let r = request(
            ui.addr,
            "POST",
            target,
            &[],
            &format!("url={}&hash={hash}&seconds=1&id=1", enc(&url)),
        )
        .await;
        assert_eq!(r.status, 303, "{target}");
        let r = b
            .post(
                target,
                &format!("csrf=0000&url={}&hash={hash}&seconds=1&id=1", enc(&url)),
            )
            .await;
        assert_eq!(r.status, 403, "{target}");
    }
    // No watch was added, and nothing was contacted. A real check then is, to show the
    // counter counts.
    assert!(b.page("/checks").await.contains("id=\"watches-empty\""));
    assert_eq!(
        contacted.load(Ordering::SeqCst),
        0,
        "a refused form contacted the tracker"
    );
    let (status, _) = check(
        &b,
        &[("url", &url), ("hash", &hash), ("timeout", "1")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(contacted.load(Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_are_added_and_removed_from_the_page() {
    let target = Tracker::start(|_| {}).await;
    seed(&target).await;
    let ui = web::start(|_| {}).await;
    let b = Browser::login(ui.addr).await;
    let url = format!("http://{}/announce", target.addr);
    let hash = hex(&HASH);

    let add = |seconds: &'static str, hash: String| {
        let b = &b;
        let url = url.clone();
        async move {
            let csrf = csrf_in(&b.page("/checks").await).unwrap();
            b.post(
                "/checks/watch",
                &format!(
                    "csrf={csrf}&url={}&hash={hash}&seconds={seconds}",
                    enc(&url)
                ),
            )
            .await
        }
    };
    // Refused with the reason.
    let r = add("0", hash.clone()).await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("a number from 1 to 86400"),
        "{}",
        r.text()
    );
    let r = add("1", "xyz".into()).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("40 hex digits"), "{}", r.text());

    let r = add("1", hash.clone()).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location").unwrap(), "/checks#watches");
    let metric = format!("retracker_check_up{{tracker=\"{url}\"");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = b.get("/metrics").await.text();
        let page = b.page("/checks").await;
        if m.lines()
            .any(|l| l.starts_with(&metric) && l.ends_with(" 1"))
            && page.contains(">ok<")
        {
            let row = page.split("<tr>").find(|r| r.contains(&url)).unwrap();
            assert!(row.contains(">page<") && row.contains(&hash), "{row}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page watch never answered:\n{m}\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // It survives a restart of nothing else: it is in the database.
    let db = Storage::open(&ui.db, 1).unwrap();
    let watches = db.page_watches().unwrap();
    assert_eq!(watches.len(), 1);
    let id = watches[0].id;

    // Removed: gone from the page and from /metrics.
    let csrf = csrf_in(&b.page("/checks").await).unwrap();
    let r = b
        .post("/checks/watch/remove", &format!("csrf={csrf}&id={id}"))
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = b.page("/checks").await;
    assert!(page.contains("id=\"watches-empty\""), "{page}");
    assert!(!b.get("/metrics").await.text().contains(&metric));
    let r = b
        .post("/checks/watch/remove", &format!("csrf={csrf}&id={id}"))
        .await;
    assert_eq!(r.status, 400, "removed twice");
}
