//! The blocklist page, end to end: the operator edits the list through the web forms of a real
//! server (real SQLite in a temp dir), and BitTorrent clients announcing from 127.0.0.x see the
//! effect on their next announce; blocked peers leave the swarms at once.

mod common;

use common::web::{self, csrf_in, enc, request, Browser, PASSWORD};
use common::{config_in, pct, query, Dict, Resp, Tracker};
use std::net::{IpAddr, SocketAddr};

const A: [u8; 20] = *b"blocklist-torrent-A1";
const B: [u8; 20] = *b"blocklist-torrent-B2";

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Announce from 127.0.0.`from`.
async fn announce_from(t: &Tracker, from: u8, q: &str) -> Dict {
    t.announce_from(ip(from), q).await
}

/// Announce from 127.0.0.`from` expecting success; the peers it is given.
async fn peers_for(t: &Tracker, from: u8, q: &str) -> Vec<SocketAddr> {
    let d = announce_from(t, from, q).await;
    assert!(
        d.get("failure reason").is_none(),
        "127.0.0.{from} refused: {:?}",
        d.str("failure reason")
    );
    d.peers4()
}

/// Announce from 127.0.0.`from` expecting a refusal; its failure reason.
async fn refusal(t: &Tracker, from: u8, q: &str) -> String {
    announce_from(t, from, q)
        .await
        .str("failure reason")
        .unwrap_or_else(|| panic!("127.0.0.{from} was not refused"))
}

/// (seeders, leechers) of `hash` from a scrape.
async fn swarm(t: &Tracker, hash: &[u8; 20]) -> (i64, i64) {
    let d = t
        .get(&format!("/scrape?info_hash={}", pct(hash)))
        .await
        .dict();
    let files = d.dict("files");
    let e = files
        .0
        .get(&hash[..])
        .map(|v| match v {
            serde_bencode::value::Value::Dict(d) => Dict(d.clone()),
            other => panic!("not a dict: {other:?}"),
        })
        .expect("the hash is in the scrape");
    (e.int("complete"), e.int("incomplete"))
}

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(ip(last), port)
}

/// The blocklist page's HTML and its form token.
async fn open(b: &Browser) -> (String, String) {
    let html = b.page("/blocklist").await;
    let csrf = csrf_in(&html).expect("the page has forms with a csrf field");
    (html, csrf)
}

/// Submits the add form the way a browser does.
async fn block(b: &Browser, target: &str, reason: &str) -> Resp {
    let (_, csrf) = open(b).await;
    b.post(
        "/blocklist",
        &format!("csrf={csrf}&target={}&reason={}", enc(target), enc(reason)),
    )
    .await
}

/// Blocks, expecting the redirect back to the list.
async fn block_ok(b: &Browser, target: &str, reason: &str) {
    let r = block(b, target, reason).await;
    assert_eq!(
        r.status,
        303,
        "block {target}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("location"), Some("/blocklist"));
}

/// The rows of the table: (id, the row's cells as text).
fn rows(html: &str) -> Vec<(i64, Vec<String>)> {
    let table = &html[html.find("id=\"blocklist\"").expect("the table")..];
    table
        .split("<tr data-id=\"")
        .skip(1)
        .map(|row| {
            let id = row.split('"').next().unwrap().parse().unwrap();
            let row = &row[..row.find("</tr>").unwrap()];
            let cells = row
                .split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    c[..c.find("</td>").unwrap()].trim().to_owned()
                })
                .collect();
            (id, cells)
        })
        .collect()
}

/// The id of the row for `target`.
fn id_of(html: &str, target: &str) -> i64 {
    rows(html)
        .into_iter()
        .find(|(_, cells)| cells[0] == target)
        .unwrap_or_else(|| panic!("no row for {target}"))
        .0
}

async fn unblock(b: &Browser, target: &str) {
    let (html, csrf) = open(b).await;
    let id = id_of(&html, target);
    let r = b
        .post("/blocklist/remove", &format!("csrf={csrf}&id={id}"))
        .await;
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("location"), Some("/blocklist"));
}

