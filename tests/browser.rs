//! The web UI in a real browser: Debian's headless chromium, driven over the Chrome DevTools
//! Protocol (tests/common/cdp.rs), logs in through the form, reads the dashboard, adds a block
//! through the blocklist form, checks a tracker through the checks form and opens its report,
//! and saves screenshots under
//! `$CARGO_TARGET_TMPDIR/browser/` for a human to look at.
//!
//! Needs chromium: `bash tests/run-all.sh` installs it. Without it this test fails (it never
//! passes silently); `RETRACKER_SKIP_BROWSER=1` skips it on purpose.

mod common;

use common::cdp::{chromium_path, Chrome, Page};
use common::web::{self, PASSWORD};
use common::{get, query};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// Like `assert!`, but returns the message as an `Err` (the browser part runs on another
/// thread and reports failures through its result).
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Where the screenshots go.
const SHOTS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/browser/");

/// Two torrents: 3 seeders and 2 leechers from five addresses.
const X: [u8; 20] = *b"browser-torrent-X-01";
const Y: [u8; 20] = *b"browser-torrent-Y-02";

/// (torrent, 127.0.0.`n`, seeder?)
const SWARM: [(&[u8; 20], u8, bool); 5] = [
    (&X, 11, true),
    (&X, 12, true),
    (&X, 13, false),
    (&Y, 14, true),
    (&Y, 15, false),
];

#[tokio::test]
async fn the_ui_works_in_a_real_browser() {
    if std::env::var("RETRACKER_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        println!("SKIPPED: the browser test (RETRACKER_SKIP_BROWSER=1)");
        return;
    }
    let chromium = chromium_path();
    assert!(
        chromium.exists(),
        "{} not found: this test drives a real browser. `bash tests/run-all.sh` installs it \
         (apt-get install chromium); set RETRACKER_SKIP_BROWSER=1 to skip this test explicitly",
        chromium.display()
    );

    let t = web::start(|_| {}).await;
    for (hash, n, seeder) in SWARM {
        let r = get(
            t.addr,
            Some(IpAddr::from([127, 0, 0, n])),
            &format!(
                "/announce?{}",
                query(
                    hash,
                    u32::from(n),
                    6000 + u16::from(n),
                    if seeder { 0 } else { 99 },
                    ""
                )
            ),
            &[],
        )
        .await;
        assert!(
            r.dict().get("failure reason").is_none(),
            "announce from .{n}"
        );
    }
    let base = format!("http://{}", t.addr);
    // The browser blocks on its socket: keep it off the runtime that serves the tracker.
    tokio::task::spawn_blocking(move || drive(&base))
        .await
        .expect("the browser part does not panic")
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Everything done in the browser; `Err` with what went wrong.
fn drive(base: &str) -> Result<(), String> {
    let chrome = Chrome::launch(Duration::from_secs(60))?;
    let mut page = chrome
        .page()
        .map_err(|e| format!("{e}\nchromium stderr:\n{}", chrome.stderr_tail()))?;
    std::fs::create_dir_all(SHOTS).map_err(|e| format!("{SHOTS}: {e}"))?;

    // Not logged in: the dashboard sends the browser to the login form.
    let url = visit(&mut page, &format!("{base}/stat"))?;
    expect_path(&mut page, "/login", &url)?;

    // A real form submission: type into the fields, click the button.
    let submit = format!(
        "(() => {{
            const f = document.querySelector('form.login');
            f.querySelector('#username').value = 'admin';
            f.querySelector('#password').value = {};
            f.querySelector('button[type=submit]').click();
            return true;
        }})()",
        serde_json::to_string(PASSWORD).unwrap()
    );
    let url = page.load_after(|p| p.eval(&submit).map(drop))?;
    println!("browser: submitted the login form, now at {url}");
    page.wait_until("location.pathname === '/stat'", Duration::from_secs(10))?;

    blocklist(&mut page, base)?;
    dashboard(&mut page, base)?;
    peers_and_history(&mut page, base)?;
    checks_and_reports(&mut page, base)?;
    Ok(())
}

