//! The reports page and the checks exports, end to end: a real server watches two other real
//! retrackers from its `[CHECKS] watch_file` every second, recording real checks in its SQLite
//! file, and the operator reads them on `/reports` (filtered, paginated, charted) and downloads
//! them as `retracker report` would write them.

mod common;

use common::html::{text, unescape};
use common::process::Launch;
use common::web::{self, basic, Browser, PASSWORD};
use common::{query, Tracker};
use retracker::query::watch::CSV_HEADER;
use std::time::{Duration, Instant};

const H1: [u8; 20] = *b"reports-torrent-one1";
const H2: [u8; 20] = *b"reports-torrent-two2";

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a watch of one pair should see: (seeders, leechers, peers handed out). The check
/// counts itself as a leecher while it asks, and is not handed itself.
struct Pair {
    url: String,
    hash: String,
    seen: (&'static str, &'static str, &'static str),
}

/// Two trackers with peers, and a third, with the web UI, watching them.
struct Setup {
    watcher: Tracker,
    browser: Browser,
    /// Tracker A, torrent 1: two seeders and a leecher.
    a1: Pair,
    /// Tracker A, torrent 2: one seeder.
    a2: Pair,
    /// Tracker B, torrent 1: a seeder and a leecher.
    b1: Pair,
    _targets: (Tracker, Tracker),
    _dir: tempfile::TempDir,
}

/// Announces `peers` (number, left) of `hash` to `t`.
async fn seed(t: &Tracker, hash: &[u8; 20], peers: &[(u32, u64)]) {
    for &(n, left) in peers {
        t.announce(&query(hash, n, 6000 + n as u16, left, "")).await;
    }
}

impl Setup {
    /// Starts everything and waits until every pair has `rows` checks recorded.
    async fn start(rows: u64) -> Setup {
        let a = Tracker::start(|_| {}).await;
        let b = Tracker::start(|_| {}).await;
        seed(&a, &H1, &[(1, 0), (2, 0), (3, 5)]).await;
        seed(&a, &H2, &[(4, 0)]).await;
        seed(&b, &H1, &[(5, 0), (6, 5)]).await;
        let pair = |t: &Tracker, h: &[u8; 20], seen| Pair {
            url: format!("http://{}/announce", t.addr),
            hash: hex(h),
            seen,
        };
        let (a1, a2, b1) = (
            pair(&a, &H1, ("2", "2", "3")),
            pair(&a, &H2, ("1", "1", "1")),
            pair(&b, &H1, ("1", "2", "2")),
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("watch.txt");
        let lines: String = [&a1, &a2, &b1]
            .iter()
            .map(|p| format!("{} {} 1\n", p.url, p.hash))
            .collect();
        std::fs::write(&file, lines).unwrap();
        let watcher = web::start(|c| {
            c.checks.watch_file = Some(file);
            // Three watches a second are more than the default 60 a minute.
            c.checks.max_per_minute = 10_000;
        })
        .await;
        let browser = Browser::login(watcher.addr).await;
        let s = Setup {
            watcher,
            browser,
            a1,
            a2,
            b1,
            _targets: (a, b),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        for p in [&s.a1, &s.a2, &s.b1] {
            loop {
                let html = s.browser.page(&s.href(p, "")).await;
                if total(&html) >= rows {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "fewer than {rows} checks of {} {}: {html}",
                    p.url,
                    p.hash
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        s
    }

    /// `/reports` filtered to `p`, with `extra` query fields.
    fn href(&self, p: &Pair, extra: &str) -> String {
        format!(
            "/reports?tracker={}&hash={}{extra}",
            web::enc(&p.url),
            p.hash
        )
    }
}

/// The "N checks" count.
fn total(html: &str) -> u64 {
    let at = html.find("id=\"total\">").expect("a total") + "id=\"total\">".len();
    let words = &html[at..at + html[at..].find('<').unwrap()];
    words
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a total: {words:?}"))
}

/// A listed check, by column.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    at: String,
    tracker: String,
    request: String,
    hash: String,
    status: String,
    seeders: String,
    leechers: String,
    downloaded: String,
    peers: String,
    ms: String,
    words: String,
    source: String,
}

/// The rows of the checks table, as listed.
fn rows(html: &str) -> Vec<Row> {
    let table = &html[html.find("<table id=\"checks\">").expect("the table")..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr class=\"check\">")
        .skip(1)
        .map(|tr| {
            let tr = &tr[..tr.find("</tr>").unwrap()];
            let c: Vec<String> = tr
                .split("<td")
                .skip(1)
                .map(|td| text(&td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()]))
                .collect();
            assert_eq!(c.len(), 12, "{tr}");
            Row {
                at: c[0].clone(),
                tracker: c[1].clone(),
                request: c[2].clone(),
                hash: c[3].clone(),
                status: c[4].clone(),
                seeders: c[5].clone(),
                leechers: c[6].clone(),
                downloaded: c[7].clone(),
                peers: c[8].clone(),
                ms: c[9].clone(),
                words: c[10].clone(),
                source: c[11].clone(),
            }
        })
        .collect()
}

/// The `href` of the link with `id`, if any.
fn link(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\" href=\""))? + format!("id=\"{id}\" href=\"").len();
    Some(unescape(&html[at..at + html[at..].find('"')?]))
}

/// The charts' SVG.
fn charts(html: &str) -> Vec<&str> {
    html.split("<div class=\"chart\">")
        .skip(1)
        .map(|c| &c[..c.find("</svg>").expect("an svg") + 6])
        .collect()
}

/// Asserts every row is a successful watch of `p` with the counts it should see.
fn assert_rows_of(rows: &[Row], p: &Pair) {
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(
            (r.tracker.as_str(), r.hash.as_str()),
            (p.url.as_str(), p.hash.as_str())
        );
        assert_eq!(
            (r.request.as_str(), r.status.as_str()),
            ("announce", "ok"),
            "{r:?}"
        );
        assert_eq!(
            (r.seeders.as_str(), r.leechers.as_str(), r.peers.as_str()),
            p.seen,
            "{r:?}"
        );
        assert_eq!(
            (r.downloaded.as_str(), r.source.as_str()),
            ("0", "watch"),
            "{r:?}"
        );
        assert_eq!(r.words, "", "{r:?}");
        assert!(r.at.ends_with(" UTC"), "{r:?}");
        r.ms.parse::<u64>().expect("time taken in ms");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_filters_pages_and_charts_recorded_checks() {
    let s = Setup::start(3).await;
    let b = &s.browser;

    // Filtered to one pair: only its checks, newest first, with what the tracker answered,
    // and the chart of that pair.
    for p in [&s.a1, &s.a2, &s.b1] {
        let html = b.page(&s.href(p, "&per=200")).await;
        let listed = rows(&html);
        assert!(listed.len() >= 3 && total(&html) >= listed.len() as u64);
        assert_rows_of(&listed, p);
        assert!(
            listed.windows(2).all(|w| w[0].at >= w[1].at),
            "newest first"
        );
        let svgs = charts(&html);
        assert_eq!(svgs.len(), 1, "one chart for one pair");
        let svg = svgs[0];
        assert!(
            svg.contains(&format!("<title>{} · {}</title>", p.url, p.hash)),
            "{svg}"
        );
        assert!(
            svg.contains(">Seeders<") && svg.contains(">Leechers<"),
            "{svg}"
        );
        assert!(
            svg.contains("<polyline"),
            "a line through the checks: {svg}"
        );
    }

    // Unfiltered: every pair listed, and each charted once.
    let all = b.page("/reports?per=200").await;
    let listed = rows(&all);
    for p in [&s.a1, &s.a2, &s.b1] {
        assert!(listed
            .iter()
            .any(|r| r.tracker == p.url && r.hash == p.hash));
    }
    assert_eq!(charts(&all).len(), 3, "the three pairs on the page");
    assert!(all.contains("href=\"/reports\" class=\"active\">Reports</a>"));

    // One filter field narrows the list: tracker B only, torrent 2 only.
    let html = b
        .page(&format!("/reports?tracker={}&per=200", web::enc(&s.b1.url)))
        .await;
    assert_rows_of(&rows(&html), &s.b1);
    assert!(total(&html) < total(&b.page("/reports").await));
    let html = b
        .page(&format!("/reports?hash={}&per=200", s.a2.hash))
        .await;
    assert_rows_of(&rows(&html), &s.a2);

    // Pages of two: "older" goes back in time and keeps the filter, "newer" comes back.
    let first = b.page("/reports?per=2").await;
    assert_eq!(rows(&first).len(), 2);
    assert_eq!(link(&first, "newer"), None, "the first page is the newest");
    let older = link(&first, "older").expect("an older page");
    assert_eq!(older, "/reports?per=2&page=2");
    let second = b.page(&older).await;
    assert_eq!(rows(&second).len(), 2);
    assert!(rows(&second)[0].at <= rows(&first)[1].at, "older rows");
    assert_eq!(link(&second, "newer").as_deref(), Some("/reports?per=2"));
    let html = b.page(&s.href(&s.b1, "&per=1")).await;
    let older = link(&html, "older").expect("an older page");
    assert!(
        older.contains(&format!("hash={}", s.b1.hash)) && older.contains("per=1"),
        "{older}"
    );
    let html = b.page(&older).await;
    assert_eq!(rows(&html).len(), 1);
    assert_rows_of(&rows(&html), &s.b1);
    assert_eq!(charts(&html).len(), 1);
    // Past the last page: the last one.
    let html = b.page("/reports?per=200&page=1000").await;
    assert!(!rows(&html).is_empty());
    s.watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_what_retracker_report_writes_and_match_the_page() {
    let s = Setup::start(2).await;
    let p = &s.a1;
    // The page links to the exports with its filter.
    let html = s.browser.page(&s.href(p, "")).await;
    let filter = format!("tracker={}&hash={}", p.url.replace(':', "%3A"), p.hash);
    let csv_href = link(&html, "export-csv").unwrap();
    assert_eq!(csv_href, format!("/export/checks.csv?{filter}"));
    assert_eq!(
        link(&html, "export-json").unwrap(),
        format!("/export/checks.json?{filter}")
    );

    // JSON first: the CSV taken after it holds the same checks and maybe newer ones.
    let json = s.browser.get(&link(&html, "export-json").unwrap()).await;
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(
        json.header("content-disposition"),
        Some("attachment; filename=\"checks.json\"")
    );
    let csv = s.browser.get(&csv_href).await;
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.header("content-disposition"),
        Some("attachment; filename=\"checks.csv\"")
    );
    let csv_text = csv.text();
    let lines: Vec<&str> = csv_text.split_terminator("\r\n").collect();
    assert_eq!(lines[0], CSV_HEADER.join(","), "retracker report's columns");

    // Fed back to `retracker report`, the CSV comes out unchanged: it is a recording.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.csv");
    std::fs::write(&file, &csv_text).unwrap();
    let report = |file: &std::path::Path, format: &str| {
        let out = Launch::new()
            .args(["report", file.to_str().unwrap(), "--format", format])
            .output();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(report(&file, "csv"), csv_text);

    // The JSON export is `retracker report --format json` of the same checks, to the byte.
    let exported: Vec<serde_json::Value> = serde_json::from_slice(&json.body).unwrap();
    assert!(!exported.is_empty() && exported.len() < lines.len());
    let same = dir.path().join("same.csv");
    std::fs::write(&same, lines[..=exported.len()].join("\r\n") + "\r\n").unwrap();
    assert_eq!(report(&same, "json"), json.text());
    let keys: Vec<&str> = exported[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = CSV_HEADER.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "the fields of retracker report --format json");

    // The rows are the page's, oldest first.
    let polls = retracker::query::report::polls_from_csv(&csv_text).unwrap();
    let mut listed = rows(&s.browser.page(&s.href(p, "&per=200")).await);
    listed.reverse();
    assert!(listed.len() >= polls.len());
    for (poll, row) in polls.iter().zip(&listed) {
        let at = poll.time.replace('T', " ").replace('Z', " UTC");
        assert_eq!(at, row.at);
        assert_eq!(poll.url, row.tracker);
        assert_eq!(poll.info_hash.as_deref(), Some(row.hash.as_str()));
        assert_eq!(
            (poll.status.as_str(), poll.request.as_str()),
            ("ok", "announce")
        );
        let n = |v: Option<i64>| v.map_or_else(String::new, |v| v.to_string());
        assert_eq!(
            (
                n(poll.seeders),
                n(poll.leechers),
                poll.peers.len().to_string()
            ),
            (row.seeders.clone(), row.leechers.clone(), row.peers.clone())
        );
        assert_eq!(poll.time_ms.to_string(), row.ms);
    }

    // Unfiltered and with basic auth, as a script downloads it: every pair.
    let auth = basic("admin", PASSWORD);
    let r = common::get(
        s.watcher.addr,
        None,
        "/export/checks.csv",
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200);
    let all = retracker::query::report::polls_from_csv(&r.text()).unwrap();
    for p in [&s.a1, &s.a2, &s.b1] {
        assert!(all
            .iter()
            .any(|x| x.url == p.url && x.info_hash.as_deref() == Some(&p.hash)));
    }
    let r = s.browser.get("/export/checks.json?hash=xyz").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("40 hex digits"), "{}", r.text());
    s.watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_filter_re_shows_the_form_with_a_message_and_400() {
    let t = web::start(|_| {}).await;
    let b = Browser::login(t.addr).await;
    let r = b
        .get("/reports?tracker=http%3A%2F%2Ft.lan%2Fannounce&hash=not-a-hash")
        .await;
    assert_eq!(r.status, 400);
    let html = r.text();
    let error = html
        .split("id=\"reports-error\">")
        .nth(1)
        .expect("the message")
        .split('<')
        .next()
        .unwrap();
    assert!(
        unescape(error).contains("hash=\"not-a-hash\" is not an info hash: 40 hex digits expected"),
        "{error}"
    );
    assert!(html.contains("id=\"filter\""), "the form is shown again");
    assert!(html.contains("value=\"not-a-hash\""), "with what was typed");
    assert!(!html.contains("id=\"checks\""), "and no list");
    let r = b.get("/reports?per=100000").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("from 1 to 200"), "{}", r.text());

    // Nothing recorded yet: the page says so.
    let html = b.page("/reports").await;
    assert_eq!(total(&html), 0);
    assert!(html.contains("no checks recorded"));
    assert!(charts(&html).is_empty());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_their_exports_need_a_login() {
    let t = web::start(|_| {}).await;
    let r = t.get("/reports?hash=ab").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/login?next=/reports%3Fhash%3Dab")
    );
    for path in ["/export/checks.csv", "/export/checks.json"] {
        let r = t.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(r.header("www-authenticate").is_some(), "{path}");
        let r = common::get(
            t.addr,
            None,
            path,
            &[("Authorization", &basic("admin", "wrong"))],
        )
        .await;
        assert_eq!(r.status, 401, "{path}");
    }
    let r = web::request(t.addr, "POST", "/reports", &[], "x=1").await;
    assert_eq!(r.status, 405, "a page to read, not a form");
    t.stop().await;
}