#[tokio::test]
async fn blocking_a_torrent_refuses_its_announces_and_drops_its_peers_at_once() {
    let t = web::start(|_| {}).await;
    peers_for(&t, 1, &query(&A, 1, 6001, 0, "")).await;
    peers_for(&t, 2, &query(&A, 2, 6002, 5, "")).await;
    peers_for(&t, 3, &query(&B, 3, 6003, 5, "")).await;
    assert_eq!(swarm(&t, &A).await, (1, 1));

    let b = Browser::login(t.addr).await;
    let (html, _) = open(&b).await;
    assert!(html.contains("id=\"blocklist-empty\""), "{html}");
    assert!(
        html.contains("shown to refused clients") || html.contains("sent to refused clients"),
        "the form says who sees the reason"
    );
    // Upper-case hex is accepted and shown in lower case.
    block_ok(&b, &hex(&A).to_uppercase(), "DMCA notice 42").await;

    // Existing peers are gone before anyone announces again; the other torrent is untouched.
    assert_eq!(swarm(&t, &A).await, (0, 0));
    assert_eq!(swarm(&t, &B).await, (0, 1));
    assert_eq!(
        refusal(&t, 1, &query(&A, 1, 6001, 0, "")).await,
        "this torrent is blocked on this tracker: DMCA notice 42"
    );
    assert_eq!(
        refusal(&t, 4, &query(&A, 4, 6004, 5, "&event=started")).await,
        "this torrent is blocked on this tracker: DMCA notice 42"
    );
    assert_eq!(swarm(&t, &A).await, (0, 0), "refused announces add no peer");
    assert_eq!(
        peers_for(&t, 5, &query(&B, 5, 6005, 0, "")).await,
        vec![addr(3, 6003)]
    );

    // The row: target, kind, reason, when (UTC) and by whom.
    let (html, _) = open(&b).await;
    let rows = rows(&html);
    assert_eq!(rows.len(), 1, "{html}");
    let cells = &rows[0].1;
    assert_eq!(cells[0], hex(&A));
    assert_eq!(cells[1], "torrent");
    assert_eq!(cells[2], "DMCA notice 42");
    assert!(
        cells[3].starts_with("20") && cells[3].ends_with(" UTC"),
        "{}",
        cells[3]
    );
    assert_eq!(cells[4], "admin");
    assert!(cells[5].contains("Unblock") && cells[5].contains("action=\"/blocklist/remove\""));
    assert!(!html.contains("id=\"blocklist-empty\""));

    // The same target again updates the reason; it does not add a second row.
    block_ok(&b, &hex(&A), "court order 7").await;
    let (html, _) = open(&b).await;
    let rows2 = self::rows(&html);
    assert_eq!(rows2.len(), 1);
    assert_eq!(rows2[0].1[2], "court order 7");
    assert_eq!(
        refusal(&t, 1, &query(&A, 1, 6001, 0, "")).await,
        "this torrent is blocked on this tracker: court order 7"
    );

    // Unblocked: announces work again at once.
    unblock(&b, &hex(&A)).await;
    assert!(rows_of(&b).await.is_empty());
    peers_for(&t, 1, &query(&A, 1, 6001, 0, "")).await;
    assert_eq!(
        peers_for(&t, 2, &query(&A, 2, 6002, 5, "")).await,
        vec![addr(1, 6001)]
    );
    // Removing it again (a second click) is harmless.
    let (_, csrf) = open(&b).await;
    let r = b
        .post(
            "/blocklist/remove",
            &format!("csrf={csrf}&id={}", rows[0].0),
        )
        .await;
    assert_eq!(r.status, 303);
}