/// `/checks`: fill the form (this server's own announce URL, torrent X), see the answer table;
/// upload the hybrid `.torrent` through the file input (the browser's own multipart body); open
/// the report of the first check, see its row and chart; download both exports.
fn checks_and_reports(page: &mut Page, base: &str) -> Result<(), String> {
    let url = visit(page, &format!("{base}/checks"))?;
    expect_path(page, "/checks", &url)?;
    let hash: String = X.iter().map(|b| format!("{b:02x}")).collect();
    let announce = format!("{base}/announce");
    let fill = format!(
        "(() => {{
            const f = document.querySelector('#check-form');
            f.querySelector('#url').value = {};
            f.querySelector('#hash').value = {};
            f.querySelector('#client').value = 'transmission';
            f.querySelector('#numwant').value = '20';
            f.querySelector('button[type=submit]').click();
            return true;
        }})()",
        serde_json::to_string(&announce).unwrap(),
        serde_json::to_string(&hash).unwrap()
    );
    let url = page.load_after(|p| p.eval(&fill).map(drop))?;
    println!("browser: submitted the check form, now at {url}");
    save_screenshot(page, "checks.png")?;
    let answer = page.eval(
        "(() => {
            const s = document.querySelector('section.answer');
            if (!s) return null;
            const t = c => s.querySelector(c).textContent.trim();
            return { status: s.dataset.status, seeders: t('.seeders'), leechers: t('.leechers'),
                     peers: s.querySelectorAll('.answer-peers tbody tr').length };
        })()",
    )?;
    // X has two seeders and a leecher; the check's own announce is a leecher too.
    ensure!(
        answer == serde_json::json!({"status": "ok", "seeders": "2", "leechers": "2", "peers": 3}),
        "the answer table at {url}: {answer}"
    );
    println!("browser: check answer {answer}");

    // The hybrid torrent through the file input: two answers, one per hash.
    let url = visit(page, &format!("{base}/checks"))?;
    expect_path(page, "/checks", &url)?;
    let doc = page.call("DOM.getDocument", serde_json::json!({}))?;
    let input = page.call(
        "DOM.querySelector",
        serde_json::json!({ "nodeId": doc["root"]["nodeId"], "selector": "#torrent" }),
    )?;
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hybrid-v1-v2.torrent"
    );
    page.call(
        "DOM.setFileInputFiles",
        serde_json::json!({ "nodeId": input["nodeId"], "files": [file] }),
    )?;
    let submit = format!(
        "(() => {{
            document.querySelector('#url').value = {};
            document.querySelector('#check-form button[type=submit]').click();
            return true;
        }})()",
        serde_json::to_string(&announce).unwrap()
    );
    let url = page.load_after(|p| p.eval(&submit).map(drop))?;
    let hashes = page.eval(
        "[...document.querySelectorAll('section.answer')].map(s => s.querySelector('.hash').textContent.trim())",
    )?;
    ensure!(
        hashes
            == serde_json::json!([
                "ed5790779b59bf64be1415eb81854af639002ac0",
                "8ab16bf527dc9eb4ebb3d0c05db6eb8651ebe8ca"
            ]),
        "the hybrid upload at {url} was checked under {hashes}"
    );

    // The report of X's checks (the answer's "every check" link has this URL).
    let url = visit(
        page,
        &format!("{base}/reports?tracker={}&hash={hash}", web::enc(&announce)),
    )?;
    expect_path(page, "/reports", &url)?;
    save_screenshot(page, "reports.png")?;
    let rows = page.eval("document.querySelectorAll('#checks tr.check').length")?;
    ensure!(
        rows.as_u64() == Some(1),
        "the report at {url} lists {rows} checks of X, not 1"
    );
    let charts = page.eval("document.querySelectorAll('#charts svg').length")?;
    ensure!(
        charts.as_u64() == Some(1),
        "the report at {url} shows {charts} charts, not 1"
    );
    // The exports, downloaded by clicking their links (the page's CSP forbids fetch()).
    let downloads = Path::new(SHOTS).join("downloads");
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).map_err(|e| format!("{}: {e}", downloads.display()))?;
    page.call(
        "Page.setDownloadBehavior",
        serde_json::json!({ "behavior": "allow", "downloadPath": downloads.to_str().unwrap() }),
    )?;
    for (id, file, first) in [
        ("export-csv", "checks.csv", "time,"),
        ("export-json", "checks.json", "["),
    ] {
        page.eval(&format!("document.getElementById('{id}').click(), true"))?;
        let path = downloads.join(file);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let text = loop {
            // Chromium writes to a temporary name and renames when the download is complete.
            if let Ok(text) = std::fs::read_to_string(&path) {
                break text;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "clicking #{id} on {url} saved no {file} in {}",
                downloads.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        ensure!(
            text.starts_with(first) && text.contains(&hash),
            "#{id} of {url} downloaded {text:?}"
        );
        println!("browser: downloaded {file}: {} bytes", text.len());
    }
    Ok(())
}

/// The peers browser lists the swarm; the history page draws its charts (SVG, no JavaScript).
fn peers_and_history(page: &mut Page, base: &str) -> Result<(), String> {
    let url = visit(page, &format!("{base}/all_peers?sort=addr&dir=asc"))?;
    expect_path(page, "/all_peers", &url)?;
    save_screenshot(page, "peers.png")?;
    let rows = page.eval("document.querySelectorAll('#peers tbody tr').length")?;
    ensure!(
        rows.as_u64() == Some(SWARM.len() as u64),
        "the peers browser at {url} shows {rows} rows, the swarm has {} peers",
        SWARM.len()
    );
    let url = visit(page, &format!("{base}/history"))?;
    expect_path(page, "/history", &url)?;
    save_screenshot(page, "history.png")?;
    let charts = page.eval("document.querySelectorAll('svg').length")?;
    ensure!(
        charts.as_u64().is_some_and(|n| n >= 4),
        "the history page at {url} shows {charts} charts"
    );
    println!("browser: peers browser rows = {rows}, history charts = {charts}");
    Ok(())
}

/// Navigates and prints where the browser ended up.
fn visit(page: &mut Page, url: &str) -> Result<String, String> {
    println!("browser: open {url}");
    let now = page.navigate(url)?;
    if now != url {
        println!("browser:   -> {now}");
    }
    Ok(now)
}

fn expect_path(page: &mut Page, path: &str, url: &str) -> Result<(), String> {
    let now = page.eval("location.pathname")?;
    if now != path {
        return Err(format!(
            "expected to be on {path}, but the browser is at {url}"
        ));
    }
    Ok(())
}

/// The blocklist through its form: add an entry, see its row, screenshot, unblock it.
fn blocklist(page: &mut Page, base: &str) -> Result<(), String> {
    let url = visit(page, &format!("{base}/blocklist"))?;
    expect_path(page, "/blocklist", &url)?;
    let add = "(() => {
        document.querySelector('#target').value = '10.66.0.9/16';
        document.querySelector('#reason').value = 'browser test: flat 66 <b>';
        document.querySelector('#block-form button[type=submit]').click();
        return true;
    })()";
    let url = page.load_after(|p| p.eval(add).map(drop))?;
    println!("browser: submitted the block form, now at {url}");
    expect_path(page, "/blocklist", &url)?;
    let rows = table_rows(page)?;
    let row = rows
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("10.66.0.0/16"))
        .ok_or_else(|| format!("no row for 10.66.0.0/16 after adding it: {rows:?}"))?;
    ensure!(row[1] == "network", "kind: {row:?}");
    ensure!(
        row[2] == "browser test: flat 66 <b>",
        "the reason, as text: {row:?}"
    );
    ensure!(row[3].ends_with(" UTC"), "added: {row:?}");
    ensure!(row[4] == "admin", "by: {row:?}");
    save_screenshot(page, "blocklist.png")?;

    // And off again with the row's Unblock button.
    let unblock = "(() => {
        document.querySelector('#blocklist tbody tr button[type=submit]').click();
        return true;
    })()";
    let url = page.load_after(|p| p.eval(unblock).map(drop))?;
    println!("browser: clicked Unblock, now at {url}");
    let rows = table_rows(page)?;
    ensure!(rows.is_empty(), "the entry is still there: {rows:?}");
    Ok(())
}