/// Decodes the character references askama writes (numeric and the usual names).
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("a complete reference") + at;
        let name = &rest[at + 1..end];
        out.push(match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            n => char::from_u32(
                n.strip_prefix("#x")
                    .map(|h| u32::from_str_radix(h, 16).unwrap())
                    .unwrap_or_else(|| n[1..].parse().unwrap()),
            )
            .unwrap(),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn rows_of(b: &Browser) -> Vec<(i64, Vec<String>)> {
    rows(&open(b).await.0)
}

#[tokio::test]
async fn blocking_an_address_or_a_network_refuses_only_those_clients() {
    let t = web::start(|_| {}).await;
    let q = |n: u32| query(&A, n, 6000 + n as u16, 5, "");
    for n in [1, 2, 3, 9, 10] {
        peers_for(&t, n as u8, &q(n)).await;
    }
    let before = peers_for(&t, 1, &q(1)).await;
    assert!(before.contains(&addr(2, 6002)), "{before:?}");
    let b = Browser::login(t.addr).await;

    // One address.
    block_ok(&b, "127.0.0.2", "abuse, ticket 17").await;
    assert_eq!(
        refusal(&t, 2, &q(2)).await,
        "your address 127.0.0.2 is blocked on this tracker: abuse, ticket 17"
    );
    // Gone from the others' lists at once, and they still get the rest.
    let mut others = peers_for(&t, 1, &q(1)).await;
    others.sort();
    assert_eq!(others, vec![addr(3, 6003), addr(9, 6009), addr(10, 6010)]);
    peers_for(&t, 9, &q(9)).await;
    assert_eq!(swarm(&t, &A).await, (0, 4));
    assert_eq!(rows_of(&b).await[0].1[1], "address");

    // A network: 127.0.0.0/29 is .0 to .7; .9 and .10 are outside it.
    unblock(&b, "127.0.0.2").await;
    peers_for(&t, 2, &q(2)).await;
    block_ok(&b, "127.0.0.5/29", "flat 12 is a test lab").await;
    let (html, _) = open(&b).await;
    let row = &rows(&html)[0].1;
    assert_eq!(row[0], "127.0.0.0/29", "stored as the network it blocks");
    assert_eq!(row[1], "network");
    for inside in [1u8, 2, 3, 7] {
        assert_eq!(
            refusal(&t, inside, &q(u32::from(inside))).await,
            format!(
                "your address 127.0.0.{inside} is blocked on this tracker: flat 12 is a test lab"
            )
        );
    }
    assert_eq!(peers_for(&t, 9, &q(9)).await, vec![addr(10, 6010)]);
    assert_eq!(peers_for(&t, 10, &q(10)).await, vec![addr(9, 6009)]);
    assert_eq!(swarm(&t, &A).await, (0, 2));

    // Unblocked: the network announces again and is seen by the others.
    unblock(&b, "127.0.0.0/29").await;
    peers_for(&t, 3, &q(3)).await;
    let mut seen = peers_for(&t, 9, &q(9)).await;
    seen.sort();
    assert_eq!(seen, vec![addr(3, 6003), addr(10, 6010)]);
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let t = web::start(|_| {}).await;
    let b = Browser::login(t.addr).await;
    block_ok(&b, "127.0.0.2", "abuse").await;
    let (html, csrf) = open(&b).await;
    let id = id_of(&html, "127.0.0.2");
    let other = Browser::login(t.addr).await;
    let (_, other_csrf) = open(&other).await;
    assert_ne!(csrf, other_csrf, "tokens are per session");

    let add = |token: &str| format!("{token}target=10.9.9.9&reason=nope");
    let remove = |token: &str| format!("{token}id={id}");
    let forged = [
        ("/blocklist", add("")),
        ("/blocklist", add("csrf=&")),
        ("/blocklist", add("csrf=00&")),
        ("/blocklist", add(&format!("csrf={}&", "ab".repeat(32)))),
        ("/blocklist", add(&format!("csrf={other_csrf}&"))),
        ("/blocklist/remove", remove("")),
        ("/blocklist/remove", remove("csrf=zz&")),
        ("/blocklist/remove", remove(&format!("csrf={other_csrf}&"))),
    ];
    for (path, form) in &forged {
        let r = b.post(path, form).await;
        assert_eq!(r.status, 403, "{path} {form}");
        assert!(
            String::from_utf8_lossy(&r.body).contains("CSRF token missing or wrong"),
            "{path} {form}"
        );
    }
    // HTTP basic auth has no session, hence no token: a browser that cached the credentials
    // must not be able to post a forged form.
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"))
    );
    let r = request(
        t.addr,
        "POST",
        "/blocklist",
        &[("Authorization", &basic)],
        &add(&format!("csrf={csrf}&")),
    )
    .await;
    assert_eq!(r.status, 403);
    // Scripts may read the list; the page then has no forms.
    let r = request(
        t.addr,
        "GET",
        "/blocklist",
        &[("Authorization", &basic)],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8(r.body).unwrap();
    assert!(!html.contains("name=\"csrf\""), "{html}");
    assert!(html.contains("basic auth"), "{html}");
    // Without any login: to the login form, nothing done.
    let r = request(
        t.addr,
        "POST",
        "/blocklist",
        &[],
        &add(&format!("csrf={csrf}&")),
    )
    .await;
    assert_eq!(r.status, 303);

    let list = rows_of(&b).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].0, id);
    assert_eq!(list[0].1[0], "127.0.0.2");
    assert_eq!(
        refusal(&t, 2, &query(&A, 2, 6002, 0, "")).await,
        "your address 127.0.0.2 is blocked on this tracker: abuse"
    );
    peers_for(&t, 1, &query(&A, 1, 6001, 0, "")).await;
}