/// The text of every cell of the blocklist table, row by row.
fn table_rows(page: &mut Page) -> Result<Vec<Vec<String>>, String> {
    let v = page.eval(
        "[...document.querySelectorAll('#blocklist tbody tr')]
            .map(tr => [...tr.cells].map(c => c.textContent.trim()))",
    )?;
    serde_json::from_value(v).map_err(|e| format!("table rows: {e}"))
}

/// The dashboard's totals against the swarm the test built.
fn dashboard(page: &mut Page, base: &str) -> Result<(), String> {
    let url = visit(page, &format!("{base}/stat"))?;
    expect_path(page, "/stat", &url)?;
    // First, so there is a picture of the page when an assertion below fails.
    save_screenshot(page, "dashboard.png")?;
    let seeders = SWARM.iter().filter(|(_, _, s)| *s).count() as u64;
    let expected = [
        ("torrents", 2),
        ("peers", SWARM.len() as u64),
        ("seeders", seeders),
        ("leechers", SWARM.len() as u64 - seeders),
    ];
    for (id, want) in expected {
        let text = page.eval(&format!(
            "(e => e ? e.textContent : null)(document.getElementById('{id}'))"
        ))?;
        let text = text.as_str().ok_or_else(|| {
            format!("the dashboard at {url} has no element #{id} (expected the number of {id})")
        })?;
        let n: u64 = text.trim().replace(',', "").parse().map_err(|_| {
            format!("#{id} on the dashboard is {text:?}, not a number like \"1,234\"")
        })?;
        ensure!(
            n == want,
            "#{id} on the dashboard is {n}, the swarm has {want}"
        );
        println!("browser: dashboard #{id} = {}", text.trim());
    }
    Ok(())
}

/// Saves a screenshot as `SHOTS/name` after checking it is a real PNG.
fn save_screenshot(page: &mut Page, name: &str) -> Result<(), String> {
    let png = page.screenshot_png()?;
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!("{name}: the screenshot is not a PNG"));
    }
    // A blank 1280x900 viewport compresses to a few hundred bytes; a page with text is larger.
    if png.len() < 4_000 {
        return Err(format!(
            "{name}: a {} byte screenshot looks empty",
            png.len()
        ));
    }
    let path = Path::new(SHOTS).join(name);
    std::fs::write(&path, &png).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("browser: saved {} ({} bytes)", path.display(), png.len());
    Ok(())
}