#[tokio::test]
async fn invalid_targets_and_reasons_get_a_400_that_says_what_is_expected() {
    let t = web::start(|_| {}).await;
    let b = Browser::login(t.addr).await;
    let long = "x".repeat(201);
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "example.com",
            "spam",
            &[
                "example.com",
                "not an IP address, a CIDR network or a 40-digit hex info hash",
            ],
        ),
        ("10.0.0.256", "typo", &["10.0.0.256", "not an IP address"]),
        ("10.0.0.0/33", "typo", &["10.0.0.0/33", "CIDR network"]),
        (
            "466d84",
            "short hash",
            &["466d84", "40-digit hex info hash"],
        ),
        ("", "no target", &["target is empty"]),
        ("10.0.0.1", "  ", &["reason is empty"]),
        ("10.0.0.1", &long, &["201 characters", "at most 200"]),
    ];
    for (target, reason, expect) in cases {
        let r = block(&b, target, reason).await;
        let html = String::from_utf8(r.body).unwrap();
        assert_eq!(r.status, 400, "{target:?} {reason:?}: {html}");
        let message = html
            .split("id=\"blocklist-error\">")
            .nth(1)
            .and_then(|m| m.split("</p>").next())
            .unwrap_or_else(|| panic!("an error message: {html}"));
        for e in expect {
            assert!(message.contains(e), "{message:?} lacks {e:?}");
        }
        // The form comes back filled in, so nothing is typed twice.
        if !target.is_empty() {
            assert!(
                html.contains(&format!("name=\"target\" value=\"{target}\"")),
                "{html}"
            );
        }
    }
    let r = block(&b, "10.0.0.1", "line one\nline two").await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("control character U+000A"));
    let (_, csrf) = open(&b).await;
    let r = b
        .post("/blocklist/remove", &format!("csrf={csrf}&id=abc"))
        .await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("not a blocklist entry id"));
    assert!(rows_of(&b).await.is_empty(), "nothing was added");
    peers_for(&t, 1, &query(&A, 1, 6001, 0, "")).await;
}

#[tokio::test]
async fn the_blocklist_survives_a_restart() {
    let t = web::start(|_| {}).await;
    let b = Browser::login(t.addr).await;
    block_ok(&b, &hex(&A), "DMCA").await;
    block_ok(&b, "127.0.0.2", "abuse").await;
    let dir = t.stop().await;

    let mut config = config_in(dir.path());
    config.stats.access_username = "admin".into();
    config.stats.access_password = PASSWORD.into();
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    assert_eq!(
        refusal(&t, 1, &query(&A, 1, 6001, 0, "")).await,
        "this torrent is blocked on this tracker: DMCA"
    );
    assert_eq!(
        refusal(&t, 2, &query(&B, 2, 6002, 0, "")).await,
        "your address 127.0.0.2 is blocked on this tracker: abuse"
    );
    peers_for(&t, 1, &query(&B, 1, 6001, 0, "")).await;
    let b = Browser::login(t.addr).await;
    let mut targets: Vec<String> = rows_of(&b)
        .await
        .into_iter()
        .map(|(_, c)| c[0].clone())
        .collect();
    targets.sort();
    assert_eq!(targets, vec!["127.0.0.2".to_owned(), hex(&A)]);
}

#[tokio::test]
async fn reasons_are_html_escaped_on_the_page_and_sent_verbatim_to_clients() {
    let t = web::start(|_| {}).await;
    let b = Browser::login(t.addr).await;
    let evil = "<script>alert(1)</script> & \"quoted\"";
    block_ok(&b, &hex(&B), evil).await;
    let (html, _) = open(&b).await;
    assert!(!html.contains("<script>"), "{html}");
    let cell = &rows(&html)[0].1[2];
    assert!(
        cell.contains("&#60;script") || cell.contains("&lt;script"),
        "{cell}"
    );
    assert_eq!(unescape(cell), evil);
    // A refused form shows the typed values escaped too.
    let r = block(&b, "\"><script>x</script>", "r").await;
    assert_eq!(r.status, 400);
    let html = String::from_utf8(r.body).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert_eq!(
        refusal(&t, 1, &query(&B, 1, 6001, 0, "")).await,
        format!("this torrent is blocked on this tracker: {evil}")
    );
}
